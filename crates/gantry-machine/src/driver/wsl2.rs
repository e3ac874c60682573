//! The WSL 2 driver behind [`Driver`]: the engine runs in a WSL 2 distribution imported from the
//! guest's root-filesystem tarball ([`crate::wsl2`] has the `wsl.exe` logic and the plans).
//!
//! What it offers differs from QEMU's, and [`WSL2_FEATURES`] says so: WSL relays the guest's
//! listening ports to this computer's loopback by itself (no per-port rules, so no conflicts
//! reported and no `0.0.0.0` binding: a port bind address setting other than loopback is named
//! as not applying by [`Driver::validate`], shown as a warning at start); there are no pause or
//! disk-error events; and the engine ends with the agent that started it (its keep-alive
//! process), so nothing is reattached.
//! Shared folders are not mounted by this driver yet (Windows drives are WSL's `/mnt/c`).
//!
//! It runs here only against a fake `wsl.exe` (the real one cannot run on Linux or under Wine).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::{
    BootEvent, DEFAULT_CPUS, DEFAULT_MEMORY_MIB, Driver, EngineEndpoint, Features, LogFile, LogKind, MachineConfig,
    MachineStatus, NoEvents, PortForwarding, RunState, StopMode, StopOutcome, delete_instance_files, events, free_port,
    guest_config, ms,
};
use crate::accel::Accel;
use crate::error::{MachineError, Result};
use crate::instance::Instance;
use crate::ports::{PortConflict, PortForwarder, PortRule};
use crate::tls;
use crate::wsl2::args::Distros;
use crate::wsl2::exe::WslExe;
use crate::wsl2::{Layout, Rootfs, Wsl, payload};

/// What the WSL 2 driver offers (see the module's documentation).
pub const WSL2_FEATURES: Features = Features {
    port_forwarding: PortForwarding::ByPlatformRelay,
    pause_events: false,
    disk_error_events: false,
    reattach: false,
    memory_reclaim: false,
    saved_state: false,
};

/// WSL 2 relays published ports to this computer's loopback only: a bind address setting that
/// asks for more is said not to apply (rather than leaving the user to find it out).
fn relay_bind_warning(bind: IpAddr) -> Option<String> {
    (!bind.is_loopback()).then(|| {
        format!(
            "published ports are reachable on this computer's 127.0.0.1 only (WSL 2's localhost relay): the port bind address {bind} does not apply with the WSL 2 driver"
        )
    })
}

/// One instance's engine in WSL 2.
pub struct Wsl2Driver<E> {
    instance: Instance,
    rootfs: Rootfs,
    wsl: tokio::sync::Mutex<Wsl<E>>,
    /// The engine this driver started, while it runs.
    state: std::sync::Mutex<Option<RunState>>,
}

impl<E: WslExe> Wsl2Driver<E> {
    /// The driver for `instance` running `exe` ([`crate::wsl2::exe::SystemWsl`] on Windows) with
    /// the guest build's tarballs `rootfs`.
    pub fn new(instance: Instance, exe: E, rootfs: Rootfs) -> Result<Self> {
        let distros = Distros::for_instance(instance.name())?;
        let wsl = Wsl::new(exe, distros, Layout::new(instance.dir()), rootfs.clone())
            .with_console_log(instance.console_log());
        Ok(Self { instance, rootfs, wsl: tokio::sync::Mutex::new(wsl), state: std::sync::Mutex::new(None) })
    }

    /// What the engine's keep-alive process reads at start: the instance's TLS material and the
    /// guest config (the same files QEMU passes by fw_cfg).
    fn payload(&self, config: &str) -> Result<Vec<u8>> {
        let i = &self.instance;
        let read = |p: std::path::PathBuf| std::fs::read(&p).map_err(MachineError::io("read", p));
        let (ca, cert, key) = (read(i.tls_ca())?, read(i.tls_server_cert())?, read(i.tls_server_key())?);
        payload::encode(&[
            ("ca.pem", &ca),
            ("server-cert.pem", &cert),
            ("server-key.pem", &key),
            ("config", config.as_bytes()),
        ])
        .map_err(|e| MachineError::InvalidConfig { field: "WSL payload".into(), message: e.to_string() })
    }

    fn current(&self) -> Option<RunState> {
        self.state.lock().ok().and_then(|s| s.clone())
    }

    fn set_current(&self, state: Option<RunState>) {
        if let Ok(mut s) = self.state.lock() {
            *s = state;
        }
    }
}

impl<E: WslExe> Driver for Wsl2Driver<E> {
    type Events = NoEvents;

    fn name(&self) -> &'static str {
        "wsl2"
    }

    /// The engine's keep-alive process.
    fn process_name(&self) -> &'static str {
        "wsl.exe"
    }

    fn features(&self) -> Features {
        WSL2_FEATURES
    }

    fn validate(&self, cfg: &MachineConfig) -> Result<Vec<String>> {
        self.rootfs.check()?;
        let mut warnings = Vec::new();
        if cfg.cpus != DEFAULT_CPUS || cfg.memory_mib != DEFAULT_MEMORY_MIB {
            warnings.push(
                "WSL 2 gives its VM the CPUs and memory set in %UserProfile%\\.wslconfig: the VM settings' CPUs and memory do not apply"
                    .into(),
            );
        }
        if !cfg.shared_folders.is_empty() {
            warnings.push("the WSL 2 driver does not mount shared folders yet: bind mounts of them will fail".into());
        }
        if let Some(w) = relay_bind_warning(cfg.port_bind_address) {
            warnings.push(w);
        }
        Ok(warnings)
    }

    async fn create(&self, _cfg: &MachineConfig) -> Result<()> {
        self.instance.ensure().map_err(MachineError::io("create", self.instance.dir()))?;
        tls::ensure(&self.instance)?;
        Ok(())
    }

    async fn start(&self, cfg: &MachineConfig, progress: &(dyn Fn(BootEvent) + Send + Sync)) -> Result<RunState> {
        if let Some(state) = self.current() {
            return Ok(RunState { boot_ms: 0, ..state });
        }
        // the guest listens on a port free here: WSL relays it to this computer's loopback as is
        let engine_port = free_port()?;
        let payload = self.payload(&guest_config(cfg, engine_port))?;
        // a fresh console log for this start (the previous one kept as *.1), as QEMU's
        let console = self.instance.console_log();
        let _ = std::fs::rename(&console, console.with_extension("log.1"));
        let started = Instant::now();
        let mut wsl = self.wsl.lock().await;
        wsl.start(payload, cfg.engine_ready_timeout_hw, &|step| tracing::info!(?step, "WSL 2"))
            .await
            .map_err(MachineError::from)?;
        let pid = wsl.engine_pid().unwrap_or(0);
        // WSL 2 runs on Hyper-V, the hypervisor behind WHPX
        progress(BootEvent::Launched { accel: Accel::Whpx, pid });
        let boot_ms = ms(started.elapsed());
        progress(BootEvent::EngineReady { after_ms: boot_ms });
        let state = RunState {
            pid,
            accel: Accel::Whpx,
            engine_port,
            warning: None,
            boot_ms,
            shared_folders: cfg.shared_folders.clone(),
            hidden: cfg.hidden.clone(),
            // WSL 2 keeps no saved state (Features::saved_state)
            save_on_stop: false,
            resumed: false,
        };
        self.set_current(Some(state.clone()));
        Ok(state)
    }

    async fn stop(&self, timeout: Duration, _mode: StopMode) -> Result<StopOutcome> {
        let was_running = self.current().is_some();
        let clean = self.wsl.lock().await.stop(timeout).await?;
        self.set_current(None);
        Ok(match (clean, was_running) {
            (true, _) => StopOutcome::PoweredOff,
            (false, true) => StopOutcome::Killed,
            (false, false) => StopOutcome::WasNotRunning,
        })
    }

    /// Unregisters the engine distribution (and the data one with `data`), then removes the
    /// instance's files as the QEMU driver does.
    async fn delete(&self, data: bool) -> Result<()> {
        if let Some(state) = self.current() {
            return Err(MachineError::AlreadyRunning { pid: state.pid });
        }
        self.wsl.lock().await.delete(data).await?;
        delete_instance_files(&self.instance, data)
    }

    fn status(&self) -> MachineStatus {
        match self.current() {
            Some(state) if self.alive() => MachineStatus::Running(state),
            _ => MachineStatus::Stopped,
        }
    }

    fn alive(&self) -> bool {
        // a start or stop holding the lock: the engine is there until it says otherwise
        self.current().is_some() && self.wsl.try_lock().map(|mut w| !w.engine_exited()).unwrap_or(true)
    }

    fn running(&self) -> Option<RunState> {
        None
    }

    fn clean_stale(&self) {}

    fn engine_endpoint(&self, state: &RunState) -> EngineEndpoint {
        EngineEndpoint::TcpTls { addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), state.engine_port) }
    }

    /// The engine's keep-alive output (the guest init's lines), written as the console log.
    fn logs(&self) -> Vec<LogFile> {
        vec![LogFile { kind: LogKind::Console, path: self.instance.console_log() }]
    }

    async fn installed_forwards(&self, _state: &RunState) -> Result<BTreeSet<PortRule>> {
        Ok(BTreeSet::new())
    }

    async fn reconcile_forwards(
        &self,
        _fwd: &mut PortForwarder,
        _want: &BTreeSet<PortRule>,
    ) -> Result<Vec<PortConflict>> {
        Err(MachineError::Unsupported {
            what: "port forwarding by the driver with WSL 2 (WSL relays published ports to localhost itself)".into(),
        })
    }

    async fn clear_forwards(&self, fwd: &mut PortForwarder) {
        fwd.reset();
    }

    async fn give_back_memory(&self, _guest_mib: u64, _bound: Duration) -> Result<crate::memory::Squeezed> {
        Err(MachineError::Unsupported { what: "WSL 2 gives unused memory back by itself (autoMemoryReclaim)".into() })
    }

    async fn events(&self) -> Result<NoEvents> {
        Err(events::unsupported(self.name()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wsl2::WslError;
    use crate::wsl2::fake::FakeWsl;

    fn driver(dir: &std::path::Path) -> (Wsl2Driver<FakeWsl>, FakeWsl) {
        let engine = dir.join("wsl-rootfs.tar.gz");
        let data = dir.join("wsl-data.tar.gz");
        std::fs::write(&engine, b"engine").unwrap();
        std::fs::write(&data, b"data").unwrap();
        let fake = FakeWsl::default();
        let rootfs = Rootfs { engine, data, version: "v1".into() };
        (Wsl2Driver::new(Instance::at(dir.join("default")), fake.clone(), rootfs).unwrap(), fake)
    }

    /// The agent's calls, in its order, against a FAKE wsl.exe (wsl2/fake.rs).
    #[tokio::test]
    async fn the_lifecycle_through_the_trait() {
        let t = tempfile::tempdir().unwrap();
        let (d, fake) = driver(t.path());
        let cfg = MachineConfig::default();
        assert_eq!(d.features(), WSL2_FEATURES);
        assert!(d.validate(&cfg).unwrap().is_empty());
        d.create(&cfg).await.unwrap();
        assert_eq!(d.status(), MachineStatus::Stopped);
        assert!(!d.alive() && d.running().is_none());
        let events = std::sync::Mutex::new(Vec::new());
        let state = d.start(&cfg, &|e| events.lock().unwrap().push(e)).await.unwrap();
        assert!(matches!(events.lock().unwrap().last(), Some(BootEvent::EngineReady { .. })));
        assert!(d.alive());
        assert_eq!(d.status(), MachineStatus::Running(state.clone()));
        assert_eq!(d.engine_endpoint(&state), EngineEndpoint::TcpTls { addr: state.engine_addr() });
        {
            // the guest got the instance's TLS material and a config naming the engine's port
            let st = fake.state();
            let files = &st.payloads[0];
            let ca = std::fs::read(d.instance.tls_ca()).unwrap();
            assert_eq!(files[0], ("ca.pem".to_owned(), ca));
            let config = String::from_utf8(files[3].1.clone()).unwrap();
            assert!(config.contains(&format!("engine_port={}\n", state.engine_port)), "{config}");
        }
        let mut fwd = PortForwarder::new();
        assert!(d.installed_forwards(&state).await.unwrap().is_empty());
        assert!(matches!(
            d.reconcile_forwards(&mut fwd, &BTreeSet::new()).await,
            Err(MachineError::Unsupported { .. })
        ));
        assert!(matches!(d.events().await, Err(MachineError::Unsupported { .. })));
        assert!(matches!(d.delete(false).await, Err(MachineError::AlreadyRunning { .. })));
        // the guest's lines are its console log
        let console = d.instance.console_log();
        assert_eq!(crate::driver::console_log(&d.logs()), Some(console.as_path()));
        let log = std::fs::read_to_string(&console).unwrap();
        assert!(log.contains("gantry-init: dockerd: starting [1.2s]\ngantry-init: engine ready\n"), "{log}");
        assert_eq!(d.stop(Duration::from_secs(10), StopMode::SaveIfAsked).await.unwrap(), StopOutcome::PoweredOff);
        let log = std::fs::read_to_string(&console).unwrap();
        assert!(log.ends_with("gantry-init: shutdown complete\n"), "{log}");
        assert_eq!(d.status(), MachineStatus::Stopped);
        assert_eq!(d.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap(), StopOutcome::WasNotRunning);
        d.delete(false).await.unwrap();
        let st = fake.state();
        assert!(!st.distros.contains_key("gantry") && st.distros.contains_key("gantry-data"), "data kept");
        assert!(d.instance.disk().parent().is_some_and(std::path::Path::is_dir), "the instance directory stays");
    }

    /// Runs the guest's config parser (vm-images/init/engine.sh, by the POSIX sh the WSL guest
    /// runs it with) on `config`: its exit status and output (`PORT=...` on success).
    #[cfg(unix)]
    fn guest_parse(config: &[u8]) -> (bool, String) {
        let engine_sh = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vm-images/init/engine.sh");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, config).unwrap();
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", "STATE=$1; . \"$0\" && gantry_parse_config \"$2\" && echo \"PORT=$PORT\"", engine_sh])
            .arg(dir.path())
            .arg(&file)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Both guests' emulator registration (engine.sh's `gantry_register_binfmt`) against a
    /// stand-in binfmt_misc directory (its register file a plain file: the real one is the
    /// kernel's): emulators already there are skipped, each other conf's line is written whole,
    /// and the count is of the registered entries; without binfmt_misc it says so.
    #[cfg(unix)]
    #[test]
    fn the_guest_registers_the_emulators_not_yet_there() {
        let engine_sh = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vm-images/init/engine.sh");
        let t = tempfile::tempdir().unwrap();
        let (binfmt, confs) = (t.path().join("binfmt"), t.path().join("binfmt.d"));
        std::fs::create_dir_all(&binfmt).unwrap();
        std::fs::create_dir_all(&confs).unwrap();
        std::fs::write(binfmt.join("register"), "").unwrap();
        std::fs::write(binfmt.join("qemu-aarch64"), "enabled\n").unwrap();
        let aarch64 = ":qemu-aarch64:M::\\x7fELF\\x02:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:POCF";
        let arm = ":qemu-arm:M::\\x7fELF\\x01:\\xff\\xff:/usr/libexec/qemu-binfmt/arm-binfmt-P:POCF";
        std::fs::write(confs.join("qemu-aarch64.conf"), format!("{aarch64}\n")).unwrap();
        std::fs::write(confs.join("qemu-arm.conf"), format!("{arm}\n")).unwrap();
        std::fs::write(confs.join("other.conf"), ":other:E::x::/bin/x:\n").unwrap();
        let run = |dir: &std::path::Path| {
            std::process::Command::new("/bin/sh")
                .args(["-c", ". \"$0\" && gantry_register_binfmt \"$1\" \"$2\"", engine_sh])
                .arg(dir)
                .arg(&confs)
                .output()
                .unwrap()
        };
        let out = run(&binfmt);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}");
        assert_eq!(std::fs::read_to_string(binfmt.join("register")).unwrap(), arm, "only qemu-arm, in one line");
        assert!(said.starts_with("gantry-init: binfmt: 1 emulators registered ["), "{said}");
        // a directory that is no binfmt_misc and cannot be mounted as one (not root, or a file)
        let out = run(&binfmt.join("register"));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{said}");
        assert!(said.contains("gantry-init: error: binfmt: cannot mount binfmt_misc"), "{said}");
    }

    /// What the driver sends is what the guest reads: the engine's port from `guest_config`, for
    /// any port; refused ports stop the guest with its error line.
    #[cfg(unix)]
    #[test]
    fn the_guest_reads_the_engine_port_the_driver_sends() {
        use gantry_testkit::prop::proptest::{self as prop, prop_assert, prop_assert_eq};

        let cfg = MachineConfig {
            shared_folders: vec![crate::shares::SharedFolder::writable("/home/me")],
            hidden: vec!["/home/me/.local/share/gantry".into()],
            ..MachineConfig::default()
        };
        assert_eq!(guest_parse(guest_config(&cfg, 40123).as_bytes()), (true, "PORT=40123\n".into()));
        assert_eq!(
            guest_parse(b"# comment\r\n\r\nengine_port=2377\r\nfuture_key=1\r\n").1.lines().last(),
            Some("PORT=2377")
        );
        assert_eq!(guest_parse(b""), (true, "PORT=2376\n".into()), "the default");
        // a backslash in an ignored line is printed as it is, not as an escape that eats the
        // newline (dash's echo took `\c` as "stop here" and glued the next line onto it)
        let (ok, said) = guest_parse(b"\\c=\n\\n=x\nengine_port=2378\n");
        assert!(ok, "{said}");
        assert_eq!(said.lines().collect::<Vec<_>>().len(), 3, "{said}");
        assert!(said.contains("unknown key \\c ["), "{said}");
        assert_eq!(said.lines().last(), Some("PORT=2378"));
        for bad in ["engine_port=0", "engine_port=65536", "engine_port=12x", "engine_port=", "DOCKERD_PORT=0000080000"]
        {
            let (ok, said) = guest_parse(format!("{bad}\n").as_bytes());
            assert!(!ok && said.contains("gantry-init: error: config:"), "{bad}: {said}");
        }
        gantry_testkit::prop::check(
            "wsl2: the guest's config parser (engine.sh) against guest_config",
            file!(),
            0,
            (1u16..=u16::MAX, prop::collection::vec("[ -~]{0,20}", 0..3)),
            |(port, junk)| {
                // junk lines before the driver's config: ignored or refused, never a changed port
                let mut text: String = junk
                    .iter()
                    .filter(|l| !l.to_ascii_lowercase().contains("port"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                text.push_str(&guest_config(&MachineConfig::default(), port));
                let (ok, said) = guest_parse(text.as_bytes());
                prop_assert!(ok, "{said}");
                let want = format!("PORT={port}");
                prop_assert_eq!(said.lines().last(), Some(want.as_str()));
                Ok(())
            },
        );
    }

    #[tokio::test]
    async fn validate_names_the_missing_tarball_and_what_does_not_apply() {
        let t = tempfile::tempdir().unwrap();
        let (d, _) = driver(t.path());
        assert_eq!(d.validate(&MachineConfig::default()).unwrap(), Vec::<String>::new());
        let cfg = MachineConfig {
            cpus: 4,
            shared_folders: vec![crate::shares::SharedFolder::writable("/home/me")],
            port_bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ..MachineConfig::default()
        };
        let w = d.validate(&cfg).unwrap();
        assert!(w.iter().any(|w| w.contains(".wslconfig")) && w.iter().any(|w| w.contains("shared folders")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("127.0.0.1 only") && w.contains("0.0.0.0 does not apply")), "{w:?}");
        std::fs::remove_file(t.path().join("wsl-data.tar.gz")).unwrap();
        match d.validate(&cfg) {
            Err(MachineError::Wsl(WslError::MissingRootfs { path })) => assert!(path.ends_with("wsl-data.tar.gz")),
            other => panic!("{other:?}"),
        }
    }

    /// Without the guest's tarballs (uninstalled, or an image without its WSL files) an existing
    /// instance still stops and is deleted; a start is refused before any `wsl.exe` call, so an
    /// engine distribution is never unregistered for an upgrade that cannot follow.
    #[tokio::test]
    async fn without_the_tarballs_an_instance_still_stops_and_deletes_but_does_not_start() {
        let t = tempfile::tempdir().unwrap();
        let (d, fake) = driver(t.path());
        let cfg = MachineConfig::default();
        d.create(&cfg).await.unwrap();
        d.start(&cfg, &|_| {}).await.unwrap();
        d.stop(Duration::from_secs(10), StopMode::SaveIfAsked).await.unwrap();
        let missing = t.path().join("gone/VERSION");
        let bare = Wsl2Driver::new(d.instance.clone(), fake.clone(), Rootfs::not_found(missing.clone())).unwrap();
        let calls = fake.state().calls.len();
        for refused in [bare.validate(&cfg).map(drop), bare.start(&cfg, &|_| {}).await.map(drop)] {
            match refused {
                Err(MachineError::Wsl(WslError::MissingRootfs { path })) => assert_eq!(path, missing),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(fake.state().calls.len(), calls, "wsl.exe was called for a start that cannot happen");
        assert!(fake.state().distros.contains_key("gantry"), "the engine distribution is untouched");
        assert_eq!(bare.stop(Duration::from_secs(1), StopMode::SaveIfAsked).await.unwrap(), StopOutcome::WasNotRunning);
        bare.delete(true).await.unwrap();
        let st = fake.state();
        assert!(!st.distros.contains_key("gantry") && !st.distros.contains_key("gantry-data"), "{:?}", st.distros);
    }
}
