//! Registry logins shared with the docker CLI, kept where `docker login` keeps them:
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), either inline as
//! `auths.<server>.auth = base64(user:password)` or, when the file names a `credsStore` (or a
//! `credHelpers` entry for the server), in the `docker-credential-<name>` helper program.
//!
//! Every other key of config.json is kept; the file is rewritten atomically with mode 0600.
//!
//! The public calls are async and do their work on tokio's blocking pool, never on the async
//! executor's worker threads: a helper may be slow (a keychain prompt) or hang. A helper that has
//! not answered within [`HELPER_TIMEOUT`] is stopped (with everything it started) and reported.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gantry_engine::RegistryAuth;
use serde_json::{Map, Value};

/// Docker Hub's name in credential stores, as `docker login` writes it.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// Longest a credential helper may take to answer (a keychain may ask the user first).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The docker CLI's config directory (defined once, in the engine's context store): the registry
/// logins and the `gantry` docker context both live there.
pub use gantry_engine::contexts::docker_config_dir;

/// The logins in one docker config directory.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    dir: PathBuf,
    helper_dir: Option<PathBuf>,
    helper_timeout: Duration,
}

impl Default for CredentialStore {
    fn default() -> Self {
        Self::new(docker_config_dir())
    }
}

impl CredentialStore {
    /// The store in `dir` (which holds `config.json`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), helper_dir: None, helper_timeout: HELPER_TIMEOUT }
    }

    /// Stops helpers after `timeout` instead of [`HELPER_TIMEOUT`] (for tests).
    pub fn with_helper_timeout(mut self, timeout: Duration) -> Self {
        self.helper_timeout = timeout;
        self
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
    pub async fn get(&self, server: &str) -> Result<Option<RegistryAuth>> {
        let (store, server) = (self.clone(), server.to_string());
        off_the_executor(move || store.get_blocking(&server)).await
    }

    /// Stores a login (replacing the one for the same server).
    pub async fn store(&self, auth: &RegistryAuth) -> Result<()> {
        let (store, auth) = (self.clone(), auth.clone());
        off_the_executor(move || store.store_blocking(&auth)).await
    }

    /// Removes the login for `server`; nothing to remove is not an error.
    pub async fn erase(&self, server: &str) -> Result<()> {
        let (store, server) = (self.clone(), server.to_string());
        off_the_executor(move || store.erase_blocking(&server)).await
    }

    /// [`Self::get`] on the calling thread (which it may block while a helper runs).
    pub fn get_blocking(&self, server: &str) -> Result<Option<RegistryAuth>> {
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

    /// [`Self::store`] on the calling thread.
    pub fn store_blocking(&self, auth: &RegistryAuth) -> Result<()> {
        let server = normalize_server(&auth.server);
        let _one = gantry_machine::private_file::writer(); // read-modify-write: one at a time
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

    /// [`Self::erase`] on the calling thread.
    pub fn erase_blocking(&self, server: &str) -> Result<()> {
        let server = normalize_server(server);
        let _one = gantry_machine::private_file::writer(); // read-modify-write: one at a time
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
        gantry_machine::private_file::write_atomic(&path, text.as_bytes()).map_err(werr)
    }

    fn helper_program(&self, helper: &str) -> PathBuf {
        let name = format!("docker-credential-{helper}");
        match &self.helper_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// Runs `docker-credential-<helper> <action>` with `input` on stdin (no shell); its stdout.
    /// A helper that has not finished within the timeout is killed with its process group.
    fn run_helper(&self, helper: &str, action: &str, input: &str) -> Result<String> {
        let program = self.helper_program(helper);
        let name = program.display().to_string();
        let fail = |message: String| CredentialError::Helper { program: name.clone(), message };
        let mut command = Command::new(&program);
        command.arg(action).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| fail(format!("cannot start it: {e}")))?;
        // Read both outputs on their own threads so a chatty helper never blocks on a full pipe.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(1024 * 1024).read_to_end(&mut out);
                }
                out
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that does not read its input fails below; do not stop here.
            let _ = stdin.write_all(input.as_bytes());
        }
        let deadline = Instant::now() + self.helper_timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    stop_group(&mut child);
                    return Err(fail(format!(
                        "{action} did not answer within {} s and was stopped",
                        self.helper_timeout.as_secs_f32()
                    )));
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        };
        let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).trim().to_string();
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).trim().to_string();
            let said = if stdout.is_empty() { stderr } else { stdout };
            return Err(fail(format!("{action} exited with {status}: {said}")));
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

/// Runs blocking credential work on tokio's blocking pool (or right here outside a runtime).
async fn off_the_executor<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(work).await.unwrap_or_else(|e| {
            Err(CredentialError::Helper { program: "docker-credential-*".into(), message: format!("stopped: {e}") })
        }),
        Err(_) => work(),
    }
}

/// Kills a timed-out helper and whatever it started (its process group), then reaps it.
fn stop_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
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
        store.store_blocking(&auth("docker.io", "me", "pa:ss")).unwrap();
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
        assert_eq!(store.get_blocking("index.docker.io").unwrap(), Some(auth(DOCKER_HUB, "me", "pa:ss")));
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), Some(auth("ghcr.io", "x", "y")));
        assert_eq!(store.get_blocking("quay.io").unwrap(), None);

        store.erase_blocking("https://index.docker.io/v1/").unwrap();
        assert_eq!(store.get_blocking("docker.io").unwrap(), None);
        let v = json(&path);
        assert!(v["auths"].get(DOCKER_HUB).is_none());
        assert_eq!(v["psFormat"], "table {{.ID}}");
        store.erase_blocking("never-stored.example").unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["config.json"]);
    }

    #[test]
    fn a_missing_file_is_empty_and_a_corrupt_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(dir.path().join("new"));
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), None);
        store.store_blocking(&auth("ghcr.io", "u", "p")).unwrap();
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), Some(auth("ghcr.io", "u", "p")));

        std::fs::write(store.config_path(), "{not json").unwrap();
        assert!(matches!(store.store_blocking(&auth("ghcr.io", "u", "p")), Err(CredentialError::Corrupt { .. })));
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
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), None);
        store.store_blocking(&auth("https://ghcr.io", "me", "s3cret")).unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("s3cret") && !text.contains(&STANDARD.encode("me:s3cret")), "{text}");
        let v = json(&config);
        assert_eq!(v["auths"]["ghcr.io"], serde_json::json!({}));
        assert_eq!(v["currentContext"], "default");
        let db: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("helper.db")).unwrap()).unwrap();
        assert_eq!(db, serde_json::json!({"ServerURL": "ghcr.io", "Username": "me", "Secret": "s3cret"}));
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), Some(auth("ghcr.io", "me", "s3cret")));
        store.erase_blocking("ghcr.io").unwrap();
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), None);
        assert!(json(&config)["auths"].get("ghcr.io").is_none());
        store.erase_blocking("ghcr.io").unwrap();
    }

    #[test]
    fn config_json_properties() {
        use gantry_testkit::prop::check;
        use gantry_testkit::prop::proptest::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(dir.path());
        // Whatever config.json holds: a specific error or an answer, never a panic.
        let json_ish = prop_oneof![
            any::<String>(),
            r#"\{"(auths|credsStore|credHelpers)": ?(\{"[a-z.:/]{0,12}": ?\{"auth": ?"[A-Za-z0-9+/=:]{0,12}"\}\}|"[a-z]{0,5}"|\[\]|1|null)\}"#,
        ];
        check("credentials config.json: arbitrary content", file!(), 0, json_ish, |text| {
            std::fs::write(store.config_path(), &text).unwrap();
            let _ = store.get_blocking("ghcr.io");
            let _ = store.get_blocking("docker.io");
            if store.store_blocking(&auth("ghcr.io", "u", "p")).is_err() {
                prop_assert_eq!(
                    std::fs::read_to_string(store.config_path()).unwrap(),
                    text,
                    "a refused store keeps the file"
                );
            }
            Ok(())
        });
        let login = ("[a-z0-9.-]{1,20}(:[0-9]{1,5})?", "[^:\\x00]{0,20}", "\\PC{0,30}");
        check("credentials config.json: store then get round trip", file!(), 0, login, |(server, user, password)| {
            let _ = std::fs::remove_file(store.config_path());
            let stored = auth(&server, &user, &password);
            store.store_blocking(&stored).unwrap();
            let got = store.get_blocking(&server).unwrap();
            prop_assert_eq!(got, Some(auth(&normalize_server(&server), &user, &password)));
            Ok(())
        });
    }

    /// A helper that never answers is stopped after the timeout, with a specific error, and the
    /// async executor keeps running meanwhile (the helper runs on the blocking pool).
    #[cfg(unix)]
    #[tokio::test(flavor = "current_thread")]
    async fn a_helper_that_never_answers_is_stopped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-stuck");
        // It also starts a child that keeps the output pipe open: both must be stopped.
        std::fs::write(&script, "#!/bin/sh\nsleep 600 &\nsleep 600\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"credsStore":"stuck"}"#).unwrap();
        let store =
            CredentialStore::new(dir.path()).with_helper_dir(dir.path()).with_helper_timeout(Duration::from_secs(2));
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let bounded = tokio::time::timeout(Duration::from_secs(60), store.get("ghcr.io")).await;
        ticker.abort();
        let err = bounded.expect("the timeout stops the helper").unwrap_err();
        assert!(matches!(&err, CredentialError::Helper { message, .. } if message.contains("did not answer")), "{err}");
        let ticks = ticks.load(std::sync::atomic::Ordering::Relaxed);
        assert!(ticks >= 5, "the executor was blocked while the helper ran ({ticks} ticks)");
        gantry_testkit::reliability::fault(
            "a docker-credential helper that never answers (and starts a child that never exits)",
            "stopped with its children after the timeout; a specific error; the async executor keeps running",
            "Helper error \"get did not answer within 2 s and was stopped\"; the executor's timer kept ticking",
        );
    }

    #[cfg(unix)]
    #[test]
    fn cred_helpers_apply_per_server_and_a_missing_helper_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fake_helper(dir.path());
        std::fs::write(dir.path().join("config.json"), r#"{"credHelpers":{"ghcr.io":"fake","quay.io":"nope"}}"#)
            .unwrap();
        let store = CredentialStore::new(dir.path()).with_helper_dir(dir.path());
        store.store_blocking(&auth("ghcr.io", "me", "s3cret")).unwrap();
        assert_eq!(store.get_blocking("ghcr.io").unwrap(), Some(auth("ghcr.io", "me", "s3cret")));
        store.store_blocking(&auth("127.0.0.1:5000", "u", "p")).unwrap();
        assert_eq!(json(&store.config_path())["auths"]["127.0.0.1:5000"]["auth"], STANDARD.encode("u:p"));
        let e = store.store_blocking(&auth("quay.io", "u", "p")).unwrap_err();
        assert!(
            matches!(e, CredentialError::Helper { ref program, .. } if program.ends_with("docker-credential-nope"))
        );
        assert!(e.hint().contains("docker-credential-nope"), "{}", e.hint());
    }
}
