//! Registry logins shared with the docker CLI, kept where `docker login` keeps them:
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), either inline as
//! `auths.<server>.auth = base64(user:password)` or, when the file names a `credsStore` (or a
//! `credHelpers` entry for the server), in the `docker-credential-<name>` helper program.
//!
//! Every other key of config.json is kept; the file is rewritten atomically with mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gantry_engine::RegistryAuth;
use serde_json::{Map, Value};

/// Docker Hub's name in credential stores, as `docker login` writes it.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// Reading or writing a stored login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the credential helper {program} failed: {message}")]
    Helper { program: String, message: String },
}

impl CredentialError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::Read { .. } | Self::Write { .. } => "check the permissions of the docker config directory".into(),
            Self::Corrupt { path, .. } => format!("fix the JSON in {} (docker uses it too)", path.display()),
            Self::Helper { program, .. } => {
                format!("check that {program} is installed and works, or remove credsStore from config.json")
            }
        }
    }
}

type Result<T> = std::result::Result<T, CredentialError>;

/// The name `docker login` files a registry under: `docker.io` (and its aliases) become
/// [`DOCKER_HUB`]; others lose their scheme and path (`https://ghcr.io/` → `ghcr.io`).
pub fn normalize_server(server: &str) -> String {
    let s = server.trim();
    let host = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = host.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        _ => host,
    }
}

/// The docker CLI's config directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).unwrap_or_default();
    PathBuf::from(home).join(".docker")
}

/// The logins in one docker config directory.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
    helper_dir: Option<PathBuf>,
}

impl Default for CredentialStore {
    fn default() -> Self {
        Self::new(docker_config_dir())
    }
}

impl CredentialStore {
    /// The store in `dir` (which holds `config.json`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), helper_dir: None }
    }

    /// Runs credential helpers from `dir` instead of looking them up on `PATH` (for tests).
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.helper_dir = Some(dir.into());
        self
    }

    /// Path of `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The stored login for `server` (any spelling of it), if any.
    pub fn get(&self, server: &str) -> Result<Option<RegistryAuth>> {
        let server = normalize_server(server);
        let config = self.read()?;
        if let Some(helper) = helper_for(&config, &server) {
            return self.helper_get(&helper, &server);
        }
        let Some((_, entry)) = find_auth(&config, &server) else { return Ok(None) };
        let Some(encoded) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let corrupt = |message: String| CredentialError::Corrupt { path: self.config_path(), message };
        let decoded = STANDARD.decode(encoded.trim()).map_err(|e| corrupt(format!("auths.{server}.auth: {e}")))?;
        let text = String::from_utf8(decoded).map_err(|e| corrupt(format!("auths.{server}.auth: {e}")))?;
        let (username, password) =
            text.split_once(':').ok_or_else(|| corrupt(format!("auths.{server}.auth is not user:password")))?;
        Ok(Some(RegistryAuth { server, username: username.into(), password: password.into() }))
    }

    /// Stores a login (replacing the one for the same server).
    pub fn store(&self, auth: &RegistryAuth) -> Result<()> {
        let server = normalize_server(&auth.server);
        let mut config = self.read()?;
        let helper = helper_for(&config, &server);
        if let Some(helper) = &helper {
            let payload = serde_json::json!({"ServerURL": server, "Username": auth.username, "Secret": auth.password});
            self.run_helper(helper, "store", &payload.to_string())?;
        }
        let auths = auths_mut(&mut config, &self.config_path())?;
        auths.retain(|key, _| normalize_server(key) != server);
        let entry = match helper {
            // Like docker: the helper holds the secret, config.json only names the server.
            Some(_) => serde_json::json!({}),
            None => serde_json::json!({"auth": STANDARD.encode(format!("{}:{}", auth.username, auth.password))}),
        };
        auths.insert(server, entry);
        self.write(&config)
    }

    /// Removes the login for `server`; nothing to remove is not an error.
    pub fn erase(&self, server: &str) -> Result<()> {
        let server = normalize_server(server);
        let mut config = self.read()?;
        // Helpers report a missing login as an error; only a real failure counts.
        if let Some(helper) = helper_for(&config, &server)
            && let Err(e) = self.run_helper(&helper, "erase", &server)
            && !is_not_found(&e)
        {
            return Err(e);
        }
        if find_auth(&config, &server).is_none() {
            return Ok(());
        }
        auths_mut(&mut config, &self.config_path())?.retain(|key, _| normalize_server(key) != server);
        self.write(&config)
    }

    fn read(&self) -> Result<Value> {
        let path = self.config_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Value::Object(Map::new())),
            Err(source) => return Err(CredentialError::Read { path, source }),
        };
        match serde_json::from_str(&text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(CredentialError::Corrupt { path, message: "not a JSON object".into() }),
            Err(e) => Err(CredentialError::Corrupt { path, message: e.to_string() }),
        }
    }

    /// Writes config.json atomically (temporary file + rename), mode 0600.
    fn write(&self, config: &Value) -> Result<()> {
        let path = self.config_path();
        let werr = |source| CredentialError::Write { path: path.clone(), source };
        let text = serde_json::to_string_pretty(config).map_err(|e| werr(std::io::Error::other(e)))?;
        crate::private_file::write_atomic(&path, text.as_bytes()).map_err(werr)
    }

    fn helper_program(&self, helper: &str) -> PathBuf {
        let name = format!("docker-credential-{helper}");
        match &self.helper_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// Runs `docker-credential-<helper> <action>` with `input` on stdin (no shell); its stdout.
    fn run_helper(&self, helper: &str, action: &str, input: &str) -> Result<String> {
        let program = self.helper_program(helper);
        let name = program.display().to_string();
        let fail = |message: String| CredentialError::Helper { program: name.clone(), message };
        let mut child = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start it: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).map_err(|e| fail(format!("cannot write to it: {e}")))?;
        }
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let said = if stdout.is_empty() { stderr } else { stdout };
            return Err(fail(format!("{action} exited with {}: {said}", out.status)));
        }
        Ok(stdout)
    }

    fn helper_get(&self, helper: &str, server: &str) -> Result<Option<RegistryAuth>> {
        let out = match self.run_helper(helper, "get", server) {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let v: Value = serde_json::from_str(&out).map_err(|e| CredentialError::Helper {
            program: self.helper_program(helper).display().to_string(),
            message: format!("get answered something that is not JSON: {e}"),
        })?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(Some(RegistryAuth { server: server.to_string(), username: field("Username"), password: field("Secret") }))
    }
}

/// The helper that holds `server`'s secret: its `credHelpers` entry, else `credsStore`.
fn helper_for(config: &Value, server: &str) -> Option<String> {
    let per_server = config.get("credHelpers").and_then(Value::as_object).and_then(|helpers| {
        helpers.iter().find(|(key, _)| normalize_server(key) == server).and_then(|(_, v)| v.as_str())
    });
    per_server
        .or_else(|| config.get("credsStore").and_then(Value::as_str))
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// The `auths` entry for `server`, whatever spelling the file uses for it.
fn find_auth<'a>(config: &'a Value, server: &str) -> Option<(&'a String, &'a Value)> {
    config.get("auths")?.as_object()?.iter().find(|(key, _)| normalize_server(key) == server)
}

fn auths_mut<'a>(config: &'a mut Value, path: &Path) -> Result<&'a mut Map<String, Value>> {
    let corrupt = || CredentialError::Corrupt { path: path.to_owned(), message: "`auths` is not an object".into() };
    let object = config.as_object_mut().ok_or_else(corrupt)?;
    object.entry("auths").or_insert_with(|| Value::Object(Map::new())).as_object_mut().ok_or_else(corrupt)
}

/// Helpers answer "credentials not found in native keychain" for a server they do not have.
fn is_not_found(e: &CredentialError) -> bool {
    matches!(e, CredentialError::Helper { message, .. } if message.to_ascii_lowercase().contains("credentials not found"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn auth(server: &str, username: &str, password: &str) -> RegistryAuth {
        RegistryAuth { server: server.into(), username: username.into(), password: password.into() }
    }

    fn json(path: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn servers_are_named_like_docker_names_them() {
        for hub in ["docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io", ""] {
            assert_eq!(normalize_server(hub), DOCKER_HUB, "{hub}");
        }
        assert_eq!(normalize_server("https://GHCR.io/"), "ghcr.io");
        assert_eq!(normalize_server("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_server("http://localhost:5000/v2/"), "localhost:5000");
    }

    #[test]
    fn stores_inline_like_docker_login_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths":{"ghcr.io":{"auth":"eDp5"}},"psFormat":"table {{.ID}}","proxies":{}}"#)
            .unwrap();
        let store = CredentialStore::new(dir.path());
        store.store(&auth("docker.io", "me", "pa:ss")).unwrap();
        let v = json(&path);
        assert_eq!(v["auths"][DOCKER_HUB]["auth"], STANDARD.encode("me:pa:ss"));
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert!(v["proxies"].is_object());
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "eDp5");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(store.get("index.docker.io").unwrap(), Some(auth(DOCKER_HUB, "me", "pa:ss")));
        assert_eq!(store.get("ghcr.io").unwrap(), Some(auth("ghcr.io", "x", "y")));
        assert_eq!(store.get("quay.io").unwrap(), None);

        store.erase("https://index.docker.io/v1/").unwrap();
        assert_eq!(store.get("docker.io").unwrap(), None);
        let v = json(&path);
        assert!(v["auths"].get(DOCKER_HUB).is_none());
        assert_eq!(v["psFormat"], "table {{.ID}}");
        store.erase("never-stored.example").unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["config.json"]);
    }

    #[test]
    fn a_missing_file_is_empty_and_a_corrupt_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(dir.path().join("new"));
        assert_eq!(store.get("ghcr.io").unwrap(), None);
        store.store(&auth("ghcr.io", "u", "p")).unwrap();
        assert_eq!(store.get("ghcr.io").unwrap(), Some(auth("ghcr.io", "u", "p")));

        std::fs::write(store.config_path(), "{not json").unwrap();
        assert!(matches!(store.store(&auth("ghcr.io", "u", "p")), Err(CredentialError::Corrupt { .. })));
        assert_eq!(std::fs::read_to_string(store.config_path()).unwrap(), "{not json");
    }

    /// A fake `docker-credential-fake` that keeps one login in a file next to it.
    #[cfg(unix)]
    fn fake_helper(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("docker-credential-fake");
        let db = dir.join("helper.db");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nset -e\ninput=$(cat)\ncase \"$1\" in\n\
                 store) printf '%s' \"$input\" > '{db}' ;;\n\
                 get) if [ -s '{db}' ]; then cat '{db}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
                 erase) if [ -s '{db}' ]; then : > '{db}'; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
                 *) exit 2 ;;\nesac\n",
                db = db.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_creds_store_keeps_the_secret_out_of_config_json() {
        let dir = tempfile::tempdir().unwrap();
        fake_helper(dir.path());
        let config = dir.path().join("config.json");
        std::fs::write(&config, r#"{"credsStore":"fake","currentContext":"default"}"#).unwrap();
        let store = CredentialStore::new(dir.path()).with_helper_dir(dir.path());
        assert_eq!(store.get("ghcr.io").unwrap(), None);
        store.store(&auth("https://ghcr.io", "me", "s3cret")).unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("s3cret") && !text.contains(&STANDARD.encode("me:s3cret")), "{text}");
        let v = json(&config);
        assert_eq!(v["auths"]["ghcr.io"], serde_json::json!({}));
        assert_eq!(v["currentContext"], "default");
        let db: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("helper.db")).unwrap()).unwrap();
        assert_eq!(db, serde_json::json!({"ServerURL": "ghcr.io", "Username": "me", "Secret": "s3cret"}));
        assert_eq!(store.get("ghcr.io").unwrap(), Some(auth("ghcr.io", "me", "s3cret")));
        store.erase("ghcr.io").unwrap();
        assert_eq!(store.get("ghcr.io").unwrap(), None);
        assert!(json(&config)["auths"].get("ghcr.io").is_none());
        store.erase("ghcr.io").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn cred_helpers_apply_per_server_and_a_missing_helper_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fake_helper(dir.path());
        std::fs::write(dir.path().join("config.json"), r#"{"credHelpers":{"ghcr.io":"fake","quay.io":"nope"}}"#)
            .unwrap();
        let store = CredentialStore::new(dir.path()).with_helper_dir(dir.path());
        store.store(&auth("ghcr.io", "me", "s3cret")).unwrap();
        assert_eq!(store.get("ghcr.io").unwrap(), Some(auth("ghcr.io", "me", "s3cret")));
        store.store(&auth("127.0.0.1:5000", "u", "p")).unwrap();
        assert_eq!(json(&store.config_path())["auths"]["127.0.0.1:5000"]["auth"], STANDARD.encode("u:p"));
        let e = store.store(&auth("quay.io", "u", "p")).unwrap_err();
        assert!(
            matches!(e, CredentialError::Helper { ref program, .. } if program.ends_with("docker-credential-nope"))
        );
        assert!(e.hint().contains("docker-credential-nope"), "{}", e.hint());
    }
}
