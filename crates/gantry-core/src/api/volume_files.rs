//! A volume's files, read through a helper container that mounts the volume and is never started:
//! the engine's archive API reads (and writes) the files of a created container, so this works
//! with any local image and without running anything. The helper is removed afterwards.
//!
//! (A candidate to move into gantry-engine as `Engine::volume_archive` once it settles.)

use std::io::Read;
use std::path::Path;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;
use gantry_engine::{ContainerFilter, Engine, MountSpec, RemoveOptions, RunSpec};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult};

/// Where the helper mounts the volume.
const MOUNT: &str = "/volume";
/// Label on helper containers, so a crash leftover can be recognised.
pub const HELPER_LABEL: &str = "dev.gantry.helper";
/// Most bytes read to list a volume; bigger volumes are listed partially.
const LIST_LIMIT: usize = 256 * 1024 * 1024;
/// Most entries listed.
const MAX_ENTRIES: usize = 10_000;

/// One file or directory in a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolumeEntry {
    /// Path inside the volume, e.g. `data/db.sqlite`.
    pub path: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: String,
    pub size: u64,
    /// Unix permission bits, e.g. 0o644.
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub modified: u64,
    /// Target of a symbolic link.
    pub link: Option<String>,
}

/// A volume's files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolumeListing {
    pub entries: Vec<VolumeEntry>,
    /// Not every entry is listed (the volume is very large).
    pub truncated: bool,
}

fn engine_error(e: bollard::errors::Error, what: &str) -> ApiError {
    ApiError::new("engine_error", format!("{what}: {e}"), "Retry; if it persists, check the engine logs.")
}

/// Creates the helper container for `volume`; returns its ID.
async fn create_helper(engine: &Engine, volume: &str, read_only: bool) -> ApiResult<String> {
    let volume_info = engine.inspect_volume(volume).await?;
    // Prefer the image of a container that uses the volume, then any tagged local image.
    let mut image = None;
    if let Some(user) = volume_info.used_by.first() {
        image = engine.inspect_container(user).await.ok().map(|c| c.image);
    }
    if image.is_none() {
        let mut images = engine.list_images(false).await?;
        images.sort_by_key(|i| i.size);
        image = images.into_iter().find_map(|i| i.tags.into_iter().next());
    }
    let image = image.ok_or_else(|| {
        ApiError::new(
            "no_image",
            "reading a volume needs any image on the engine, and there is none",
            "pull or load a small image such as busybox, then try again",
        )
    })?;
    let mut spec = RunSpec::new(image);
    spec.command = vec!["true".into()];
    spec.mounts = vec![MountSpec { source: volume.to_string(), target: MOUNT.into(), read_only }];
    spec.labels = vec![(HELPER_LABEL.into(), "volume-files".into())];
    Ok(engine.create_container(&spec).await?)
}

async fn remove_helper(engine: &Engine, id: &str) {
    let _ = engine.remove_container(id, RemoveOptions { force: true, volumes: false }).await;
}

/// Removes helpers left by a crash.
pub async fn remove_stale_helpers(engine: &Engine) {
    if let Ok(list) = engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await {
        for c in list.iter().filter(|c| c.labels.contains_key(HELPER_LABEL)) {
            remove_helper(engine, &c.id).await;
        }
    }
}

/// Lists every file of `volume` (up to [`MAX_ENTRIES`]).
pub async fn list(engine: &Engine, volume: &str) -> ApiResult<VolumeListing> {
    let helper = create_helper(engine, volume, true).await?;
    let result = async {
        let opts = DownloadFromContainerOptions { path: format!("{MOUNT}/.") };
        let mut stream = engine.raw().download_from_container(&helper, Some(opts));
        let mut buf = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| engine_error(e, "reading the volume"))?;
            buf.extend_from_slice(&chunk);
            if buf.len() > LIST_LIMIT {
                truncated = true;
                break;
            }
        }
        let (entries, more) = parse_listing(&buf);
        Ok(VolumeListing { entries, truncated: truncated || more })
    }
    .await;
    remove_helper(engine, &helper).await;
    result
}

/// Reads tar headers into entries; true when there were more than [`MAX_ENTRIES`]. A cut-off
/// archive (listing limit) just ends the list.
pub fn parse_listing(tar_bytes: &[u8]) -> (Vec<VolumeEntry>, bool) {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = Vec::new();
    let Ok(iter) = archive.entries() else { return (entries, false) };
    for entry in iter {
        let Ok(mut entry) = entry else { break };
        let header = entry.header();
        let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let path = path.trim_start_matches("./").trim_end_matches('/').to_string();
        if path.is_empty() || path == "." {
            continue;
        }
        if entries.len() >= MAX_ENTRIES {
            return (entries, true);
        }
        let kind = match header.entry_type() {
            tar::EntryType::Directory => "dir",
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Symlink | tar::EntryType::Link => "symlink",
            _ => "other",
        };
        entries.push(VolumeEntry {
            path,
            kind: kind.into(),
            size: header.size().unwrap_or(0),
            mode: header.mode().unwrap_or(0) & 0o7777,
            modified: header.mtime().unwrap_or(0),
            link: entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()),
        });
        // Skip the contents.
        let _ = std::io::copy(&mut entry.by_ref().take(u64::MAX), &mut std::io::sink());
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    (entries, false)
}

/// Writes the volume's files to a tar file at `path`; returns its size. The file appears only
/// when complete.
pub async fn export(engine: &Engine, volume: &str, path: &Path) -> ApiResult<u64> {
    let io = |e: std::io::Error| {
        ApiError::new("io", format!("cannot write {}: {e}", path.display()), "check the folder exists and is writable")
    };
    let helper = create_helper(engine, volume, true).await?;
    let tmp = path.with_extension("tar.part");
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let opts = DownloadFromContainerOptions { path: format!("{MOUNT}/.") };
        let mut stream = engine.raw().download_from_container(&helper, Some(opts));
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| engine_error(e, "reading the volume"))?;
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, path).await.map_err(io)?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    remove_helper(engine, &helper).await;
    result
}

/// Extracts a tar file into the volume (files with the same path are replaced).
pub async fn import(engine: &Engine, volume: &str, path: &Path) -> ApiResult<()> {
    let data = tokio::fs::read(path).await.map_err(|e| {
        ApiError::new("io", format!("cannot read {}: {e}", path.display()), "choose an existing .tar file")
    })?;
    if tar::Archive::new(data.as_slice()).entries().map(|mut e| e.next().is_none()).unwrap_or(true) {
        return Err(ApiError::new(
            "invalid_archive",
            format!("{} is not a tar archive (or is empty)", path.display()),
            "choose a .tar file, e.g. one made by Export",
        ));
    }
    let helper = create_helper(engine, volume, false).await?;
    let opts = UploadToContainerOptions { path: MOUNT.into(), ..Default::default() };
    let result = engine
        .raw()
        .upload_to_container(&helper, Some(opts), bollard::body_full(data.into()))
        .await
        .map_err(|e| engine_error(e, "writing to the volume"));
    remove_helper(engine, &helper).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_tar_entries_without_the_root() -> Result<(), Box<dyn std::error::Error>> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        b.append_data(&mut dir.clone(), "./", std::io::empty())?;
        b.append_data(&mut dir, "./data/", std::io::empty())?;
        let mut f = tar::Header::new_gnu();
        f.set_mode(0o644);
        f.set_size(5);
        b.append_data(&mut f, "./data/hello.txt", &b"hello"[..])?;
        let bytes = b.into_inner()?;
        let (entries, more) = parse_listing(&bytes);
        assert!(!more);
        let paths: Vec<(&str, &str, u64)> =
            entries.iter().map(|e| (e.path.as_str(), e.kind.as_str(), e.size)).collect();
        assert_eq!(paths, [("data", "dir", 0), ("data/hello.txt", "file", 5)]);
        Ok(())
    }
}
