//! Settings that became invalid while the VM runs (by hand, or before an agent restart): the
//! running VM keeps what it was booted with, the status says what to fix before the next start,
//! and the problem goes from the status as soon as the file is fixed.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::settings::{self, HostFacts, Settings};
use crate::vm::error::VmError;

use super::Shared;

/// How often the agent looks at the settings file while the VM runs (a metadata call; the file
/// is read only when it changed).
const RECHECK: Duration = Duration::from_secs(2);

/// The settings as loaded (defaults when unreadable), and what is wrong with them for a VM.
fn load_and_check<D>(shared: &Shared<D>) -> (Settings, Option<String>) {
    let inst = &shared.instance;
    let (settings, problem) = match settings::load(&inst.settings()) {
        Ok(s) => {
            let problem =
                s.validate(&HostFacts::detect(inst.dir())).err().map(|errors| VmError::Settings { errors }.to_string());
            (s, problem)
        }
        Err(e) => (Settings::default(), Some(e.to_string())),
    };
    let problem = problem.map(|p| {
        format!(
            "the settings became invalid ({p}); the running VM keeps the settings it was started with: fix them before the next start"
        )
    });
    (settings, problem)
}

/// Loads the settings when reattaching to a running VM: a problem is reported, not fatal (the
/// VM runs with the settings it was booted with).
pub(super) fn settings_for_reattach<D>(shared: &Shared<D>) -> Settings {
    let (settings, problem) = load_and_check(shared);
    shared.set_settings_problem(problem);
    settings
}

/// The settings file's size and modification time: it changed when these did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Stamp(Option<(u64, Option<SystemTime>)>);

impl Stamp {
    fn of(path: &PathBuf) -> Self {
        Stamp(std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok())))
    }
}

/// Checks the settings again when the file changed since `seen`; reports or clears the problem.
pub(super) fn recheck<D>(shared: &Shared<D>, seen: &mut Stamp) {
    let now = Stamp::of(&shared.instance.settings());
    if now != *seen {
        *seen = now;
        let (_, problem) = load_and_check(shared);
        shared.set_settings_problem(problem);
    }
}

/// Rechecks the settings every [`RECHECK`] while the VM runs (the first time whatever the file's
/// stamp: it may have changed since the start-up chain read it).
pub(super) async fn watch<D>(shared: &Shared<D>) {
    let mut seen = Stamp::default();
    loop {
        tokio::time::sleep(RECHECK).await;
        recheck(shared, &mut seen);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::vm::status::{RunningInfo, VmStatus};
    use gantry_machine::instance::Instance;

    fn write(inst: &Instance, cpus: u32) {
        let s = serde_json::json!({"vm": {"cpus": cpus, "memory_mib": 1024, "disk_gib": 8, "shared_folders": []}});
        // (a new file each time, as an atomic save makes: its stamp changes whatever the clock)
        let tmp = inst.dir().join("settings.json.new");
        std::fs::write(&tmp, s.to_string()).unwrap();
        std::fs::rename(&tmp, inst.settings()).unwrap();
    }

    fn reasons<D>(shared: &Shared<D>) -> Vec<String> {
        match &*shared.current.borrow() {
            VmStatus::Degraded { reasons, .. } => reasons.clone(),
            VmStatus::Running(_) => Vec::new(),
            other => panic!("not up: {other:?}"),
        }
    }

    #[test]
    fn a_settings_problem_goes_from_the_status_once_the_file_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let inst = Instance::at(dir.path().join("default"));
        std::fs::create_dir_all(inst.dir()).unwrap();
        let driver = gantry_machine::driver::QemuDriver::new(inst.clone());
        let shared = Shared::new(&inst, driver, VmStatus::Running(RunningInfo::default()), RunningInfo::default());
        write(&inst, 0);
        let mut seen = Stamp::of(&inst.settings());
        settings_for_reattach(&shared);
        let r = reasons(&shared);
        assert!(r.len() == 1 && r[0].contains("settings became invalid") && r[0].contains("vm.cpus"), "{r:?}");

        recheck(&shared, &mut seen); // unchanged file: same report
        assert_eq!(reasons(&shared).len(), 1);
        write(&inst, 1);
        recheck(&shared, &mut seen);
        assert_eq!(reasons(&shared), Vec::<String>::new(), "fixed settings clear the problem");
        write(&inst, 0);
        recheck(&shared, &mut seen);
        assert!(reasons(&shared)[0].contains("vm.cpus"), "broken again while running: reported again");
    }
}
