//! Which compose files make a project: a file or folder the user opens, or the labels compose
//! puts on the containers it starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The files `docker compose` looks for in a folder, in its order of preference.
pub const COMPOSE_FILE_NAMES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// Label compose sets to the project's folder.
pub const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";
/// Label compose sets to the project's compose files, comma-separated.
pub const CONFIG_FILES_LABEL: &str = "com.docker.compose.project.config_files";
/// Label compose sets to the project's environment files (`--env-file`, or the `.env` it read),
/// comma-separated.
pub const ENV_FILES_LABEL: &str = "com.docker.compose.project.environment_file";

/// A compose project as `docker compose` is told about it: by its files, or by its name alone
/// (enough for stop, restart, down and logs of a project whose files are not on this computer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ComposeTarget {
    /// The project name (`--project-name`); `None`: compose derives it from the files.
    pub name: Option<String>,
    /// The folder relative paths are resolved against (`--project-directory`).
    pub working_dir: Option<String>,
    /// The compose files (`--file`), in order; empty when the project is addressed by name only.
    pub files: Vec<String>,
    /// The environment files compose reads instead of the folder's `.env` (`--env-file`), in
    /// order.
    #[serde(default)]
    pub env_files: Vec<String>,
    /// The profiles `up` enables (`--profile`) besides the services without one; the other
    /// verbs act on the services of every profile.
    #[serde(default)]
    pub profiles: Vec<String>,
}

/// Why no compose file was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{dir} holds no compose file (looked for {})", COMPOSE_FILE_NAMES.join(", "))]
    NoComposeFile { dir: PathBuf },
    #[error("{path} is not an absolute path")]
    NotAbsolute { path: PathBuf },
}

/// The compose file at `path`: the file itself, or the first of [`COMPOSE_FILE_NAMES`] in the
/// folder `path`.
pub fn find_compose_file(path: &Path) -> Result<PathBuf, FindError> {
    if !path.is_absolute() {
        return Err(FindError::NotAbsolute { path: path.to_path_buf() });
    }
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(FindError::NotFound { path: path.to_path_buf() });
    }
    COMPOSE_FILE_NAMES
        .iter()
        .map(|name| path.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| FindError::NoComposeFile { dir: path.to_path_buf() })
}

/// Whether `name` is a project name compose accepts: lowercase letters, digits, `-` and `_`,
/// starting with a letter or digit (so it can never read as an option).
pub fn valid_project_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `name` is a profile or service name compose accepts: letters, digits, `_`, `.` and
/// `-`, starting with a letter or digit (so it can never read as an option).
pub fn valid_compose_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The target of the project whose container carries `labels`; `file_exists` says whether a
/// compose file is on this computer. The files and folder are kept only when every file is
/// there (a project started elsewhere is addressed by name).
pub fn target_from_labels(
    labels: &BTreeMap<String, String>,
    file_exists: impl Fn(&Path) -> bool,
) -> Option<ComposeTarget> {
    let name = labels.get(gantry_engine::containers::COMPOSE_PROJECT_LABEL)?.trim();
    if !valid_project_name(name) {
        return None;
    }
    let paths = |label: &str| -> Vec<String> {
        labels
            .get(label)
            .map(|f| f.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (files, env_files) = (paths(CONFIG_FILES_LABEL), paths(ENV_FILES_LABEL));
    let working_dir = labels.get(WORKING_DIR_LABEL).map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    let here = |f: &String| Path::new(f).is_absolute() && file_exists(Path::new(f));
    let all_here = !files.is_empty() && files.iter().all(here) && env_files.iter().all(here);
    Some(if all_here {
        ComposeTarget { name: Some(name.to_string()), working_dir, files, env_files, profiles: Vec::new() }
    } else {
        ComposeTarget { name: Some(name.to_string()), ..Default::default() }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_opens_its_compose_file_in_composes_order() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_compose_file(dir.path()), Err(FindError::NoComposeFile { dir: dir.path().to_path_buf() }));
        std::fs::write(dir.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        assert_eq!(find_compose_file(dir.path()).unwrap(), dir.path().join("docker-compose.yml"));
        std::fs::write(dir.path().join("compose.yaml"), "services: {}\n").unwrap();
        assert_eq!(find_compose_file(dir.path()).unwrap(), dir.path().join("compose.yaml"));
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, "services: {}\n").unwrap();
        assert_eq!(find_compose_file(&other).unwrap(), other);
        let missing = dir.path().join("nope");
        assert_eq!(find_compose_file(&missing), Err(FindError::NotFound { path: missing.clone() }));
        assert!(matches!(find_compose_file(Path::new("compose.yaml")), Err(FindError::NotAbsolute { .. })));
        let message = FindError::NoComposeFile { dir: "/x".into() }.to_string();
        assert!(message.contains("compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml"), "{message}");
    }

    #[test]
    fn project_names_follow_composes_rule() {
        for ok in ["web", "my-app_2", "0app"] {
            assert!(valid_project_name(ok), "{ok}");
        }
        for bad in ["", "-p", "_x", "My", "a b", "a/b", "ä"] {
            assert!(!valid_project_name(bad), "{bad}");
        }
    }

    #[test]
    fn profile_and_service_names_follow_composes_rule() {
        for ok in ["debug", "Ops.2", "a", "x_y-z"] {
            assert!(valid_compose_name(ok), "{ok}");
        }
        for bad in ["", "-p", "*", ".x", "a b", "a=b", "ä"] {
            assert!(!valid_compose_name(bad), "{bad}");
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn labels_give_files_only_when_they_are_here() {
        // compose writes the client's own absolute paths (a drive letter on Windows)
        let (dir, sep) = if cfg!(windows) { (r"C:\u\shop", r"\") } else { ("/home/u/shop", "/") };
        let files = format!("{dir}{sep}compose.yaml,{dir}{sep}compose.override.yaml");
        let l = labels(&[
            ("com.docker.compose.project", "shop"),
            (WORKING_DIR_LABEL, dir),
            (CONFIG_FILES_LABEL, files.as_str()),
        ]);
        let here = target_from_labels(&l, |_| true).unwrap();
        assert_eq!(here.name.as_deref(), Some("shop"));
        assert_eq!(here.working_dir.as_deref(), Some(dir));
        assert_eq!(here.files.len(), 2);
        assert!(here.env_files.is_empty());
        let mut with_env = l.clone();
        let env_file = format!("{dir}{sep}.env.prod");
        with_env.insert(ENV_FILES_LABEL.into(), env_file.clone());
        assert_eq!(target_from_labels(&with_env, |_| true).unwrap().env_files, [env_file]);
        // Without its environment file, the project is addressed by name (its files would read differently).
        let no_env = target_from_labels(&with_env, |p| !p.ends_with(".env.prod")).unwrap();
        assert!(no_env.files.is_empty() && no_env.env_files.is_empty());
        let elsewhere = target_from_labels(&l, |p| p.ends_with("compose.yaml")).unwrap();
        assert_eq!(elsewhere, ComposeTarget { name: Some("shop".into()), ..Default::default() });
        assert_eq!(target_from_labels(&labels(&[("other", "x")]), |_| true), None);
        assert_eq!(target_from_labels(&labels(&[("com.docker.compose.project", "-rm")]), |_| true), None);
    }
}
