//! Engines and docker contexts: the engine switcher's list (Gantry's VM first, then every docker
//! context), choosing one, adding one the docker CLI sees too, removing one, and the selected
//! engine's health and latency for the status line.

use std::time::Duration;

use gantry_engine::contexts::DEFAULT_CONTEXT;
use gantry_engine::{ContextStore, DockerContext, EngineError, Health, NewContext, Transport};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::{EngineStatus, Gantry, StreamMsg};
use crate::settings::{self, EngineSource};
use crate::vm::context::CONTEXT_NAME as GANTRY_CONTEXT;

/// How often the health watch pings the selected engine.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(3);

/// What kind of engine a switcher entry is: only Gantry's VM is started and stopped by Gantry,
/// and only it forwards ports to this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EngineChoiceKind {
    GantryVm,
    Context,
}

/// One entry of the engine switcher (`gantry context ls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EngineChoice {
    /// What `gantry context use` takes: `gantry` for the VM, else the docker context's name.
    pub name: String,
    pub kind: EngineChoiceKind,
    pub description: String,
    /// The endpoint, e.g. `ssh://me@build` or `tcp://10.0.0.5:2376`.
    pub host: String,
    pub transport: Transport,
    /// Gantry (the app and the `gantry` command) uses this one.
    pub selected: bool,
    /// The docker CLI uses this one (`docker context use`, `DOCKER_CONTEXT`).
    pub docker_current: bool,
    /// Why it cannot be used as it is, if so.
    pub problem: Option<String>,
}

impl EngineChoice {
    fn from_context(c: DockerContext, selected: bool) -> Self {
        let kind = if c.name == GANTRY_CONTEXT { EngineChoiceKind::GantryVm } else { EngineChoiceKind::Context };
        let description = match kind {
            EngineChoiceKind::GantryVm if c.description.is_empty() => "Gantry's VM".to_string(),
            _ => c.description,
        };
        Self {
            name: c.name,
            kind,
            description,
            host: c.host,
            transport: c.transport,
            selected,
            docker_current: c.current,
            problem: c.problem,
        }
    }
}

impl Gantry {
    fn context_store(&self) -> ContextStore {
        ContextStore::from_env()
    }

    /// Gantry's VM, then every docker context (the docker CLI's `default` included), with the one
    /// Gantry uses and the one the docker CLI uses marked.
    pub async fn context_list(&self) -> ApiResult<Vec<EngineChoice>> {
        let store = self.context_store();
        let source = settings::load(&self.settings_path)?.engine;
        let contexts = store.list()?;
        let mut list = Vec::with_capacity(contexts.len() + 1);
        let vm_selected = source == EngineSource::GantryVm;
        match contexts.iter().position(|c| c.name == GANTRY_CONTEXT) {
            Some(i) => list.push(EngineChoice::from_context(contexts[i].clone(), vm_selected)),
            None => list.push(EngineChoice {
                name: GANTRY_CONTEXT.into(),
                kind: EngineChoiceKind::GantryVm,
                description: "Gantry's VM (its docker context appears once the VM has started)".into(),
                host: crate::vm::served_engine(&crate::vm::Instance::default()).to_string(),
                transport: Transport::Local,
                selected: vm_selected,
                docker_current: false,
                problem: None,
            }),
        }
        for c in contexts.into_iter().filter(|c| c.name != GANTRY_CONTEXT) {
            let selected = matches!(&source, EngineSource::Context { name } if *name == c.name);
            list.push(EngineChoice::from_context(c, selected));
        }
        Ok(list)
    }

    /// Makes Gantry use `name` (`gantry` = its VM); with `docker_cli`, the docker CLI too
    /// (`docker context use`). Refused, with nothing changed, for a context that cannot be used
    /// (unknown, TLS without verification, files missing). Running streams of the previous
    /// engine end; returns the new engine's status.
    pub async fn context_use(&self, name: String, docker_cli: bool) -> ApiResult<EngineStatus> {
        let name = name.trim().to_string();
        let store = self.context_store();
        let source = if name == GANTRY_CONTEXT {
            EngineSource::GantryVm
        } else {
            let context = store.get(&name)?;
            if let Some(problem) = context.problem {
                return Err(ApiError::new(
                    gantry_engine::EngineErrorCode::InvalidEndpoint,
                    format!("context {name} cannot be used: {problem}"),
                    format!("Fix it with `docker context update {name}`, or remove it and add it again."),
                ));
            }
            EngineSource::Context { name: name.clone() }
        };
        if docker_cli {
            // Gantry's own context exists once the VM has started.
            store.set_current(&name)?;
        }
        self.save_engine_source(source).await?;
        self.engine_reconnect().await
    }

    /// Adds a docker context (SSH host, or TCP with CA, certificate and key) that the docker CLI
    /// sees too. Nothing is written when anything is wrong; an existing context is never replaced.
    pub async fn context_add(&self, context: NewContext) -> ApiResult<EngineChoice> {
        if context.name.trim() == GANTRY_CONTEXT {
            return Err(EngineError::NameInUse { name: GANTRY_CONTEXT.into() }.into());
        }
        let created = self.context_store().create(&context)?;
        Ok(EngineChoice::from_context(created, false))
    }

    /// Removes a docker context and its TLS files. Gantry's VM context is Gantry's to manage; the
    /// context Gantry or the docker CLI uses now is removed only with `force` (and then Gantry
    /// goes back to its VM, the docker CLI to `default`).
    pub async fn context_remove(&self, name: String, force: bool) -> ApiResult<()> {
        let name = name.trim().to_string();
        if name == GANTRY_CONTEXT || name == DEFAULT_CONTEXT {
            return Err(EngineError::Conflict {
                message: format!("the {name} context is not removed by hand: Gantry (or the docker CLI) keeps it"),
            }
            .into());
        }
        let store = self.context_store();
        store.get(&name)?;
        let selected =
            matches!(settings::load(&self.settings_path)?.engine, EngineSource::Context { name: n } if n == name);
        if selected && !force {
            return Err(EngineError::Conflict {
                message: format!(
                    "Gantry uses context {name} now; switch to another engine first (`gantry context use gantry`), or remove it with force"
                ),
            }
            .into());
        }
        store.remove(&name, force)?;
        if selected {
            self.save_engine_source(EngineSource::GantryVm).await?;
            self.disconnect().await;
        }
        Ok(())
    }

    /// One ping's round trip to the selected engine, in milliseconds.
    pub async fn engine_latency(&self) -> ApiResult<f64> {
        let engine = self.engine().await?;
        Ok(engine.latency(gantry_engine::health::PING_LIMIT).await?.as_secs_f64() * 1e3)
    }

    /// Follows the selected engine's health: its latency every few seconds, a lost connection
    /// as it happens and its return (the engine's own streams reconnect by themselves).
    pub async fn engine_health(&self, sink: impl Fn(StreamMsg<Health>) + Send + 'static) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(engine.watch_health(HEALTH_INTERVAL), 1, sink))
    }

    /// Saves a new engine source, keeping every other setting; streams of the old engine end.
    async fn save_engine_source(&self, source: EngineSource) -> ApiResult<()> {
        let mut new = settings::load(&self.settings_path)?;
        if new.engine == source {
            return Ok(());
        }
        new.engine = source;
        let mut host = self.host_facts();
        // the VM's disk did not change: free space is not the question here
        host.free_disk_gib = 0;
        settings::save(&self.settings_path, &new, &host)?;
        self.streams.cancel_all();
        Ok(())
    }
}
