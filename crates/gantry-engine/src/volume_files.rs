//! A volume's files: list, export to a tar file, import from one. Read and written through a
//! helper container that mounts the volume and is never started: the engine's archive API reads
//! (and writes) the files of a created container, so this works with any local image and without
//! running anything. The helper is removed afterwards.
//!
//! Everything streams: listing reads tar headers as the bytes arrive (file contents are skipped,
//! never kept), export writes chunks to disk as they come, import sends the file in chunks after
//! checking, also chunk by chunk, that it is a complete archive. Memory stays bounded whatever
//! the volume or file size.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::RwLock;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::Engine;
use crate::containers::{ContainerFilter, RemoveOptions};
use crate::error::{EngineError, ResourceKind, Result};
use crate::run::{MountSpec, RunSpec};
use crate::transfer::{Existing, file_stream, write_stream_atomically};

/// Where the helper mounts the volume.
const MOUNT: &str = "/volume";
/// Label on helper containers, with [`helper_mark`] as its value. Any image or `docker run
/// --label` can carry the label itself; only the value marks a container as Gantry's (see
/// [`is_helper`]).
pub const HELPER_LABEL: &str = "dev.gantry.helper";
/// Most bytes read to list a volume (file contents included, streamed and dropped); bigger
/// volumes are listed partially.
pub const LIST_READ_LIMIT: u64 = 4 * 1024 * 1024 * 1024;
/// Most entries listed.
pub const MAX_ENTRIES: usize = 10_000;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VolumeListing {
    pub entries: Vec<VolumeEntry>,
    /// Not every entry is listed (the volume is very large).
    pub truncated: bool,
}

impl Engine {
    /// Lists every file of `volume` (up to [`MAX_ENTRIES`], reading at most [`LIST_READ_LIMIT`]).
    pub async fn list_volume_files(&self, volume: &str) -> Result<VolumeListing> {
        let helper = self.create_volume_helper(volume, true).await?;
        let result = async {
            let opts = DownloadFromContainerOptions { path: format!("{MOUNT}/.") };
            let id = helper.clone();
            let engine = self.clone();
            let bytes = self
                .docker
                .download_from_container(&helper, Some(opts))
                .map_err(move |e| std::io::Error::other(engine.err(e, ResourceKind::Volume, &id)));
            let reader = SyncIoBridge::new(StreamReader::new(bytes));
            tokio::task::spawn_blocking(move || read_listing(reader.take(LIST_READ_LIMIT), LIST_READ_LIMIT))
                .await
                .map_err(|e| EngineError::Protocol { message: format!("listing the volume stopped: {e}") })?
        }
        .await;
        self.remove_volume_helper(&helper).await;
        result
    }

    /// Reads the file at `path` (relative to the volume's root), at most `max_bytes` of it, through
    /// a read-only helper container (created, never started, removed). `Ok(None)` when the volume
    /// has no such file.
    pub async fn read_volume_file(
        &self,
        volume: &str,
        path: &str,
        max_bytes: usize,
    ) -> Result<Option<crate::ContainerFile>> {
        let helper = self.create_volume_helper(volume, true).await?;
        let full = format!("{MOUNT}/{}", path.trim_start_matches("./").trim_start_matches('/'));
        let result = self.read_container_file(&helper, &full, max_bytes).await;
        self.remove_volume_helper(&helper).await;
        result
    }

    /// Writes the volume's files to a tar file at `path`; returns its size. The file appears
    /// only when complete (a hidden `.NAME.partial` beside it until then); an existing one is
    /// replaced only with [`Existing::Replace`].
    pub async fn export_volume(&self, volume: &str, path: &Path, existing: Existing) -> Result<u64> {
        existing.check(path)?;
        let helper = self.create_volume_helper(volume, true).await?;
        let opts = DownloadFromContainerOptions { path: format!("{MOUNT}/.") };
        let stream = self.docker.download_from_container(&helper, Some(opts));
        let result =
            write_stream_atomically(path, existing, stream.map_err(|e| self.err(e, ResourceKind::Volume, volume)))
                .await;
        self.remove_volume_helper(&helper).await;
        result
    }

    /// Extracts a tar file into the volume (files with the same path are replaced). The whole
    /// file is checked first, so a damaged or cut-off archive changes nothing.
    pub async fn import_volume(&self, volume: &str, path: &Path) -> Result<()> {
        let owned = path.to_path_buf();
        tokio::task::spawn_blocking(move || check_archive_file(&owned))
            .await
            .map_err(|e| EngineError::Protocol { message: format!("checking the archive stopped: {e}") })??;
        let body = bollard::body_try_stream(file_stream(path).await?);
        let helper = self.create_volume_helper(volume, false).await?;
        let opts = UploadToContainerOptions { path: MOUNT.into(), ..Default::default() };
        let result = self
            .docker
            .upload_to_container(&helper, Some(opts), body)
            .await
            .map_err(|e| self.err(e, ResourceKind::Volume, volume));
        self.remove_volume_helper(&helper).await;
        result
    }

    /// Removes volume helpers left behind by a crash (or a kill) of an earlier Gantry: containers
    /// whose [`HELPER_LABEL`] carries this install's mark, and no other.
    pub async fn remove_stale_volume_helpers(&self) {
        if let Ok(list) = self.list_containers(&ContainerFilter { all: true, ..Default::default() }).await {
            for c in list.iter().filter(|c| is_helper(&c.labels)) {
                self.remove_volume_helper(&c.id).await;
            }
        }
    }

    /// Creates the helper container for `volume`; returns its ID.
    async fn create_volume_helper(&self, volume: &str, read_only: bool) -> Result<String> {
        let volume_info = self.inspect_volume(volume).await?;
        // Prefer the image of a container that uses the volume, then the smallest tagged local image.
        let mut image = None;
        if let Some(user) = volume_info.used_by.first() {
            image = self.inspect_container(user).await.ok().map(|c| c.image);
        }
        if image.is_none() {
            let mut images = self.list_images(false).await?;
            images.sort_by_key(|i| i.size);
            image = images.into_iter().find_map(|i| i.tags.into_iter().next());
        }
        let image = image.ok_or_else(|| EngineError::NoLocalImage { purpose: "reading a volume's files".into() })?;
        let mut spec = RunSpec::new(image);
        spec.command = vec!["true".into()];
        spec.mounts = vec![MountSpec { source: volume.to_string(), target: MOUNT.into(), read_only }];
        spec.labels = vec![(HELPER_LABEL.into(), helper_mark())];
        self.create_container(&spec).await
    }

    async fn remove_volume_helper(&self, id: &str) {
        if let Err(e) = self.remove_container(id, RemoveOptions { force: true, volumes: false }).await {
            tracing::warn!(helper = %id, "cannot remove the volume helper container: {e}");
        }
    }
}

/// The mark set by [`set_helper_mark`]; `None` until then (a random one is made on first use).
static HELPER_MARK: RwLock<Option<String>> = RwLock::new(None);

/// Uses `mark` as the value of [`HELPER_LABEL`] on the helpers this process creates and as the one
/// value [`is_helper`] accepts. Gantry passes a secret kept in its own folder, so that the helpers
/// an earlier run left behind are recognised and nothing else is: a container made by anyone else
/// with the label but without the secret stays visible and is never removed.
pub fn set_helper_mark(mark: &str) {
    if let Ok(mut slot) = HELPER_MARK.write() {
        *slot = Some(mark.to_string());
    }
}

/// The value of [`HELPER_LABEL`] on this process's helpers: the mark [`set_helper_mark`] set, else a
/// random one made on first use (then only this process's own helpers are recognised).
pub fn helper_mark() -> String {
    if let Some(mark) = HELPER_MARK.read().ok().and_then(|m| m.clone()) {
        return mark;
    }
    let Ok(mut slot) = HELPER_MARK.write() else { return random_mark() };
    slot.get_or_insert_with(random_mark).clone()
}

/// A new secret mark: 128 random bits from the operating system, in hex.
pub fn random_mark() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Without it, std's hash keys (also seeded by the system, once per process) still give
        // 128 bits no image can know in advance.
        tracing::warn!("no system randomness for the helper mark ({e}); using std's hash keys");
        use std::hash::{BuildHasher, RandomState};
        let (a, b) = (RandomState::new().hash_one(0u8), RandomState::new().hash_one(1u8));
        bytes = (u128::from(a) << 64 | u128::from(b)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a container with these labels is one of Gantry's helpers: its [`HELPER_LABEL`] carries
/// this install's mark ([`helper_mark`]), not just any value.
pub fn is_helper(labels: &BTreeMap<String, String>) -> bool {
    labels.get(HELPER_LABEL).is_some_and(|value| *value == helper_mark())
}

/// Reads a volume's tar stream into a listing, skipping file contents as they pass. Stops at
/// [`MAX_ENTRIES`]; a stream that ends early (at `read_limit` bytes, or cut off) ends the list and
/// marks it truncated. An error of the underlying stream (the engine) is returned as is.
pub fn read_listing(reader: impl Read, read_limit: u64) -> Result<VolumeListing> {
    let mut counted = CountingReader { inner: reader, count: 0, failure: None };
    let mut entries = Vec::new();
    let mut truncated = false;
    {
        let mut archive = tar::Archive::new(&mut counted);
        let iter = archive.entries().map_err(|e| EngineError::Protocol { message: format!("volume listing: {e}") })?;
        for entry in iter {
            let Ok(mut entry) = entry else {
                truncated = true;
                break;
            };
            if let Some(listed) = describe(&entry) {
                if entries.len() >= MAX_ENTRIES {
                    truncated = true;
                    break;
                }
                entries.push(listed);
            }
            // Skip the contents (streamed through a small buffer, never kept).
            if std::io::copy(&mut entry, &mut std::io::sink()).is_err() {
                truncated = true;
                break;
            }
        }
    }
    if let Some(e) = counted.failure.take() {
        return Err(e);
    }
    if counted.count >= read_limit {
        truncated = true;
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(VolumeListing { entries, truncated })
}

/// One tar entry as a listing row; `None` for the volume's root itself.
fn describe<R: Read>(entry: &tar::Entry<'_, R>) -> Option<VolumeEntry> {
    let header = entry.header();
    let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let path = path.trim_start_matches("./").trim_end_matches('/').to_string();
    if path.is_empty() || path == "." {
        return None;
    }
    let kind = match header.entry_type() {
        tar::EntryType::Directory => "dir",
        tar::EntryType::Regular | tar::EntryType::Continuous => "file",
        tar::EntryType::Symlink | tar::EntryType::Link => "symlink",
        _ => "other",
    };
    Some(VolumeEntry {
        path,
        kind: kind.into(),
        size: header.size().unwrap_or(0),
        mode: header.mode().unwrap_or(0) & 0o7777,
        modified: header.mtime().unwrap_or(0),
        link: entry.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()),
    })
}

/// Counts bytes read; keeps an engine error that came through the bridge so it is not mistaken
/// for a cut-off archive.
struct CountingReader<R> {
    inner: R,
    count: u64,
    failure: Option<EngineError>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.get_ref().is_some_and(|inner| inner.is::<EngineError>()) {
                    let message = e.to_string();
                    let original = e.into_inner().and_then(|b| b.downcast::<EngineError>().ok());
                    self.failure = Some(original.map_or(EngineError::Protocol { message }, |b| *b));
                    return Err(std::io::Error::other("engine stream failed"));
                }
                Err(e)
            }
        }
    }
}

/// Checks that the file at `path` is a complete tar archive with at least one entry, reading it
/// once in small chunks.
pub fn check_archive_file(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| EngineError::io("open", path.display(), e))?;
    check_archive(std::io::BufReader::new(file))
        .map_err(|reason| EngineError::InvalidArchive { path: path.display().to_string(), reason })
}

/// Reads a whole tar stream: every header must parse and every entry's contents must be there.
pub fn check_archive(reader: impl Read) -> std::result::Result<(), String> {
    let mut archive = tar::Archive::new(reader);
    let mut count = 0u64;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| format!("entry {}: {e}", count + 1))?;
        let expected = entry.header().size().map_err(|e| e.to_string())?;
        let read = std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| e.to_string())?;
        if read != expected {
            let name = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
            return Err(format!("{name} is cut off ({read} of {expected} bytes)"));
        }
        count += 1;
    }
    if count == 0 {
        return Err("it is empty".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        b.append_data(&mut dir.clone(), "./", std::io::empty()).expect("root");
        b.append_data(&mut dir, "./data/", std::io::empty()).expect("dir");
        let mut f = tar::Header::new_gnu();
        f.set_mode(0o644);
        f.set_size(5);
        b.append_data(&mut f, "./data/hello.txt", &b"hello"[..]).expect("file");
        b.into_inner().expect("tar")
    }

    #[test]
    fn lists_tar_entries_without_the_root() {
        let listing = read_listing(sample().as_slice(), u64::MAX).expect("listing");
        assert!(!listing.truncated);
        let paths: Vec<(&str, &str, u64)> =
            listing.entries.iter().map(|e| (e.path.as_str(), e.kind.as_str(), e.size)).collect();
        assert_eq!(paths, [("data", "dir", 0), ("data/hello.txt", "file", 5)]);
    }

    #[test]
    fn a_cut_off_stream_is_a_truncated_listing() {
        let bytes = sample();
        let listing = read_listing(&bytes[..1024 + 100], u64::MAX).expect("listing");
        assert!(listing.truncated, "{listing:?}");
        assert_eq!(listing.entries.len(), 1);
    }

    #[test]
    fn archives_are_checked_whole() {
        let bytes = sample();
        assert_eq!(check_archive(bytes.as_slice()), Ok(()));
        let cut = check_archive(&bytes[..1024 + 512 + 2]).expect_err("cut off");
        assert!(cut.contains("hello.txt"), "{cut}");
        assert!(check_archive(&[0u8; 1024][..]).is_err(), "empty archive");
        assert!(check_archive(&b"not a tar"[..]).is_err());
    }
}
