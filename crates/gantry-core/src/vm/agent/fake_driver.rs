//! A driver for the agent's unit tests: no VM, events played from a script. (The agent's tests
//! with a real VM are the VM tests, `tests/vm_integration.rs`; this one checks the agent's own
//! logic against the `Driver` trait alone.)
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gantry_machine::driver::{
    BootEvent, Driver, EngineEndpoint, Features, GuestRun, LogFile, MachineConfig, MachineStatus, PortForwarding,
    RunState, StopMode, StopOutcome, VmEvent, VmEvents,
};
use gantry_machine::ports::{PortConflict, PortForwarder, PortRule};
use gantry_machine::{MachineError, Result};

/// What the fake's events session answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Script {
    /// Run states, in order (the last one repeats).
    pub runs: Vec<GuestRun>,
    /// Events, in order; then none ever comes.
    pub events: Vec<VmEvent>,
    /// `events()` fails with this `Unsupported` sentence instead.
    pub unsupported: Option<String>,
}

pub(crate) struct FakeDriver {
    pub features: Features,
    pub script: Script,
    pub resumed: Arc<AtomicUsize>,
}

impl FakeDriver {
    pub(crate) fn new(script: Script) -> Self {
        let features = Features {
            port_forwarding: PortForwarding::ByPlatformRelay,
            pause_events: true,
            disk_error_events: true,
            reattach: false,
            memory_reclaim: false,
            saved_state: false,
        };
        Self { features, script, resumed: Arc::default() }
    }
}

pub(crate) struct FakeEvents {
    runs: VecDeque<GuestRun>,
    events: VecDeque<VmEvent>,
    resumed: Arc<AtomicUsize>,
}

impl VmEvents for FakeEvents {
    async fn run_state(&mut self) -> Result<GuestRun> {
        match self.runs.len() {
            0 => Err(MachineError::NotRunning),
            1 => Ok(self.runs[0].clone()),
            _ => Ok(self.runs.pop_front().unwrap()),
        }
    }
    async fn next_event(&mut self) -> Result<VmEvent> {
        match self.events.pop_front() {
            Some(e) => Ok(e),
            None => std::future::pending().await,
        }
    }
    async fn resume(&mut self) -> Result<()> {
        self.resumed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Driver for FakeDriver {
    type Events = FakeEvents;

    fn name(&self) -> &'static str {
        "fake"
    }
    fn process_name(&self) -> &'static str {
        "fake"
    }
    fn features(&self) -> Features {
        self.features
    }
    fn validate(&self, _cfg: &MachineConfig) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn create(&self, _cfg: &MachineConfig) -> Result<()> {
        Ok(())
    }
    async fn start(&self, _cfg: &MachineConfig, _progress: &(dyn Fn(BootEvent) + Send + Sync)) -> Result<RunState> {
        Err(MachineError::Unsupported { what: "booting the fake driver".into() })
    }
    async fn stop(&self, _timeout: Duration, _mode: StopMode) -> Result<StopOutcome> {
        Ok(StopOutcome::WasNotRunning)
    }
    async fn delete(&self, _data: bool) -> Result<()> {
        Ok(())
    }
    fn status(&self) -> MachineStatus {
        MachineStatus::Stopped
    }
    fn alive(&self) -> bool {
        false
    }
    fn running(&self) -> Option<RunState> {
        None
    }
    fn clean_stale(&self) {}
    fn engine_endpoint(&self, state: &RunState) -> EngineEndpoint {
        EngineEndpoint::TcpTls { addr: state.engine_addr() }
    }
    fn logs(&self) -> Vec<LogFile> {
        Vec::new()
    }
    async fn installed_forwards(&self, _state: &RunState) -> Result<BTreeSet<PortRule>> {
        Ok(BTreeSet::new())
    }
    async fn reconcile_forwards(
        &self,
        _fwd: &mut PortForwarder,
        _want: &BTreeSet<PortRule>,
    ) -> Result<Vec<PortConflict>> {
        Ok(Vec::new())
    }
    async fn clear_forwards(&self, fwd: &mut PortForwarder) {
        fwd.reset();
    }
    async fn give_back_memory(&self, _guest_mib: u64, _bound: Duration) -> Result<gantry_machine::memory::Squeezed> {
        Err(MachineError::Unsupported { what: "the fake driver has no memory to give back".into() })
    }

    async fn events(&self) -> Result<FakeEvents> {
        if let Some(what) = &self.script.unsupported {
            return Err(MachineError::Unsupported { what: what.clone() });
        }
        Ok(FakeEvents {
            runs: self.script.runs.clone().into(),
            events: self.script.events.clone().into(),
            resumed: self.resumed.clone(),
        })
    }
}
