//! [`AnyDriver`]: one of Gantry's drivers, chosen at run time ([`super::choose_driver`]) and
//! used by the agent as any other [`Driver`]: each method is the chosen driver's own.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{
    BootEvent, Driver, DriverKind, EngineEndpoint, Features, Intent, LogFile, MachineConfig, MachineStatus, QemuDriver,
    QmpEvents, RunState, StopMode, StopOutcome, Wsl2Driver,
};
use crate::error::Result;
use crate::instance::Instance;
use crate::ports::{PortConflict, PortForwarder, PortRule};
use crate::wsl2::exe::SystemWsl;
use crate::wsl2::{Rootfs, WslError};

/// The driver of an instance, QEMU or WSL 2 (boxed: it is ten times QEMU's size).
pub enum AnyDriver {
    Qemu(QemuDriver),
    Wsl2(Box<Wsl2Driver<SystemWsl>>),
}

impl AnyDriver {
    /// The `kind` driver for `instance`, to act with `intent`; WSL 2 runs this computer's
    /// `wsl.exe` with the guest's root filesystems found by [`Rootfs::locate`]. Only a start
    /// needs them (an error names what is missing): stopping or deleting an instance does not.
    pub fn new(kind: DriverKind, instance: Instance, intent: Intent) -> Result<Self> {
        Ok(match kind {
            DriverKind::Qemu => Self::Qemu(QemuDriver::new(instance)),
            DriverKind::Wsl2 => {
                let rootfs = match (Rootfs::locate(), intent) {
                    (Ok(rootfs), _) => rootfs,
                    (Err(WslError::MissingRootfs { path }), Intent::Manage) => Rootfs::not_found(path),
                    (Err(e), _) => return Err(e.into()),
                };
                Self::Wsl2(Box::new(Wsl2Driver::new(instance, SystemWsl::default(), rootfs)?))
            }
        })
    }

    /// Which driver this is.
    pub fn kind(&self) -> DriverKind {
        match self {
            Self::Qemu(_) => DriverKind::Qemu,
            Self::Wsl2(_) => DriverKind::Wsl2,
        }
    }
}

/// `match` on the driver with the same expression, `$d` bound to the driver, in each arm.
macro_rules! each {
    ($driver:expr, $d:ident => $call:expr) => {
        match $driver {
            AnyDriver::Qemu($d) => $call,
            AnyDriver::Wsl2($d) => $call,
        }
    };
}

impl Driver for AnyDriver {
    /// QEMU's: WSL 2 has no events (its `events` is always an error).
    type Events = QmpEvents;

    fn name(&self) -> &'static str {
        each!(self, d => d.name())
    }
    fn process_name(&self) -> &'static str {
        each!(self, d => d.process_name())
    }
    fn features(&self) -> Features {
        each!(self, d => d.features())
    }
    fn validate(&self, cfg: &MachineConfig) -> Result<Vec<String>> {
        each!(self, d => d.validate(cfg))
    }
    async fn create(&self, cfg: &MachineConfig) -> Result<()> {
        each!(self, d => d.create(cfg).await)
    }
    async fn start(&self, cfg: &MachineConfig, progress: &(dyn Fn(BootEvent) + Send + Sync)) -> Result<RunState> {
        each!(self, d => d.start(cfg, progress).await)
    }
    async fn stop(&self, timeout: Duration, mode: StopMode) -> Result<StopOutcome> {
        each!(self, d => d.stop(timeout, mode).await)
    }
    async fn delete(&self, data: bool) -> Result<()> {
        each!(self, d => d.delete(data).await)
    }
    fn status(&self) -> MachineStatus {
        each!(self, d => d.status())
    }
    fn alive(&self) -> bool {
        each!(self, d => d.alive())
    }
    fn running(&self) -> Option<RunState> {
        each!(self, d => d.running())
    }
    fn clean_stale(&self) {
        each!(self, d => d.clean_stale())
    }
    fn engine_endpoint(&self, state: &RunState) -> EngineEndpoint {
        each!(self, d => d.engine_endpoint(state))
    }
    fn logs(&self) -> Vec<LogFile> {
        each!(self, d => d.logs())
    }
    async fn installed_forwards(&self, state: &RunState) -> Result<BTreeSet<PortRule>> {
        each!(self, d => d.installed_forwards(state).await)
    }
    async fn reconcile_forwards(
        &self,
        fwd: &mut PortForwarder,
        want: &BTreeSet<PortRule>,
    ) -> Result<Vec<PortConflict>> {
        each!(self, d => d.reconcile_forwards(fwd, want).await)
    }
    async fn clear_forwards(&self, fwd: &mut PortForwarder) {
        each!(self, d => d.clear_forwards(fwd).await)
    }
    async fn events(&self) -> Result<QmpEvents> {
        match self {
            Self::Qemu(d) => d.events().await,
            Self::Wsl2(d) => d.events().await.map(|none| match none {}),
        }
    }
    async fn give_back_memory(&self, guest_mib: u64, bound: Duration) -> Result<crate::memory::Squeezed> {
        each!(self, d => d.give_back_memory(guest_mib, bound).await)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::driver::wsl2::WSL2_FEATURES;
    use crate::error::MachineError;

    /// Each variant answers as the driver it holds (no VM runs: the answers that need none).
    #[tokio::test]
    async fn each_variant_is_its_driver() {
        let t = tempfile::tempdir().unwrap();
        let instance = Instance::at(t.path().join("default"));
        let qemu = AnyDriver::new(DriverKind::Qemu, instance.clone(), Intent::Start).unwrap();
        let alone = QemuDriver::new(instance.clone());
        assert_eq!((qemu.kind(), qemu.name(), qemu.process_name()), (DriverKind::Qemu, "qemu", alone.process_name()));
        assert_eq!(qemu.features(), alone.features());
        assert_eq!(qemu.logs(), alone.logs());
        assert_eq!(qemu.status(), MachineStatus::Stopped);
        assert!(!qemu.alive() && qemu.running().is_none());

        let (engine, data) = (t.path().join("engine.tar.gz"), t.path().join("data.tar.gz"));
        std::fs::write(&engine, b"engine").unwrap();
        std::fs::write(&data, b"data").unwrap();
        let rootfs = Rootfs { engine, data, version: "v1".into() };
        let wsl = Wsl2Driver::new(instance, SystemWsl::program("/nonexistent/wsl.exe"), rootfs).unwrap();
        let wsl = AnyDriver::Wsl2(Box::new(wsl));
        assert_eq!((wsl.kind(), wsl.name(), wsl.process_name()), (DriverKind::Wsl2, "wsl2", "wsl.exe"));
        assert_eq!(wsl.features(), WSL2_FEATURES);
        assert!(wsl.validate(&MachineConfig::default()).unwrap().is_empty());
        assert_eq!(wsl.status(), MachineStatus::Stopped);
        assert!(matches!(wsl.events().await, Err(MachineError::Unsupported { .. })));
        assert!(matches!(
            wsl.give_back_memory(64, Duration::from_secs(1)).await,
            Err(MachineError::Unsupported { .. })
        ));
    }
}
