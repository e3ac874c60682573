//! A learner's progress in a lab, kept across restarts: where the lab started (time, work folder,
//! ports, what the engine held then) and which steps passed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gantry_engine::{ContainerFilter, Engine};
use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::lab::Lab;

/// What the engine held when the lab started; reset removes only what came after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// Container IDs.
    pub containers: BTreeSet<String>,
    /// Image IDs.
    pub images: BTreeSet<String>,
    /// Image names (`repo:tag`).
    pub tags: BTreeSet<String>,
    /// Volume names.
    pub volumes: BTreeSet<String>,
    /// Network IDs.
    pub networks: BTreeSet<String>,
}

impl Snapshot {
    /// What the engine holds now.
    pub async fn take(engine: &Engine) -> Result<Self> {
        let containers = engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await?;
        let images = engine.list_images(false).await?;
        let volumes = engine.list_volumes().await?;
        let networks = engine.list_networks().await?;
        Ok(Self {
            containers: containers.into_iter().map(|c| c.id).collect(),
            tags: images.iter().flat_map(|i| i.tags.iter().cloned()).collect(),
            images: images.into_iter().map(|i| i.id).collect(),
            volumes: volumes.into_iter().map(|v| v.name).collect(),
            networks: networks.into_iter().map(|n| n.id).collect(),
        })
    }
}

/// One learner's progress in one lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub lab: String,
    /// When the lab was started, seconds since the Unix epoch.
    pub started_at: i64,
    /// The learner's copy of the lab's starter files; `{{lab.dir}}`.
    pub work_dir: PathBuf,
    /// The host port chosen for each declared port.
    pub ports: BTreeMap<String, u16>,
    /// Index of the step being worked on; the number of steps once the lab is done.
    pub current_step: usize,
    /// Ids of the steps passed, in order.
    pub passed: Vec<String>,
    pub snapshot: Snapshot,
}

impl Progress {
    /// True when every step has passed.
    pub fn is_complete(&self, lab: &Lab) -> bool {
        self.current_step >= lab.steps.len()
    }
}

/// Where progress is kept: one JSON file per lab in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressStore {
    dir: PathBuf,
}

impl ProgressStore {
    /// A store in `dir` (created when the first progress is saved).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, lab: &str) -> PathBuf {
        self.dir.join(format!("{lab}.json"))
    }

    /// The saved progress of `lab`, if it was started.
    pub fn load(&self, lab: &str) -> Result<Option<Progress>> {
        let path = self.path(lab);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LabError::io("read", &path, std::io::Error::new(std::io::ErrorKind::InvalidData, e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io("read", &path, e)),
        }
    }

    /// Saves `progress` (atomically: a crash leaves the old or the new file, never half of one).
    pub fn save(&self, progress: &Progress) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| LabError::io("create", &self.dir, e))?;
        let path = self.path(&progress.lab);
        let partial = self.dir.join(format!(".{}.json.partial", progress.lab));
        let json =
            serde_json::to_vec_pretty(progress).map_err(|e| LabError::io("write", &path, std::io::Error::other(e)))?;
        std::fs::write(&partial, json).map_err(|e| LabError::io("write", &partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| LabError::io("write", &path, e))
    }

    /// Forgets `lab`'s progress.
    pub fn remove(&self, lab: &str) -> Result<()> {
        let path = self.path(lab);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LabError::io("remove", &path, e)),
        }
    }

    /// The folder the store writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
