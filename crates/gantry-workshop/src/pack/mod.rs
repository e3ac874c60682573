//! `gantry workshop pack`: labs, the images they need for every platform asked for, and the
//! trainer's suggested settings, into one bundle file.
//!
//! Images come from the trainer's engine through `docker save`. What each engine offers:
//! - the containerd image store (Gantry's VM, Docker 26): one name holds several platforms
//!   (`docker pull --platform linux/arm64 NAME` adds one, `docker buildx build --platform a,b`
//!   makes both) and `docker save NAME` writes all that are local;
//! - the classic store (other engines, e.g. Docker 20.10): one platform per name, so each further
//!   platform comes from another local image, named as a source: `--image NAME=SOURCE`.

pub mod saved;
pub mod store;
pub mod write;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use gantry_engine::{CancellationToken, Engine, EngineError};
use serde::Serialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::digest::Digest;
use crate::error::{Result, WorkshopError};
use crate::labs::{lab_tar, loadable_lab_id};
use crate::manifest::{FORMAT, ImageEntry, KIND, LabEntry, Manifest, Part, SettingsDefaults};
use crate::oci::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageName, MEDIA_INDEX, Platform,
};
use crate::sign::{Seal, SigningKey};
use saved::{PlatformImage, read_archive};
use store::BlobStore;
use write::{PartFile, write_bundle};

/// An image to pack: the name participants use, and the local images its platforms come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    pub name: String,
    /// Local images (names or IDs) to take platforms from, in order; the name itself when empty.
    pub sources: Vec<String>,
}

impl ImageRequest {
    /// `NAME` or `NAME=SOURCE` (a local image that holds another platform of NAME).
    pub fn parse(arg: &str) -> Result<Self> {
        let (name, source) = match arg.split_once('=') {
            Some((n, s)) => (n.trim(), Some(s.trim())),
            None => (arg.trim(), None),
        };
        ImageName::parse(name).map_err(|e| {
            WorkshopError::invalid(e, "name images as `docker pull` does, e.g. busybox:1.36 or ghcr.io/org/app:v1")
        })?;
        let sources = match source {
            Some("") => return Err(WorkshopError::invalid(format!("{arg:?} names no source"), "write NAME=SOURCE")),
            Some(s) => vec![s.to_string()],
            None => vec![],
        };
        Ok(Self { name: name.to_string(), sources })
    }
}

/// What to pack.
#[derive(Debug, Clone, Default)]
pub struct PackSpec {
    pub title: String,
    /// Lab folders (each with a `lab.toml`).
    pub labs: Vec<PathBuf>,
    pub images: Vec<ImageRequest>,
    /// Platforms every image must have; empty: whatever each image has.
    pub platforms: Vec<Platform>,
    /// Pack even when an image lacks a platform asked for (recorded in the manifest).
    pub allow_missing_platforms: bool,
    pub settings: SettingsDefaults,
    /// The bundle file to write.
    pub output: PathBuf,
}

/// Progress of a pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PackEvent {
    /// Reading an image from the engine.
    Saving { image: String, bytes: u64 },
    /// An image's platforms were read.
    Saved { image: String, platforms: Vec<Platform> },
    /// Writing the bundle file.
    Writing { done: u64, total: u64 },
}

/// What a pack wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PackReport {
    pub path: PathBuf,
    /// The bundle's identity (the manifest's digest), for participants to compare.
    pub id: Digest,
    pub size: u64,
    pub images: Vec<ImageEntry>,
    pub labs: Vec<String>,
    pub missing_platforms: Vec<String>,
    /// Blobs stored once although several images use them.
    pub shared_blobs: usize,
    /// Bytes the sharing saved.
    pub shared_bytes: u64,
    /// The signing key's fingerprint.
    pub signed_by: Option<String>,
}

/// Packs `spec` from `engine`'s images; signs with `key` when given.
pub async fn pack(
    engine: &Engine,
    spec: &PackSpec,
    key: Option<&SigningKey>,
    progress: &(dyn Fn(PackEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<PackReport> {
    let requests = check_spec(spec)?;
    let labs: Vec<(String, &PathBuf)> =
        spec.labs.iter().map(|d| loadable_lab_id(d).map(|id| (id, d))).collect::<Result<_>>()?;
    let mut ids = BTreeSet::new();
    for (id, _) in &labs {
        if !ids.insert(id.clone()) {
            return Err(WorkshopError::Lab { lab: id.clone(), reason: "two lab folders have this name".into() });
        }
    }
    let out_dir = spec.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !out_dir.is_dir() {
        return Err(WorkshopError::invalid(
            format!("{} is not a folder", out_dir.display()),
            "write the bundle into an existing folder",
        ));
    }
    let file_name = spec.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let store = Arc::new(
        BlobStore::create(&out_dir.join(format!(".{file_name}.pack-work")))
            .map_err(WorkshopError::io("create a work folder in", out_dir))?,
    );

    let mut saved: HashMap<String, Vec<PlatformImage>> = HashMap::new();
    for request in &requests {
        for source in &request.sources {
            if !saved.contains_key(source) {
                let images = save_source(engine, source, &store, progress, cancel).await?;
                progress(PackEvent::Saved {
                    image: source.clone(),
                    platforms: images.iter().map(|i| i.platform.clone()).collect(),
                });
                saved.insert(source.clone(), images);
            }
        }
    }

    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    for request in &requests {
        let candidates: Vec<&PlatformImage> =
            request.sources.iter().flat_map(|s| saved.get(s).into_iter().flatten()).collect();
        let (images, lacking) = choose_platforms(&candidates, &spec.platforms);
        missing.extend(lacking.iter().map(|p| format!("{} {p}", request.name)));
        if images.is_empty() {
            return Err(WorkshopError::invalid(
                format!("{} has none of the platforms asked for ({})", request.name, list(&spec.platforms)),
                platform_hint(&request.name),
            ));
        }
        chosen.push((request, images));
    }
    if !missing.is_empty() && !spec.allow_missing_platforms {
        return Err(WorkshopError::invalid(
            format!("missing platforms: {}", missing.join(", ")),
            format!("{} Or pack without them: --allow-missing-platforms.", platform_hint("IMAGE")),
        ));
    }

    let mut plan = PartPlan::default();
    plan.add_fixed(&store, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut entries = Vec::new();
    let mut top = Vec::new();
    let mut blob_parts = Vec::new();
    for (request, images) in &chosen {
        let manifests =
            images.iter().map(|i| Descriptor { platform: Some(i.platform.to_oci()), ..i.manifest.clone() }).collect();
        let index =
            serde_json::to_vec(&ImageIndex::new(manifests)).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
        let (digest, size) = store.put_bytes(&index).map_err(WorkshopError::io("write in", out_dir))?;
        blob_parts.push((digest.clone(), size));
        for image in images {
            blob_parts.push((image.manifest.digest.clone(), image.manifest.size));
            blob_parts.push((image.config.digest.clone(), image.config.size));
            blob_parts.extend(image.layers.iter().map(|l| (l.digest.clone(), l.size)));
        }
        top.push(index_entry(&request.name, digest.clone(), size)?);
        entries.push(ImageEntry {
            name: request.name.clone(),
            index: digest,
            platforms: images.iter().map(|i| i.platform.clone()).collect(),
        });
    }
    let index_json =
        serde_json::to_vec(&ImageIndex::new(top)).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
    plan.add_fixed(&store, "index.json", &index_json)?;
    for (digest, size) in blob_parts {
        plan.add_blob(&store, digest, size);
    }
    let mut lab_entries = Vec::new();
    for (id, dir) in &labs {
        let bytes = lab_tar(dir)?;
        let (digest, size) = store.put_bytes(&bytes).map_err(WorkshopError::io("write", dir.as_path()))?;
        plan.add_blob(&store, digest.clone(), size);
        lab_entries.push(LabEntry { id: id.clone(), digest, size });
    }

    let manifest = Manifest {
        format: FORMAT,
        kind: KIND.into(),
        title: spec.title.clone(),
        created_by: format!("gantry {}", env!("CARGO_PKG_VERSION")),
        platforms: spec.platforms.clone(),
        settings: spec.settings.clone(),
        labs: lab_entries,
        images: entries,
        missing_platforms: missing.clone(),
        parts: plan.files.iter().map(|f| f.part.clone()).collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
    let seal = Seal { manifest: Digest::of(&manifest_bytes), signature: key.map(|k| k.sign(&manifest_bytes)) };
    let seal = serde_json::to_vec(&seal).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
    let report_progress = |done, total| progress(PackEvent::Writing { done, total });
    let size = write_bundle(&spec.output, &manifest_bytes, &seal, &plan.files, &report_progress, cancel).await?;
    Ok(PackReport {
        path: spec.output.clone(),
        id: Digest::of(&manifest_bytes),
        size,
        images: manifest.images,
        labs: labs.into_iter().map(|(id, _)| id).collect(),
        missing_platforms: missing,
        shared_blobs: plan.shared,
        shared_bytes: plan.shared_bytes,
        signed_by: key.map(|k| k.public().fingerprint()),
    })
}

/// The image requests with their sources filled in, checked.
fn check_spec(spec: &PackSpec) -> Result<Vec<ImageRequest>> {
    if spec.images.is_empty() && spec.labs.is_empty() {
        return Err(WorkshopError::invalid(
            "nothing to pack",
            "name lab folders (--lab DIR) and images (--image NAME)",
        ));
    }
    let mut merged: Vec<ImageRequest> = Vec::new();
    for request in &spec.images {
        let full = ImageName::parse(&request.name).map_err(|e| WorkshopError::invalid(e, ""))?.full();
        let sources = if request.sources.is_empty() { vec![request.name.clone()] } else { request.sources.clone() };
        match merged.iter_mut().find(|m| ImageName::parse(&m.name).is_ok_and(|n| n.full() == full)) {
            Some(m) => {
                for s in sources {
                    if !m.sources.contains(&s) {
                        m.sources.push(s);
                    }
                }
            }
            None => merged.push(ImageRequest { name: request.name.clone(), sources }),
        }
    }
    Ok(merged)
}

/// Per platform asked for, the first candidate that has it (all distinct platforms when none is
/// asked for); and the platforms asked for that no candidate has.
fn choose_platforms(candidates: &[&PlatformImage], asked: &[Platform]) -> (Vec<PlatformImage>, Vec<Platform>) {
    let mut chosen: Vec<PlatformImage> = Vec::new();
    let mut missing = Vec::new();
    if asked.is_empty() {
        for c in candidates {
            if !chosen.iter().any(|x| x.platform == c.platform) {
                chosen.push((*c).clone());
            }
        }
    } else {
        for p in asked {
            match candidates.iter().find(|c| c.platform == *p) {
                Some(c) => chosen.push((*c).clone()),
                None => missing.push(p.clone()),
            }
        }
    }
    (chosen, missing)
}

fn platform_hint(name: &str) -> String {
    format!(
        "Make each platform local first: on Gantry's engine `docker pull --platform linux/arm64 {name}` (it keeps every platform of a name) or `docker buildx build --platform linux/amd64,linux/arm64 -t {name} .`; on an engine with the classic store, name a local image holding that platform as a source: --image {name}=OTHER_IMAGE."
    )
}

fn list(platforms: &[Platform]) -> String {
    platforms.iter().map(Platform::to_string).collect::<Vec<_>>().join(", ")
}

/// The index.json entry for an image: its index, named as Docker's own `docker save` names it.
pub(crate) fn index_entry(name: &str, digest: Digest, size: u64) -> Result<Descriptor> {
    let parsed = ImageName::parse(name).map_err(|e| WorkshopError::invalid(e, ""))?;
    let mut d = Descriptor::new(MEDIA_INDEX, digest, size);
    d.annotations.insert(ANNOTATION_IMAGE_NAME.into(), parsed.full());
    d.annotations.insert(ANNOTATION_REF_NAME.into(), parsed.tag);
    Ok(d)
}

/// The parts in file order, each blob once.
#[derive(Debug, Default)]
struct PartPlan {
    files: Vec<PartFile>,
    shared: usize,
    shared_bytes: u64,
}

impl PartPlan {
    fn add_fixed(&mut self, store: &BlobStore, path: &str, bytes: &[u8]) -> Result<()> {
        let (digest, size) = store.put_bytes(bytes).map_err(WorkshopError::io("write", path))?;
        self.files.push(PartFile { file: store.path(&digest), part: Part { path: path.into(), digest, size } });
        Ok(())
    }

    fn add_blob(&mut self, store: &BlobStore, digest: Digest, size: u64) {
        let path = digest.blob_path();
        if self.files.iter().any(|f| f.part.path == path) {
            self.shared += 1;
            self.shared_bytes += size;
            return;
        }
        self.files.push(PartFile { file: store.path(&digest), part: Part { path, digest, size } });
    }
}

/// Reads one local image from the engine into the store; returns its platforms.
async fn save_source(
    engine: &Engine,
    source: &str,
    store: &Arc<BlobStore>,
    progress: &(dyn Fn(PackEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<Vec<PlatformImage>> {
    let bytes = Arc::new(AtomicU64::new(0));
    let engine_error: Arc<Mutex<Option<EngineError>>> = Arc::new(Mutex::new(None));
    let (counter, failure) = (bytes.clone(), engine_error.clone());
    let stream =
        Box::pin(engine.export_image(source).take_until(cancel.clone().cancelled_owned())).map(
            move |item| match item {
                Ok(chunk) => {
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    Ok(chunk)
                }
                Err(e) => {
                    let message = e.to_string();
                    if let Ok(mut slot) = failure.lock() {
                        *slot = Some(e);
                    }
                    Err(std::io::Error::other(message))
                }
            },
        );
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let (task_store, name) = (store.clone(), source.to_string());
    let mut task = tokio::task::spawn_blocking(move || {
        let archive = read_archive(reader, &task_store)?;
        archive.images(&name, &task_store)
    });
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let outcome = loop {
        tokio::select! {
            done = &mut task => break done,
            _ = tick.tick() => progress(PackEvent::Saving { image: source.to_string(), bytes: bytes.load(Ordering::Relaxed) }),
        }
    };
    if cancel.is_cancelled() {
        return Err(WorkshopError::Cancelled);
    }
    if let Some(e) = engine_error.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(WorkshopError::Engine(e));
    }
    let images = outcome
        .map_err(|e| WorkshopError::SavedArchive { image: source.into(), reason: format!("the reader failed: {e}") })?
        .map_err(|reason| WorkshopError::SavedArchive { image: source.into(), reason })?;
    if images.is_empty() {
        return Err(WorkshopError::SavedArchive { image: source.into(), reason: "it holds no image".into() });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(platform: &str, n: u8) -> PlatformImage {
        let d = |b: &[u8]| Descriptor::new("x", Digest::of(b), 1);
        PlatformImage {
            platform: Platform::parse(platform).expect("valid"),
            manifest: d(&[n]),
            config: d(&[n, 1]),
            layers: vec![],
        }
    }

    #[test]
    fn requests_parse_and_merge() {
        assert_eq!(
            ImageRequest::parse("busybox:1.36=gantry-test/busybox-arm64:latest").expect("valid"),
            ImageRequest { name: "busybox:1.36".into(), sources: vec!["gantry-test/busybox-arm64:latest".into()] }
        );
        assert!(ImageRequest::parse("busybox:1.36=").is_err());
        assert!(ImageRequest::parse("Bad Name").is_err());
        let spec = PackSpec {
            images: vec![
                ImageRequest::parse("busybox:1.36").expect("valid"),
                ImageRequest::parse("docker.io/library/busybox:1.36=bb-arm").expect("valid"),
            ],
            ..Default::default()
        };
        let merged = check_spec(&spec).expect("valid");
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].sources, ["busybox:1.36", "bb-arm"]);
        assert!(check_spec(&PackSpec::default()).is_err());
    }

    #[test]
    fn platforms_are_chosen_in_order_and_missing_ones_named() {
        let (amd, arm, arm2) = (image("linux/amd64", 1), image("linux/arm64", 2), image("linux/arm64/v8", 3));
        let candidates = [&amd, &arm, &arm2];
        let asked = [Platform::parse("linux/arm64").expect("valid"), Platform::parse("linux/s390x").expect("valid")];
        let (chosen, missing) = choose_platforms(&candidates, &asked);
        assert_eq!(chosen, std::slice::from_ref(&arm));
        assert_eq!(missing, [Platform::parse("linux/s390x").expect("valid")]);
        let (all, none) = choose_platforms(&candidates, &[]);
        assert_eq!(all, [amd, arm]);
        assert!(none.is_empty());
    }
}
