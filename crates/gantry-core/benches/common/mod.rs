//! What the VM benchmarks share.

use std::path::{Path, PathBuf};

/// The `gantry` binary: `GANTRY_BIN`, else target/{release,debug}/gantry next to this bench.
pub fn gantry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GANTRY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).and_then(Path::parent).unwrap();
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("gantry");
        if p.is_file() {
            return p;
        }
    }
    panic!("gantry binary not found: cargo build -p gantry-cli, or set GANTRY_BIN");
}
