//! Gantry's VM, as the CLI and the desktop app use it. The facade is small:
//!
//! - [`start`]: starts the host agent if needed (detached, one per instance) and reports its
//!   progress through the named start-up steps until the engine is up;
//! - [`stop`]: asks the agent to power the VM off (or stops an orphaned QEMU);
//! - [`status`]: the current [`VmStatus`];
//! - [`subscribe`]: a stream of [`VmStatus`] events;
//! - [`watch`]: those events across the agent's exits and restarts (for front ends);
//! - [`run_agent`]: the agent itself (the hidden `gantry agent` command calls it).
//!
//! The agent and the VM outlive the front ends; they talk over the instance's control socket.
//! The VM is known only through the [`Driver`] trait; [`machine_driver`] is the one place that
//! picks the driver.

mod agent;
pub mod context;
mod error;
pub mod status;
mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub use agent::run_agent_with;
use gantry_machine::driver::{AnyDriver, Driver, DriverChoice, Intent, MachineStatus, StopMode};
use tokio::io::{AsyncWriteExt, BufReader};

pub use agent::{Request, agent_running, engine_endpoint, run_agent};
pub use error::VmError;
pub use gantry_machine::instance::Instance;
pub use gantry_machine::local;
pub use status::{RunningInfo, Step, VmStatus};
pub use watch::{MAX_BACKOFF, watch};

/// The driver of `instance`'s VM, to act with `intent`: the one it was created with
/// ([`gantry_machine::driver::record`]: its engine data is there), else the host's choice
/// ([`host_driver`]). A start records the driver when it was not yet; starting an instance with
/// a `GANTRY_DRIVER` other than its own is the error. The WSL 2 driver has not run on a real
/// Windows machine yet, and Apple Virtualization has no driver yet (docs/windows.md,
/// docs/macos.md).
pub async fn machine_driver(instance: &Instance, intent: Intent) -> Result<AnyDriver, VmError> {
    let (choice, remembered) = decide_driver(instance, intent).await?;
    let driver = AnyDriver::new(choice.kind, instance.clone(), intent)?;
    if intent == Intent::Start && !remembered {
        instance.ensure().map_err(VmError::io("create", instance.dir()))?;
        gantry_machine::driver::record::write(instance, choice.kind)?;
    }
    Ok(driver)
}

/// Which driver `instance` runs with and why, creating and recording nothing: the one it was
/// created with, else this computer's choice ([`host_driver`]). What [`machine_driver`] builds,
/// and what `gantry doctor` shows.
pub async fn driver_choice(instance: &Instance, intent: Intent) -> Result<DriverChoice, VmError> {
    Ok(decide_driver(instance, intent).await?.0)
}

/// [`driver_choice`], and whether the instance has a driver record (read once).
async fn decide_driver(instance: &Instance, intent: Intent) -> Result<(DriverChoice, bool), VmError> {
    use gantry_machine::driver::{record, requested_driver};
    let remembered = record::read(instance)?;
    match record::decide(instance.name(), remembered, requested_driver()?, intent)? {
        Some(choice) => {
            tracing::info!(driver = choice.kind.name(), reason = %choice.reason, "VM driver of the instance");
            Ok((choice, true))
        }
        None => Ok((host_driver().await?, false)),
    }
}

/// The driver this computer runs a new instance with, as
/// [`gantry_machine::driver::choose_driver`] decides: QEMU on Linux and macOS; on Windows WSL 2
/// when it is usable, else QEMU with WHPX; `GANTRY_DRIVER=qemu` or `wsl2` overrides it (an
/// unknown value, or `wsl2` off Windows, is the error). Chosen once per process and logged then.
async fn host_driver() -> Result<DriverChoice, VmError> {
    static CHOSEN: OnceLock<DriverChoice> = OnceLock::new();
    Ok(match CHOSEN.get() {
        Some(choice) => choice.clone(),
        None => {
            let choice = gantry_machine::driver::choose_for_this_host().await?;
            tracing::info!(driver = choice.kind.name(), reason = %choice.reason, "VM driver chosen");
            CHOSEN.get_or_init(|| choice).clone()
        }
    })
}

/// Where the agent serves `instance`'s engine on this computer, as a client connects to it: the
/// owner-only unix socket, or on Windows the named pipe ([`local::LocalEndpoint::engine`]). The
/// CLI, the app and the docker context all name this one place.
pub fn served_engine(instance: &Instance) -> gantry_engine::Endpoint {
    match local::LocalEndpoint::engine(instance) {
        local::LocalEndpoint::Socket(path) => gantry_engine::Endpoint::Unix(path),
        local::LocalEndpoint::Pipe(name) => gantry_engine::Endpoint::NamedPipe(name.replace('\\', "/")),
    }
}

/// How to start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub instance: Instance,
    /// The program and arguments that run the agent. Default: the `gantry` CLI (see
    /// [`GANTRY_BIN_ENV`]) with `agent --instance <name>`. A front end that is not the CLI can
    /// instead handle those arguments itself by calling [`run_agent`].
    pub agent_command: Option<(PathBuf, Vec<OsString>)>,
    /// Bound on the whole start (TCG boots take ~30 s on an idle machine, more under load).
    pub timeout: Duration,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self { instance: Instance::default(), agent_command: None, timeout: Duration::from_secs(600) }
    }
}

/// A live subscription to the agent's status events.
pub struct Subscription {
    lines: gantry_machine::lines::LineReader<BufReader<tokio::io::ReadHalf<local::LocalStream>>>,
    _w: tokio::io::WriteHalf<local::LocalStream>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

impl Subscription {
    /// The next event; `None` when the agent went away.
    pub async fn next(&mut self) -> Option<VmStatus> {
        loop {
            let line = self.lines.next_line().await.ok()??;
            match serde_json::from_slice(&line) {
                Ok(s) => return Some(s),
                Err(e) => tracing::warn!(error = %e, line = %String::from_utf8_lossy(&line), "unknown status line"),
            }
        }
    }
}

async fn request(instance: &Instance, req: Request) -> Result<Subscription, VmError> {
    let path = instance.control_socket();
    let endpoint = local::LocalEndpoint::control(instance);
    let conn = local::connect(&endpoint).await.map_err(|e| VmError::Agent {
        message: format!("cannot reach the agent at {}: {e}", endpoint.display_path()),
        hint: "start it with `gantry start`".into(),
    })?;
    let (r, mut w) = tokio::io::split(conn);
    let mut line =
        serde_json::to_vec(&req).map_err(|e| VmError::Agent { message: e.to_string(), hint: String::new() })?;
    line.push(b'\n');
    w.write_all(&line).await.map_err(VmError::io("write", &path))?;
    Ok(Subscription { lines: gantry_machine::lines::LineReader::new(BufReader::new(r), agent::MAX_STATUS_LINE), _w: w })
}

/// Subscribes to status events (the first event is the current status).
pub async fn subscribe(instance: &Instance) -> Result<Subscription, VmError> {
    request(instance, Request::Subscribe).await
}

/// How long the agent may take to answer a status request before it counts as not answering
/// (it answers from memory at once; a stuck agent must not hang `gantry vm-status`).
const STATUS_ANSWER: Duration = Duration::from_secs(10);
/// How long [`stop`] follows the agent's progress before stopping QEMU itself (the agent's own
/// clean power-off gives up after 60 s).
const STOP_BY_AGENT: Duration = Duration::from_secs(120);

/// The current status. Without an agent: `Stopped`, or `Degraded` when a QEMU of this instance
/// runs without its agent (`gantry start` reattaches). An agent that does not answer within
/// 10 s is reported as such (`Error`, or `Degraded` while its QEMU runs), never waited on.
pub async fn status(instance: &Instance) -> VmStatus {
    status_within(instance, STATUS_ANSWER).await
}

async fn status_within(instance: &Instance, bound: Duration) -> VmStatus {
    let answer = tokio::time::timeout(bound, async { request(instance, Request::Status).await.ok()?.next().await });
    let silent = match answer.await {
        Ok(Some(st)) => return st,
        Ok(None) => false,
        Err(_) => true,
    };
    let hint = "`gantry stop` stops it (the VM too), then `gantry start`";
    let machine = match machine_driver(instance, Intent::Manage).await {
        Ok(driver) => driver.status(),
        Err(e) => return VmStatus::Error { message: e.to_string(), hint: e.hint() },
    };
    match (machine, silent) {
        (MachineStatus::Running(rs), silent) => VmStatus::Degraded {
            reasons: vec![if silent {
                format!("the VM runs but its agent does not answer within {} s; {hint}", bound.as_secs())
            } else {
                "the VM runs but its agent does not; `gantry start` reattaches".into()
            }],
            info: RunningInfo { qemu_pid: rs.pid, accel: rs.accel.to_string(), ..Default::default() },
        },
        (_, true) => VmStatus::Error {
            message: format!("the agent does not answer within {} s", bound.as_secs()),
            hint: hint.into(),
        },
        (_, false) => VmStatus::Stopped,
    }
}

/// Environment variable naming the `gantry` binary that runs the agent.
pub const GANTRY_BIN_ENV: &str = "GANTRY_BIN";

/// The program that runs `agent`: `$GANTRY_BIN`, else this executable when it is the `gantry`
/// CLI, else a `gantry` next to this executable (the installed package's `/usr/bin`, the
/// desktop app's bundle, `target/<profile>/`), else `gantry` on PATH.
fn agent_program() -> Result<PathBuf, VmError> {
    let exe = std::env::current_exe().map_err(VmError::io("locate", "current executable"))?;
    Ok(agent_program_for(std::env::var_os(GANTRY_BIN_ENV).filter(|v| !v.is_empty()), &exe))
}

/// [`agent_program`] over explicit inputs: `$GANTRY_BIN` and the running executable.
fn agent_program_for(gantry_bin: Option<OsString>, exe: &std::path::Path) -> PathBuf {
    if let Some(p) = gantry_bin {
        return PathBuf::from(p);
    }
    if exe.file_stem().is_some_and(|n| n == "gantry") {
        return exe.to_owned();
    }
    let name = if cfg!(windows) { "gantry.exe" } else { "gantry" };
    exe.parent().map(|d| d.join(name)).filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(name))
}

fn spawn_agent(opts: &StartOptions) -> Result<(), VmError> {
    let inst = &opts.instance;
    inst.ensure().map_err(VmError::io("create", inst.dir()))?;
    let (program, args) = match &opts.agent_command {
        Some(c) => c.clone(),
        None => (agent_program()?, vec!["agent".into(), "--instance".into(), inst.name().into()]),
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(inst.agent_log())
        .map_err(VmError::io("open", inst.agent_log()))?;
    let log2 = log.try_clone().map_err(VmError::io("open", inst.agent_log()))?;
    let mut cmd = std::process::Command::new(&program);
    cmd.args(&args).stdin(std::process::Stdio::null()).stdout(log).stderr(log2).env("NO_COLOR", "1");
    if std::env::var_os("GANTRY_LOG").is_none() {
        cmd.env("GANTRY_LOG", "info");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(VmError::io("start agent", &program))?;
    // reap it if it exits while we live (the desktop app is long-lived)
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Starts the VM (through the agent) and reports each status until it is up.
pub async fn start(opts: &StartOptions, mut progress: impl FnMut(&VmStatus)) -> Result<RunningInfo, VmError> {
    let inst = &opts.instance;
    inst.check_socket_paths()?;
    inst.ensure().map_err(VmError::io("create", inst.dir()))?;
    // the agent chooses the same way: a driver it cannot have is said here, not in its log
    machine_driver(inst, Intent::Start).await?;
    // One start at a time launches the agent (the app and a terminal, a double click): the
    // second waits here, then finds the first one's agent and follows it.
    let start_lock = {
        let inst = inst.clone();
        tokio::task::spawn_blocking(move || lock_start(&inst))
            .await
            .map_err(|e| VmError::Agent { message: e.to_string(), hint: String::new() })??
    };
    if agent_running(inst) && matches!(status(inst).await, VmStatus::Error { .. }) {
        // an agent lingering after a failed start: end it and start afresh
        if let Ok(mut sub) = request(inst, Request::Stop).await {
            let _ = tokio::time::timeout(Duration::from_secs(10), async { while sub.next().await.is_some() {} }).await;
        }
        for _ in 0..100 {
            if !agent_running(inst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if !agent_running(inst) {
        spawn_agent(opts)?;
        // keep the start lock until the new agent holds its own lock
        for _ in 0..100 {
            if agent_running(inst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(start_lock);
    let run = async {
        // the agent binds its control socket right away
        let mut sub = None;
        for _ in 0..100 {
            match subscribe(inst).await {
                Ok(s) => {
                    sub = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let Some(mut sub) = sub else {
            return Err(VmError::Agent {
                message: "the agent did not come up".into(),
                hint: format!("see {}", inst.agent_log().display()),
            });
        };
        loop {
            let Some(s) = sub.next().await else {
                return Err(VmError::Agent {
                    message: "the agent exited during start".into(),
                    hint: format!("see {}", inst.agent_log().display()),
                });
            };
            progress(&s);
            match s {
                VmStatus::Running(info) | VmStatus::Degraded { info, .. } => return Ok(info),
                VmStatus::Error { message, hint } => return Err(VmError::Reported { message, hint }),
                VmStatus::Stopped => {
                    return Err(VmError::Reported {
                        message: "the VM was stopped during start".into(),
                        hint: String::new(),
                    });
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(opts.timeout, run).await.map_err(|_| VmError::Reported {
        message: format!("the VM did not start within {} s", opts.timeout.as_secs()),
        hint: "see `gantry logs` and `gantry logs --console`".into(),
    })?
}

/// Takes the instance's start lock (blocking until another start has launched its agent).
fn lock_start(inst: &Instance) -> Result<std::fs::File, VmError> {
    let path = inst.start_lock();
    agent::lock_file(&path, true)?.ok_or_else(|| VmError::io("lock", &path)(std::io::ErrorKind::WouldBlock.into()))
}

/// Stops the VM: asks the agent (clean power-off), or stops an orphaned QEMU directly.
pub async fn stop(instance: &Instance, progress: impl FnMut(&VmStatus)) -> Result<(), VmError> {
    stop_within(instance, STOP_BY_AGENT, progress).await
}

/// [`stop`], following the agent for at most `by_agent` before stopping QEMU directly.
async fn stop_within(
    instance: &Instance,
    by_agent: Duration,
    mut progress: impl FnMut(&VmStatus),
) -> Result<(), VmError> {
    if let Ok(mut sub) = request(instance, Request::Stop).await {
        let followed = tokio::time::timeout(by_agent, async {
            while let Some(s) = sub.next().await {
                progress(&s);
                if matches!(s, VmStatus::Stopped) {
                    break;
                }
            }
        })
        .await;
        if followed.is_err() {
            tracing::warn!(after_s = by_agent.as_secs(), "the agent did not finish stopping; stopping QEMU directly");
            kill_silent_agent(instance).await;
        }
        // wait for the agent to release its lock
        for _ in 0..50 {
            if !agent_running(instance) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let driver = machine_driver(instance, Intent::Manage).await?;
    if driver.alive() {
        progress(&VmStatus::Stopping);
        driver.stop(Duration::from_secs(60), StopMode::SaveIfAsked).await?;
    }
    driver.clean_stale();
    progress(&VmStatus::Stopped);
    Ok(())
}

/// Kills the instance's agent (SIGKILL) when it still holds its lock after a stop it did not
/// finish: it does not answer, so a clean request cannot reach it.
async fn kill_silent_agent(instance: &Instance) {
    use gantry_machine::process;
    if !agent_running(instance) {
        return;
    }
    let Some(pid) = process::read_pid(&instance.agent_pid())
        .filter(|pid| process::alive(*pid) && process::cmdline(*pid).is_some_and(|c| c.contains("agent")))
    else {
        return;
    };
    tracing::warn!(pid, "killing the agent that does not answer");
    if let Err(e) = process::signal(pid, true) {
        tracing::warn!(pid, error = %e, "could not kill the agent");
    }
    process::wait_gone(pid, Duration::from_secs(5)).await;
}

/// Deletes the instance (the VM must be stopped first): everything but the data disk and
/// settings, or everything with `data`.
pub async fn delete(instance: &Instance, data: bool) -> Result<(), VmError> {
    if agent_running(instance) {
        return Err(VmError::Agent { message: "the VM is running".into(), hint: "run `gantry stop` first".into() });
    }
    machine_driver(instance, Intent::Manage).await?.delete(data).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use gantry_machine::driver::DriverKind;

    use super::*;

    /// A start records the driver; stop, status and delete use the record (a `wsl2` one too,
    /// here where there is no WSL), and a bad record is named rather than replaced.
    #[tokio::test]
    async fn a_start_records_the_driver_and_later_commands_use_the_record() {
        use gantry_machine::driver::DRIVER_ENV;
        if std::env::var_os(DRIVER_ENV).is_some() {
            eprintln!("skipped: {DRIVER_ENV} is set in this environment");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("dev"));
        let managed = machine_driver(&inst, Intent::Manage).await.unwrap();
        assert_eq!(managed.kind(), DriverKind::Qemu);
        assert!(!inst.driver_record().exists(), "only a start records the driver");
        let started = machine_driver(&inst, Intent::Start).await.unwrap();
        assert_eq!(started.kind(), DriverKind::Qemu);
        assert_eq!(std::fs::read_to_string(inst.driver_record()).unwrap(), "qemu\n");
        // what `gantry doctor` shows: the driver and why
        let choice = driver_choice(&inst, Intent::Manage).await.unwrap();
        assert_eq!((choice.kind, choice.reason.as_str()), (DriverKind::Qemu, "instance dev was created with qemu"));
        // an instance created with WSL 2 is stopped and deleted with WSL 2, tarballs or not
        std::fs::write(inst.driver_record(), "wsl2\n").unwrap();
        assert_eq!(machine_driver(&inst, Intent::Manage).await.unwrap().kind(), DriverKind::Wsl2);
        std::fs::write(inst.driver_record(), "vbox\n").unwrap();
        let Err(e) = machine_driver(&inst, Intent::Start).await else { panic!("a bad record was accepted") };
        assert!(e.to_string().contains("names no VM driver"), "{e}");
        assert_eq!(std::fs::read_to_string(inst.driver_record()).unwrap(), "vbox\n", "a bad record is kept");
    }

    /// The CLI and the app connect where the agent serves the engine, and the docker context
    /// (written from the agent's endpoint) names the same place: on Windows the named pipe.
    #[test]
    fn clients_connect_where_the_agent_serves_the_engine() {
        for inst in [Instance::default(), Instance::at(std::env::temp_dir().join("gantry-dev"))] {
            let served = served_engine(&inst);
            let local = local::LocalEndpoint::engine(&inst);
            assert_eq!(served.to_string(), local.to_string());
            assert_eq!(gantry_engine::Endpoint::parse(&local.to_string()).unwrap(), served);
            match served {
                gantry_engine::Endpoint::Unix(path) if cfg!(unix) => assert_eq!(path, inst.docker_socket()),
                gantry_engine::Endpoint::NamedPipe(pipe) if cfg!(windows) => {
                    assert!(pipe.starts_with("//./pipe/"), "{pipe}");
                }
                other => panic!("not this system's local endpoint: {other:?}"),
            }
        }
        if cfg!(windows) {
            assert_eq!(served_engine(&Instance::default()).to_string(), "npipe:////./pipe/gantry_engine");
        }
    }

    #[test]
    fn the_desktop_app_runs_the_gantry_next_to_it_before_path() {
        let t = tempfile::tempdir().unwrap();
        let desktop = t.path().join("gantry-desktop");
        let gantry = format!("gantry{}", std::env::consts::EXE_SUFFIX);
        // nothing next to it: PATH's gantry
        assert_eq!(agent_program_for(None, &desktop), PathBuf::from(&gantry));
        std::fs::write(t.path().join(&gantry), b"").unwrap();
        assert_eq!(agent_program_for(None, &desktop), t.path().join(&gantry));
        // $GANTRY_BIN still wins; the CLI runs itself
        assert_eq!(agent_program_for(Some("/opt/g".into()), &desktop), PathBuf::from("/opt/g"));
        assert_eq!(agent_program_for(None, Path::new("/usr/bin/gantry")), PathBuf::from("/usr/bin/gantry"));
    }

    /// An "agent" that accepts on the control socket and never answers (a stuck agent).
    fn silent_agent(inst: &Instance) -> local::LocalListener {
        std::fs::create_dir_all(inst.dir()).unwrap();
        local::LocalListener::bind(&local::LocalEndpoint::control(inst)).unwrap()
    }

    #[tokio::test]
    async fn a_silent_agent_is_reported_not_waited_on() {
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        assert!(matches!(status_within(&inst, Duration::from_millis(200)).await, VmStatus::Stopped));
        let _agent = silent_agent(&inst);
        match status_within(&inst, Duration::from_millis(200)).await {
            VmStatus::Error { message, hint } => {
                assert!(message.contains("does not answer"), "{message}");
                assert!(hint.contains("gantry stop"), "{hint}");
            }
            other => panic!("expected an error naming the silent agent, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stop_that_the_agent_never_finishes_ends() {
        let t = tempfile::tempdir().unwrap();
        let inst = Instance::at(t.path().join("default"));
        let _agent = silent_agent(&inst);
        let mut seen = Vec::new();
        stop_within(&inst, Duration::from_millis(200), |s| seen.push(s.clone())).await.unwrap();
        assert!(matches!(seen.last(), Some(VmStatus::Stopped)), "{seen:?}");
    }
}
