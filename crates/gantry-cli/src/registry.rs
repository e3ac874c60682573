//! `gantry login` and `gantry logout`: the same logins as the app's Settings, shared with the
//! docker CLI.

use std::io::Read;

use gantry_core::api::{ApiError, registry};
use gantry_core::credentials::CredentialStore;
use gantry_core::{engine_source, settings};

use crate::CliError;

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        let hint = match e.fields.first() {
            Some(f) if e.hint.is_empty() => f.hint.clone(),
            _ => e.hint,
        };
        Self { message: e.message, hint: (!hint.is_empty()).then_some(hint) }
    }
}

/// `gantry login SERVER -u USER --password-stdin`.
pub async fn login(explicit: Option<&str>, server: &str, username: &str) -> Result<(), CliError> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).map_err(|e| {
        CliError::new(
            format!("cannot read the password from stdin: {e}"),
            "pipe it in: `echo $TOKEN | gantry login ...`",
        )
    })?;
    let password = password.trim_end_matches(['\n', '\r']);
    let (engine, _) = engine_source::connect(explicit).await?;
    let store = CredentialStore::default();
    registry::login(&engine, &store, &settings::settings_path(), server, username, password).await?;
    println!("Login succeeded (stored in {}).", store.config_path().display());
    Ok(())
}

/// `gantry logout SERVER`.
pub async fn logout(server: &str) -> Result<(), CliError> {
    registry::logout(&CredentialStore::default(), &settings::settings_path(), server).await?;
    println!("Logged out of {server}.");
    Ok(())
}
