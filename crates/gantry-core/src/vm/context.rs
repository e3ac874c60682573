//! The Docker context `gantry`, written directly into the docker CLI's config directory
//! (`$DOCKER_CONFIG` or `~/.docker`): `contexts/meta/<sha256(name)>/meta.json`.

use std::path::{Path, PathBuf};

/// The context's name.
pub const CONTEXT_NAME: &str = "gantry";

/// The docker CLI's config directory.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".docker")
}

fn hex_sha256(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The meta.json path of context `name` under `config_dir`.
pub fn meta_path(config_dir: &Path, name: &str) -> PathBuf {
    config_dir.join("contexts").join("meta").join(hex_sha256(name)).join("meta.json")
}

/// The context's meta.json content.
pub fn meta_json(name: &str, socket: &Path) -> serde_json::Value {
    serde_json::json!({
        "Name": name,
        "Metadata": { "Description": "Gantry's VM (rootless)" },
        "Endpoints": {
            "docker": { "Host": format!("unix://{}", socket.display()), "SkipTLSVerify": false }
        }
    })
}

/// Creates or updates the context to point at `socket`.
pub fn ensure(config_dir: &Path, socket: &Path) -> std::io::Result<PathBuf> {
    let p = meta_path(config_dir, CONTEXT_NAME);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(&meta_json(CONTEXT_NAME, socket)).map_err(std::io::Error::other)?;
    if std::fs::read(&p).ok().as_deref() != Some(&json[..]) {
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, &json)?;
        std::fs::rename(&tmp, &p)?;
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
        assert_eq!(hex_sha256("default").len(), 64);
        let t = tempfile::tempdir().unwrap();
        let p = ensure(t.path(), Path::new("/x/docker.sock")).unwrap();
        assert!(p.starts_with(t.path().join("contexts/meta")));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["Endpoints"]["docker"]["Host"], "unix:///x/docker.sock");
        assert_eq!(v["Name"], "gantry");
    }
}
