//! Which Docker engine a front end talks to, decided the same way everywhere.
//!
//! Order: an explicit endpoint (`--engine`, `GANTRY_ENGINE`), then `DOCKER_HOST`, then the
//! settings' engine source: an existing engine, a docker context, or Gantry's own VM socket.

use std::sync::atomic::{AtomicBool, Ordering};

use gantry_engine::{Endpoint, Engine, EngineError};
use gantry_machine::instance::Instance;

use crate::settings::{self, EngineSource, Settings};

/// Environment variable naming an engine endpoint for Gantry's front ends.
pub const GANTRY_ENGINE_ENV: &str = "GANTRY_ENGINE";

/// Where an endpoint choice came from, for messages such as `gantry status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `--engine` or `GANTRY_ENGINE`.
    Explicit,
    /// The `DOCKER_HOST` environment variable.
    DockerHost,
    /// The settings' "existing engine" endpoint.
    Settings,
    /// A docker context chosen in Gantry (`gantry context use`, the engine switcher).
    Context,
    /// Gantry's own VM.
    GantryVm,
}

/// An endpoint and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEngine {
    pub endpoint: Endpoint,
    pub origin: Origin,
}

/// Decides which engine to use; `explicit` is a `--engine` value.
pub fn resolve(explicit: Option<&str>) -> Result<ResolvedEngine, EngineError> {
    let env_explicit = std::env::var(GANTRY_ENGINE_ENV).ok().filter(|v| !v.trim().is_empty());
    if let Some(text) = explicit.map(str::to_string).or(env_explicit) {
        return Ok(ResolvedEngine { endpoint: Endpoint::parse(&text)?, origin: Origin::Explicit });
    }
    if std::env::var("DOCKER_HOST").is_ok_and(|v| !v.trim().is_empty()) {
        return Ok(ResolvedEngine { endpoint: Endpoint::from_env()?, origin: Origin::DockerHost });
    }
    let settings = settings::load(&settings::settings_path()).unwrap_or_default();
    match settings.engine {
        EngineSource::Existing { endpoint } => {
            Ok(ResolvedEngine { endpoint: Endpoint::parse(&endpoint)?, origin: Origin::Settings })
        }
        EngineSource::Context { name } => Ok(ResolvedEngine {
            endpoint: gantry_engine::ContextStore::from_env().endpoint(&name)?,
            origin: Origin::Context,
        }),
        EngineSource::GantryVm => {
            Ok(ResolvedEngine { endpoint: crate::vm::served_engine(&Instance::default()), origin: Origin::GantryVm })
        }
    }
}

/// Plaintext `tcp://` to another machine allowed for this run (the CLI's `--allow-plaintext-tcp`).
static PLAINTEXT_FOR_THIS_RUN: AtomicBool = AtomicBool::new(false);

/// Allows plaintext `tcp://` engines on other machines for this run, whatever the settings say
/// (the CLI's `--allow-plaintext-tcp`).
pub fn allow_plaintext_tcp(allow: bool) {
    PLAINTEXT_FOR_THIS_RUN.store(allow, Ordering::Relaxed);
    gantry_engine::allow_plaintext_tcp(allow);
}

/// Whether a plaintext `tcp://` engine on another machine may be used: allowed for this run, or
/// in the settings (Settings → Engine).
fn plaintext_tcp_allowed(settings: &Settings) -> bool {
    PLAINTEXT_FOR_THIS_RUN.load(Ordering::Relaxed) || settings.allow_plaintext_tcp
}

/// Resolves and connects. When Gantry's VM is the source and it is not running, the error
/// says to start it.
pub async fn connect(explicit: Option<&str>) -> Result<(Engine, ResolvedEngine), EngineError> {
    // The settings' choice is read on each connect, so turning it off takes effect at once.
    let settings = settings::load(&settings::settings_path()).unwrap_or_default();
    gantry_engine::allow_plaintext_tcp(plaintext_tcp_allowed(&settings));
    let resolved = resolve(explicit)?;
    match Engine::connect(&resolved.endpoint).await {
        Ok(engine) => Ok((engine, resolved)),
        Err(EngineError::Unreachable { endpoint, reason }) if resolved.origin == Origin::GantryVm => {
            Err(EngineError::Unreachable {
                endpoint,
                reason: format!("Gantry's VM is not running ({reason}); start it with `gantry start`"),
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_tcp_is_allowed_by_the_settings_or_for_one_run() {
        let mut settings = Settings::default();
        assert!(!plaintext_tcp_allowed(&settings), "off by default");
        settings.allow_plaintext_tcp = true;
        assert!(plaintext_tcp_allowed(&settings));
        settings.allow_plaintext_tcp = false;
        allow_plaintext_tcp(true);
        assert!(plaintext_tcp_allowed(&settings), "--allow-plaintext-tcp wins over the settings");
        allow_plaintext_tcp(false);
    }
}
