//! `gantry doctor`: one line per check — ok, warn or fail — with a hint for each problem.

use std::path::{Path, PathBuf};

use gantry_core::engine_source;
use gantry_engine::{Endpoint, Engine};
use serde::Serialize;

use crate::CliError;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One diagnosed fact.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, level: Level::Ok, detail: detail.into(), hint: None }
    }
    pub(crate) fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { name, level: Level::Warn, detail: detail.into(), hint: Some(hint.into()) }
    }
    pub(crate) fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { name, level: Level::Fail, detail: detail.into(), hint: Some(hint.into()) }
    }
}

/// Runs every check and prints them; fails when any check failed.
pub async fn run(explicit: Option<&str>, as_json: bool) -> Result<(), CliError> {
    let mut checks = Vec::new();
    checks.extend(engine_checks(explicit).await);
    checks.push(disk_check(&gantry_machine_root()));
    checks.extend(crate::vm::doctor_checks().await);
    checks.extend(crate::docker_cli::checks());
    checks.push(host_terminal_check(
        gantry_core::settings::load(&gantry_core::settings::settings_path()).map(|s| s.ui.host_terminal),
    ));
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
    } else {
        for c in &checks {
            let tag = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            println!("[{tag}] {:<12} {}", c.name, c.detail);
            if let Some(hint) = &c.hint {
                println!("       {:<12} → {hint}", "");
            }
        }
    }
    if failed > 0 {
        return Err(CliError::new(
            format!("{failed} check(s) failed"),
            "fix the FAIL lines above, then run `gantry doctor` again",
        ));
    }
    Ok(())
}

fn gantry_machine_root() -> PathBuf {
    gantry_core::settings::settings_path()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
}

async fn engine_checks(explicit: Option<&str>) -> Vec<Check> {
    let resolved = match engine_source::resolve(explicit) {
        Ok(r) => r,
        Err(e) => return vec![Check::fail("engine", e.to_string(), e.hint())],
    };
    let mut checks = Vec::new();
    match Engine::connect(&resolved.endpoint).await {
        Ok(engine) => {
            let version =
                engine.version().await.map(|v| format!("Docker {} (API {})", v.version, v.negotiated_api_version));
            checks.push(Check::ok(
                "engine",
                format!("{} answers: {}", resolved.endpoint, version.unwrap_or_else(|e| e.to_string())),
            ));
        }
        Err(e) => checks.push(Check::fail("engine", e.to_string(), e.hint())),
    }
    if let Endpoint::Unix(path) = &resolved.endpoint {
        checks.push(socket_permissions_check(path));
    }
    checks
}

/// Whether the app's terminal (a shell on this computer, in the Learn panel) is turned on, and
/// which shell it runs.
fn host_terminal_check<E: std::fmt::Display>(enabled: Result<bool, E>) -> Check {
    let shell = gantry_core::host_terminal::users_shell().path;
    match enabled {
        Ok(true) => Check::ok(
            "app terminal",
            format!("on: the Learn panel's terminal runs {} on this computer (Settings → App)", shell.display()),
        ),
        Ok(false) => Check::ok("app terminal", "off (Settings → App turns on the Learn panel's terminal)"),
        Err(e) => Check::warn(
            "app terminal",
            format!("unknown: the settings cannot be read ({e})"),
            "fix or remove the settings file; the terminal stays off until it can be read",
        ),
    }
}

/// The engine socket must not be usable by other users (Gantry's own is 0600).
fn socket_permissions_check(path: &Path) -> Check {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.mode() & 0o777;
                if mode & 0o007 != 0 {
                    Check::fail(
                        "permissions",
                        format!(
                            "{} is mode {mode:o}: any user on this computer can control the engine",
                            path.display()
                        ),
                        format!("restrict it: chmod 600 {}", path.display()),
                    )
                } else {
                    Check::ok("permissions", format!("{} is mode {mode:o}", path.display()))
                }
            }
            Err(e) => {
                Check::warn("permissions", format!("cannot read {}: {e}", path.display()), "start the engine first")
            }
        }
    }
    #[cfg(not(unix))]
    {
        Check::ok("permissions", format!("{} (named pipe ACLs apply)", path.display()))
    }
}

/// Hardware virtualisation: without it the VM runs under TCG, several times slower.
pub fn kvm_check(device: &Path) -> Check {
    if !cfg!(target_os = "linux") {
        return Check::ok("kvm", "not Linux: HVF (macOS) or WHPX (Windows) is used instead");
    }
    if !device.exists() {
        return Check::warn(
            "kvm",
            format!("{} does not exist: the VM will run under software emulation (TCG), much slower", device.display()),
            "enable virtualisation (VT-x/AMD-V) in the firmware and load the kvm module (`modprobe kvm_intel` or `kvm_amd`)",
        );
    }
    match std::fs::OpenOptions::new().read(true).write(true).open(device) {
        // opening proves access, not a working KVM: the accelerator line runs a test guest
        Ok(_) => Check::ok("kvm", format!("{} opens read-write", device.display())),
        Err(e) => Check::warn(
            "kvm",
            format!("{} cannot be opened ({e}): the VM will use TCG, much slower", device.display()),
            "add yourself to the `kvm` group (`sudo usermod -aG kvm $USER`) and log in again",
        ),
    }
}

/// `name` (with `.exe` on Windows unless it has it) in a `PATH` folder.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let suffix = std::env::consts::EXE_SUFFIX;
    let file = if name.ends_with(suffix) { name.to_owned() } else { format!("{name}{suffix}") };
    std::env::split_paths(&path).map(|dir| dir.join(&file)).find(|candidate| candidate.is_file())
}

pub(crate) fn program_check(check: &'static str, program: &str, hint: &str) -> Check {
    match find_program(program) {
        Some(path) => Check::ok(check, format!("{} found", path.display())),
        None => Check::fail(check, format!("{program} is not on PATH"), hint),
    }
}

/// Free space where Gantry keeps its VM disk.
pub fn disk_check(dir: &Path) -> Check {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        match probe.parent() {
            Some(parent) => probe = parent.to_path_buf(),
            None => break,
        }
    }
    match free_bytes(&probe) {
        Ok(free) => {
            let gib = free as f64 / (1u64 << 30) as f64;
            let detail = format!("{gib:.1} GiB free at {}", probe.display());
            if gib < 2.0 {
                Check::fail("disk", detail, "free disk space: the VM's data disk and images need several GiB")
            } else if gib < 10.0 {
                Check::warn("disk", detail, "less than 10 GiB free: pulls and builds may fail; prune unused images")
            } else {
                Check::ok("disk", detail)
            }
        }
        Err(e) => Check::warn(
            "disk",
            format!("cannot measure free space at {}: {e}", probe.display()),
            "check the path exists",
        ),
    }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> std::io::Result<u64> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "not measured on this system yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_terminal_line_says_on_or_off() {
        let on = host_terminal_check::<String>(Ok(true));
        assert!(on.detail.starts_with("on: ") && on.detail.contains("Settings → App"), "{}", on.detail);
        let off = host_terminal_check::<String>(Ok(false));
        assert!(off.detail.starts_with("off") && off.level == Level::Ok, "{}", off.detail);
        let unknown = host_terminal_check(Err("not JSON"));
        assert_eq!(unknown.level, Level::Warn);
        assert!(unknown.detail.contains("not JSON"));
    }

    #[test]
    fn missing_kvm_device_is_a_warning_with_hint() {
        let c = kvm_check(Path::new("/nonexistent/kvm"));
        if cfg!(target_os = "linux") {
            assert_eq!(c.level, Level::Warn);
            assert!(c.detail.contains("TCG"));
            assert!(c.hint.is_some());
        }
    }

    #[cfg(unix)]
    #[test]
    fn disk_check_walks_up_to_an_existing_dir() {
        let c = disk_check(Path::new("/tmp/definitely/not/here"));
        assert!(c.detail.contains("/tmp"), "{}", c.detail);
    }

    #[cfg(unix)]
    #[test]
    fn world_writable_socket_fails() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gantry-doctor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("docker.sock");
        std::fs::write(&path, b"").expect("file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_eq!(socket_permissions_check(&path).level, Level::Fail);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(socket_permissions_check(&path).level, Level::Ok);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
