//! What a host terminal runs, decided by plain functions: the shell, its environment (the
//! `docker` command pointed at the engine the app uses), its folder, and the sizes allowed.
//! Nothing here comes from the webview except the size.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use gantry_engine::Endpoint;

use crate::engine_source::{Origin, ResolvedEngine};
use crate::settings::EngineSource;

/// Smallest and largest rows and columns a host terminal accepts.
pub const SIZE_LIMITS: (u16, u16) = (1, 1000);

/// The program a host terminal runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellProgram {
    pub path: PathBuf,
    /// Arguments after the program (none on Unix: the shell runs as a login shell, `-name` as
    /// its argv0).
    pub args: Vec<String>,
}

/// What [`choose_shell`] looks at: the environment it reads and how it checks a program.
pub struct ShellFacts<'a> {
    pub windows: bool,
    /// `$SHELL`.
    pub shell: Option<&'a OsStr>,
    /// `%SystemRoot%` (Windows).
    pub system_root: Option<&'a OsStr>,
    /// `%ComSpec%` (Windows).
    pub comspec: Option<&'a OsStr>,
    /// Whether a program exists there and may be run.
    pub runnable: &'a dyn Fn(&Path) -> bool,
}

impl std::fmt::Debug for ShellFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellFacts")
            .field("windows", &self.windows)
            .field("shell", &self.shell)
            .field("system_root", &self.system_root)
            .field("comspec", &self.comspec)
            .finish_non_exhaustive()
    }
}

/// The learner's shell: on Unix `$SHELL` when it is an absolute path to a program, else
/// `/bin/sh`; on Windows Windows PowerShell, else `%ComSpec%`, else `cmd.exe`.
pub fn choose_shell(facts: &ShellFacts<'_>) -> ShellProgram {
    let runnable = |p: &Path| p.is_absolute_anywhere() && (facts.runnable)(p);
    if facts.windows {
        let root = facts.system_root.and_then(OsStr::to_str).filter(|r| !r.is_empty()).unwrap_or(r"C:\Windows");
        let root = root.trim_end_matches('\\');
        let powershell = PathBuf::from(format!(r"{root}\System32\WindowsPowerShell\v1.0\powershell.exe"));
        if runnable(&powershell) {
            return ShellProgram { path: powershell, args: vec!["-NoLogo".into()] };
        }
        if let Some(comspec) = facts.comspec.map(PathBuf::from).filter(|c| runnable(c)) {
            return ShellProgram { path: comspec, args: Vec::new() };
        }
        return ShellProgram { path: PathBuf::from(format!(r"{root}\System32\cmd.exe")), args: Vec::new() };
    }
    let shell = facts.shell.filter(|s| !s.is_empty()).map(PathBuf::from).filter(|s| runnable(s));
    ShellProgram { path: shell.unwrap_or_else(|| PathBuf::from("/bin/sh")), args: Vec::new() }
}

/// `Path::is_absolute` for both path styles, so that the choice is the same function (and is
/// tested) on every system: `/x` and `C:\x` (or `C:/x`) are absolute.
trait AbsoluteAnywhere {
    fn is_absolute_anywhere(&self) -> bool;
}

impl AbsoluteAnywhere for Path {
    fn is_absolute_anywhere(&self) -> bool {
        let text = self.to_string_lossy();
        let bytes = text.as_bytes();
        text.starts_with('/')
            || (bytes.len() > 2
                && bytes[0].is_ascii_alphabetic()
                && bytes[1] == b':'
                && matches!(bytes[2], b'\\' | b'/'))
    }
}

/// How the shell's `docker` command reaches the engine the app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerTarget {
    /// A docker context by name: `gantry` for Gantry's VM, or the one chosen in the app.
    Context(String),
    /// An endpoint (`DOCKER_HOST`), when the app talks to an engine that no context names.
    Host(Endpoint),
    /// The app's engine could not be worked out (e.g. broken settings): the shell's `docker`
    /// is left as the environment has it.
    Unchanged,
}

/// Where the shell's `docker` should go: the engine the app uses (`resolved`, `None` when it
/// cannot be worked out), through the `gantry` context for Gantry's VM when that context exists,
/// through the context chosen in the app, else through its endpoint.
pub fn docker_target(resolved: Option<&ResolvedEngine>, settings: &EngineSource, gantry_context: bool) -> DockerTarget {
    let Some(resolved) = resolved else { return DockerTarget::Unchanged };
    match (resolved.origin, settings) {
        (Origin::GantryVm, _) if gantry_context => DockerTarget::Context(crate::vm::context::CONTEXT_NAME.into()),
        (Origin::Context, EngineSource::Context { name }) => DockerTarget::Context(name.clone()),
        _ => DockerTarget::Host(resolved.endpoint.clone()),
    }
}

/// A change to the shell's environment (on top of the app's own environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    Set(&'static str, String),
    Remove(&'static str),
}

/// The environment changes for `target`, plus the terminal type xterm.js emulates.
pub fn shell_env(target: &DockerTarget) -> Vec<EnvChange> {
    use EnvChange::{Remove, Set};
    let mut env = vec![Set("TERM", "xterm-256color".into()), Set("COLORTERM", "truecolor".into())];
    match target {
        DockerTarget::Context(name) => {
            // DOCKER_HOST would win over the context in the docker CLI.
            env.extend([Set("DOCKER_CONTEXT", name.clone()), Remove("DOCKER_HOST")]);
        }
        DockerTarget::Host(endpoint) => {
            env.push(Remove("DOCKER_CONTEXT"));
            match endpoint {
                Endpoint::Tcp { address, tls: Some(files) } => {
                    env.push(Set("DOCKER_HOST", format!("tcp://{address}")));
                    env.push(Set("DOCKER_TLS_VERIFY", "1".into()));
                    if let Some(dir) = files.cert.parent() {
                        env.push(Set("DOCKER_CERT_PATH", dir.display().to_string()));
                    }
                }
                Endpoint::Tcp { address, tls: None } => {
                    env.extend([Set("DOCKER_HOST", format!("tcp://{address}")), Remove("DOCKER_TLS_VERIFY")]);
                }
                other => env.push(Set("DOCKER_HOST", other.to_string())),
            }
        }
        DockerTarget::Unchanged => {}
    }
    env
}

/// The shell's folder: the lab's work folder when there is one, else the home folder, else the
/// system's temporary folder.
pub fn choose_dir(lab_work_dir: Option<&Path>, home: Option<&Path>, is_dir: impl Fn(&Path) -> bool) -> PathBuf {
    lab_work_dir.filter(|d| is_dir(d)).or(home.filter(|h| is_dir(h))).map_or_else(std::env::temp_dir, Path::to_path_buf)
}

/// Whether `rows` × `cols` is a size a terminal can have ([`SIZE_LIMITS`]); the message says
/// which number is wrong.
pub fn check_size(rows: u16, cols: u16) -> Result<(), String> {
    let (min, max) = SIZE_LIMITS;
    for (name, value) in [("rows", rows), ("cols", cols)] {
        if !(min..=max).contains(&value) {
            return Err(format!("{name} is {value}; a terminal has {min} to {max}"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use gantry_engine::TlsFiles;

    fn facts<'a>(windows: bool, shell: Option<&'a str>, runnable: &'a dyn Fn(&Path) -> bool) -> ShellFacts<'a> {
        ShellFacts { windows, shell: shell.map(OsStr::new), system_root: None, comspec: None, runnable }
    }

    #[test]
    fn unix_runs_shell_when_it_is_a_program_else_bin_sh() {
        let only_zsh = |p: &Path| p == Path::new("/usr/bin/zsh");
        assert_eq!(choose_shell(&facts(false, Some("/usr/bin/zsh"), &only_zsh)).path, PathBuf::from("/usr/bin/zsh"));
        assert_eq!(choose_shell(&facts(false, Some("/usr/bin/fish"), &only_zsh)).path, PathBuf::from("/bin/sh"));
        assert_eq!(choose_shell(&facts(false, None, &only_zsh)).path, PathBuf::from("/bin/sh"));
        assert_eq!(choose_shell(&facts(false, Some(""), &only_zsh)).path, PathBuf::from("/bin/sh"));
        // a relative $SHELL would be looked up in the lab's folder: never
        let any = |_: &Path| true;
        assert_eq!(choose_shell(&facts(false, Some("zsh"), &any)).path, PathBuf::from("/bin/sh"));
        assert_eq!(choose_shell(&facts(false, Some("./evil"), &any)).path, PathBuf::from("/bin/sh"));
        assert!(choose_shell(&facts(false, Some("/usr/bin/zsh"), &any)).args.is_empty());
    }

    #[test]
    fn windows_prefers_powershell_then_comspec_then_cmd() {
        let ps = r"D:\Win\System32\WindowsPowerShell\v1.0\powershell.exe";
        let all = |_: &Path| true;
        let mut f = ShellFacts { system_root: Some(OsStr::new(r"D:\Win\")), ..facts(true, Some("/bin/bash"), &all) };
        let chosen = choose_shell(&f);
        assert_eq!(chosen, ShellProgram { path: PathBuf::from(ps), args: vec!["-NoLogo".into()] });
        let no_powershell = |p: &Path| !p.to_string_lossy().ends_with("powershell.exe");
        f.runnable = &no_powershell;
        f.comspec = Some(OsStr::new(r"C:\Tools\tcc.exe"));
        assert_eq!(choose_shell(&f).path, PathBuf::from(r"C:\Tools\tcc.exe"));
        f.comspec = Some(OsStr::new(r"relative.exe"));
        assert_eq!(choose_shell(&f).path, PathBuf::from(r"D:\Win\System32\cmd.exe"));
        let nothing = |_: &Path| false;
        f.runnable = &nothing;
        f.system_root = None;
        assert_eq!(choose_shell(&f).path, PathBuf::from(r"C:\Windows\System32\cmd.exe"));
    }

    fn value<'a>(env: &'a [EnvChange], key: &str) -> Option<&'a str> {
        env.iter().find_map(|c| match c {
            EnvChange::Set(k, v) if *k == key => Some(v.as_str()),
            _ => None,
        })
    }

    fn removes(env: &[EnvChange], key: &'static str) -> bool {
        env.contains(&EnvChange::Remove(key))
    }

    #[test]
    fn the_app_s_engine_decides_where_docker_goes() {
        let vm = ResolvedEngine { endpoint: Endpoint::Unix("/g/docker.sock".into()), origin: Origin::GantryVm };
        let vm_source = EngineSource::GantryVm;
        assert_eq!(docker_target(Some(&vm), &vm_source, true), DockerTarget::Context("gantry".into()));
        assert_eq!(
            docker_target(Some(&vm), &vm_source, false),
            DockerTarget::Host(vm.endpoint.clone()),
            "no gantry context yet (the VM never started): its socket"
        );
        let ctx = ResolvedEngine { endpoint: Endpoint::Unix("/r/docker.sock".into()), origin: Origin::Context };
        let ctx_source = EngineSource::Context { name: "build-box".into() };
        assert_eq!(docker_target(Some(&ctx), &ctx_source, true), DockerTarget::Context("build-box".into()));
        let host =
            ResolvedEngine { endpoint: Endpoint::Unix("/var/run/docker.sock".into()), origin: Origin::DockerHost };
        assert_eq!(docker_target(Some(&host), &vm_source, true), DockerTarget::Host(host.endpoint.clone()));
        let existing = ResolvedEngine { endpoint: host.endpoint.clone(), origin: Origin::Settings };
        assert_eq!(docker_target(Some(&existing), &vm_source, true), DockerTarget::Host(host.endpoint.clone()));
        assert_eq!(docker_target(None, &vm_source, true), DockerTarget::Unchanged);
    }

    #[test]
    fn a_context_is_named_and_docker_host_removed() {
        let env = shell_env(&DockerTarget::Context("gantry".into()));
        assert_eq!(value(&env, "DOCKER_CONTEXT"), Some("gantry"));
        assert!(removes(&env, "DOCKER_HOST"), "DOCKER_HOST would win over the context: {env:?}");
        assert_eq!(value(&env, "TERM"), Some("xterm-256color"));
    }

    #[test]
    fn an_endpoint_becomes_docker_host_in_the_docker_cli_s_form() {
        let unix = shell_env(&DockerTarget::Host(Endpoint::Unix("/run/user/1000/docker.sock".into())));
        assert_eq!(value(&unix, "DOCKER_HOST"), Some("unix:///run/user/1000/docker.sock"));
        assert!(removes(&unix, "DOCKER_CONTEXT"));
        let plain = shell_env(&DockerTarget::Host(Endpoint::Tcp { address: "10.0.0.5:2375".into(), tls: None }));
        assert_eq!(value(&plain, "DOCKER_HOST"), Some("tcp://10.0.0.5:2375"));
        assert!(removes(&plain, "DOCKER_TLS_VERIFY"));
        let tls =
            Endpoint::Tcp { address: "build:2376".into(), tls: Some(TlsFiles::in_dir(Path::new("/certs/build"))) };
        let tls = shell_env(&DockerTarget::Host(tls));
        assert_eq!(value(&tls, "DOCKER_HOST"), Some("tcp://build:2376"), "the docker CLI wants tcp://, not https://");
        assert_eq!(value(&tls, "DOCKER_TLS_VERIFY"), Some("1"));
        assert_eq!(value(&tls, "DOCKER_CERT_PATH"), Some("/certs/build"));
        let pipe = shell_env(&DockerTarget::Host(Endpoint::NamedPipe("//./pipe/docker_engine".into())));
        assert_eq!(value(&pipe, "DOCKER_HOST"), Some("npipe:////./pipe/docker_engine"));
    }

    #[test]
    fn an_unknown_engine_leaves_docker_alone() {
        let env = shell_env(&DockerTarget::Unchanged);
        assert!(
            env.iter().all(|c| !matches!(c, EnvChange::Set(k, _) | EnvChange::Remove(k) if k.starts_with("DOCKER")))
        );
    }

    #[test]
    fn the_folder_is_the_lab_s_then_home() {
        let lab = Path::new("/home/ann/gantry-labs/first-container");
        let home = Path::new("/home/ann");
        assert_eq!(choose_dir(Some(lab), Some(home), |_| true), lab);
        assert_eq!(choose_dir(Some(lab), Some(home), |d| d == home), home, "a lab folder that went away");
        assert_eq!(choose_dir(None, Some(home), |_| true), home);
        assert_eq!(choose_dir(None, None, |_| true), std::env::temp_dir());
    }

    #[test]
    fn sizes_outside_the_limits_are_refused_with_which_number() {
        assert!(check_size(24, 80).is_ok());
        assert!(check_size(1, 1).is_ok() && check_size(1000, 1000).is_ok());
        assert!(check_size(0, 80).unwrap_err().contains("rows is 0"));
        assert!(check_size(24, 0).unwrap_err().contains("cols is 0"));
        assert!(check_size(24, 1001).unwrap_err().contains("cols is 1001"));
    }
}
