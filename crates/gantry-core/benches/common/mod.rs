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

/// A root filesystem in `root` with Debian's static busybox and `applets` linked to it (not
/// every benchmark that includes this module builds one).
#[allow(dead_code)]
pub fn busybox_root(root: &Path, applets: &[&str]) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("/bin/busybox (busybox-static)");
    #[cfg(unix)] // the benchmarks run on Linux (Debian's busybox, a local QEMU)
    for applet in applets {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    #[cfg(not(unix))]
    let _ = applets;
}
