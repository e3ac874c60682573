//! `gantry login` and `gantry logout`: the same logins as the app's Settings, shared with the
//! docker CLI.

use std::io::Read;

use gantry_core::api::Gantry;
use gantry_core::credentials::CredentialStore;

use crate::CliError;

/// `gantry login SERVER -u USER --password-stdin`.
pub async fn login(api: &Gantry, server: &str, username: &str) -> Result<(), CliError> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).map_err(|e| {
        CliError::new(
            format!("cannot read the password from stdin: {e}"),
            "Pipe it in: `echo $TOKEN | gantry login SERVER -u USER --password-stdin`.",
        )
    })?;
    let password = password.trim_end_matches(['\n', '\r']);
    api.registry_login(server.to_string(), username.to_string(), password.to_string()).await?;
    println!("Login succeeded (stored in {}).", CredentialStore::default().config_path().display());
    Ok(())
}

/// `gantry logout SERVER`.
pub async fn logout(api: &Gantry, server: &str) -> Result<(), CliError> {
    api.registry_logout(server.to_string()).await?;
    println!("Logged out of {server}.");
    Ok(())
}
