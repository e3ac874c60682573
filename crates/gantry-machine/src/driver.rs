//! The machine lifecycle, lima-style: a [`Driver`] trait and its implementations. The agent
//! (`gantry_core::vm::agent`) knows only the trait: the lifecycle (validate / create / start /
//! stop / delete / status / reattach), where the engine is offered ([`EngineEndpoint`]), port
//! forwarding ([`Driver::reconcile_forwards`]) and the VM's pause events ([`Driver::events`]) as
//! driver features ([`Features`]), and the driver's log files.
//!
//! - [`QemuDriver`] (here): QEMU, one process per instance; forwards ports with `hostfwd` and
//!   reports a VM it paused (full disk) through its QMP events monitor.
//! - [`Wsl2Driver`] ([`wsl2`]): a WSL 2 distribution on Windows (`wsl --import` of the guest's
//!   root filesystem); WSL relays published ports to localhost by itself, has no pause events,
//!   and its engine ends with the agent that started it. Tested with a fake `wsl.exe` only.
//! - An Apple Virtualization driver on macOS would implement the same trait around `gantry-vz`
//!   (the engine on a vsock relay: [`EngineEndpoint::VsockRelay`]); it does not exist yet.
//!
//! The trait uses `async fn` (`impl Future + Send`) and an associated events type, so the agent
//! is generic over `D: Driver` (no boxing, no trait objects); the driver chosen at run time
//! ([`choose_driver`]) is an [`AnyDriver`], an enum that hands each call to the one it holds.

mod any;
mod choice;
mod events;
mod features;
pub mod record;
mod resume;
pub mod wsl2;

pub use any::AnyDriver;
pub use choice::{
    DRIVER_ENV, DriverChoice, DriverKind, WSL_PROBE_BOUND, WslAvailability, choose_driver, choose_for_this_host,
    probe_wsl, requested_driver,
};
pub use events::{DiskError, GuestRun, NoEvents, QmpEvents, VmEvent, VmEvents};
pub use features::{EngineEndpoint, Features, LogFile, LogKind, PortForwarding};
pub use record::Intent;
pub use resume::{RESUME_PROGRAM, SUSPEND_PROGRAM};
pub use wsl2::Wsl2Driver;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::accel::{self, Accel, AccelChoice, HostOs, Probe, Remembered};
use crate::accel_probe::{self, Verdict};
use crate::arch::{self, GuestArch};
use crate::engine_config::{self, RegistryMirror};
use crate::error::{MachineError, Result};
use crate::image::{self, GuestImage};
use crate::instance::Instance;
use crate::ports::{self, PortConflict, PortForwarder, PortRule};
use crate::qemu::{self, FwCfgFile, QemuSpec, QmpEndpoint, Share};
use crate::qemu_tuning::QemuTuning;
use crate::qmp::Qmp;
use crate::shares::SharedFolder;
use crate::{disk, private_file, process, saved_state, tls};

/// The VM's CPUs when nothing else is asked (the settings' default too).
pub const DEFAULT_CPUS: u32 = 2;
/// The VM's memory in MiB when nothing else is asked (the settings' default too).
pub const DEFAULT_MEMORY_MIB: u64 = 2048;
/// The data disk's ceiling in GiB when nothing else is asked (sparse: it grows with use).
pub const DEFAULT_DISK_GIB: u64 = 60;

/// What the machine needs, independent of the settings file format.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    pub cpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub shared_folders: Vec<SharedFolder>,
    /// Host folders inside the shares that the guest must not see (Gantry's own directory):
    /// covered by an empty read-only mount in the guest.
    pub hidden: Vec<PathBuf>,
    /// Registry mirrors for the guest's engine (with their pinned CAs): its `/etc/docker`,
    /// shared read-only from [`Instance::guest_docker_dir`] ([`crate::engine_config`]).
    pub registry_mirrors: Vec<RegistryMirror>,
    /// The address on this computer published ports are bound to when a container does not ask
    /// for one (the settings' `vm.port_bind_address`). The agent's forwards apply it; a driver
    /// whose platform relays ports itself says in [`Driver::validate`] when it cannot.
    pub port_bind_address: IpAddr,
    pub image_dir: PathBuf,
    pub probe: Probe,
    /// With a hardware accelerator: run the test guest ([`accel_probe`]) before the boot. Off,
    /// only the boot's stall check decides (as before the probe: the benchmark's baseline).
    pub accel_probe: bool,
    /// The test guest must finish within this bound, else the accelerator is broken → TCG.
    pub accel_probe_deadline: Duration,
    /// With a hardware accelerator: no console output within this bound = stalled boot → TCG
    /// (the backstop when the probe could not tell).
    pub boot_stall_timeout: Duration,
    /// Bound on boot → the guest's "engine ready" console line (TCG needs much longer).
    pub engine_ready_timeout_hw: Duration,
    pub engine_ready_timeout_tcg: Duration,
    /// A stop saves the VM's state and the next start resumes it (`vm.save_on_stop`), where the
    /// driver can ([`Features::saved_state`]).
    pub save_on_stop: bool,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            cpus: DEFAULT_CPUS,
            memory_mib: DEFAULT_MEMORY_MIB,
            disk_gib: DEFAULT_DISK_GIB,
            shared_folders: Vec::new(),
            hidden: Vec::new(),
            registry_mirrors: Vec::new(),
            port_bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            image_dir: image::default_dir(),
            probe: Probe::default(),
            accel_probe: true,
            accel_probe_deadline: accel_probe::DEFAULT_DEADLINE,
            boot_stall_timeout: Duration::from_secs(20),
            engine_ready_timeout_hw: Duration::from_secs(90),
            engine_ready_timeout_tcg: Duration::from_secs(300),
            save_on_stop: true,
        }
    }
}

/// Progress while starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BootEvent {
    /// QEMU launched with this accelerator.
    Launched { accel: Accel, pid: u32 },
    /// A warning the user should see (e.g. software emulation).
    Warning { message: String },
    /// The hardware accelerator ran the test guest ([`accel_probe`]) in this time.
    AccelWorks { accel: Accel, after_ms: u64 },
    /// The hardware accelerator stalled or failed; retrying with TCG.
    FellBack { from: Accel, reason: String },
    /// The guest's console printed its first output.
    ConsoleAlive { after_ms: u64 },
    /// The guest's init reported the engine ready.
    EngineReady { after_ms: u64 },
    /// QEMU read the VM's saved state (QEMU launched → the whole file loaded, the vCPUs still
    /// paused).
    StateLoaded { after_ms: u64 },
    /// The VM's saved state was restored (QEMU launched → the guest runs again, clock set,
    /// shares mounted): the engine that was running at the stop runs again.
    Restored { after_ms: u64 },
    /// A saved state was there but not used: why; the VM boots instead.
    NotResumed { reason: String },
}

/// Facts about a running VM, persisted as `state.json` so a restarted agent can reattach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub pid: u32,
    pub accel: Accel,
    /// Loopback port on the host forwarded to the guest's TLS engine port.
    pub engine_port: u16,
    pub warning: Option<String>,
    /// Milliseconds from launch to "engine ready" (0 when reattached).
    pub boot_ms: u64,
    /// The folders this VM was booted with (a reattaching agent checks mounts against these,
    /// not against settings changed since).
    #[serde(default)]
    pub shared_folders: Vec<SharedFolder>,
    #[serde(default)]
    pub hidden: Vec<PathBuf>,
    /// A stop saves this VM's state ([`MachineConfig::save_on_stop`] at its start).
    #[serde(default)]
    pub save_on_stop: bool,
    /// This run was resumed from a saved state (not booted).
    #[serde(default)]
    pub resumed: bool,
}

impl RunState {
    /// The engine's TLS address on the host.
    pub fn engine_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.engine_port)
    }
}

/// Machine status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MachineStatus {
    Stopped,
    Running(RunState),
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    WasNotRunning,
    /// The guest shut down cleanly after the ACPI power button.
    PoweredOff,
    /// The guest did not power off in time: QEMU was told to quit / killed.
    Killed,
    /// The VM's state was saved to a file; the next start resumes it.
    Saved,
}

/// What a stop may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Save the VM's state when it was started with [`MachineConfig::save_on_stop`] and the
    /// driver can; power off otherwise (and when the save fails).
    SaveIfAsked,
    /// Power off (a half-booted VM, a VM being deleted).
    PowerOff,
}

/// Everything the agent asks of a VM backend. (Uses `async fn`: drivers are chosen statically.)
pub trait Driver: Send + Sync {
    /// A session on the VM's events ([`NoEvents`] when [`Features::pause_events`] is false).
    type Events: VmEvents;

    fn name(&self) -> &'static str;
    /// The process that is the VM, as statuses name it next to its pid ("QEMU").
    fn process_name(&self) -> &'static str;
    /// What this driver offers besides the lifecycle.
    fn features(&self) -> Features;
    /// Checks prerequisites and configuration; returns warnings.
    fn validate(&self, cfg: &MachineConfig) -> Result<Vec<String>>;
    /// Prepares everything persistent (instance dir, TLS, data disk). Idempotent.
    fn create(&self, cfg: &MachineConfig) -> impl Future<Output = Result<()>> + Send;
    /// Boots (or reattaches to) the VM and waits until the guest reports the engine ready.
    fn start(
        &self,
        cfg: &MachineConfig,
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> impl Future<Output = Result<RunState>> + Send;
    /// Saves the VM's state or powers off cleanly (`mode`), then kills after `timeout`.
    fn stop(&self, timeout: Duration, mode: StopMode) -> impl Future<Output = Result<StopOutcome>> + Send;
    /// Removes the instance's files; the data disk and settings only when `data` is true.
    fn delete(&self, data: bool) -> impl Future<Output = Result<()>> + Send;
    fn status(&self) -> MachineStatus;
    /// Whether the VM's process still runs (cheap: polled every second while it runs).
    fn alive(&self) -> bool;
    /// The running VM a new agent reattaches to instead of booting (`None` without
    /// [`Features::reattach`]).
    fn running(&self) -> Option<RunState>;
    /// Removes run-time leftovers of a VM that is gone (pid files, sockets, state).
    fn clean_stale(&self);
    /// Where the running VM offers the engine.
    fn engine_endpoint(&self, state: &RunState) -> EngineEndpoint;
    /// The log files of the VM (the console's first: boot timings are read from it).
    fn logs(&self) -> Vec<LogFile>;
    /// The forwards already installed for the running VM `state` (a restarted agent starts from
    /// them). Empty unless [`PortForwarding::ByDriver`].
    fn installed_forwards(&self, state: &RunState) -> impl Future<Output = Result<BTreeSet<PortRule>>> + Send;
    /// Brings the installed forwards to `want`; returns the ports that could not be forwarded.
    /// Only with [`PortForwarding::ByDriver`].
    fn reconcile_forwards(
        &self,
        fwd: &mut PortForwarder,
        want: &BTreeSet<PortRule>,
    ) -> impl Future<Output = Result<Vec<PortConflict>>> + Send;
    /// Removes every forward `fwd` installed and forgets them (the VM may have restarted).
    fn clear_forwards(&self, fwd: &mut PortForwarder) -> impl Future<Output = ()> + Send;
    /// Opens a session on the VM's events. [`MachineError::Unsupported`] when this VM has none
    /// (the driver, or a VM started by an older Gantry): its `what` is the sentence to show.
    fn events(&self) -> impl Future<Output = Result<Self::Events>> + Send;
    /// Takes the guest's unused memory (the start-up caches) back once, within `bound` per half
    /// of the squeeze. [`MachineError::Unsupported`] without [`Features::memory_reclaim`].
    fn give_back_memory(
        &self,
        guest_mib: u64,
        bound: Duration,
    ) -> impl Future<Output = Result<crate::memory::Squeezed>> + Send;
}

/// The console log of `logs` (what boot timings are read from), if any.
pub fn console_log(logs: &[LogFile]) -> Option<&std::path::Path> {
    logs.iter().find(|l| l.kind == LogKind::Console).map(|l| l.path.as_path())
}

/// QEMU, one process per instance.
#[derive(Debug, Clone)]
pub struct QemuDriver {
    pub instance: Instance,
    pub os: HostOs,
    /// The QEMU binary for this computer's architecture (default from [`qemu::qemu_binary`];
    /// `GANTRY_QEMU` overrides it for every guest).
    pub qemu: PathBuf,
    /// Whether `qemu` came from `GANTRY_QEMU`.
    qemu_from_env: bool,
}

const QEMU_ENV: &str = "GANTRY_QEMU";

impl QemuDriver {
    pub fn new(instance: Instance) -> Self {
        let os = HostOs::current();
        let from_env = std::env::var_os(QEMU_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        let qemu_from_env = from_env.is_some();
        let host = GuestArch::host().unwrap_or(GuestArch::X86_64);
        let qemu = from_env.unwrap_or_else(|| PathBuf::from(qemu::qemu_binary(os, host)));
        Self { instance, os, qemu, qemu_from_env }
    }

    /// The QEMU binary for a guest of `arch`: `GANTRY_QEMU` when set, else the emulator of that
    /// architecture.
    pub fn qemu_for(&self, arch: GuestArch) -> PathBuf {
        if self.qemu_from_env || GuestArch::host() == Some(arch) {
            self.qemu.clone()
        } else {
            PathBuf::from(qemu::qemu_binary(self.os, arch))
        }
    }

    /// The live QEMU pid of this instance, if any (stale pid files removed).
    pub fn live_pid(&self) -> Option<u32> {
        process::live_pid(&self.instance.qemu_pid(), "qemu")
    }

    /// Connects to QMP.
    pub async fn qmp(&self) -> Result<Qmp> {
        Qmp::connect(&self.instance.qmp_socket()).await
    }

    /// Run-time files of a QEMU process, removed once it is gone.
    fn run_time_files(&self) -> [PathBuf; 7] {
        let i = &self.instance;
        [
            i.qemu_pid(),
            i.qmp_socket(),
            i.qmp_events_socket(),
            i.state(),
            i.guest_agent_socket(),
            i.migration_socket(),
            i.launch_record(),
        ]
    }

    fn load_state(&self) -> Option<RunState> {
        let text = std::fs::read_to_string(self.instance.state()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save_state(&self, s: &RunState) -> Result<()> {
        let json = serde_json::to_string_pretty(s).map_err(|e| MachineError::Io {
            what: "encode state",
            path: self.instance.state(),
            source: std::io::Error::other(e),
        })?;
        private_file::write_atomic(&self.instance.state(), json.as_bytes())
            .map_err(MachineError::io("write", self.instance.state()))
    }

    /// The running VM this instance's files describe (live QEMU and a matching `state.json`):
    /// what a restarted agent reattaches to instead of booting.
    pub fn running(&self) -> Option<RunState> {
        let pid = self.live_pid()?;
        self.load_state().filter(|s| s.pid == pid && s.engine_port != 0)
    }

    /// Removes run-time leftovers of a dead QEMU (pid file, QMP socket, state).
    pub fn clean_stale(&self) {
        if self.live_pid().is_none() {
            for f in self.run_time_files() {
                let _ = std::fs::remove_file(f);
            }
        }
    }

    /// Whether the QEMU for `arch` can sandbox itself (seccomp): asked, not assumed (builds
    /// without libseccomp, macOS and Windows builds refuse `-sandbox`).
    pub async fn sandbox_supported(&self, arch: GuestArch) -> bool {
        let program = self.qemu_for(arch);
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(qemu::sandbox_probe_args())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let ok = match cmd.spawn() {
            Ok(mut child) => {
                matches!(tokio::time::timeout(Duration::from_secs(10), child.wait()).await, Ok(Ok(st)) if st.success())
            }
            Err(_) => false,
        };
        tracing::info!(sandbox = ok, qemu = %program.display(), "QEMU seccomp sandbox");
        ok
    }

    fn spec(&self, cfg: &MachineConfig, img: &GuestImage, accel: Accel, engine_port: u16) -> QemuSpec {
        let i = &self.instance;
        let mut shares: Vec<Share> = cfg
            .shared_folders
            .iter()
            .enumerate()
            .map(|(n, f)| Share { tag: format!("share{n}"), host_path: f.path.clone(), read_only: f.read_only })
            .collect();
        if let Some(n) = Self::guest_docker_share(cfg) {
            shares.push(Share { tag: format!("share{n}"), host_path: i.guest_docker_dir(), read_only: true });
        }
        let fw_cfg = vec![
            FwCfgFile { name: image::FW_CA.into(), file: i.tls_ca() },
            FwCfgFile { name: image::FW_SERVER_CERT.into(), file: i.tls_server_cert() },
            FwCfgFile { name: image::FW_SERVER_KEY.into(), file: i.tls_server_key() },
            FwCfgFile { name: image::FW_CONFIG.into(), file: i.guest_config() },
        ];
        QemuSpec {
            arch: img.arch,
            accel,
            cpus: cfg.cpus,
            memory_mib: cfg.memory_mib,
            kernel: img.kernel.clone(),
            initrd: img.initrd.clone(),
            rootfs: img.rootfs.clone(),
            cmdline: img.cmdline.clone(),
            data_disk: i.disk(),
            qmp: QmpEndpoint::Unix(i.qmp_socket()),
            events_qmp: Some(QmpEndpoint::Unix(i.qmp_events_socket())),
            // QEMU on Windows has no unix socket chardev here (its monitor is a TCP port)
            guest_agent: (self.os != HostOs::Windows).then(|| i.guest_agent_socket()),
            console_log: i.console_log(),
            pid_file: i.qemu_pid(),
            engine_host_port: engine_port,
            engine_guest_port: image::GUEST_ENGINE_PORT,
            engine_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            shares,
            fw_cfg,
            sandbox: false,
            tuning: QemuTuning::default(),
        }
    }

    /// The guest's config file (fw_cfg `opt/gantry/config`) for QEMU: [`guest_config`] with the
    /// guest's usual engine port (QEMU forwards a host port to it).
    pub fn guest_config(cfg: &MachineConfig) -> String {
        guest_config(cfg, image::GUEST_ENGINE_PORT)
    }

    /// The share number of the guest's `/etc/docker` (after the shared folders), when registry
    /// mirrors are set and the guest can name one more share (`share0`..`share99`).
    fn guest_docker_share(cfg: &MachineConfig) -> Option<usize> {
        let n = cfg.shared_folders.len();
        (!cfg.registry_mirrors.is_empty() && n <= 99).then_some(n)
    }

    /// Gives up on the hardware accelerator `from` for `reason`: says so, remembers TCG (only
    /// accelerator faults get here), and returns the warning the user keeps seeing.
    fn fall_back(&self, from: Accel, reason: String, progress: &(dyn Fn(BootEvent) + Send + Sync)) -> String {
        tracing::warn!(%reason, "falling back to TCG");
        progress(BootEvent::FellBack { from, reason: reason.clone() });
        let r = Remembered { accel: Accel::Tcg, reason: reason.clone() };
        if let Err(e) = r.save(&self.instance.accel_choice()) {
            tracing::warn!(error = %e, "cannot remember the accelerator choice");
        }
        let w = format!("{reason}; using software emulation (TCG): the VM is slow to boot and run");
        progress(BootEvent::Warning { message: w.clone() });
        w
    }

    /// [`Self::boot_once`], once more with another engine port when the one picked was taken
    /// between picking and QEMU binding it (a race with another program, not an accelerator fault).
    async fn boot_retrying_port(
        &self,
        cfg: &MachineConfig,
        img: &GuestImage,
        accel: Accel,
        warning: Option<&str>,
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> Result<(u32, u16, u64)> {
        match self.boot_once(cfg, img, accel, warning, progress).await {
            Err(MachineError::QemuExited { tail, .. }) if hostfwd_failed(&tail) => {
                tracing::warn!("the engine port was taken meanwhile; booting again with another");
                self.boot_once(cfg, img, accel, warning, progress).await
            }
            other => other,
        }
    }

    /// QEMU's spec and arguments for a launch of `img` with `accel` and the engine on
    /// `engine_port` (the same for a boot and a restore: a saved state needs the same ones).
    async fn launch_args(
        &self,
        cfg: &MachineConfig,
        img: &GuestImage,
        accel: Accel,
        engine_port: u16,
    ) -> Result<(QemuSpec, Vec<std::ffi::OsString>)> {
        let mut spec = self.spec(cfg, img, accel, engine_port);
        spec.sandbox = self.sandbox_supported(img.arch).await;
        // the benchmarks' overrides (`./scripts/bench idle`), else the defaults
        spec.tuning = QemuTuning::from_env(|k| std::env::var(k).ok())?;
        let args = qemu::build_args(&spec, self.os);
        Ok((spec, args))
    }

    /// Launches QEMU with `args` (fresh console and QEMU logs, the previous ones kept as
    /// `*.1`; stale sockets removed) and records what it was launched with.
    fn spawn_qemu(
        &self,
        spec: &QemuSpec,
        args: &[std::ffi::OsString],
        launch: &saved_state::Launch,
    ) -> Result<tokio::process::Child> {
        let i = &self.instance;
        let program = self.qemu_for(spec.arch);
        for f in [i.console_log(), i.qemu_log()] {
            let _ = std::fs::rename(&f, f.with_extension("log.1"));
        }
        let qemu_log = std::fs::File::create(i.qemu_log()).map_err(MachineError::io("create", i.qemu_log()))?;
        let qemu_err = qemu_log.try_clone().map_err(MachineError::io("dup", i.qemu_log()))?;
        for s in [i.qmp_socket(), i.qmp_events_socket(), i.guest_agent_socket(), i.migration_socket()] {
            let _ = std::fs::remove_file(s);
        }
        let record = serde_json::to_vec_pretty(launch).map_err(|e| MachineError::Io {
            what: "encode",
            path: i.launch_record(),
            source: std::io::Error::other(e),
        })?;
        private_file::write_atomic(&i.launch_record(), &record)
            .map_err(MachineError::io("write", i.launch_record()))?;
        let env = spec.tuning.qemu_env(self.os);
        if self.os == HostOs::Linux {
            // the flag is this process's and QEMU inherits it (set either way: it stays once set)
            if let Err(e) = process::set_huge_pages_disabled(spec.tuning.disable_host_huge_pages(self.os, spec.accel)) {
                tracing::warn!(error = %e, "cannot set transparent huge pages for QEMU");
            }
        }
        tracing::info!(qemu = %program.display(), ?args, ?env, tuning = %spec.tuning.describe(), "launching QEMU");
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(args)
            .envs(env)
            .stdin(std::process::Stdio::null())
            .stdout(qemu_log)
            .stderr(qemu_err)
            .kill_on_drop(false);
        #[cfg(unix)]
        cmd.process_group(0); // not killed by the terminal's Ctrl-C aimed at the agent
        cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                MachineError::ProgramMissing { program: program.display().to_string() }
            } else {
                MachineError::Io { what: "launch", path: program.clone(), source: e }
            }
        })
    }

    /// What a launch of `spec` with `args` depends on ([`saved_state::Launch`]).
    fn launch_record(
        &self,
        spec: &QemuSpec,
        args: &[std::ffi::OsString],
        warning: Option<String>,
    ) -> saved_state::Launch {
        let program = self.qemu_for(spec.arch);
        let mut files = Vec::new();
        let mut add = |id: std::io::Result<saved_state::FileId>| match id {
            Ok(f) => files.push(f),
            Err(e) => tracing::debug!(error = %e, "no identity for a launch file"),
        };
        if let Some(p) = resolve_program(&program) {
            add(saved_state::FileId::of("QEMU", &p));
        }
        add(saved_state::FileId::of("guest kernel", &spec.kernel));
        add(saved_state::FileId::of("guest initramfs", &spec.initrd));
        if let Some(r) = &spec.rootfs {
            add(saved_state::FileId::of("guest root", r));
        }
        // rewritten at each start with the same bytes: known by content
        for f in &spec.fw_cfg {
            add(saved_state::FileId::by_content(&format!("guest file {}", f.name), &f.file));
        }
        saved_state::Launch {
            accel: spec.accel,
            engine_port: spec.engine_host_port,
            args: args.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            files,
            warning,
        }
    }

    /// Launches QEMU once with `accel` and waits for "engine ready". `warning` (the boot's
    /// accelerator warning) goes into the launch record: a restore of this boot shows it too.
    async fn boot_once(
        &self,
        cfg: &MachineConfig,
        img: &GuestImage,
        accel: Accel,
        warning: Option<&str>,
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> Result<(u32, u16, u64)> {
        let i = &self.instance;
        let engine_port = free_port()?;
        let (spec, args) = self.launch_args(cfg, img, accel, engine_port).await?;
        let launch = self.launch_record(&spec, &args, warning.map(str::to_owned));
        let mut child = self.spawn_qemu(&spec, &args, &launch)?;
        let pid = child.id().unwrap_or(0);
        progress(BootEvent::Launched { accel, pid });
        let started = Instant::now();
        let ready_bound = if accel.is_hardware() { cfg.engine_ready_timeout_hw } else { cfg.engine_ready_timeout_tcg };
        let mut console_alive = false;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(Some(status)) = child.try_wait() {
                let errors = guest_errors(&std::fs::read(i.console_log()).unwrap_or_default());
                if !errors.is_empty() {
                    return Err(MachineError::Guest { message: errors });
                }
                return Err(MachineError::QemuExited {
                    status: status.to_string(),
                    log: i.qemu_log(),
                    tail: tail(&i.qemu_log(), 10),
                });
            }
            let console = std::fs::read(i.console_log()).unwrap_or_default();
            let elapsed = started.elapsed();
            if !console_alive && !console.is_empty() {
                console_alive = true;
                progress(BootEvent::ConsoleAlive { after_ms: ms(elapsed) });
            }
            if contains(&console, image::ENGINE_READY_LINE.as_bytes()) {
                progress(BootEvent::EngineReady { after_ms: ms(elapsed) });
                // reap QEMU when it exits (this machine's PID 1 does not reap orphans)
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                return Ok((pid, engine_port, ms(elapsed)));
            }
            let stalled = accel.is_hardware() && !console_alive && elapsed > cfg.boot_stall_timeout;
            if stalled || elapsed > ready_bound {
                let _ = child.start_kill();
                let _ = child.wait().await;
                self.clean_stale();
                return Err(if stalled {
                    MachineError::BootStalled { accel: accel.to_string(), secs: cfg.boot_stall_timeout.as_secs() }
                } else {
                    MachineError::Timeout {
                        what: format!("the guest to report \"{}\" ({accel})", image::ENGINE_READY_LINE),
                        secs: ready_bound.as_secs(),
                    }
                });
            }
        }
    }
}

/// Whether a failed boot is the accelerator's fault (remembered as "use TCG from now on"): a
/// stalled boot, or QEMU exiting with an accelerator error. Anything else (a port taken, a disk
/// locked, a bad option) is reported as it is and not held against the accelerator.
pub fn accel_failed(e: &MachineError) -> bool {
    match e {
        MachineError::BootStalled { .. } => true,
        MachineError::QemuExited { tail, .. } => !hostfwd_failed(tail) && accel_probe::blames_accelerator(tail),
        _ => false,
    }
}

/// QEMU's own words when a `hostfwd` port cannot be bound.
fn hostfwd_failed(tail: &str) -> bool {
    tail.contains("Could not set up host forwarding rule")
}

/// The init's error lines (`gantry-init: error: ...`), joined.
fn guest_errors(console: &[u8]) -> String {
    String::from_utf8_lossy(console)
        .lines()
        .filter_map(|l| l.split_once(image::ERROR_LINE_PREFIX).map(|(_, m)| m.trim().to_owned()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The last `n` lines of a text file.
pub fn tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(MachineError::io("bind", PathBuf::from("127.0.0.1:0")))?;
    let port = l.local_addr().map_err(MachineError::io("local_addr", PathBuf::from("127.0.0.1:0")))?.port();
    Ok(port)
}

/// The guest's config (`key=value` lines: the shares, the folders hidden in them, the port the
/// engine listens on), as every driver hands it to the init. Paths that cannot be one line (a
/// newline in them) are left out: the guest could not read them.
pub fn guest_config(cfg: &MachineConfig, engine_port: u16) -> String {
    let mut s = String::new();
    let line = |p: &std::path::Path| Some(p.display().to_string()).filter(|t| !t.contains(['\n', '\r']));
    for (n, f) in cfg.shared_folders.iter().enumerate() {
        if let Some(p) = line(&f.path) {
            s.push_str(&format!("share{n}={p}\n"));
        }
    }
    for (n, h) in cfg.hidden.iter().enumerate() {
        if let Some(p) = line(h) {
            s.push_str(&format!("hide{n}={p}\n"));
        }
    }
    if let Some(n) = QemuDriver::guest_docker_share(cfg) {
        s.push_str(&format!("share{n}={}\n", engine_config::GUEST_DOCKER_DIR));
    }
    s.push_str(&format!("engine_port={engine_port}\n"));
    s
}

/// Removes an instance's files: everything but the data disk and settings, or the whole
/// directory with `data`; a directory without Gantry's marker is refused.
pub fn delete_instance_files(instance: &Instance, data: bool) -> Result<()> {
    let dir = instance.dir();
    if !dir.exists() {
        return Ok(());
    }
    if !instance.is_marked() {
        return Err(MachineError::NotAnInstance { path: dir.to_owned(), marker: crate::instance::MARKER });
    }
    if data {
        return std::fs::remove_dir_all(dir).map_err(MachineError::io("delete", dir));
    }
    for p in instance.run_files() {
        let r = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => continue,
        };
        r.map_err(MachineError::io("delete", &p))?;
    }
    Ok(())
}

fn which(program: &std::path::Path) -> bool {
    resolve_program(program).is_some()
}

/// Where `program` is: itself when it names a directory, else the first match in `PATH`.
fn resolve_program(program: &std::path::Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file())
}

/// What a QEMU driver offers: `hostfwd` port forwarding, pause and disk-error events through
/// its events monitor, a VM that outlives its agent, and the balloon that takes memory back.
pub const QEMU_FEATURES: Features = Features {
    port_forwarding: PortForwarding::ByDriver,
    pause_events: true,
    disk_error_events: true,
    reattach: true,
    memory_reclaim: true,
    saved_state: true,
};

impl Driver for QemuDriver {
    type Events = QmpEvents;

    fn name(&self) -> &'static str {
        "qemu"
    }

    fn process_name(&self) -> &'static str {
        "QEMU"
    }

    fn features(&self) -> Features {
        QEMU_FEATURES
    }

    fn validate(&self, cfg: &MachineConfig) -> Result<Vec<String>> {
        let img = GuestImage::locate(&cfg.image_dir)?;
        let program = self.qemu_for(img.arch);
        if !which(&program) {
            return Err(MachineError::ProgramMissing { program: program.display().to_string() });
        }
        if cfg.cpus == 0 || cfg.memory_mib < 512 {
            return Err(MachineError::InvalidConfig {
                field: "cpus/memory".into(),
                message: format!("{} CPUs, {} MiB", cfg.cpus, cfg.memory_mib),
            });
        }
        for m in &cfg.registry_mirrors {
            engine_config::check_mirror(m).map_err(|e| MachineError::InvalidConfig {
                field: "registry_mirrors".into(),
                message: format!("{e} ({})", e.hint()),
            })?;
        }
        let choice = accel::choose(&cfg.probe, Remembered::load(&self.instance.accel_choice()).as_ref());
        let choice = arch::accel_for_guest(choice, img.arch, GuestArch::host());
        let mut warnings: Vec<String> = choice.warning.into_iter().collect();
        if !cfg.registry_mirrors.is_empty() && Self::guest_docker_share(cfg).is_none() {
            warnings.push("registry mirrors are not applied: more than 99 shared folders".into());
        } else if !cfg.registry_mirrors.is_empty() && self.os == HostOs::Windows {
            warnings.push("registry mirrors are not applied by QEMU on Windows (no 9p shares)".into());
        }
        Ok(warnings)
    }

    async fn create(&self, cfg: &MachineConfig) -> Result<()> {
        self.instance.ensure().map_err(MachineError::io("create", self.instance.dir()))?;
        tls::ensure(&self.instance)?;
        let (disk_path, partial) = (self.instance.disk(), self.instance.disk_partial());
        let size = cfg.disk_gib;
        let action =
            tokio::task::spawn_blocking(move || disk::ensure(&disk_path, &partial, size)).await.map_err(|e| {
                MachineError::Io { what: "create disk", path: self.instance.disk(), source: std::io::Error::other(e) }
            })??;
        tracing::info!(?action, "data disk");
        let gc = self.instance.guest_config();
        private_file::write_atomic(&gc, Self::guest_config(cfg).as_bytes()).map_err(MachineError::io("write", &gc))?;
        let docker_dir = self.instance.guest_docker_dir();
        engine_config::write_guest_docker_dir(&docker_dir, &cfg.registry_mirrors)
            .map_err(MachineError::io("write", &docker_dir))?;
        Ok(())
    }

    async fn start(&self, cfg: &MachineConfig, progress: &(dyn Fn(BootEvent) + Send + Sync)) -> Result<RunState> {
        if let Some(pid) = self.live_pid() {
            if let Some(state) = self.load_state().filter(|s| s.pid == pid) {
                tracing::info!(pid, "reattaching to the running VM");
                return Ok(RunState { boot_ms: 0, ..state });
            }
            return Err(MachineError::AlreadyRunning { pid });
        }
        self.clean_stale();
        let img = GuestImage::locate(&cfg.image_dir)?;
        if let Some(state) = self.resume(cfg, &img, progress).await {
            self.save_state(&state)?;
            return Ok(state);
        }
        let remembered = Remembered::load(&self.instance.accel_choice());
        let choice = accel::choose(&cfg.probe, remembered.as_ref());
        let AccelChoice { mut accel, mut warning } = arch::accel_for_guest(choice, img.arch, GuestArch::host());
        if let Some(w) = &warning {
            progress(BootEvent::Warning { message: w.clone() });
        }
        if cfg.accel_probe && accel.is_hardware() && accel::forced().is_none() {
            match accel_probe::classify(
                accel,
                &accel_probe::run(&self.qemu, accel, self.os, cfg.accel_probe_deadline).await,
            ) {
                Verdict::Works { after } => progress(BootEvent::AccelWorks { accel, after_ms: ms(after) }),
                Verdict::Broken { reason } => {
                    warning = Some(self.fall_back(accel, reason, progress));
                    accel = Accel::Tcg;
                }
                Verdict::Unknown { reason } => tracing::warn!(%reason, "booting with {accel}; its stall check decides"),
            }
        }
        let (pid, engine_port, boot_ms, accel, warning) =
            match self.boot_retrying_port(cfg, &img, accel, warning.as_deref(), progress).await {
                Ok((pid, port, ms)) => (pid, port, ms, accel, warning),
                Err(e) if accel.is_hardware() && accel_failed(&e) => {
                    let reason = match &e {
                        MachineError::QemuExited { tail, status, .. } => {
                            let line = tail
                                .lines()
                                .find(|l| l.contains("error"))
                                .or_else(|| tail.lines().last())
                                .unwrap_or(status)
                                .trim_start_matches("qemu-system-x86_64: ");
                            format!("{accel} failed: QEMU exited ({line})")
                        }
                        other => format!("{accel} failed: {other}"),
                    };
                    let w = self.fall_back(accel, reason, progress);
                    let (pid, port, ms) = self.boot_retrying_port(cfg, &img, Accel::Tcg, Some(&w), progress).await?;
                    (pid, port, ms, Accel::Tcg, Some(w))
                }
                Err(e) => return Err(e),
            };
        let state = RunState {
            pid,
            accel,
            engine_port,
            warning,
            boot_ms,
            shared_folders: cfg.shared_folders.clone(),
            hidden: cfg.hidden.clone(),
            save_on_stop: cfg.save_on_stop,
            resumed: false,
        };
        self.save_state(&state)?;
        Ok(state)
    }

    async fn stop(&self, timeout: Duration, mode: StopMode) -> Result<StopOutcome> {
        let Some(pid) = self.live_pid() else {
            self.clean_stale();
            return Ok(StopOutcome::WasNotRunning);
        };
        if mode == StopMode::SaveIfAsked && self.load_state().is_some_and(|s| s.pid == pid && s.save_on_stop) {
            match self.save(pid).await {
                Ok(bytes) => {
                    tracing::info!(bytes, "the VM's state is saved; the next start resumes it");
                    for f in self.run_time_files() {
                        let _ = std::fs::remove_file(f);
                    }
                    return Ok(StopOutcome::Saved);
                }
                Err(reason) => tracing::warn!(%reason, "the VM's state was not saved; powering off instead"),
            }
        }
        let mut outcome = StopOutcome::PoweredOff;
        match self.qmp().await {
            Ok(mut q) => {
                if let Err(e) = q.system_powerdown().await {
                    tracing::warn!(error = %e, "system_powerdown failed");
                }
                if !process::wait_gone(pid, timeout).await {
                    outcome = StopOutcome::Killed;
                    let _ = q.quit().await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "QMP unavailable; terminating QEMU");
                outcome = StopOutcome::Killed;
                let _ = process::signal(pid, false);
            }
        }
        if !process::wait_gone(pid, Duration::from_secs(5)).await {
            let _ = process::signal(pid, true);
            process::wait_gone(pid, Duration::from_secs(5)).await;
        }
        for f in self.run_time_files() {
            let _ = std::fs::remove_file(f);
        }
        Ok(outcome)
    }

    async fn delete(&self, data: bool) -> Result<()> {
        if let Some(pid) = self.live_pid() {
            return Err(MachineError::AlreadyRunning { pid });
        }
        delete_instance_files(&self.instance, data)
    }

    fn status(&self) -> MachineStatus {
        match (self.live_pid(), self.load_state()) {
            (Some(pid), Some(s)) if s.pid == pid => MachineStatus::Running(s),
            (Some(pid), _) => MachineStatus::Running(RunState {
                pid,
                accel: Accel::Tcg,
                engine_port: 0,
                warning: Some("state file missing".into()),
                boot_ms: 0,
                shared_folders: Vec::new(),
                hidden: Vec::new(),
                save_on_stop: false,
                resumed: false,
            }),
            _ => MachineStatus::Stopped,
        }
    }

    fn alive(&self) -> bool {
        self.live_pid().is_some()
    }

    fn running(&self) -> Option<RunState> {
        QemuDriver::running(self)
    }

    fn clean_stale(&self) {
        QemuDriver::clean_stale(self);
    }

    fn engine_endpoint(&self, state: &RunState) -> EngineEndpoint {
        EngineEndpoint::TcpTls { addr: state.engine_addr() }
    }

    fn logs(&self) -> Vec<LogFile> {
        vec![
            LogFile { kind: LogKind::Console, path: self.instance.console_log() },
            LogFile { kind: LogKind::Hypervisor, path: self.instance.qemu_log() },
        ]
    }

    /// The `hostfwd` rules QEMU has (HMP `info usernet`), the engine's own left out.
    async fn installed_forwards(&self, state: &RunState) -> Result<BTreeSet<PortRule>> {
        let text = self.qmp().await?.usernet().await?;
        Ok(ports::parse_usernet(&text, state.engine_port))
    }

    async fn reconcile_forwards(
        &self,
        fwd: &mut PortForwarder,
        want: &BTreeSet<PortRule>,
    ) -> Result<Vec<PortConflict>> {
        let mut qmp = self.qmp().await?;
        Ok(fwd.reconcile(&mut qmp, want).await)
    }

    async fn clear_forwards(&self, fwd: &mut PortForwarder) {
        match self.qmp().await {
            Ok(mut qmp) => fwd.clear(&mut qmp).await,
            Err(_) => fwd.reset(),
        }
    }

    /// The events monitor (`qmp-events.sock`); a VM booted by an older Gantry has none.
    async fn give_back_memory(&self, guest_mib: u64, bound: Duration) -> Result<crate::memory::Squeezed> {
        crate::memory::give_back_caches(|| self.qmp(), guest_mib, bound).await
    }

    async fn events(&self) -> Result<QmpEvents> {
        let socket = self.instance.qmp_events_socket();
        match Qmp::connect(&socket).await {
            Ok(q) => Ok(QmpEvents(q)),
            Err(_) if !socket.exists() => Err(MachineError::Unsupported {
                what:
                    "this VM was started by an older Gantry: a full disk pausing it is not reported until it restarts"
                        .into(),
            }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_image_is_a_specific_error() {
        let t = tempfile::tempdir().unwrap();
        let d = QemuDriver::new(Instance::at(t.path().join("default")));
        let cfg = MachineConfig { image_dir: t.path().join("no-image"), ..Default::default() };
        match d.start(&cfg, &|_| {}).await {
            Err(MachineError::ImageMissing { path, .. }) => assert!(path.ends_with(image::KERNEL)),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.status(), MachineStatus::Stopped);
        assert_eq!(d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap(), StopOutcome::WasNotRunning);
    }

    #[test]
    fn guest_config_lists_shares() {
        let cfg = MachineConfig {
            shared_folders: vec![SharedFolder::writable("/home/me"), SharedFolder::writable("/a\nb")],
            hidden: vec!["/home/me/.local/share/gantry".into()],
            ..Default::default()
        };
        let s = QemuDriver::guest_config(&cfg);
        assert!(s.contains("share0=/home/me\n"));
        assert!(s.contains("hide0=/home/me/.local/share/gantry\n"));
        assert!(!s.contains("share1"), "a path with a newline cannot be a config line: {s}");
        assert!(s.contains("engine_port=2376\n"));
    }

    #[test]
    fn registry_mirrors_share_the_guests_etc_docker_read_only_after_the_folders() {
        let t = tempfile::tempdir().unwrap();
        let d = QemuDriver::new(Instance::at(t.path().join("default")));
        let mut cfg = MachineConfig { shared_folders: vec![SharedFolder::writable("/home/me")], ..Default::default() };
        let img = GuestImage {
            dir: "/img".into(),
            arch: GuestArch::X86_64,
            kernel: "/k".into(),
            initrd: "/i".into(),
            rootfs: None,
            cmdline: String::new(),
        };
        assert_eq!(d.spec(&cfg, &img, Accel::Tcg, 1).shares.len(), 1, "no mirrors: the baked daemon.json");
        assert!(!QemuDriver::guest_config(&cfg).contains("/etc/docker"));
        cfg.registry_mirrors = vec![RegistryMirror { url: "https://10.0.2.2:5443".into(), ca_pem: None }];
        let spec = d.spec(&cfg, &img, Accel::Tcg, 1);
        let share = spec.shares.last().unwrap();
        assert_eq!((share.tag.as_str(), share.read_only), ("share1", true));
        assert_eq!(share.host_path, d.instance.guest_docker_dir());
        assert!(QemuDriver::guest_config(&cfg).contains("share1=/etc/docker\n"));
    }

    #[test]
    fn only_accelerator_failures_count_against_the_accelerator() {
        let exited = |tail: &str| MachineError::QemuExited {
            status: "exit status: 1".into(),
            log: "/q".into(),
            tail: tail.into(),
        };
        assert!(accel_failed(&MachineError::BootStalled { accel: "kvm".into(), secs: 20 }));
        assert!(accel_failed(&exited("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0")));
        assert!(accel_failed(&exited("Could not access KVM kernel module: Permission denied")));
        assert!(!accel_failed(&exited(
            "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:41234-:2376'"
        )));
        assert!(!accel_failed(&exited("qemu-system-x86_64: Failed to get \"write\" lock")));
        assert!(!accel_failed(&MachineError::Timeout { what: "x".into(), secs: 1 }));
    }

    #[tokio::test]
    async fn delete_refuses_a_directory_gantry_did_not_make() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        std::fs::create_dir_all(home.join("projects")).unwrap();
        std::fs::write(home.join("notes.txt"), "keep me").unwrap();
        for data in [false, true] {
            match QemuDriver::new(Instance::at(&home)).delete(data).await {
                Err(MachineError::NotAnInstance { path, .. }) => assert_eq!(path, home),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(std::fs::read_to_string(home.join("notes.txt")).unwrap(), "keep me");
        assert!(home.join("projects").is_dir());
    }

    #[tokio::test]
    async fn delete_keeps_data_unless_asked() {
        let t = tempfile::tempdir().unwrap();
        let i = Instance::at(t.path().join("default"));
        i.ensure().unwrap();
        std::fs::write(i.disk(), "disk").unwrap();
        std::fs::write(i.console_log(), "log").unwrap();
        std::fs::write(i.dir().join("mine.txt"), "not Gantry's").unwrap();
        let d = QemuDriver::new(i.clone());
        d.delete(false).await.unwrap();
        assert!(i.disk().exists());
        assert!(i.dir().join("mine.txt").exists(), "files Gantry did not make are kept");
        assert!(!i.console_log().exists());
        assert!(!i.tls_dir().exists());
        d.delete(true).await.unwrap();
        assert!(!i.dir().exists());
    }
}
