//! Swarm secrets and configs through the one API: list, make one from a file, remove one. Their
//! contents never come back (the engine does not give them).

use std::collections::BTreeMap;
use std::path::PathBuf;

use gantry_engine::{EngineError, SwarmObjectKind, SwarmObjectSummary};
use serde::{Deserialize, Serialize};

use super::Gantry;
use super::error::ApiResult;

/// A secret or config to make from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SwarmObjectCreate {
    pub kind: SwarmObjectKind,
    pub name: String,
    /// The file whose contents it holds.
    pub file: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Gantry {
    /// The swarm's secrets or configs (managers only).
    pub async fn swarm_object_list(&self, kind: SwarmObjectKind) -> ApiResult<Vec<SwarmObjectSummary>> {
        Ok(self.engine().await?.list_swarm_objects(kind).await?)
    }

    /// Makes a secret or config from a file (at most the engine's limit: 500 KiB for a secret,
    /// 1000 KiB for a config); a name in use is an error, as contents cannot change.
    pub async fn swarm_object_create(&self, request: SwarmObjectCreate) -> ApiResult<SwarmObjectSummary> {
        let name = request.name.trim();
        gantry_engine::swarm_objects::check_name(request.kind, name)?;
        let path = PathBuf::from(request.file.trim());
        let io = |e: std::io::Error| EngineError::Io { action: "read", path: path.display().to_string(), source: e };
        let size = std::fs::metadata(&path).map_err(io)?.len();
        if size > request.kind.max_bytes() as u64 {
            return Err(EngineError::InvalidRequest {
                message: format!(
                    "{} has {size} bytes; a {} holds at most {}",
                    path.display(),
                    request.kind.as_str(),
                    request.kind.max_bytes()
                ),
            }
            .into());
        }
        let data = std::fs::read(&path).map_err(io)?;
        let engine = self.engine().await?;
        engine.create_swarm_object(request.kind, name, &data, &request.labels).await?;
        let made = engine.find_swarm_object(request.kind, name).await?;
        made.ok_or_else(|| EngineError::NotFound { kind: request.kind.resource(), id: name.to_string() }.into())
    }

    /// Removes a secret or config by name or ID (refused while a service uses it).
    pub async fn swarm_object_remove(&self, kind: SwarmObjectKind, name: String) -> ApiResult<()> {
        Ok(self.engine().await?.remove_swarm_object(kind, name.trim()).await?)
    }
}
