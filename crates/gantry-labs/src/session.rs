//! Starting a lab for a learner: a snapshot of the engine, a work folder with the starter files,
//! host ports that are free, saved progress; and the context its checks are evaluated in.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use gantry_engine::{Endpoint, Engine};

use crate::error::{LabError, Result};
use crate::eval::Context;
use crate::lab::Lab;
use crate::placeholders::Values;
use crate::progress::{Progress, ProgressStore, Snapshot, now_secs};

/// How to choose the host ports a lab declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChoice {
    /// The lab's usual port when it is free, another free one otherwise (learners).
    Usual,
    /// Always a free port the system picks (tests running side by side).
    AnyFree,
}

/// True when nothing listens on 127.0.0.1:`port`.
fn is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn any_free_port() -> Result<u16> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(|e| LabError::io("bind", Path::new("127.0.0.1:0"), e))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| LabError::io("bind", Path::new("127.0.0.1:0"), e))
}

/// Host ports for the lab's declared ports.
pub fn choose_ports(lab: &Lab, choice: PortChoice) -> Result<BTreeMap<String, u16>> {
    let mut chosen = BTreeMap::new();
    for (name, usual) in &lab.ports {
        let port = match choice {
            PortChoice::Usual if is_free(*usual) && !chosen.values().any(|p| p == usual) => *usual,
            _ => loop {
                let p = any_free_port()?;
                if !chosen.values().any(|c| *c == p) {
                    break p;
                }
            },
        };
        chosen.insert(name.clone(), port);
    }
    Ok(chosen)
}

/// Copies the lab's starter files into `work_dir` (created; existing files are replaced), with
/// placeholders in text files filled in (e.g. a compose file's `{{lab.port.web}}:80`).
pub fn copy_starter_files(lab: &Lab, work_dir: &Path, values: &Values) -> Result<()> {
    std::fs::create_dir_all(work_dir).map_err(|e| LabError::io("create", work_dir, e))?;
    if let Some(folder) = &lab.starter_files {
        copy_tree(&lab.dir.join(folder), work_dir, values)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, values: &Values) -> Result<()> {
    let entries = std::fs::read_dir(from).map_err(|e| LabError::io("read", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LabError::io("read", from, e))?;
        let kind = entry.file_type().map_err(|e| LabError::io("read", &entry.path(), e))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| LabError::io("create", &target, e))?;
            copy_tree(&entry.path(), &target, values)?;
        } else if kind.is_file() {
            copy_file(&entry.path(), &target, values)?;
        }
    }
    Ok(())
}

/// Copies one file of a lab into the work folder, placeholders filled in when it is text.
pub fn copy_file(from: &Path, to: &Path, values: &Values) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| LabError::io("read", from, e))?;
    let bytes = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("{{lab.") => crate::placeholders::substitute(text, values).into_bytes(),
        _ => bytes,
    };
    std::fs::write(to, bytes).map_err(|e| LabError::io("write", to, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(from).map(|m| m.permissions().mode()).unwrap_or(0o644);
        let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

/// Starts `lab`: takes a snapshot of the engine, fills `work_root/<lab id>` with the starter
/// files, chooses ports and saves the progress (when a store is given). A lab already started is
/// resumed as it was.
pub async fn start(
    engine: &Engine,
    lab: &Lab,
    store: Option<&ProgressStore>,
    work_root: &Path,
    ports: PortChoice,
) -> Result<Progress> {
    if let Some(existing) = store.map(|s| s.load(&lab.id)).transpose()?.flatten() {
        return Ok(existing);
    }
    fresh(engine, lab, store, work_root.join(&lab.id), ports).await
}

/// A new start of `lab` in `work_dir`, whatever was saved before.
pub(crate) async fn fresh(
    engine: &Engine,
    lab: &Lab,
    store: Option<&ProgressStore>,
    work_dir: PathBuf,
    ports: PortChoice,
) -> Result<Progress> {
    let snapshot = Snapshot::take(engine).await?;
    std::fs::create_dir_all(&work_dir).map_err(|e| LabError::io("create", &work_dir, e))?;
    let work_dir = std::fs::canonicalize(&work_dir).unwrap_or(work_dir);
    let ports = choose_ports(lab, ports)?;
    let values = Values { dir: work_dir.to_string_lossy().into_owned(), ports: ports.clone() };
    copy_starter_files(lab, &work_dir, &values)?;
    let progress = Progress {
        lab: lab.id.clone(),
        started_at: now_secs(),
        work_dir,
        ports,
        current_step: 0,
        passed: Vec::new(),
        snapshot,
    };
    if let Some(store) = store {
        store.save(&progress)?;
    }
    Ok(progress)
}

/// The images `lab` declares that the engine does not have yet (to pull before starting).
pub async fn missing_images(engine: &Engine, lab: &Lab) -> Result<Vec<String>> {
    let images = engine.list_images(false).await?;
    let tags: Vec<&str> = images.iter().flat_map(|i| i.tags.iter().map(String::as_str)).collect();
    Ok(lab
        .images
        .iter()
        .filter(|want| !tags.iter().any(|have| crate::eval::same_reference(have, want)))
        .cloned()
        .collect())
}

/// Where published ports answer for `endpoint`: its host for `tcp://`, else 127.0.0.1.
pub fn http_host(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Tcp { address, .. } => {
            let host = address.rsplit_once(':').map_or(address.as_str(), |(h, _)| h);
            host.trim_start_matches('[').trim_end_matches(']').to_string()
        }
        _ => "127.0.0.1".to_string(),
    }
}

/// The context a learner's checks are evaluated in.
pub fn context(progress: &Progress, endpoint: &Endpoint) -> Context {
    Context {
        values: Values { dir: progress.work_dir.to_string_lossy().into_owned(), ports: progress.ports.clone() },
        work_dir: progress.work_dir.clone(),
        http_host: http_host(endpoint),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_answer_on_the_engines_host() {
        assert_eq!(http_host(&Endpoint::Unix("/run/d.sock".into())), "127.0.0.1");
        assert_eq!(http_host(&Endpoint::Tcp { address: "10.0.0.5:2375".into(), tls: None }), "10.0.0.5");
        assert_eq!(http_host(&Endpoint::Tcp { address: "[::1]:2375".into(), tls: None }), "::1");
    }
}
