//! The Docker context `gantry`, written directly into the docker CLI's config directory
//! (`$DOCKER_CONFIG` or `~/.docker`): `contexts/meta/<sha256(name)>/meta.json`; and, when Gantry
//! was installed with the compose and buildx plugins it bundles, their directory in the docker
//! CLI's `config.json` (`cliPluginsExtraDirs`), so `docker compose` works without root.

use std::path::{Path, PathBuf};

use gantry_machine::local::LocalEndpoint;

/// The context's name.
pub const CONTEXT_NAME: &str = "gantry";

use gantry_engine::contexts::ContextStore;
/// The docker CLI's config directory (one definition, in the engine's context store).
pub use gantry_engine::contexts::docker_config_dir;

/// The meta.json path of context `name` under `config_dir`.
pub fn meta_path(config_dir: &Path, name: &str) -> PathBuf {
    ContextStore::new(config_dir).meta_path(name)
}

/// The context's meta.json content.
pub fn meta_json(name: &str, engine: &LocalEndpoint) -> serde_json::Value {
    serde_json::json!({
        "Name": name,
        "Metadata": { "Description": "Gantry's VM (rootless)" },
        "Endpoints": {
            "docker": { "Host": engine.to_string(), "SkipTLSVerify": false }
        }
    })
}

/// The docker CLI plugins an installed Gantry bundles: `<program dir>/../lib/gantry/cli-plugins`
/// (`/usr/bin/gantry` → `/usr/lib/gantry/cli-plugins`, installer/build-deb.sh), if it exists.
pub fn bundled_plugin_dir(program: &Path) -> Option<PathBuf> {
    let dir = program.parent()?.parent()?.join("lib").join("gantry").join("cli-plugins");
    dir.is_dir().then_some(dir)
}

/// Adds `plugin_dir` to `cliPluginsExtraDirs` in `config_dir/config.json` (created if missing),
/// keeping every other setting. Returns whether the file changed. A config.json that is not a
/// JSON object is an error and stays untouched.
pub fn ensure_plugin_dir(config_dir: &Path, plugin_dir: &Path) -> std::io::Result<bool> {
    let path = config_dir.join("config.json");
    let mut config = match std::fs::read(&path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => serde_json::json!({}),
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not JSON: {e}", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(e),
    };
    let not_an_object =
        || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not a JSON object", path.display()));
    let object = config.as_object_mut().ok_or_else(not_an_object)?;
    let wanted = serde_json::Value::String(plugin_dir.to_string_lossy().into_owned());
    let dirs = object.entry("cliPluginsExtraDirs").or_insert_with(|| serde_json::json!([]));
    let list = dirs.as_array_mut().ok_or_else(not_an_object)?;
    if list.contains(&wanted) {
        return Ok(false);
    }
    list.push(wanted);
    let json = serde_json::to_vec_pretty(&config).map_err(std::io::Error::other)?;
    crate::private_file::write_atomic(&path, &json)?;
    Ok(true)
}

/// Creates or updates the context to point at `engine` (`unix://...`, or `npipe://...` on
/// Windows); when this program was installed with bundled docker CLI plugins, registers their
/// directory too ([`ensure_plugin_dir`]).
pub fn ensure(config_dir: &Path, engine: &LocalEndpoint) -> std::io::Result<PathBuf> {
    let p = meta_path(config_dir, CONTEXT_NAME);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(&meta_json(CONTEXT_NAME, engine)).map_err(std::io::Error::other)?;
    if std::fs::read(&p).ok().as_deref() != Some(&json[..]) {
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, &json)?;
        std::fs::rename(&tmp, &p)?;
    }
    if let Some(dir) = std::env::current_exe().ok().as_deref().and_then(bundled_plugin_dir) {
        ensure_plugin_dir(config_dir, &dir)?;
    }
    Ok(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_where_the_docker_cli_looks() {
        // the docker CLI's digest of "gantry"
        assert_eq!(gantry_engine::contexts::context_dir_name("default").len(), 64);
        let t = tempfile::tempdir().unwrap();
        let p = ensure(t.path(), &LocalEndpoint::Socket("/x/docker.sock".into())).unwrap();
        assert!(p.starts_with(t.path().join("contexts/meta")));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["Endpoints"]["docker"]["Host"], "unix:///x/docker.sock");
        assert_eq!(v["Name"], "gantry");
    }

    #[test]
    fn plugin_dir_is_added_once_and_other_settings_stay() {
        let t = tempfile::tempdir().unwrap();
        let config = t.path().join("config.json");
        std::fs::write(&config, r#"{"auths":{"r.example":{"auth":"eA=="}},"cliPluginsExtraDirs":["/opt/x"]}"#).unwrap();
        assert!(ensure_plugin_dir(t.path(), Path::new("/usr/lib/gantry/cli-plugins")).unwrap());
        assert!(!ensure_plugin_dir(t.path(), Path::new("/usr/lib/gantry/cli-plugins")).unwrap(), "no second entry");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        assert_eq!(v["cliPluginsExtraDirs"], serde_json::json!(["/opt/x", "/usr/lib/gantry/cli-plugins"]));
        assert_eq!(v["auths"]["r.example"]["auth"], "eA==");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn missing_config_is_created_and_a_broken_one_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        assert!(ensure_plugin_dir(t.path(), Path::new("/p")).unwrap());
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(t.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"cliPluginsExtraDirs": ["/p"]}));
        for broken in ["{not json", "[1, 2]", r#"{"cliPluginsExtraDirs": "/p"}"#] {
            std::fs::write(t.path().join("config.json"), broken).unwrap();
            assert!(ensure_plugin_dir(t.path(), Path::new("/q")).is_err(), "{broken}");
            assert_eq!(std::fs::read_to_string(t.path().join("config.json")).unwrap(), broken);
        }
    }

    #[test]
    fn bundled_plugins_are_found_beside_the_installed_program() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("usr/bin")).unwrap();
        assert_eq!(bundled_plugin_dir(&t.path().join("usr/bin/gantry")), None);
        std::fs::create_dir_all(t.path().join("usr/lib/gantry/cli-plugins")).unwrap();
        assert_eq!(
            bundled_plugin_dir(&t.path().join("usr/bin/gantry")),
            Some(t.path().join("usr/lib/gantry/cli-plugins"))
        );
    }
}
