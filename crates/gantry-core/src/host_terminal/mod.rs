//! A terminal on this computer for the Learn panel: the learner's own shell in a PTY, with the
//! `docker` command pointed at the engine the app uses. Gantry chooses everything about the
//! program — which shell, its environment, its folder ([`plan`]); the webview gives only the
//! size. [`session`] runs one; on Unix [`reap`] ends what the shell started.

pub mod plan;
#[cfg(unix)]
pub mod reap;
pub mod session;

pub use plan::{
    DockerTarget, EnvChange, ShellFacts, ShellProgram, check_size, choose_dir, choose_shell, docker_target, shell_env,
};
pub use session::{HANG_UP_GRACE, HostSession, SpawnSpec, Spawned};

/// The shell a host terminal runs for this user ([`choose_shell`] over this process's
/// environment).
pub fn users_shell() -> ShellProgram {
    let shell = std::env::var_os("SHELL");
    let system_root = std::env::var_os("SystemRoot");
    let comspec = std::env::var_os("ComSpec");
    choose_shell(&ShellFacts {
        windows: cfg!(windows),
        shell: shell.as_deref(),
        system_root: system_root.as_deref(),
        comspec: comspec.as_deref(),
        runnable: &is_runnable,
    })
}

#[cfg(unix)]
fn is_runnable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_runnable(path: &std::path::Path) -> bool {
    path.is_file()
}
