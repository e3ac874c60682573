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

/// `docker ARGS` against the engine at `host` (a DOCKER_HOST value); its trimmed output. Panics
/// with docker's error when it fails.
#[allow(dead_code)]
pub fn docker(host: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker").args(args).env("DOCKER_HOST", host).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Replaces the part of docs/benchmarks.md between `<!-- gantry-NAME-bench:start -->` and its
/// end marker with `section` (which carries both markers), or appends it when they are missing.
#[allow(dead_code)]
pub fn write_docs_section(name: &str, section: &str) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let (start, end) = (format!("<!-- gantry-{name}-bench:start -->"), format!("<!-- gantry-{name}-bench:end -->\n"));
    let old = std::fs::read_to_string(&docs).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    let new = match (old.find(&start), old.find(&end)) {
        (Some(a), Some(b)) => format!("{}{}{}", &old[..a], section, &old[b + end.len()..]),
        _ => format!("{}\n\n{}", old.trim_end(), section),
    };
    if let Err(e) = std::fs::write(&docs, new) {
        eprintln!("cannot update {}: {e}", docs.display());
    }
}
