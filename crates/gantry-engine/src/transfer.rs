//! Moving images in and out of the engine as files: save, load, import a root filesystem.

use std::path::{Path, PathBuf};

use bollard::query_parameters::{CreateImageOptions, ImportImageOptions};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};
use crate::images::{split_tag, validate_reference};
use crate::stream::{EngineStream, channel_stream};

/// How an engine keeps its images, which decides what `docker save` writes and `docker load`
/// accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStore {
    /// The graph-driver store (overlay2, …): one platform per image name; `docker save` writes a
    /// single-platform archive (with an OCI layout beside `manifest.json` from Docker 25 on).
    Classic,
    /// The containerd image store (`containerd-snapshotter`, Gantry's VM): an image name can hold
    /// several platforms; `docker save` writes an OCI layout with every platform present locally
    /// and `docker load` keeps every platform of an OCI index.
    Containerd,
}

/// Bytes per chunk when a file is sent as a request body.
const CHUNK: usize = 256 * 1024;

/// Opens a file as a byte stream for a request body (read in [`CHUNK`]s, never whole).
pub(crate) async fn file_stream(path: &Path) -> Result<ReaderStream<tokio::fs::File>> {
    let file = tokio::fs::File::open(path).await.map_err(|e| EngineError::io("open", path.display(), e))?;
    Ok(ReaderStream::with_capacity(file, CHUNK))
}

/// The hidden name a download is written under until it is complete: `dir/.NAME.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "download".into());
    dir.join(format!(".{name}.partial"))
}

/// Whether writing a file may replace one that exists at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse with [`EngineError::FileExists`] (before any work, and again at the end if the file
    /// appeared meanwhile).
    Keep,
    /// Replace it (the person confirmed).
    Replace,
}

impl Existing {
    /// [`Existing::Replace`] when `replace`, else [`Existing::Keep`].
    pub fn replace_if(replace: bool) -> Self {
        if replace { Self::Replace } else { Self::Keep }
    }

    /// Refuses early when the file exists and may not be replaced.
    pub(crate) fn check(self, path: &Path) -> Result<()> {
        if self == Self::Keep && std::fs::symlink_metadata(path).is_ok() {
            return Err(EngineError::FileExists { path: path.display().to_string() });
        }
        Ok(())
    }
}

/// Writes a byte stream to `path` chunk by chunk; the file appears under its name only when the
/// stream ended without error (written to [`partial_path`], synced, then renamed), so a failure
/// or a kill never leaves a file that looks complete. An existing file at `path` is replaced only
/// with [`Existing::Replace`]. The partial file is always a new file (`create_new`, after removing
/// what a killed run left), never an existing one or what a link there points to. Returns the
/// bytes written.
pub(crate) async fn write_stream_atomically<S, B>(path: &Path, existing: Existing, mut stream: S) -> Result<u64>
where
    S: Stream<Item = Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    existing.check(path)?;
    let partial = partial_path(path);
    let result = async {
        match tokio::fs::remove_file(&partial).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::io("remove the unfinished", partial.display(), e));
            }
            _ => {}
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(|e| EngineError::io("create", partial.display(), e))?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let chunk = chunk.as_ref();
            file.write_all(chunk).await.map_err(|e| {
                if e.raw_os_error() == Some(28) {
                    EngineError::DiskFull { message: format!("writing {}: {e}", path.display()) }
                } else {
                    EngineError::io("write", partial.display(), e)
                }
            })?;
            written += chunk.len() as u64;
        }
        file.sync_all().await.map_err(|e| EngineError::io("write", partial.display(), e))?;
        match existing {
            Existing::Replace => {
                tokio::fs::rename(&partial, path).await.map_err(|e| EngineError::io("rename to", path.display(), e))?;
            }
            // A link fails when the name exists, so a file made meanwhile is never replaced.
            Existing::Keep => {
                tokio::fs::hard_link(&partial, path).await.map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => EngineError::FileExists { path: path.display().to_string() },
                    _ => EngineError::io("create", path.display(), e),
                })?;
                let _ = tokio::fs::remove_file(&partial).await;
            }
        }
        Ok(written)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    result
}

impl Engine {
    /// Writes `images` (names or IDs) to a tar file at `path`, like `docker save`. The file
    /// appears only when complete; an existing one is replaced only with [`Existing::Replace`].
    /// Returns its size in bytes.
    pub async fn save_images(&self, images: &[String], path: &Path, existing: Existing) -> Result<u64> {
        if images.is_empty() {
            return Err(EngineError::InvalidRequest { message: "choose at least one image to save".into() });
        }
        existing.check(path)?;
        for image in images {
            // Fail with "not found" before creating any file.
            self.docker.inspect_image(image).await.map_err(|e| self.image_err(e, image))?;
        }
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let label = images.join(" ");
        let stream = self.docker.export_images(&names).map_err(|e| self.err(e, ResourceKind::Image, &label));
        write_stream_atomically(path, existing, stream).await
    }

    /// Streams one image as `docker save` writes it (a tar in the engine's layout: `manifest.json`
    /// with per-layer folders, or OCI `index.json` + `blobs/`), for reading without a file. A
    /// missing image is `NotFound` as the first item; dropping the stream cancels the export.
    pub fn export_image(&self, reference: &str) -> EngineStream<Bytes> {
        let engine = self.clone();
        let reference = reference.to_string();
        channel_stream(move |tx| async move {
            engine.docker.inspect_image(&reference).await.map_err(|e| engine.image_err(e, &reference))?;
            let mut stream = engine.docker.export_image(&reference);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| engine.err(e, ResourceKind::Image, &reference))?;
                if !tx.send(Ok(chunk)).await {
                    break;
                }
            }
            Ok(())
        })
    }

    /// How this engine stores images (`docker info`'s `driver-type` says containerd when the
    /// containerd image store is on).
    pub async fn image_store(&self) -> Result<ImageStore> {
        let info = self.docker.info().await.map_err(|e| self.err(e, ResourceKind::Engine, ""))?;
        let containerd = info.driver_status.unwrap_or_default().iter().any(|pair| {
            pair.first().is_some_and(|k| k == "driver-type") && pair.get(1).is_some_and(|v| v.contains("containerd"))
        });
        Ok(if containerd { ImageStore::Containerd } else { ImageStore::Classic })
    }

    /// Loads images from a `docker save` tar file; returns the names (or IDs) loaded.
    pub async fn load_images(&self, path: &Path) -> Result<Vec<String>> {
        let label = path.display().to_string();
        let stream = file_stream(path).await?;
        self.load_images_from_stream(stream, &label).await
    }

    /// Loads images from a tar archive in `docker save` form (or an OCI image layout) sent as a
    /// byte stream, e.g. put together on the fly; `label` names it in errors. Returns the names
    /// (or IDs) loaded. The engine stores an image only once its archive ended well, so a stream
    /// that fails half-way loads nothing of the image it was sending.
    pub async fn load_images_from_stream<S>(&self, body: S, label: &str) -> Result<Vec<String>>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let body = bollard::body_try_stream(body);
        let mut stream = self.docker.import_image(ImportImageOptions { quiet: true, platform: None }, body, None);
        let mut loaded = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match self.err(e, ResourceKind::Image, label) {
                EngineError::Api { message, .. } | EngineError::InvalidRequest { message } => {
                    EngineError::InvalidRequest {
                        message: format!("{label} is not an image archive made by `docker save`: {message}"),
                    }
                }
                other => other,
            })?;
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::InvalidRequest { message: format!("loading {label}: {message}") });
            }
            if let Some(text) = info.stream {
                for line in text.lines() {
                    if let Some(name) =
                        line.strip_prefix("Loaded image: ").or_else(|| line.strip_prefix("Loaded image ID: "))
                    {
                        loaded.push(name.trim().to_string());
                    }
                }
            }
        }
        if loaded.is_empty() {
            return Err(EngineError::InvalidRequest { message: format!("{label} contained no images") });
        }
        Ok(loaded)
    }

    /// Creates an image from a root-filesystem tar (`docker import`); returns the image ID.
    pub async fn import_rootfs(&self, path: &Path, reference: &str, changes: &[String]) -> Result<String> {
        validate_reference(reference)?;
        let (repo, tag) = split_tag(reference);
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            changes: changes.to_vec(),
            ..Default::default()
        };
        let body = bollard::body_try_stream(file_stream(path).await?);
        let infos: Vec<_> = self
            .docker
            .create_image(Some(options), Some(body), None)
            .try_collect()
            .await
            .map_err(|e| self.err(e, ResourceKind::Image, reference))?;
        let mut id = None;
        for info in infos {
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::InvalidRequest {
                    message: format!("importing {}: {message}", path.display()),
                });
            }
            if let Some(status) = info.status.filter(|s| s.starts_with("sha256:")) {
                id = Some(status.trim().to_string());
            }
        }
        id.ok_or_else(|| EngineError::Protocol { message: "the engine did not report the imported image's ID".into() })
    }
}
