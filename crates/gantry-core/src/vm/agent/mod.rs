//! The host agent (`gantry agent`): one process per instance that owns the VM, runs the start-up
//! chain, serves the engine socket, keeps the Docker context and the port forwards up to date,
//! and answers on the control socket.
//!
//! It knows the VM only through the [`Driver`] trait (generic over `D: Driver`: static dispatch,
//! the driver chosen once in [`crate::vm::machine_driver`]), and asks its [`Features`] what to do:
//! port forwarding by the driver or by the platform, pause events, reattaching.
//!
//! It survives the UI and the CLI: closing the app never stops containers. If the agent dies,
//! a VM that outlives it (QEMU) keeps running and the next agent reattaches; if the VM dies, the
//! agent reports it and exits, and the next start boots again (stale pid files and sockets are
//! cleaned up).
//!
//! - this module: the lifecycle (lock, start-up chain, run until stopped or the VM dies, stop);
//! - [`control`]: the control socket's server and protocol;
//! - [`ports`]: the published-port reconciler;
//! - [`memory`]: the start-up caches given back to the host once the engine answers;
//! - [`pause`]: a VM that the hypervisor paused because this computer's disk is full;
//! - [`settings_check`]: settings that became invalid while the VM runs.

mod control;
#[cfg(test)]
mod fake_driver;
mod memory;
mod pause;
mod ports;
mod settings_check;
mod timings;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_engine::{CancellationToken, Endpoint, Engine, EngineVersion, TlsFiles};
use gantry_machine::driver::{
    BootEvent, Driver, EngineEndpoint, Features, MachineConfig, PortForwarding, StopMode, console_log,
};
use gantry_machine::guest_engine::engine_restarts;
use gantry_machine::instance::Instance;
use gantry_machine::local::{LocalEndpoint, LocalListener};
use gantry_machine::ports::PortForwarder;
use gantry_machine::shares::MountPolicy;
use gantry_machine::{forward, tls};
use tokio::sync::{broadcast, watch};

use crate::settings::{self, EngineSource, HostFacts, Settings};
use crate::vm::context;
use crate::vm::error::VmError;
use crate::vm::status::{RunningInfo, Step, VmStatus};

#[cfg(test)]
pub(crate) use control::FakeAgent;
use control::control_server;
pub use control::{MAX_STATUS_LINE, Request};
use ports::{port_task, reconcile_ports};

/// How long the agent keeps answering after a failed start, so clients can read the error.
const LINGER_AFTER_ERROR: Duration = Duration::from_secs(5);
/// Bound on "docker version" answering over TLS after the guest says the engine is ready.
const ENGINE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Clean power-off bound before the VM is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

struct Shared<D> {
    instance: Instance,
    driver: D,
    /// `driver.features()`, asked once.
    features: Features,
    tx: broadcast::Sender<VmStatus>,
    current: watch::Sender<VmStatus>,
    /// Every status of this agent's start, replayed to subscribers that join while starting.
    history: Mutex<Vec<VmStatus>>,
    info: Mutex<RunningInfo>,
    port_problems: Mutex<Vec<String>>,
    /// Problems of the VM itself (a reattach that went wrong).
    vm_problems: Mutex<Vec<String>>,
    /// What is wrong with the settings file for the next start (the VM runs with the old ones).
    settings_problem: Mutex<Option<String>>,
    /// Why the hypervisor paused the VM (a full disk), while it is paused.
    paused: Mutex<Option<String>>,
    /// This agent found the VM running (it did not launch it): it never powers it off on error.
    attached: std::sync::atomic::AtomicBool,
    stop: CancellationToken,
}

impl<D: Driver> Shared<D> {
    fn new(instance: &Instance, driver: D, first: VmStatus, info: RunningInfo) -> Arc<Self> {
        let (tx, _) = broadcast::channel(64);
        let (current, _) = watch::channel(first);
        Arc::new(Shared {
            features: driver.features(),
            driver,
            instance: instance.clone(),
            tx,
            current,
            history: Mutex::new(Vec::new()),
            info: Mutex::new(info),
            port_problems: Mutex::new(Vec::new()),
            vm_problems: Mutex::new(Vec::new()),
            settings_problem: Mutex::new(None),
            paused: Mutex::new(None),
            attached: std::sync::atomic::AtomicBool::new(false),
            stop: CancellationToken::new(),
        })
    }
}

impl<D> Shared<D> {
    fn attached(&self) -> bool {
        self.attached.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sets the VM's own problems (replacing the previous ones) and republishes when up.
    fn set_vm_problems(&self, problems: Vec<String>) {
        self.replace(&self.vm_problems, problems);
    }

    /// Sets what is wrong with the settings (`None`: nothing) and republishes when up.
    fn set_settings_problem(&self, problem: Option<String>) {
        self.replace(&self.settings_problem, problem);
    }

    /// Sets why the VM is paused (`None`: it runs) and republishes when up.
    fn set_paused(&self, reason: Option<String>) {
        self.replace(&self.paused, reason);
    }

    fn replace<T: PartialEq>(&self, slot: &Mutex<T>, value: T) {
        let changed = match slot.lock() {
            Ok(mut p) if *p != value => {
                *p = value;
                true
            }
            _ => false,
        };
        if changed && self.current.borrow().is_up() {
            self.publish_running();
        }
    }

    fn publish(&self, s: VmStatus) {
        tracing::info!(status = %s.describe(), "status");
        self.current.send_replace(s.clone());
        if let Ok(mut h) = self.history.lock()
            && h.len() < 200
        {
            h.push(s.clone());
        }
        let _ = self.tx.send(s);
    }
    fn step(&self, step: Step, detail: Option<String>) {
        self.publish(VmStatus::starting(step, detail));
    }
    fn info(&self) -> RunningInfo {
        self.info.lock().map(|i| i.clone()).unwrap_or_default()
    }
    fn publish_running(&self) {
        let info = self.info();
        let mut problems: Vec<String> = self.paused.lock().map(|p| p.iter().cloned().collect()).unwrap_or_default();
        problems.extend(self.vm_problems.lock().map(|p| p.clone()).unwrap_or_default());
        problems.extend(self.settings_problem.lock().map(|p| p.clone()).unwrap_or_default());
        problems.extend(self.port_problems.lock().map(|p| p.clone()).unwrap_or_default());
        if problems.is_empty() {
            self.publish(VmStatus::Running(info));
        } else {
            self.publish(VmStatus::Degraded { reasons: problems, info });
        }
    }
}

/// Runs the agent for `instance` until it is told to stop or the VM dies.
pub async fn run_agent(instance: Instance) -> Result<(), VmError> {
    let driver = crate::vm::machine_driver(&instance, gantry_machine::driver::Intent::Start).await?;
    run_agent_with(instance, driver).await
}

/// [`run_agent`] with the VM behind `driver`.
pub async fn run_agent_with<D: Driver + 'static>(instance: Instance, driver: D) -> Result<(), VmError> {
    instance.ensure().map_err(VmError::io("create", instance.dir()))?;
    let _lock = lock(&instance)?;
    let pid_path = instance.agent_pid();
    std::fs::write(&pid_path, std::process::id().to_string()).map_err(VmError::io("write", &pid_path))?;
    let control = instance.control_socket();
    let _ = std::fs::remove_file(&control); // we hold the lock: any socket file is stale
    let listener = LocalListener::bind(&LocalEndpoint::control(&instance)).map_err(VmError::Machine)?;

    let shared = Shared::new(
        &instance,
        driver,
        VmStatus::starting(Step::ValidateSettings, None),
        RunningInfo { agent_pid: std::process::id(), ..Default::default() },
    );
    let server = tokio::spawn(control_server(listener, shared.clone()));
    let signals = tokio::spawn(stop_on_signals(shared.stop.clone()));
    let tasks = CancellationToken::new();

    let started = tokio::select! {
        r = chain(&shared, &tasks) => Some(r),
        () = shared.stop.cancelled() => None,
    };
    let started = match started {
        Some(Err(e)) if shared.attached() && shared.driver.alive() => {
            // Not ours to power off: the VM keeps running, the problem is reported.
            tracing::error!(error = %e, "reattach failed");
            shared.set_vm_problems(vec![format!(
                "reattached to the running VM, but {e}; the VM was left running: `gantry stop` then `gantry start` restarts it cleanly ({})",
                e.hint()
            )]);
            Some(Ok(()))
        }
        other => other,
    };
    let result = match started {
        Some(Ok(())) => {
            shared.publish_running();
            tasks_for_running(&shared, &tasks);
            // Run until stopped or until the VM dies.
            let died = tokio::select! {
                () = shared.stop.cancelled() => false,
                () = watch_vm(&shared.driver) => true,
            };
            tasks.cancel();
            if died {
                let msg = "the VM exited unexpectedly".to_string();
                shared.publish(VmStatus::Error {
                    message: msg.clone(),
                    hint: "run `gantry start` again; see `gantry logs --console`".into(),
                });
                shared.driver.clean_stale();
                tokio::time::sleep(LINGER_AFTER_ERROR).await;
                Err(VmError::Reported { message: msg, hint: "run `gantry start` again".into() })
            } else {
                stop_vm(&shared).await;
                Ok(())
            }
        }
        Some(Err(e)) => {
            tasks.cancel();
            tracing::error!(error = %e, "start failed");
            shared.publish(VmStatus::Error { message: e.to_string(), hint: e.hint() });
            // A half-booted VM that this agent launched is stopped so the next start begins cleanly.
            if !shared.attached() {
                let _ = shared.driver.stop(Duration::from_secs(5), StopMode::PowerOff).await;
            }
            tokio::select! {
                () = tokio::time::sleep(LINGER_AFTER_ERROR) => {}
                () = shared.stop.cancelled() => {}
            }
            Err(e)
        }
        None => {
            tasks.cancel();
            stop_vm(&shared).await;
            Ok(())
        }
    };
    signals.abort();
    // let subscribers read the final status
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.abort();
    for f in [control, instance.docker_socket(), pid_path] {
        let _ = std::fs::remove_file(f);
    }
    result
}

/// SIGTERM (log-out, shutdown) and SIGHUP (the terminal went away) stop the guest cleanly
/// instead of leaving it to be killed with the session.
async fn stop_on_signals(stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            tracing::warn!("cannot watch SIGTERM/SIGHUP");
            return;
        };
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        };
        tracing::info!(signal = which, "stopping the VM cleanly");
        stop.cancel();
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    }
}

/// Background work while the VM runs: following the VM's events for a VM the hypervisor paused
/// (disk full) when the driver has them, and the settings file (a problem reported goes once it
/// is fixed).
fn tasks_for_running<D: Driver + 'static>(shared: &Arc<Shared<D>>, tasks: &CancellationToken) {
    if shared.features.pause_events {
        let (s, t) = (shared.clone(), tasks.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = t.cancelled() => {}
                () = pause::watch(&s) => {}
            }
        });
    }
    let (s, t) = (shared.clone(), tasks.clone());
    tokio::spawn(async move {
        tokio::select! {
            () = t.cancelled() => {}
            () = settings_check::watch(&s) => {}
        }
    });
}

async fn stop_vm<D: Driver>(shared: &Shared<D>) {
    shared.publish(VmStatus::Stopping);
    match shared.driver.stop(STOP_TIMEOUT, StopMode::SaveIfAsked).await {
        Ok(outcome) => tracing::info!(?outcome, "VM stopped"),
        Err(e) => tracing::warn!(error = %e, "stop failed"),
    }
    shared.publish(VmStatus::Stopped);
}

/// Opens (creating) a lock file and takes its exclusive lock; `wait`: until it is free, else
/// `Ok(None)` when another process holds it. The lock lasts as long as the file is open.
pub(crate) fn lock_file(path: &std::path::Path, wait: bool) -> Result<Option<std::fs::File>, VmError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(VmError::io("open", path))?;
    #[cfg(unix)]
    {
        use rustix::fs::FlockOperation::{LockExclusive, NonBlockingLockExclusive};
        match rustix::fs::flock(&f, if wait { LockExclusive } else { NonBlockingLockExclusive }) {
            Ok(()) => {}
            Err(e) if !wait && e == rustix::io::Errno::WOULDBLOCK => return Ok(None),
            Err(e) => return Err(VmError::Io { what: "lock", path: path.to_owned(), source: e.into() }),
        }
    }
    #[cfg(not(unix))]
    {
        let locked = if wait { f.lock().map_err(std::fs::TryLockError::Error) } else { f.try_lock() };
        match locked {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(VmError::Io { what: "lock", path: path.to_owned(), source: e });
            }
        }
    }
    Ok(Some(f))
}

/// Holds `agent.lock` for the process lifetime: a second agent for the instance fails here.
fn lock(instance: &Instance) -> Result<std::fs::File, VmError> {
    lock_file(&instance.agent_lock(), false)?.ok_or_else(|| VmError::Agent {
        message: format!("another agent is already running for instance {}", instance.name()),
        hint: "use `gantry status`, or `gantry stop` first".into(),
    })
}

/// Whether an agent holds the instance's lock.
pub fn agent_running(instance: &Instance) -> bool {
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(instance.agent_lock()) else {
        return false;
    };
    #[cfg(unix)]
    {
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let _ = rustix::fs::flock(&f, rustix::fs::FlockOperation::Unlock);
                false
            }
            Err(_) => true,
        }
    }
    #[cfg(not(unix))]
    {
        match f.try_lock_shared() {
            Ok(()) => {
                let _ = f.unlock();
                false
            }
            Err(_) => true,
        }
    }
}

async fn watch_vm(driver: &impl Driver) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !driver.alive() {
            return;
        }
    }
}

fn machine_config(s: &Settings, instance: &Instance) -> MachineConfig {
    MachineConfig {
        cpus: s.vm.cpus,
        memory_mib: s.vm.memory_mib,
        disk_gib: s.vm.disk_gib,
        shared_folders: s.vm.shared_folders.clone(),
        hidden: protected_dirs(instance),
        registry_mirrors: s.vm.registry_mirrors.clone(),
        port_bind_address: s.vm.port_bind_address,
        save_on_stop: s.vm.save_on_stop,
        ..MachineConfig::default()
    }
}

/// Gantry's own directories, hidden from the guest and refused as bind sources: the root of
/// all instances (disks, TLS keys, settings) and this instance's directory wherever it is.
fn protected_dirs(instance: &Instance) -> Vec<std::path::PathBuf> {
    let mut v = vec![gantry_machine::instance::root_dir()];
    if !instance.dir().starts_with(&v[0]) {
        v.push(instance.dir().to_owned());
    }
    v
}

/// The TLS endpoint of the engine as the host sees it, from where the driver offers it.
pub fn engine_endpoint(instance: &Instance, offered: &EngineEndpoint) -> Result<Endpoint, VmError> {
    Ok(Endpoint::Tcp {
        address: served_addr(offered)?.to_string(),
        tls: Some(TlsFiles { ca: instance.tls_ca(), cert: instance.tls_client_cert(), key: instance.tls_client_key() }),
    })
}

/// The engine's TCP address: only a TCP port is served by this agent yet; a vsock relay or a
/// named pipe is refused by name.
fn served_addr(offered: &EngineEndpoint) -> Result<std::net::SocketAddr, VmError> {
    match offered {
        EngineEndpoint::TcpTls { addr } => Ok(*addr),
        other => Err(VmError::Agent {
            message: format!("the VM offers the engine on {other}, which this agent does not serve yet"),
            hint: "use the QEMU driver (see docs/windows.md and docs/macos.md)".into(),
        }),
    }
}

async fn chain<D: Driver + 'static>(shared: &Arc<Shared<D>>, tasks: &CancellationToken) -> Result<(), VmError> {
    let inst = &shared.instance;
    let driver = &shared.driver;
    let clock = Arc::new(timings::StartClock::new());

    shared.step(Step::ValidateSettings, None);
    inst.check_socket_paths().map_err(VmError::from).map_err(VmError::at(Step::ValidateSettings))?;
    let running = driver.running();
    shared.attached.store(running.is_some(), std::sync::atomic::Ordering::SeqCst);
    let (settings, cfg) = if running.is_some() {
        let settings = settings_check::settings_for_reattach(shared);
        let cfg = machine_config(&settings, inst);
        (settings, cfg)
    } else {
        (|| {
            let settings = settings::load(&inst.settings())?;
            if let EngineSource::Existing { endpoint } = &settings.engine {
                return Err(VmError::NotUsingVm { endpoint: endpoint.clone() });
            }
            settings.validate(&HostFacts::detect(inst.dir())).map_err(|errors| VmError::Settings { errors })?;
            let cfg = machine_config(&settings, inst);
            let warnings = driver.validate(&cfg)?;
            if let Ok(mut i) = shared.info.lock() {
                i.warnings = warnings;
            }
            Ok((settings, cfg))
        })()
        .map_err(VmError::at(Step::ValidateSettings))?
    };

    shared.step(Step::PrepareInstance, Some(inst.dir().display().to_string()));
    inst.ensure().map_err(VmError::io("create", inst.dir())).map_err(VmError::at(Step::PrepareInstance))?;
    driver.clean_stale();

    if let Some(state) = &running {
        // The running guest holds these keys and this disk: never regenerate or resize them.
        shared.step(Step::TlsMaterial, Some("kept: the VM is running".into()));
        shared.step(
            Step::DataDisk,
            Some(format!("kept: the VM ({} pid {}) is running", driver.process_name(), state.pid)),
        );
    } else {
        shared.step(Step::TlsMaterial, None);
        let fresh = tls::ensure(inst).map_err(VmError::from).map_err(VmError::at(Step::TlsMaterial))?;
        if fresh {
            tracing::info!("generated new TLS material");
        }
        shared.step(Step::DataDisk, Some(format!("{} GiB", cfg.disk_gib)));
        driver.create(&cfg).await.map_err(VmError::from).map_err(VmError::at(Step::DataDisk))?;
    }

    let process = driver.process_name();
    shared.step(Step::BootVm, running.as_ref().map(|s| format!("reattaching to {process} pid {}", s.pid)));
    clock.mark(|m| &mut m.boot_step);
    let progress_shared = shared.clone();
    let progress_clock = clock.clone();
    let progress = move |ev: BootEvent| match ev {
        BootEvent::Launched { accel, pid } => {
            progress_clock.launched();
            progress_shared.step(Step::BootVm, Some(format!("{process} pid {pid}, accelerator {accel}")));
        }
        BootEvent::Warning { message } => {
            if let Ok(mut i) = progress_shared.info.lock()
                && !i.warnings.contains(&message)
            {
                i.warnings.push(message);
            }
        }
        BootEvent::FellBack { from, reason } => {
            progress_shared.step(Step::BootVm, Some(format!("{from} did not work ({reason}); retrying with TCG")));
        }
        BootEvent::ConsoleAlive { after_ms } => {
            progress_clock.mark(|m| &mut m.console_alive);
            progress_shared.step(Step::WaitForEngine, Some(format!("guest kernel up after {after_ms} ms")));
        }
        BootEvent::EngineReady { after_ms } => {
            progress_clock.mark(|m| &mut m.engine_ready);
            progress_shared.step(Step::WaitForEngine, Some(format!("guest reports engine ready after {after_ms} ms")));
        }
        BootEvent::StateLoaded { after_ms } => {
            progress_clock.mark(|m| &mut m.state_loaded);
            progress_shared.step(Step::WaitForEngine, Some(format!("loaded the saved VM after {after_ms} ms")));
        }
        BootEvent::Restored { after_ms } => {
            progress_clock.mark(|m| &mut m.restored);
            progress_shared.step(Step::WaitForEngine, Some(format!("resumed the saved VM after {after_ms} ms")));
        }
        BootEvent::NotResumed { reason } => {
            progress_shared.step(Step::BootVm, Some(format!("the saved VM was not resumed ({reason}); booting")));
        }
        _ => {}
    };
    let state = match running {
        Some(state) => state,
        None => driver.start(&cfg, &progress).await.map_err(VmError::from).map_err(VmError::at(Step::BootVm))?,
    };
    if let Some(w) = &state.warning
        && let Ok(mut i) = shared.info.lock()
    {
        i.warnings.retain(|x| !x.contains("software emulation"));
        i.warnings.push(w.clone());
    }

    let offered = driver.engine_endpoint(&state);
    let engine_addr = served_addr(&offered).map_err(VmError::at(Step::WaitForEngine))?;
    shared.step(Step::WaitForEngine, Some(format!("docker version over TLS on {engine_addr}")));
    let endpoint = engine_endpoint(inst, &offered).map_err(VmError::at(Step::WaitForEngine))?;
    let (engine, version) = wait_for_engine(shared, &endpoint, console_log(&driver.logs()), ENGINE_ANSWER_TIMEOUT)
        .await
        .map_err(VmError::at(Step::WaitForEngine))?;
    clock.mark(|m| &mut m.tls_answered);

    let engine_local = LocalEndpoint::engine(inst);
    shared.step(Step::ServeSocket, Some(engine_local.display_path()));
    let listener = LocalListener::bind(&engine_local).map_err(VmError::from).map_err(VmError::at(Step::ServeSocket))?;
    let upstream = forward::Upstream {
        addr: engine_addr,
        tls: tls::client_config(inst).map_err(VmError::from).map_err(VmError::at(Step::ServeSocket))?,
    };
    // mounts are checked against what this VM was booted with (a VM of an older Gantry: settings)
    let filter = forward::Filter {
        policy: MountPolicy {
            shares: if state.shared_folders.is_empty() {
                cfg.shared_folders.clone()
            } else {
                state.shared_folders.clone()
            },
            protected: protected_dirs(inst),
        },
        settings_file: inst.settings(),
    };
    let t = tasks.clone();
    tokio::spawn(forward::serve(listener, upstream, Arc::default(), Some(Arc::new(filter)), async move {
        t.cancelled().await;
    }));

    clock.mark(|m| &mut m.socket_served);
    shared.step(Step::DockerContext, None);
    let context_dir = context::docker_config_dir();
    match context::ensure(&context_dir, &engine_local) {
        Ok(p) => tracing::info!(path = %p.display(), "docker context updated"),
        Err(e) => {
            // not fatal: DOCKER_HOST still works
            if let Ok(mut i) = shared.info.lock() {
                i.warnings.push(format!("cannot write the docker context in {}: {e}", context_dir.display()));
            }
        }
    }

    clock.mark(|m| &mut m.context_written);
    shared.step(Step::PortForwarding, None);
    if let Ok(mut i) = shared.info.lock() {
        i.docker_host = engine_local.to_string();
        i.context = context::CONTEXT_NAME.into();
        i.accel = state.accel.to_string();
        i.engine_version = version.version.clone();
        i.qemu_pid = state.pid;
        i.boot_ms = state.boot_ms;
    }
    let by_driver = shared.features.port_forwarding == PortForwarding::ByDriver;
    let fwd = if by_driver {
        // a restarted agent starts from the rules the driver already has
        let mut fwd =
            if shared.attached() { ports::seeded_forwarder(shared, &state).await } else { PortForwarder::new() };
        reconcile_ports(shared, &engine, &mut fwd, settings.vm.port_bind_address).await;
        Some(fwd)
    } else {
        tracing::info!(driver = driver.name(), "published ports are relayed by the platform, not the agent");
        None
    };
    clock.mark(|m| &mut m.forwards_set);
    if !shared.attached()
        && let Some(console) = console_log(&driver.logs())
    {
        let phases = clock.phases(console);
        tracing::info!(?phases, "start-up timings");
        if let Ok(mut i) = shared.info.lock() {
            i.timings = phases;
        }
    }
    // a resumed VM has no boot caches: its memory is what it used at the save
    if !shared.attached() && !state.resumed && shared.features.memory_reclaim {
        tokio::spawn(memory::give_back_boot_caches(shared.clone(), cfg.memory_mib, state.pid, tasks.clone()));
    }
    if let Some(fwd) = fwd {
        tokio::spawn(port_task(shared.clone(), engine, fwd, settings.vm.port_bind_address, tasks.clone()));
    }
    Ok(())
}

/// Waits (at most `bound`) for the engine's TLS answer (its version: the one request that also
/// negotiates the API). The guest's init restarts a dockerd that exits on its own (its console
/// says so): each restart seen starts the bound again, the init giving up ends the wait, and the
/// error names the exit.
async fn wait_for_engine<D: Driver>(
    shared: &Shared<D>,
    endpoint: &Endpoint,
    console: Option<&std::path::Path>,
    bound: Duration,
) -> Result<(Engine, EngineVersion), VmError> {
    let mut deadline = tokio::time::Instant::now() + bound;
    let mut restarts_seen = 0;
    loop {
        match Engine::connect_reporting_version(endpoint).await {
            Ok(e) => return Ok(e),
            Err(e) => {
                let now = engine_restarts(&console.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default());
                if now.restarts > restarts_seen {
                    deadline = tokio::time::Instant::now() + bound;
                    let why = now.last_exit.as_deref().unwrap_or("dockerd exited");
                    shared.step(
                        Step::WaitForEngine,
                        Some(format!("the guest's engine stopped ({why}); started again ({})", now.restarts)),
                    );
                }
                if now.gave_up || tokio::time::Instant::now() >= deadline {
                    let err = VmError::from(e);
                    return Err(match &now.last_exit {
                        Some(exit) => VmError::Reported {
                            message: format!("{err} (in the guest: {exit}; the console log has the end of its log)"),
                            hint: err.hint(),
                        },
                        None => err,
                    });
                }
                restarts_seen = now.restarts;
                tracing::debug!(error = %e, "engine not answering yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guest restarted its engine and then gave up: the wait publishes the restart, ends
    /// without waiting out its bound, and its error names how the engine ended in the guest.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_guest_that_gave_up_on_its_engine_ends_the_wait_naming_the_exit() {
        use fake_driver::{FakeDriver, Script};
        let dir = tempfile::tempdir().unwrap();
        let inst = Instance::at(dir.path().join("default"));
        std::fs::create_dir_all(inst.dir()).unwrap();
        let shared = Shared::new(&inst, FakeDriver::new(Script::default()), VmStatus::Stopped, RunningInfo::default());
        let console = dir.path().join("console.log");
        std::fs::write(
            &console,
            "gantry-init: engine ready\n\
             gantry-init: error: dockerd: exited on its own (status 137); the end of its log:\n\
             gantry-init: dockerd: started again (pid 9, restart 1 of 3) [80.1s]\n\
             gantry-init: error: dockerd: exited on its own (status 2); the end of its log:\n\
             gantry-init: error: dockerd: exited 4 times; not starting it again (restart Gantry)\n",
        )
        .unwrap();
        // a port nothing listens on
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let endpoint = Endpoint::Tcp { address: format!("127.0.0.1:{port}"), tls: None };
        // a bound of an hour: only the guest's giving up can end this wait (the outer bound only
        // keeps a broken wait from hanging the test run)
        let wait = wait_for_engine(&shared, &endpoint, Some(&console), Duration::from_secs(3600));
        let e = tokio::time::timeout(Duration::from_secs(120), wait).await.unwrap().unwrap_err().to_string();
        assert!(e.contains("in the guest: dockerd: exited on its own (status 2)"), "{e}");
        let status = format!("{:?}", *shared.current.borrow());
        assert!(status.contains("(dockerd: exited on its own (status 2)); started again (1)"), "{status}");
    }

    #[test]
    fn only_a_tcp_engine_endpoint_is_served_and_others_are_named() {
        let inst = Instance::at("/i/default");
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], 41234).into();
        match engine_endpoint(&inst, &EngineEndpoint::TcpTls { addr }) {
            Ok(Endpoint::Tcp { address, tls: Some(tls) }) => {
                assert_eq!(address, "127.0.0.1:41234");
                assert_eq!(tls.cert, inst.tls_client_cert());
            }
            other => panic!("{other:?}"),
        }
        let vsock = EngineEndpoint::VsockRelay { socket: "/i/default/engine.vsock".into() };
        match engine_endpoint(&inst, &vsock) {
            Err(VmError::Agent { message, .. }) => {
                assert!(message.contains("vsock relay /i/default/engine.vsock"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
