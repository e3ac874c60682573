//! The WSL2 driver's state machine: from what `wsl.exe --list` shows and what Gantry recorded,
//! the steps of a start, stop or delete. Pure: the driver runs the steps ([`super::Wsl`]).

use super::args::Distros;
use super::error::WslError;
use super::list::Distro;

/// Which of an instance's two distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Engine,
    Data,
}

/// What the driver saw before acting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// `wsl --list --verbose`.
    pub distros: Vec<Distro>,
    /// `wsl --list --running --quiet`.
    pub running: Vec<String>,
    /// The guest image version recorded when the engine distribution was imported.
    pub engine_image: Option<String>,
    /// Whether Gantry's marker is in the engine / data distribution's directory.
    pub engine_ours: bool,
    pub data_ours: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `wsl --terminate`.
    Terminate(Which),
    /// `wsl --unregister` (deletes the distribution's disk).
    Unregister(Which),
    /// `wsl --import` from the guest's tarball, recording the image version (engine).
    Import(Which),
    /// Start the keep-alive process (data: mounts its root; engine: gets the TLS material on
    /// its input and starts the engine).
    KeepAlive(Which),
    /// Wait for `gantry-init: engine ready` from the engine's keep-alive process.
    WaitEngineReady,
}

impl Observed {
    fn listed(&self, name: &str) -> Option<&Distro> {
        self.distros.iter().find(|d| d.name.eq_ignore_ascii_case(name))
    }

    fn is_running(&self, name: &str) -> bool {
        self.running.iter().any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Refuses a distribution of Gantry's name that Gantry did not make, or one on WSL 1.
    fn check(&self, distros: &Distros, which: Which) -> Result<Option<&Distro>, WslError> {
        let (name, ours) = match which {
            Which::Engine => (&distros.engine, self.engine_ours),
            Which::Data => (&distros.data, self.data_ours),
        };
        let Some(d) = self.listed(name) else { return Ok(None) };
        if !ours {
            return Err(WslError::NotOurs { name: d.name.clone(), why: "no Gantry marker in its directory".into() });
        }
        if d.version != 2 {
            return Err(WslError::Wsl1Only { detail: format!("{} runs as WSL {}", d.name, d.version) });
        }
        Ok(Some(d))
    }
}

/// A start: import what is missing, replace an engine distribution from another image (the
/// data distribution stays: images, containers and volumes survive upgrades), restart a
/// running engine cleanly, then the two keep-alive processes.
pub fn start(observed: &Observed, distros: &Distros, image: &str) -> Result<Vec<Step>, WslError> {
    let mut steps = Vec::new();
    if observed.check(distros, Which::Data)?.is_none() {
        steps.push(Step::Import(Which::Data));
    }
    let engine_running = observed.is_running(&distros.engine);
    match observed.check(distros, Which::Engine)? {
        None => steps.push(Step::Import(Which::Engine)),
        Some(_) if observed.engine_image.as_deref() != Some(image) => {
            if engine_running {
                steps.push(Step::Terminate(Which::Engine));
            }
            steps.extend([Step::Unregister(Which::Engine), Step::Import(Which::Engine)]);
        }
        // running without our keep-alive (an agent that ended): start it afresh
        Some(_) if engine_running => steps.push(Step::Terminate(Which::Engine)),
        Some(_) => {}
    }
    steps.extend([Step::KeepAlive(Which::Data), Step::KeepAlive(Which::Engine), Step::WaitEngineReady]);
    Ok(steps)
}

/// After the engine's keep-alive input was closed (the guest stops the engine cleanly) and the
/// wait for it is over: terminate what still runs, the engine first.
pub fn stop(observed: &Observed, distros: &Distros) -> Vec<Step> {
    [(Which::Engine, &distros.engine), (Which::Data, &distros.data)]
        .into_iter()
        .filter(|(_, name)| observed.is_running(name))
        .map(|(which, _)| Step::Terminate(which))
        .collect()
}

/// A delete: stop, unregister the engine distribution, and the data one only when asked. Only
/// distributions with Gantry's marker are touched.
pub fn delete(observed: &Observed, distros: &Distros, data: bool) -> Result<Vec<Step>, WslError> {
    let mut steps = stop(observed, distros);
    if observed.check(distros, Which::Engine)?.is_some() {
        steps.push(Step::Unregister(Which::Engine));
    }
    if data && observed.check(distros, Which::Data)?.is_some() {
        steps.push(Step::Unregister(Which::Data));
    }
    Ok(steps)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Step::*;
    use super::Which::*;
    use super::*;

    fn distro(name: &str, version: u8) -> Distro {
        Distro { name: name.into(), version, default: false }
    }

    fn both(image: &str) -> Observed {
        Observed {
            distros: vec![distro("Ubuntu", 2), distro("gantry", 2), distro("gantry-data", 2)],
            running: vec![],
            engine_image: Some(image.into()),
            engine_ours: true,
            data_ours: true,
        }
    }

    fn d() -> Distros {
        Distros::for_instance("default").unwrap()
    }

    #[test]
    fn first_start_imports_both() {
        let fresh = Observed { distros: vec![distro("Ubuntu", 2)], ..Observed::default() };
        assert_eq!(
            start(&fresh, &d(), "v1").unwrap(),
            [Import(Data), Import(Engine), KeepAlive(Data), KeepAlive(Engine), WaitEngineReady]
        );
    }

    #[test]
    fn later_starts_import_nothing_and_upgrades_keep_the_data() {
        assert_eq!(start(&both("v1"), &d(), "v1").unwrap(), [KeepAlive(Data), KeepAlive(Engine), WaitEngineReady]);
        let mut running = both("v1");
        running.running = vec!["gantry".into(), "gantry-data".into()];
        assert_eq!(
            start(&running, &d(), "v2").unwrap(),
            [
                Terminate(Engine),
                Unregister(Engine),
                Import(Engine),
                KeepAlive(Data),
                KeepAlive(Engine),
                WaitEngineReady
            ]
        );
        assert_eq!(start(&running, &d(), "v1").unwrap()[0], Terminate(Engine));
        // no recorded image (an import cut short): replaced too
        let unknown = Observed { engine_image: None, ..both("v1") };
        assert_eq!(start(&unknown, &d(), "v1").unwrap()[..2], [Unregister(Engine), Import(Engine)]);
    }

    #[test]
    fn foreign_or_wsl1_distributions_are_refused_and_never_touched() {
        let foreign = Observed { engine_ours: false, ..both("v1") };
        assert!(matches!(start(&foreign, &d(), "v1"), Err(WslError::NotOurs { name, .. }) if name == "gantry"));
        assert!(matches!(delete(&foreign, &d(), true), Err(WslError::NotOurs { .. })));
        let v1 = Observed { distros: vec![distro("gantry", 2), distro("gantry-data", 1)], ..both("v1") };
        assert!(matches!(start(&v1, &d(), "v1"), Err(WslError::Wsl1Only { .. })));
    }

    #[test]
    fn stop_and_delete() {
        let mut running = both("v1");
        running.running = vec!["GANTRY".into(), "gantry-data".into(), "Ubuntu".into()];
        assert_eq!(stop(&running, &d()), [Terminate(Engine), Terminate(Data)]);
        assert_eq!(stop(&both("v1"), &d()), []);
        assert_eq!(delete(&running, &d(), false).unwrap(), [Terminate(Engine), Terminate(Data), Unregister(Engine)]);
        assert_eq!(delete(&both("v1"), &d(), true).unwrap(), [Unregister(Engine), Unregister(Data)]);
        let nothing = Observed { distros: vec![distro("Ubuntu", 2)], ..Observed::default() };
        assert_eq!(delete(&nothing, &d(), true).unwrap(), []);
    }
}
