//! Swarm secrets and configs (`docker secret ls/create/rm`, `docker config ...`): small named
//! blobs a Swarm manager keeps and hands to the tasks that reference them, as files (secrets
//! under `/run/secrets/`, held in memory on the nodes; configs anywhere). Their contents cannot be
//! read back through the API, and cannot change: a new version is a new name.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use bollard::models::{ConfigSpec, SecretSpec};
use bollard::query_parameters::{ListConfigsOptions, ListSecretsOptions, UpdateConfigOptions, UpdateSecretOptions};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};
use crate::services::STACK_LABEL;

/// Secrets or configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SwarmObjectKind {
    Secret,
    Config,
}

impl SwarmObjectKind {
    /// `secret` or `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Config => "config",
        }
    }

    /// The largest contents the engine keeps (swarmkit's limits).
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Secret => 500 * 1024,
            Self::Config => 1000 * 1024,
        }
    }

    /// The kind of resource, for errors.
    pub fn resource(self) -> ResourceKind {
        match self {
            Self::Secret => ResourceKind::Secret,
            Self::Config => ResourceKind::Config,
        }
    }
}

/// One secret or config of the swarm (never its contents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SwarmObjectSummary {
    pub kind: SwarmObjectKind,
    pub id: String,
    pub name: String,
    /// The stack that made it, if one did.
    pub stack: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Engine {
    /// The swarm's secrets or configs, by name (managers only).
    pub async fn list_swarm_objects(&self, kind: SwarmObjectKind) -> Result<Vec<SwarmObjectSummary>> {
        self.swarm_objects(kind, None).await
    }

    async fn swarm_objects(
        &self,
        kind: SwarmObjectKind,
        filters: Option<HashMap<String, Vec<String>>>,
    ) -> Result<Vec<SwarmObjectSummary>> {
        let summary = |id: Option<String>,
                       name: Option<String>,
                       labels: Option<HashMap<String, String>>,
                       created: Option<String>,
                       updated: Option<String>| {
            let labels: BTreeMap<String, String> = labels.unwrap_or_default().into_iter().collect();
            SwarmObjectSummary {
                kind,
                id: id.unwrap_or_default(),
                name: name.unwrap_or_default(),
                stack: labels.get(STACK_LABEL).cloned(),
                labels,
                created_at: created.unwrap_or_default(),
                updated_at: updated.unwrap_or_default(),
            }
        };
        let err = |e| self.err(e, kind.resource(), "");
        let mut list: Vec<SwarmObjectSummary> = match kind {
            SwarmObjectKind::Secret => self
                .docker
                .list_secrets(Some(ListSecretsOptions { filters }))
                .await
                .map_err(err)?
                .into_iter()
                .map(|s| {
                    let spec = s.spec.unwrap_or_default();
                    summary(
                        s.id,
                        spec.name,
                        spec.labels,
                        s.created_at.map(|d| d.to_string()),
                        s.updated_at.map(|d| d.to_string()),
                    )
                })
                .collect(),
            SwarmObjectKind::Config => self
                .docker
                .list_configs(Some(ListConfigsOptions { filters }))
                .await
                .map_err(err)?
                .into_iter()
                .map(|c| {
                    let spec = c.spec.unwrap_or_default();
                    summary(
                        c.id,
                        spec.name,
                        spec.labels,
                        c.created_at.map(|d| d.to_string()),
                        c.updated_at.map(|d| d.to_string()),
                    )
                })
                .collect(),
        };
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// The secret or config named exactly `name`, if there is one.
    pub async fn find_swarm_object(&self, kind: SwarmObjectKind, name: &str) -> Result<Option<SwarmObjectSummary>> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        Ok(self.swarm_objects(kind, Some(filters)).await?.into_iter().find(|o| o.name == name))
    }

    /// Makes a secret or config; returns its ID. An existing name is an error (contents cannot
    /// change: give the new version another name).
    pub async fn create_swarm_object(
        &self,
        kind: SwarmObjectKind,
        name: &str,
        data: &[u8],
        labels: &BTreeMap<String, String>,
    ) -> Result<String> {
        check_name(kind, name)?;
        if data.len() > kind.max_bytes() {
            return Err(EngineError::InvalidRequest {
                message: format!(
                    "{} {name} would hold {} bytes; the engine keeps at most {}",
                    kind.as_str(),
                    data.len(),
                    kind.max_bytes()
                ),
            });
        }
        let data = Some(base64::engine::general_purpose::STANDARD.encode(data));
        let labels = Some(labels.clone().into_iter().collect());
        let answer = match kind {
            SwarmObjectKind::Secret => {
                self.docker
                    .create_secret(SecretSpec { name: Some(name.into()), labels, data, ..Default::default() })
                    .await
            }
            SwarmObjectKind::Config => {
                self.docker
                    .create_config(ConfigSpec { name: Some(name.into()), labels, data, ..Default::default() })
                    .await
            }
        };
        Ok(answer.map_err(|e| self.err(e, kind.resource(), name))?.id)
    }

    /// Gives an existing secret or config `labels`; `data` must be what it holds (the engine
    /// refuses other contents: they cannot change).
    pub(crate) async fn update_swarm_object(
        &self,
        kind: SwarmObjectKind,
        id: &str,
        name: &str,
        data: &[u8],
        labels: &BTreeMap<String, String>,
    ) -> Result<()> {
        let err = |e| self.err(e, kind.resource(), name);
        let data = Some(base64::engine::general_purpose::STANDARD.encode(data));
        let labels = Some(labels.clone().into_iter().collect());
        let answer = match kind {
            SwarmObjectKind::Secret => {
                let current = self.docker.inspect_secret(id).await.map_err(err)?;
                let version = current.version.and_then(|v| v.index).unwrap_or_default() as i64;
                let spec = SecretSpec { name: Some(name.into()), labels, data, ..current.spec.unwrap_or_default() };
                self.docker.update_secret(id, spec, UpdateSecretOptions { version }).await
            }
            SwarmObjectKind::Config => {
                let current = self.docker.inspect_config(id).await.map_err(err)?;
                let version = current.version.and_then(|v| v.index).unwrap_or_default() as i64;
                let spec = ConfigSpec { name: Some(name.into()), labels, data, ..current.spec.unwrap_or_default() };
                self.docker.update_config(id, spec, UpdateConfigOptions { version }).await
            }
        };
        answer.map_err(|e| match err(e) {
            EngineError::Api { message, .. } | EngineError::InvalidRequest { message }
                if message.contains("only updates to Labels are allowed") =>
            {
                EngineError::InvalidRequest {
                    message: format!(
                        "{} {name} already exists with other contents, and contents cannot change: give the new version another name (`name:` in the file) and deploy again, or remove the stack first",
                        kind.as_str()
                    ),
                }
            }
            other => other,
        })
    }

    /// Removes a secret or config by name or ID (the engine refuses while a service uses it).
    pub async fn remove_swarm_object(&self, kind: SwarmObjectKind, name_or_id: &str) -> Result<()> {
        let answer = match kind {
            SwarmObjectKind::Secret => self.docker.delete_secret(name_or_id).await,
            SwarmObjectKind::Config => self.docker.delete_config(name_or_id).await,
        };
        answer.map_err(|e| self.err(e, kind.resource(), name_or_id))
    }
}

/// Names the engine takes: letters, digits, `_`, `.` and `-`, at most 64, starting and ending
/// with a letter or digit.
pub fn check_name(kind: SwarmObjectKind, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidRequest {
            message: format!(
                "{} name {name:?}: use letters, digits, '_', '.' and '-' (at most 64), starting and ending with a letter or digit",
                kind.as_str()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_engine_takes() {
        for good in ["db_password", "shop_site.conf", "a", "v2-key"] {
            assert!(check_name(SwarmObjectKind::Secret, good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "x-", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_name(SwarmObjectKind::Config, bad).is_err(), "{bad}");
        }
    }
}
