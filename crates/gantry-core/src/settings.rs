//! The one settings model used by the VM, the CLI and the desktop app.
//!
//! Settings live in `settings.json` in the instance directory (see [`settings_path`]); they are
//! validated against facts about this computer ([`HostFacts`]) before they are saved, and a
//! corrupt file is reported, never silently replaced.
//!
//! Rules enforced by [`Settings::validate`]:
//! - `vm.cpus`: 1 ..= the host's CPUs;
//! - `vm.memory_mib`: 1024 ..= the host's memory minus [`MEMORY_HEADROOM_MIB`];
//! - `vm.disk_gib`: 8 ..= 2048 (a ceiling: the data disk is sparse and grows with use, so it may
//!   exceed today's free space, which Settings shows beside the field and doctor warns about);
//! - `vm.shared_folders`: absolute, existing directories, no duplicates, none inside another,
//!   never a system folder (`/`, `/etc`, `/usr`, ...) nor inside Gantry's own directory; each
//!   `{"path": ..., "read_only": bool}` (a plain path string is read as a writable share);
//! - `vm.port_bind_address`: a loopback address, the unspecified address (`0.0.0.0` / `::`,
//!   which publishes ports to the whole network — the docs warn about it), or an address that
//!   exists on this computer;
//! - `vm.registry_mirrors`: each `{"url": "https://HOST[:PORT]", "ca_pem": ...}` with a valid
//!   address and, when given, a valid PEM certificate; no URL twice (the VM's engine pulls
//!   Docker Hub images through them from its next start: `gantry_machine::engine_config`);
//! - `vm.save_on_stop`: `true` (default) saves the VM's state at stop and resumes it at start;
//! - `engine` (existing engine): the endpoint must parse as `unix:///path`, `tcp://host:port`
//!   or `npipe://./pipe/name`.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use gantry_machine::engine_config::{self, RegistryMirror};
use gantry_machine::shares::{self, SharedFolder};
use serde::{Deserialize, Serialize};

/// Memory left to the host when choosing the VM's memory.
pub const MEMORY_HEADROOM_MIB: u64 = 1024;
/// Smallest memory a VM may have.
pub const MIN_MEMORY_MIB: u64 = 1024;
/// Smallest data disk.
pub const MIN_DISK_GIB: u64 = 8;
/// Largest data disk.
pub const MAX_DISK_GIB: u64 = 2048;

/// All settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub engine: EngineSource,
    /// Connect to a plaintext `tcp://` engine on another machine (no encryption, no
    /// authentication: anyone on that network can control it). Off unless the user turns it on;
    /// the CLI's `--allow-plaintext-tcp` allows it for one run.
    pub allow_plaintext_tcp: bool,
    pub vm: VmSettings,
    pub ui: UiSettings,
    pub registries: Vec<RegistryLogin>,
}

/// Where the Docker engine comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineSource {
    /// The engine inside Gantry's own VM.
    #[default]
    GantryVm,
    /// An engine that already runs somewhere (`unix:///var/run/docker.sock`, `tcp://host:2376`,
    /// `npipe://./pipe/docker_engine`).
    Existing { endpoint: String },
    /// A docker CLI context by name (`ssh://` or TLS engines on other machines, `default`); its
    /// endpoint is read from the docker CLI's context store at each connection.
    Context { name: String },
}

/// The VM's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmSettings {
    pub cpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// Host directories shared into the guest at the same path (default: the home directory and
    /// the system temp directory).
    pub shared_folders: Vec<SharedFolder>,
    /// Host address published container ports are bound to.
    pub port_bind_address: IpAddr,
    /// Registry mirrors the VM's engine pulls Docker Hub images through (a workshop room's
    /// registry, set by `gantry workshop join`), each with its pinned certificate.
    pub registry_mirrors: Vec<RegistryMirror>,
    /// Stopping saves the VM's state to a file and the next start resumes it (seconds instead
    /// of a boot; the containers that ran are running again). Off: every stop powers off.
    pub save_on_stop: bool,
}

impl Default for VmSettings {
    fn default() -> Self {
        Self {
            cpus: gantry_machine::driver::DEFAULT_CPUS,
            memory_mib: gantry_machine::driver::DEFAULT_MEMORY_MIB,
            disk_gib: gantry_machine::driver::DEFAULT_DISK_GIB,
            shared_folders: shares::default_shares(home_dir().as_deref(), &std::env::temp_dir()),
            port_bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            registry_mirrors: Vec::new(),
            save_on_stop: true,
        }
    }
}

/// The desktop app's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UiSettings {
    pub theme: Theme,
    pub language: Language,
    pub start_at_login: bool,
    /// A terminal in the app (the Learn panel): it runs the user's shell on this computer. Off
    /// unless the user turns it on.
    pub host_terminal: bool,
}

/// Light, dark, or follow the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// The app's language: the system's (when the app speaks it, else English), or one chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    System,
    En,
    Ru,
}

/// A registry the user logged in to. Secrets are kept by the credential store, never here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryLogin {
    pub server: String,
    pub username: String,
}

/// Facts about this computer that settings are checked against. A field that could not be
/// detected is 0 and its rule is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    pub cpus: u32,
    pub memory_mib: u64,
    pub free_disk_gib: u64,
}

impl HostFacts {
    /// Detects the host's CPUs, memory and the free space for the data disk in `dir` (the
    /// instance directory, or its nearest existing ancestor). Space already used by an existing
    /// data disk in `dir` counts as free: that disk only grows.
    pub fn detect(dir: &Path) -> Self {
        let cpus =
            std::thread::available_parallelism().map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX)).unwrap_or(0);
        let existing_disk = gantry_machine::instance::Instance::at(dir).disk();
        let used_by_disk = std::fs::metadata(&existing_disk).map(|m| allocated_bytes(&m)).unwrap_or(0);
        let free = free_bytes(dir).map(|b| b.saturating_add(used_by_disk));
        Self {
            cpus,
            memory_mib: total_memory_mib().unwrap_or(0),
            free_disk_gib: free.map(|b| b / (1024 * 1024 * 1024)).unwrap_or(0),
        }
    }
}

#[cfg(unix)]
fn allocated_bytes(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.blocks().saturating_mul(512)
}
#[cfg(not(unix))]
fn allocated_bytes(m: &std::fs::Metadata) -> u64 {
    m.len()
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let mut p = dir;
    loop {
        if p.exists() {
            let st = rustix::fs::statvfs(p).ok()?;
            return Some(st.f_bavail.saturating_mul(st.f_frsize));
        }
        p = p.parent()?;
    }
}
#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

fn total_memory_mib() -> Option<u64> {
    if cfg!(target_os = "linux") {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024)
    } else if cfg!(target_os = "macos") {
        let out = std::process::Command::new("sysctl").args(["-n", "hw.memsize"]).output().ok()?;
        let bytes: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        Some(bytes / (1024 * 1024))
    } else {
        None
    }
}

use gantry_files::home_dir;

/// One rule a setting breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message} ({hint})")]
pub struct SettingsError {
    /// Dotted path of the field, e.g. `vm.memory_mib`, `vm.shared_folders[1]`.
    pub field: String,
    pub message: String,
    pub hint: String,
}

impl SettingsError {
    fn new(field: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), hint: hint.into() }
    }
}

/// Reading or writing `settings.json` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsFileError {
    #[error("cannot read settings file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("settings file {path} is not valid: {message}; fix or delete it (it was left untouched)")]
    Corrupt { path: PathBuf, message: String },
    #[error("settings are not valid: {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid { errors: Vec<SettingsError> },
    #[error("cannot write settings file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl SettingsFileError {
    /// A short hint for the user.
    pub fn hint(&self) -> String {
        match self {
            Self::Read { .. } => "check the file's permissions".into(),
            Self::Corrupt { path, .. } => {
                format!("fix the JSON in {} or delete it to get the defaults", path.display())
            }
            Self::Invalid { errors } => errors.first().map(|e| e.hint.clone()).unwrap_or_default(),
            Self::Write { path, source } if source.kind() == std::io::ErrorKind::StorageFull => format!(
                "the disk holding {} is full: free some space, then save again (the file was left as it was)",
                path.display()
            ),
            Self::Write { .. } => "check free space and the directory's permissions".into(),
        }
    }
}

impl Settings {
    /// Checks every rule; returns all broken ones.
    pub fn validate(&self, host: &HostFacts) -> Result<(), Vec<SettingsError>> {
        let mut errs = Vec::new();
        self.vm.validate_into(host, &mut errs);
        if let EngineSource::Existing { endpoint } = &self.engine
            && let Err(e) = parse_endpoint(endpoint)
        {
            errs.push(e);
        }
        if let EngineSource::Context { name } = &self.engine
            && name != gantry_engine::contexts::DEFAULT_CONTEXT
            && let Err(e) = gantry_engine::contexts::validate_name(name)
        {
            errs.push(SettingsError::new(
                "engine.context",
                e.to_string(),
                "Choose a context from `gantry context ls` (or the engine switcher).",
            ));
        }
        for (i, r) in self.registries.iter().enumerate() {
            if r.server.trim().is_empty() {
                errs.push(SettingsError::new(
                    format!("registries[{i}].server"),
                    "registry server is empty",
                    "enter a registry host name such as docker.io",
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// Whether changing from `self` to `new` needs the VM to restart to take effect.
    pub fn needs_vm_restart(&self, new: &Settings) -> bool {
        matches!(self.engine, EngineSource::GantryVm)
            && matches!(new.engine, EngineSource::GantryVm)
            && self.vm != new.vm
    }
}

impl VmSettings {
    fn validate_into(&self, host: &HostFacts, errs: &mut Vec<SettingsError>) {
        // CPUs
        if self.cpus == 0 {
            errs.push(SettingsError::new("vm.cpus", "the VM needs at least 1 CPU", "choose 1 or more CPUs"));
        } else if host.cpus > 0 && self.cpus > host.cpus {
            errs.push(SettingsError::new(
                "vm.cpus",
                format!("{} CPUs is more than this computer has ({})", self.cpus, host.cpus),
                format!("choose at most {} CPUs", host.cpus),
            ));
        }
        // Memory
        let max_mem = host.memory_mib.saturating_sub(MEMORY_HEADROOM_MIB);
        if self.memory_mib < MIN_MEMORY_MIB {
            errs.push(SettingsError::new(
                "vm.memory_mib",
                format!("memory {} MiB is too little to run the engine", self.memory_mib),
                format!("choose at least {MIN_MEMORY_MIB} MiB"),
            ));
        } else if host.memory_mib > 0 && self.memory_mib > host.memory_mib {
            errs.push(SettingsError::new(
                "vm.memory_mib",
                format!("memory {} MiB is more than this computer has ({} MiB)", self.memory_mib, host.memory_mib),
                format!("choose at most {max_mem} MiB"),
            ));
        } else if host.memory_mib > 0 && self.memory_mib > max_mem {
            errs.push(SettingsError::new(
                "vm.memory_mib",
                format!(
                    "memory {} MiB leaves less than {MEMORY_HEADROOM_MIB} MiB for this computer (it has {} MiB)",
                    self.memory_mib, host.memory_mib
                ),
                format!("choose at most {max_mem} MiB"),
            ));
        }
        // Disk
        if self.disk_gib < MIN_DISK_GIB || self.disk_gib > MAX_DISK_GIB {
            errs.push(SettingsError::new(
                "vm.disk_gib",
                format!("disk {} GiB is outside {MIN_DISK_GIB}..={MAX_DISK_GIB} GiB", self.disk_gib),
                format!("choose between {MIN_DISK_GIB} and {MAX_DISK_GIB} GiB"),
            ));
        }
        // No rule against the free space: the default 60 GiB on a computer with less free would
        // make every save (a registry login) and `gantry start` fail, as Docker Desktop does not.
        // Shared folders
        let mut seen = HashSet::new();
        let gantry_root = gantry_machine::instance::root_dir();
        for (i, share) in self.shared_folders.iter().enumerate() {
            let f = &share.path;
            let field = format!("vm.shared_folders[{i}]");
            if !f.is_absolute() {
                errs.push(SettingsError::new(
                    field,
                    format!("shared folder {} is not an absolute path", f.display()),
                    "use a full path such as /home/you/projects",
                ));
                continue;
            }
            if f.as_os_str().to_string_lossy().contains(['\n', '\r']) {
                errs.push(SettingsError::new(
                    field,
                    "a shared folder's path cannot hold a line break",
                    "rename the folder",
                ));
                continue;
            }
            if let Some(why) = shares::refused_share(f, &gantry_root) {
                errs.push(SettingsError::new(
                    field,
                    why,
                    "share a folder of your own, such as your home directory or a project folder",
                ));
                continue;
            }
            if !f.is_dir() {
                errs.push(SettingsError::new(
                    field,
                    format!("shared folder {} does not exist or is not a directory", f.display()),
                    "create the directory or remove it from the list",
                ));
                continue;
            }
            if !seen.insert(f.clone()) {
                errs.push(SettingsError::new(
                    field,
                    format!("shared folder {} is listed twice", f.display()),
                    "remove the duplicate",
                ));
                continue;
            }
            if let Some(outer) =
                self.shared_folders.iter().map(|o| &o.path).find(|o| *o != f && o.is_absolute() && f.starts_with(o))
            {
                errs.push(SettingsError::new(
                    field,
                    format!("shared folder {} is inside {}", f.display(), outer.display()),
                    format!("remove it: {} already shares it", outer.display()),
                ));
            }
        }
        // Registry mirrors
        let mut seen_mirrors = HashSet::new();
        for (i, m) in self.registry_mirrors.iter().enumerate() {
            let field = format!("vm.registry_mirrors[{i}]");
            if let Err(e) = engine_config::check_mirror(m) {
                errs.push(SettingsError::new(field, e.to_string(), e.hint()));
            } else if !seen_mirrors.insert(m.url.trim_end_matches('/')) {
                errs.push(SettingsError::new(
                    field,
                    format!("registry mirror {} is listed twice", m.url),
                    "remove the duplicate",
                ));
            }
        }
        // Bind address
        let a = self.port_bind_address;
        if !a.is_loopback() && !a.is_unspecified() && !address_exists(a) {
            errs.push(SettingsError::new(
                "vm.port_bind_address",
                format!("address {a} does not belong to this computer"),
                "use 127.0.0.1 (this computer only), 0.0.0.0 (every network) or one of this computer's addresses",
            ));
        }
    }
}

/// An address exists on this computer when a socket can be bound to it.
fn address_exists(a: IpAddr) -> bool {
    std::net::TcpListener::bind((a, 0)).is_ok()
}

/// Checks an existing-engine endpoint with the same parser the engine connection uses, so
/// what settings accept is exactly what connects.
pub fn parse_endpoint(s: &str) -> Result<gantry_engine::Endpoint, SettingsError> {
    gantry_engine::Endpoint::parse(s).map_err(|e| {
        let reason = match &e {
            gantry_engine::EngineError::InvalidEndpoint { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        SettingsError::new(
            "engine.endpoint",
            format!("endpoint {:?} is not valid: {reason}", s.trim()),
            "use unix:///var/run/docker.sock, tcp://host:2376 or npipe:////./pipe/docker_engine",
        )
    })
}

/// Where the default instance's settings live (`$GANTRY_HOME/default/settings.json` when
/// `GANTRY_HOME` is set).
pub fn settings_path() -> PathBuf {
    gantry_machine::instance::Instance::default().settings()
}

/// Reads settings. A missing file gives the defaults; a corrupt one is an error naming the file.
pub fn load(path: &Path) -> Result<Settings, SettingsFileError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(source) => {
            return Err(SettingsFileError::Read { path: path.to_owned(), source });
        }
    };
    // bytes that are not UTF-8 are a damaged file like any other, not a read failure
    serde_json::from_slice(&bytes)
        .map_err(|e| SettingsFileError::Corrupt { path: path.to_owned(), message: e.to_string() })
}

/// Validates, then writes atomically (temporary file + rename) with mode 0600. Nothing is
/// written when the settings are invalid.
pub fn save(path: &Path, s: &Settings, host: &HostFacts) -> Result<(), SettingsFileError> {
    s.validate(host).map_err(|errors| SettingsFileError::Invalid { errors })?;
    update(path, host, |old| {
        *old = s.clone();
        Ok(())
    })
    .map(|_| ())
}

/// Changes the settings in one step: reads them, applies `change`, validates and writes, while
/// no other change in this process runs (so a registry login and a settings save at the same
/// time both stay). Returns the settings before and after.
pub fn update(
    path: &Path,
    host: &HostFacts,
    change: impl FnOnce(&mut Settings) -> Result<(), SettingsFileError>,
) -> Result<(Settings, Settings), SettingsFileError> {
    let mut before = None;
    let mut after = None;
    gantry_machine::private_file::update(path, |old| {
        let old = match old {
            None => Settings::default(),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| SettingsFileError::Corrupt { path: path.to_owned(), message: e.to_string() })?,
        };
        let mut new = old.clone();
        change(&mut new)?;
        // only what this change made invalid stops it: a rule the file already broke (e.g. a
        // disk size above the space that is free today) does not block a registry login
        let already = old.validate(host).err().unwrap_or_default();
        if let Err(errors) = new.validate(host) {
            let fresh: Vec<SettingsError> = errors.into_iter().filter(|e| !already.contains(e)).collect();
            if !fresh.is_empty() {
                return Err(SettingsFileError::Invalid { errors: fresh }.into());
            }
        }
        let json = serde_json::to_string_pretty(&new)
            .map_err(|e| SettingsFileError::Write { path: path.to_owned(), source: std::io::Error::other(e) })?;
        before = Some(old);
        after = Some(new);
        Ok(Some(json.into_bytes()))
    })
    .map_err(|e| match e {
        UpdateError::Io(source) => SettingsFileError::Write { path: path.to_owned(), source },
        UpdateError::Settings(e) => e,
    })?;
    Ok((before.unwrap_or_default(), after.unwrap_or_default()))
}

/// Adds `mirror` to the VM's registry mirrors, or replaces the one with the same URL (its
/// certificate: joining a room again pins the certificate its code names). With `keep_ca`, a
/// mirror already listed keeps its certificate when `mirror` has none (a bundle's suggestion
/// names no certificate). Returns the settings before and after; the VM takes it on at its next
/// start.
pub fn add_registry_mirror(
    path: &Path,
    host: &HostFacts,
    mirror: RegistryMirror,
    keep_ca: bool,
) -> Result<(Settings, Settings), SettingsFileError> {
    update(path, host, |s| {
        let same = |m: &RegistryMirror| m.url.trim_end_matches('/') == mirror.url.trim_end_matches('/');
        match s.vm.registry_mirrors.iter_mut().find(|m| same(m)) {
            Some(existing) if keep_ca && mirror.ca_pem.is_none() => existing.url = mirror.url,
            Some(existing) => *existing = mirror,
            None => s.vm.registry_mirrors.push(mirror),
        }
        Ok(())
    })
}

/// [`update`]'s errors: the settings' own, or reading/writing the file.
enum UpdateError {
    Io(std::io::Error),
    Settings(SettingsFileError),
}
impl From<std::io::Error> for UpdateError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
impl From<SettingsFileError> for UpdateError {
    fn from(e: SettingsFileError) -> Self {
        Self::Settings(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts { cpus: 4, memory_mib: 23998, free_disk_gib: 100 }
    }

    fn vm_with(f: impl FnOnce(&mut VmSettings)) -> Settings {
        let mut s = Settings::default();
        s.vm.shared_folders = vec![SharedFolder::writable(std::env::temp_dir())];
        f(&mut s.vm);
        s
    }

    fn folders(paths: Vec<PathBuf>) -> Vec<SharedFolder> {
        paths.into_iter().map(SharedFolder::writable).collect()
    }

    fn fields(r: Result<(), Vec<SettingsError>>) -> Vec<String> {
        r.err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let s = vm_with(|_| {});
        assert_eq!(s.validate(&host()), Ok(()));
        let d = VmSettings::default();
        assert_eq!((d.cpus, d.memory_mib, d.disk_gib), (2, 2048, 60));
        assert_eq!(d.port_bind_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(Settings::default().engine, EngineSource::GantryVm);
    }

    #[test]
    fn json_shape() {
        let s = Settings {
            engine: EngineSource::Existing { endpoint: "unix:///var/run/docker.sock".into() },
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["engine"]["kind"], "existing");
        assert_eq!(v["ui"]["theme"], "system");
        let v = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(v["engine"]["kind"], "gantry_vm");
        // partial files fill in defaults
        let p: Settings = serde_json::from_str(r#"{"vm":{"cpus":3}}"#).unwrap();
        assert_eq!(p.vm.cpus, 3);
        assert_eq!(p.vm.memory_mib, 2048);
    }

    #[test]
    fn cpus_rule() {
        assert_eq!(fields(vm_with(|v| v.cpus = 0).validate(&host())), ["vm.cpus"]);
        assert_eq!(fields(vm_with(|v| v.cpus = 5).validate(&host())), ["vm.cpus"]);
        assert!(vm_with(|v| v.cpus = 4).validate(&host()).is_ok());
    }

    #[test]
    fn memory_rule() {
        let e = vm_with(|v| v.memory_mib = 64000).validate(&host()).unwrap_err();
        assert_eq!(e[0].field, "vm.memory_mib");
        assert_eq!(e[0].message, "memory 64000 MiB is more than this computer has (23998 MiB)");
        assert_eq!(e[0].hint, "choose at most 22974 MiB");
        assert_eq!(fields(vm_with(|v| v.memory_mib = 512).validate(&host())), ["vm.memory_mib"]);
        assert_eq!(fields(vm_with(|v| v.memory_mib = 23500).validate(&host())), ["vm.memory_mib"]);
        assert!(vm_with(|v| v.memory_mib = 22974).validate(&host()).is_ok());
        // unknown host memory: only the lower bound is checked
        let unknown = HostFacts { memory_mib: 0, ..host() };
        assert!(vm_with(|v| v.memory_mib = 64000).validate(&unknown).is_ok());
    }

    #[test]
    fn disk_rule() {
        assert_eq!(fields(vm_with(|v| v.disk_gib = 4).validate(&host())), ["vm.disk_gib"]);
        assert_eq!(fields(vm_with(|v| v.disk_gib = 4096).validate(&host())), ["vm.disk_gib"]);
        // a sparse disk may be larger than the free space (100 GiB here)
        assert!(vm_with(|v| v.disk_gib = 200).validate(&host()).is_ok());
        assert!(vm_with(|v| v.disk_gib = 100).validate(&host()).is_ok());
    }

    #[test]
    fn shared_folder_rules() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = a.join("b");
        std::fs::create_dir_all(&b).unwrap();
        let file = t.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(
            fields(vm_with(|v| v.shared_folders = folders(vec!["rel/dir".into()])).validate(&host())),
            ["vm.shared_folders[0]"]
        );
        assert_eq!(
            fields(vm_with(|v| v.shared_folders = folders(vec![t.path().join("missing")])).validate(&host())),
            ["vm.shared_folders[0]"]
        );
        assert_eq!(
            fields(vm_with(|v| v.shared_folders = folders(vec![file.clone()])).validate(&host())),
            ["vm.shared_folders[0]"]
        );
        assert_eq!(
            fields(vm_with(|v| v.shared_folders = folders(vec![a.clone(), a.clone()])).validate(&host())),
            ["vm.shared_folders[1]"]
        );
        let e = vm_with(|v| v.shared_folders = folders(vec![a.clone(), b.clone()])).validate(&host()).unwrap_err();
        assert_eq!(e[0].field, "vm.shared_folders[1]");
        assert!(e[0].message.contains("is inside"));
        assert!(vm_with(|v| v.shared_folders = vec![]).validate(&host()).is_ok());
    }

    #[cfg(unix)] // unix system folders; Windows ones (C:\Windows, ...) are not listed yet (docs/windows.md)
    #[test]
    fn system_folders_and_gantrys_own_directory_are_refused_as_shares() {
        let root = gantry_machine::instance::root_dir();
        for bad in [PathBuf::from("/"), "/etc".into(), "/usr".into(), "/usr/lib".into(), root.join("default")] {
            let e = vm_with(|v| v.shared_folders = folders(vec![bad.clone()])).validate(&host()).unwrap_err();
            assert_eq!(e[0].field, "vm.shared_folders[0]", "{bad:?}");
            assert!(e[0].message.contains("system folder") || e[0].message.contains("Gantry's own"), "{e:?}");
        }
    }

    #[test]
    fn shares_are_read_only_when_asked_and_old_files_still_load() {
        let old: Settings = serde_json::from_str(r#"{"vm":{"shared_folders":["/tmp"]}}"#).unwrap();
        assert_eq!(old.vm.shared_folders, vec![SharedFolder::writable("/tmp")]);
        let mut s = vm_with(|_| {});
        s.vm.shared_folders[0].read_only = true;
        let back: Settings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::to_string(&s).unwrap().contains("\"read_only\":true"));
        let d = VmSettings::default();
        assert!(d.shared_folders.iter().any(|f| std::env::temp_dir().starts_with(&f.path)), "{d:?}");
    }

    #[test]
    fn a_rule_the_file_already_broke_does_not_block_another_change() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("settings.json");
        // the file asks for more disk than is free today (written when there was space)
        std::fs::write(&p, serde_json::to_string(&vm_with(|v| v.disk_gib = 200)).unwrap()).unwrap();
        let (_, after) = update(&p, &host(), |s| {
            s.registries.push(RegistryLogin { server: "docker.io".into(), username: "me".into() });
            Ok(())
        })
        .unwrap();
        assert_eq!(after.registries.len(), 1);
        // a change that breaks a rule itself is refused, and nothing is written
        let e = update(&p, &host(), |s| {
            s.vm.cpus = 64;
            Ok(())
        })
        .unwrap_err();
        assert!(e.to_string().contains("vm.cpus"), "{e}");
        assert_eq!(load(&p).unwrap().vm.cpus, 2);
    }

    #[test]
    fn concurrent_changes_in_one_process_lose_nothing() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("settings.json");
        save(&p, &vm_with(|_| {}), &host()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let p = p.clone();
                std::thread::spawn(move || {
                    if n % 2 == 0 {
                        update(&p, &host(), |s| {
                            s.registries.push(RegistryLogin { server: format!("r{n}.example"), username: "me".into() });
                            Ok(())
                        })
                        .unwrap();
                    } else {
                        update(&p, &host(), |s| {
                            s.vm.cpus = 1 + (n % 4);
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = load(&p).unwrap();
        let mut servers: Vec<_> = s.registries.iter().map(|r| r.server.clone()).collect();
        servers.sort();
        assert_eq!(servers, ["r0.example", "r2.example", "r4.example", "r6.example"]);
    }

    #[test]
    fn bind_address_rule() {
        for ok in ["127.0.0.1", "::1", "0.0.0.0", "127.0.0.2"] {
            assert!(vm_with(|v| v.port_bind_address = ok.parse().unwrap()).validate(&host()).is_ok(), "{ok}");
        }
        assert_eq!(
            fields(vm_with(|v| v.port_bind_address = "203.0.113.7".parse().unwrap()).validate(&host())),
            ["vm.port_bind_address"]
        );
    }

    #[test]
    fn endpoint_rule() {
        assert!(parse_endpoint("unix:///var/run/docker.sock").is_ok());
        assert!(parse_endpoint(" tcp://10.0.0.1:2376 ").is_ok());
        let e = parse_endpoint("tcp://host:0").unwrap_err();
        assert_eq!(e.field, "engine.endpoint");
        assert!(e.message.contains("tcp://host:0") && e.message.contains("1 to 65535"), "{}", e.message);
        let s = Settings { engine: EngineSource::Existing { endpoint: "http://x".into() }, ..vm_with(|_| {}) };
        assert_eq!(fields(s.validate(&host())), ["engine.endpoint"]);
    }

    #[test]
    fn restart_needed_only_for_vm_changes() {
        let a = Settings::default();
        let mut b = a.clone();
        b.ui.theme = Theme::Dark;
        assert!(!a.needs_vm_restart(&b));
        b.vm.cpus = 3;
        assert!(a.needs_vm_restart(&b));
        b.engine = EngineSource::Existing { endpoint: "unix:///x".into() };
        assert!(!a.needs_vm_restart(&b));
    }

    #[test]
    fn load_and_save() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("sub").join("settings.json");
        assert_eq!(load(&p).unwrap(), Settings::default());
        let mut s = vm_with(|v| v.cpus = 3);
        s.registries.push(RegistryLogin { server: "docker.io".into(), username: "me".into() });
        save(&p, &s, &host()).unwrap();
        assert_eq!(load(&p).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // invalid: nothing written
        let bad = vm_with(|v| v.memory_mib = 64000);
        assert!(matches!(save(&p, &bad, &host()), Err(SettingsFileError::Invalid { .. })));
        assert_eq!(load(&p).unwrap(), s);
        // corrupt: specific error, file untouched
        std::fs::write(&p, "{ not json").unwrap();
        match load(&p) {
            Err(e @ SettingsFileError::Corrupt { .. }) => {
                assert!(e.to_string().contains("settings.json"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{ not json");
        // no temporary files left behind
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn registry_mirror_rules_and_adding_one() {
        let m = |url: &str| RegistryMirror { url: url.into(), ca_pem: None };
        let s = vm_with(|v| {
            v.registry_mirrors = vec![m("https://10.0.2.2:5443"), m("http://x"), m("https://10.0.2.2:5443/")]
        });
        assert_eq!(fields(s.validate(&host())), ["vm.registry_mirrors[1]", "vm.registry_mirrors[2]"]);
        let bad_ca =
            vm_with(|v| v.registry_mirrors = vec![RegistryMirror { ca_pem: Some("x".into()), ..m("https://a") }]);
        assert_eq!(fields(bad_ca.validate(&host())), ["vm.registry_mirrors[0]"]);

        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("settings.json");
        save(&p, &vm_with(|_| {}), &host()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = rcgen::CertificateParams::new(vec!["room".into()]).unwrap().self_signed(&key).unwrap().pem();
        let pinned = RegistryMirror { ca_pem: Some(pem.clone()), ..m("https://10.0.2.2:5443") };
        let (before, after) = add_registry_mirror(&p, &host(), pinned.clone(), false).unwrap();
        assert!(before.needs_vm_restart(&after));
        // a bundle's suggestion of the same mirror keeps the pinned certificate
        add_registry_mirror(&p, &host(), m("https://10.0.2.2:5443"), true).unwrap();
        assert_eq!(load(&p).unwrap().vm.registry_mirrors, [pinned]);
        add_registry_mirror(&p, &host(), m("https://other:1"), true).unwrap();
        assert_eq!(load(&p).unwrap().vm.registry_mirrors.len(), 2);
        // an invalid one is refused and nothing is written
        assert!(add_registry_mirror(&p, &host(), m("ftp://x"), false).is_err());
        assert_eq!(load(&p).unwrap().vm.registry_mirrors.len(), 2);
    }

    #[test]
    fn host_facts_detect() {
        let h = HostFacts::detect(&std::env::temp_dir().join("does-not-exist-yet"));
        assert!(h.cpus >= 1);
        if cfg!(target_os = "linux") {
            assert!(h.memory_mib > 0);
        }
    }
}
