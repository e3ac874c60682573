//! The host agent (`gantry agent`): one process per instance that owns QEMU, runs the start-up
//! chain, serves the engine socket, keeps the Docker context and the port forwards up to date,
//! and answers on the control socket (newline-delimited JSON requests `{"request":"status"}`,
//! `{"request":"subscribe"}`, `{"request":"stop"}`; every answer line is a [`VmStatus`]).
//!
//! It survives the UI and the CLI: closing the app never stops containers. If the agent dies,
//! QEMU keeps running and the next agent reattaches; if QEMU dies, the agent reports it and
//! exits, and the next start boots again (stale pid files and sockets are cleaned up).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, ContainerFilter, Endpoint, Engine, EngineEvent, EventFilter, TlsFiles};
use gantry_machine::driver::{BootEvent, Driver, MachineConfig, QemuDriver, RunState};
use gantry_machine::instance::Instance;
use gantry_machine::ports::{self, PortForwarder, Published};
use gantry_machine::{forward, tls};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, watch};

use crate::settings::{self, EngineSource, HostFacts, Settings};
use crate::vm::context;
use crate::vm::error::VmError;
use crate::vm::status::{RunningInfo, Step, VmStatus};

/// A control-socket request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Status,
    Subscribe,
    Stop,
}

/// How long the agent keeps answering after a failed start, so clients can read the error.
const LINGER_AFTER_ERROR: Duration = Duration::from_secs(5);
/// Bound on "docker version" answering over TLS after the guest says the engine is ready.
const ENGINE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Clean power-off bound before QEMU is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

struct Shared {
    instance: Instance,
    driver: QemuDriver,
    tx: broadcast::Sender<VmStatus>,
    current: watch::Sender<VmStatus>,
    /// Every status of this agent's start, replayed to subscribers that join while starting.
    history: Mutex<Vec<VmStatus>>,
    info: Mutex<RunningInfo>,
    port_problems: Mutex<Vec<String>>,
    stop: CancellationToken,
}

impl Shared {
    fn new(instance: &Instance, first: VmStatus, info: RunningInfo) -> Arc<Self> {
        let (tx, _) = broadcast::channel(64);
        let (current, _) = watch::channel(first);
        Arc::new(Shared {
            driver: QemuDriver::new(instance.clone()),
            instance: instance.clone(),
            tx,
            current,
            history: Mutex::new(Vec::new()),
            info: Mutex::new(info),
            port_problems: Mutex::new(Vec::new()),
            stop: CancellationToken::new(),
        })
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
        let problems = self.port_problems.lock().map(|p| p.clone()).unwrap_or_default();
        if problems.is_empty() {
            self.publish(VmStatus::Running(info));
        } else {
            self.publish(VmStatus::Degraded { reasons: problems, info });
        }
    }
}

/// Runs the agent for `instance` until it is told to stop or the VM dies.
pub async fn run_agent(instance: Instance) -> Result<(), VmError> {
    instance.ensure().map_err(VmError::io("create", instance.dir()))?;
    let _lock = lock(&instance)?;
    let pid_path = instance.agent_pid();
    std::fs::write(&pid_path, std::process::id().to_string()).map_err(VmError::io("write", &pid_path))?;
    let control = instance.control_socket();
    let _ = std::fs::remove_file(&control); // we hold the lock: any socket file is stale
    let listener = forward::bind(&control).map_err(VmError::Machine)?;

    let shared = Shared::new(
        &instance,
        VmStatus::starting(Step::ValidateSettings, None),
        RunningInfo { agent_pid: std::process::id(), ..Default::default() },
    );
    let server = tokio::spawn(control_server(listener, shared.clone()));
    let tasks = CancellationToken::new();

    let started = tokio::select! {
        r = chain(&shared, &tasks) => Some(r),
        () = shared.stop.cancelled() => None,
    };
    let result = match started {
        Some(Ok(())) => {
            shared.publish_running();
            // Run until stopped or until QEMU dies.
            let died = tokio::select! {
                () = shared.stop.cancelled() => false,
                () = watch_qemu(&shared.driver) => true,
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
            // A half-booted VM is stopped so the next start begins cleanly.
            let _ = shared.driver.stop(Duration::from_secs(5)).await;
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
    // let subscribers read the final status
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.abort();
    for f in [control, instance.docker_socket(), pid_path] {
        let _ = std::fs::remove_file(f);
    }
    result
}

async fn stop_vm(shared: &Shared) {
    shared.publish(VmStatus::Stopping);
    match shared.driver.stop(STOP_TIMEOUT).await {
        Ok(outcome) => tracing::info!(?outcome, "VM stopped"),
        Err(e) => tracing::warn!(error = %e, "stop failed"),
    }
    shared.publish(VmStatus::Stopped);
}

/// Holds `agent.lock` for the process lifetime: a second agent for the instance fails here.
fn lock(instance: &Instance) -> Result<std::fs::File, VmError> {
    let path = instance.agent_lock();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(VmError::io("open", &path))?;
    #[cfg(unix)]
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| VmError::Agent {
        message: format!("another agent is already running for instance {}", instance.name()),
        hint: "use `gantry status`, or `gantry stop` first".into(),
    })?;
    Ok(f)
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
        drop(f);
        instance.control_socket().exists()
    }
}

async fn watch_qemu(driver: &QemuDriver) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if driver.live_pid().is_none() {
            return;
        }
    }
}

fn machine_config(s: &Settings) -> MachineConfig {
    MachineConfig {
        cpus: s.vm.cpus,
        memory_mib: s.vm.memory_mib,
        disk_gib: s.vm.disk_gib,
        shared_folders: s.vm.shared_folders.clone(),
        ..MachineConfig::default()
    }
}

/// The TLS endpoint of the engine as the host sees it.
pub fn engine_endpoint(instance: &Instance, state: &RunState) -> Endpoint {
    Endpoint::Tcp {
        address: state.engine_addr().to_string(),
        tls: Some(TlsFiles { ca: instance.tls_ca(), cert: instance.tls_client_cert(), key: instance.tls_client_key() }),
    }
}

async fn chain(shared: &Arc<Shared>, tasks: &CancellationToken) -> Result<(), VmError> {
    let inst = &shared.instance;
    let driver = &shared.driver;

    shared.step(Step::ValidateSettings, None);
    let (settings, cfg) = (|| {
        let settings = settings::load(&inst.settings())?;
        if let EngineSource::Existing { endpoint } = &settings.engine {
            return Err(VmError::NotUsingVm { endpoint: endpoint.clone() });
        }
        settings.validate(&HostFacts::detect(inst.dir())).map_err(|errors| VmError::Settings { errors })?;
        let cfg = machine_config(&settings);
        let warnings = driver.validate(&cfg)?;
        if let Ok(mut i) = shared.info.lock() {
            i.warnings = warnings;
        }
        Ok((settings, cfg))
    })()
    .map_err(VmError::at(Step::ValidateSettings))?;

    shared.step(Step::PrepareInstance, Some(inst.dir().display().to_string()));
    inst.ensure().map_err(VmError::io("create", inst.dir())).map_err(VmError::at(Step::PrepareInstance))?;
    driver.clean_stale();

    shared.step(Step::TlsMaterial, None);
    let fresh = tls::ensure(inst).map_err(VmError::from).map_err(VmError::at(Step::TlsMaterial))?;
    if fresh {
        tracing::info!("generated new TLS material");
    }

    shared.step(Step::DataDisk, Some(format!("{} GiB", cfg.disk_gib)));
    driver.create(&cfg).await.map_err(VmError::from).map_err(VmError::at(Step::DataDisk))?;

    shared.step(Step::BootVm, None);
    let progress_shared = shared.clone();
    let progress = move |ev: BootEvent| match ev {
        BootEvent::Launched { accel, pid } => {
            progress_shared.step(Step::BootVm, Some(format!("QEMU pid {pid}, accelerator {accel}")));
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
            progress_shared.step(Step::WaitForEngine, Some(format!("guest kernel up after {after_ms} ms")));
        }
        BootEvent::EngineReady { after_ms } => {
            progress_shared.step(Step::WaitForEngine, Some(format!("guest reports engine ready after {after_ms} ms")));
        }
        _ => {}
    };
    let state = driver.start(&cfg, &progress).await.map_err(VmError::from).map_err(VmError::at(Step::BootVm))?;
    if let Some(w) = &state.warning
        && let Ok(mut i) = shared.info.lock()
    {
        i.warnings.retain(|x| !x.contains("software emulation"));
        i.warnings.push(w.clone());
    }

    shared.step(Step::WaitForEngine, Some(format!("docker version over TLS on {}", state.engine_addr())));
    let endpoint = engine_endpoint(inst, &state);
    let engine = wait_for_engine(&endpoint).await.map_err(VmError::at(Step::WaitForEngine))?;
    let version = engine.version().await.map_err(VmError::from).map_err(VmError::at(Step::WaitForEngine))?;

    shared.step(Step::ServeSocket, Some(inst.docker_socket().display().to_string()));
    let listener =
        forward::bind(&inst.docker_socket()).map_err(VmError::from).map_err(VmError::at(Step::ServeSocket))?;
    let upstream = forward::Upstream {
        addr: state.engine_addr(),
        tls: tls::client_config(inst).map_err(VmError::from).map_err(VmError::at(Step::ServeSocket))?,
    };
    let t = tasks.clone();
    tokio::spawn(forward::serve(listener, inst.docker_socket(), upstream, Arc::default(), async move {
        t.cancelled().await;
    }));

    shared.step(Step::DockerContext, None);
    let context_dir = context::docker_config_dir();
    match context::ensure(&context_dir, &inst.docker_socket()) {
        Ok(p) => tracing::info!(path = %p.display(), "docker context updated"),
        Err(e) => {
            // not fatal: DOCKER_HOST still works
            if let Ok(mut i) = shared.info.lock() {
                i.warnings.push(format!("cannot write the docker context in {}: {e}", context_dir.display()));
            }
        }
    }

    shared.step(Step::PortForwarding, None);
    if let Ok(mut i) = shared.info.lock() {
        i.docker_host = format!("unix://{}", inst.docker_socket().display());
        i.context = context::CONTEXT_NAME.into();
        i.accel = state.accel.to_string();
        i.engine_version = version.version.clone();
        i.qemu_pid = state.pid;
        i.boot_ms = state.boot_ms;
    }
    let mut fwd = PortForwarder::new();
    reconcile_ports(shared, &engine, &mut fwd, settings.vm.port_bind_address).await;
    tokio::spawn(port_task(shared.clone(), engine, fwd, settings.vm.port_bind_address, tasks.clone()));
    Ok(())
}

async fn wait_for_engine(endpoint: &Endpoint) -> Result<Engine, VmError> {
    let deadline = tokio::time::Instant::now() + ENGINE_ANSWER_TIMEOUT;
    loop {
        match Engine::connect(endpoint).await {
            Ok(e) => return Ok(e),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(e) => {
                tracing::debug!(error = %e, "engine not answering yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn reconcile_ports(shared: &Shared, engine: &Engine, fwd: &mut PortForwarder, bind: IpAddr) {
    let containers = match engine.list_containers(&ContainerFilter::default()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list containers for port forwarding");
            return;
        }
    };
    let want: BTreeSet<_> = ports::desired(
        containers
            .iter()
            .flat_map(|c| c.ports.iter())
            .filter_map(|p| p.host_port.map(|host_port| Published { host_port, proto: p.protocol.clone() })),
        bind,
    );
    let mut qmp = match shared.driver.qmp().await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "QMP unavailable for port forwarding");
            return;
        }
    };
    let conflicts = fwd.reconcile(&mut qmp, &want).await;
    drop(qmp);
    let problems: Vec<String> = conflicts.iter().map(|c| format!("{}; {}", c, c.hint)).collect();
    let changed = {
        let mut info = match shared.info.lock() {
            Ok(i) => i,
            Err(_) => return,
        };
        let ports: Vec<_> = fwd.active().iter().copied().collect();
        let mut p = match shared.port_problems.lock() {
            Ok(p) => p,
            Err(_) => return,
        };
        let changed = info.forwarded_ports != ports || *p != problems;
        info.forwarded_ports = ports;
        *p = problems;
        changed
    };
    if changed && shared.current.borrow().is_up() {
        shared.publish_running();
    }
}

async fn port_task(
    shared: Arc<Shared>,
    engine: Engine,
    mut fwd: PortForwarder,
    bind: IpAddr,
    cancel: CancellationToken,
) {
    let mut events = engine.events(&EventFilter { resources: vec!["container".into()], ..Default::default() });
    loop {
        let item = tokio::select! {
            () = cancel.cancelled() => return,
            item = events.next() => item,
        };
        match item {
            Some(Ok(EngineEvent::Event { event, .. })) => {
                if matches!(
                    event.action.as_str(),
                    "start" | "die" | "stop" | "kill" | "destroy" | "pause" | "unpause" | "restart"
                ) {
                    reconcile_ports(&shared, &engine, &mut fwd, bind).await;
                }
            }
            Some(Ok(EngineEvent::Reconnected { .. })) => {
                // the VM may have restarted: QEMU's rules may be gone; re-add the full set
                if let Ok(mut q) = shared.driver.qmp().await {
                    for r in fwd.active().clone() {
                        let _ = q.hostfwd_remove(ports::NETDEV, &r.remove_arg()).await;
                    }
                }
                fwd.reset();
                reconcile_ports(&shared, &engine, &mut fwd, bind).await;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "engine events"),
            None => return,
        }
    }
}

/// Serves the control socket; aborting it also ends its connections (they live in its JoinSet).
async fn control_server(listener: tokio::net::UnixListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((conn, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            if let Err(e) = handle_control(conn, shared).await {
                tracing::debug!(error = %e, "control connection");
            }
        });
    }
}

/// The agent's control-socket server without QEMU or a start-up chain, for tests of clients:
/// statuses are published by hand, and dropping it (or [`FakeAgent::exit`]) ends it like the
/// agent's exit does (connections closed, socket removed).
#[cfg(test)]
pub(crate) struct FakeAgent {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[cfg(test)]
impl FakeAgent {
    /// Binds `instance`'s control socket; the current status is `first`.
    pub(crate) fn serve(instance: &Instance, first: VmStatus) -> Result<Self, VmError> {
        instance.ensure().map_err(VmError::io("create", instance.dir()))?;
        let control = instance.control_socket();
        let _ = std::fs::remove_file(&control);
        let listener = forward::bind(&control).map_err(VmError::Machine)?;
        let shared = Shared::new(instance, first, RunningInfo::default());
        let server = tokio::spawn(control_server(listener, shared.clone()));
        Ok(Self { shared, server })
    }

    /// Broadcasts `s` to subscribers, as the agent does.
    pub(crate) fn publish(&self, s: VmStatus) {
        self.shared.publish(s);
    }

    /// Ends like the agent's process: connections closed, socket removed.
    pub(crate) fn exit(self) {
        drop(self);
    }
}

#[cfg(test)]
impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(self.shared.instance.control_socket());
    }
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, s: &VmStatus) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(s).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

async fn handle_control(conn: tokio::net::UnixStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (r, mut w) = conn.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Some(line) = lines.next_line().await? {
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let s = VmStatus::Error {
                    message: format!("bad request {line:?}: {e}"),
                    hint: r#"send {"request":"status"}, {"request":"subscribe"} or {"request":"stop"}"#.into(),
                };
                send(&mut w, &s).await?;
                continue;
            }
        };
        match req {
            Request::Status => {
                let s = shared.current.borrow().clone();
                send(&mut w, &s).await?;
            }
            Request::Subscribe | Request::Stop => {
                let mut rx = shared.tx.subscribe();
                let s = shared.current.borrow().clone();
                if s.is_settled() {
                    send(&mut w, &s).await?;
                } else {
                    // joined during start: replay the steps so far
                    let past = shared.history.lock().map(|h| h.clone()).unwrap_or_default();
                    for p in past.iter().chain(past.is_empty().then_some(&s)) {
                        send(&mut w, p).await?;
                    }
                }
                if req == Request::Stop {
                    shared.stop.cancel();
                }
                loop {
                    match rx.recv().await {
                        Ok(s) => {
                            send(&mut w, &s).await?;
                            if req == Request::Stop && matches!(s, VmStatus::Stopped) {
                                return Ok(());
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let s = shared.current.borrow().clone();
                            send(&mut w, &s).await?;
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    }
                }
            }
        }
    }
    Ok(())
}
