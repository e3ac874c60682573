//! Registry logins: checked by the engine, stored where the docker CLI finds them
//! ([`CredentialStore`]), listed (server and user name only) in the settings.

use std::path::Path;

use gantry_engine::{Engine, RegistryAuth};

use super::Gantry;
use super::error::{ApiError, ApiResult, FieldError, GantryErrorCode};
use super::settings_form::RegistryEntry;
use crate::credentials::{CredentialError, CredentialStore, normalize_server};
use crate::settings::{self, HostFacts, RegistryLogin};

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        let hint = e.hint();
        Self::new(GantryErrorCode::Credentials, e.to_string(), hint)
    }
}

/// Checks the login with the engine, stores it, and lists it in the settings at `settings_path`;
/// returns the listed logins. Nothing is kept when any step fails.
pub async fn login(
    engine: &Engine,
    store: &CredentialStore,
    settings_path: &Path,
    server: &str,
    username: &str,
    password: &str,
) -> ApiResult<Vec<RegistryEntry>> {
    let mut fields = Vec::new();
    let mut require = |field: &str, value: &str, hint: &str| {
        if value.trim().is_empty() {
            fields.push(FieldError {
                field: field.into(),
                message: format!("the {field} is empty"),
                hint: hint.into(),
            });
        }
    };
    require("server", server, "enter a registry host such as docker.io, ghcr.io or localhost:5000");
    require("username", username, "enter your user name at that registry");
    require("password", password, "enter your password or an access token");
    if !fields.is_empty() {
        return Err(ApiError::invalid(fields));
    }
    let auth = RegistryAuth {
        server: normalize_server(server),
        username: username.trim().to_string(),
        password: password.to_string(),
    };
    engine.check_registry_login(&auth).await?;
    store.store(&auth).await?;
    let listed = update_list(settings_path, |list| {
        list.retain(|r| normalize_server(&r.server) != auth.server);
        list.push(RegistryLogin { server: auth.server.clone(), username: auth.username.clone() });
    });
    if listed.is_err() {
        // Keep the two in step: no stored password that the settings do not list.
        let _ = store.erase(&auth.server).await;
    }
    tracing::info!(server = %auth.server, user = %auth.username, "logged in to registry");
    listed
}

/// Forgets the login for `server`: the stored password and the settings entry.
pub async fn logout(store: &CredentialStore, settings_path: &Path, server: &str) -> ApiResult<Vec<RegistryEntry>> {
    let server = normalize_server(server);
    store.erase(&server).await?;
    tracing::info!(%server, "logged out of registry");
    update_list(settings_path, |list| list.retain(|r| normalize_server(&r.server) != server))
}

/// The stored login for the registry of `reference`, if any. A store that cannot be read is
/// logged and treated as no login: the registry then says what is missing.
pub async fn auth_for(store: &CredentialStore, reference: &str) -> Option<RegistryAuth> {
    let server = gantry_engine::images::registry_of(reference);
    store.get(server).await.unwrap_or_else(|e| {
        tracing::warn!(%server, "cannot read the stored registry login: {e}");
        None
    })
}

fn update_list(settings_path: &Path, change: impl FnOnce(&mut Vec<RegistryLogin>)) -> ApiResult<Vec<RegistryEntry>> {
    // Only the registry list changes here: a rule the stored VM values break today (less memory
    // than when they were saved) does not stop a login from being listed (`settings::update`).
    let host = HostFacts::detect(settings_path.parent().unwrap_or(Path::new(".")));
    let (_, s) = settings::update(settings_path, &host, |s| {
        change(&mut s.registries);
        s.registries.sort_by(|a, b| a.server.cmp(&b.server));
        Ok(())
    })?;
    Ok(s.registries.iter().map(RegistryEntry::from).collect())
}

impl Gantry {
    /// Logs in to a registry (checked by the engine first); the password goes to the docker
    /// credential store, never into the settings. Returns the registries logged in to.
    pub async fn registry_login(
        &self,
        server: String,
        username: String,
        password: String,
    ) -> ApiResult<Vec<RegistryEntry>> {
        login(&self.engine().await?, &self.credentials, &self.settings_path, &server, &username, &password).await
    }

    /// Logs out of a registry. Returns the registries still logged in to.
    pub async fn registry_logout(&self, server: String) -> ApiResult<Vec<RegistryEntry>> {
        logout(&self.credentials, &self.settings_path, &server).await
    }

    /// The stored login for the registry of `reference` (for pull and push).
    pub(super) async fn auth_for(&self, reference: &str) -> Option<RegistryAuth> {
        auth_for(&self.credentials, reference).await
    }
}
