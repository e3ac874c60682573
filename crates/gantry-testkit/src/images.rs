//! Test images made on the engine at `DOCKER_HOST` with the docker CLI (no registry is reachable):
//! built from the `gantry-test/busybox:latest` fixture, or loaded from a hand-made `docker save`
//! archive for another CPU (an engine with the classic store records its own CPU for `docker
//! import --platform`, so that is the one way to get, say, an arm64 image on an amd64 engine).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The fixture every test image starts from (scripts/lib/fixtures.sh).
pub const FIXTURE: &str = "gantry-test/busybox:latest";
/// Debian's arm64 busybox-static, fetched by the test command (scripts/lib/fixtures.sh).
pub const ARM64_BUSYBOX_VAR: &str = "GANTRY_TEST_ARM64_BUSYBOX";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or run) uses: `gantry-test/<what>-<pid>-<n>:latest`.
pub fn unique_tag(what: &str) -> String {
    format!("gantry-test/{what}-{}-{}:latest", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Runs the docker CLI; its output, or `Err` with what it said.
pub fn docker(args: &[&str]) -> Result<String, String> {
    docker_with_input(args, None)
}

fn docker_with_input(args: &[&str], input: Option<&[u8]>) -> Result<String, String> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("docker {args:?}: {e}"))?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).map_err(|e| format!("docker {args:?}: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("docker {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Builds `dockerfile` (no context) as `tag`.
pub fn build(tag: &str, dockerfile: &str) -> Result<(), String> {
    docker_with_input(&["build", "-q", "-t", tag, "-"], Some(dockerfile.as_bytes())).map(drop)
}

/// The image's ID.
pub fn image_id(reference: &str) -> Result<String, String> {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference]).map(|s| s.trim().to_string())
}

/// Removes images, ignoring those already gone.
pub fn remove(references: &[&str]) {
    for r in references {
        let _ = docker(&["rmi", "-f", r]);
    }
}

/// Loads Debian's arm64 busybox as `tag` (config linux/arm64/v8). `Ok(false)` when the binary is
/// not available here (`GANTRY_TEST_ARM64_BUSYBOX` unset); callers skip saying so, and fail in CI.
pub fn load_arm64_busybox(tag: &str) -> Result<bool, String> {
    let Some(binary) = std::env::var_os(ARM64_BUSYBOX_VAR) else {
        return Ok(false);
    };
    let dir = std::env::temp_dir().join(format!(
        "gantry-arm64-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let root = dir.join("root/bin");
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        std::fs::copy(Path::new(&binary), root.join("busybox")).map_err(|e| e.to_string())?;
        let layer = dir.join("layer.tar");
        run(Command::new("tar").arg("-C").arg(dir.join("root")).arg("-cf").arg(&layer).arg("."))?;
        let sum = run(Command::new("sha256sum").arg(&layer))?;
        let diff_id = sum.split_whitespace().next().unwrap_or_default().to_string();
        let config = serde_json::json!({
            "architecture": "arm64", "variant": "v8", "os": "linux",
            "config": {"Cmd": ["/bin/busybox", "sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}
        });
        std::fs::write(dir.join("config.json"), config.to_string()).map_err(|e| e.to_string())?;
        let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]);
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).map_err(|e| e.to_string())?;
        let archive = dir.join("image.tar");
        run(Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&archive).args([
            "manifest.json",
            "config.json",
            "layer.tar",
        ]))?;
        docker(&["load", "-q", "-i", &archive.display().to_string()]).map(drop)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|()| true)
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A root filesystem tarball `<dir>/<name>.tar` around the static busybox at `busybox` (of any
/// CPU): /bin/busybox, its applets as symlinks (named by this machine's `/bin/busybox --list`: a
/// foreign busybox cannot run here), /etc/passwd and /www/index.html holding `name`. For `docker
/// import` on an engine of the busybox's CPU (or one that emulates it).
pub fn busybox_rootfs_tar(dir: &Path, name: &str, busybox: &Path) -> Result<std::path::PathBuf, String> {
    let root = dir.join(name);
    for d in ["bin", "etc", "tmp", "www"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| format!("{}: {e}", root.join(d).display()))?;
    }
    std::fs::copy(busybox, root.join("bin/busybox")).map_err(|e| format!("{}: {e}", busybox.display()))?;
    let list = run(Command::new("/bin/busybox").arg("--list"))?;
    for applet in list.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        symlink("busybox", &root.join("bin").join(applet))?;
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").map_err(|e| e.to_string())?;
    std::fs::write(root.join("www/index.html"), format!("{name}\n")).map_err(|e| e.to_string())?;
    let tar = dir.join(format!("{name}.tar"));
    run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."))?;
    Ok(tar)
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("{}: {e}", link.display()))
}

#[cfg(not(unix))]
fn symlink(_target: &str, link: &Path) -> Result<(), String> {
    Err(format!("{}: symbolic links for a Linux root filesystem are made on unix only", link.display()))
}
