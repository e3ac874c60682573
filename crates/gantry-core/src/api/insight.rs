//! See inside (gantry-insight through the API): an image's layers and their file trees, its
//! packages (CycloneDX, offline OSV matching), Dockerfile advice with fixes previewed before they
//! are written, engine events explained, and the live picture of containers, ports, networks and
//! volumes.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_engine::{EngineErrorCode, EventFilter};
use gantry_insight::explain::{ExplainedEvent, explained_events};
use gantry_insight::image::layers::{ImageLayers, LayerReport, TreeNode};
use gantry_insight::lint::{DockerfileOnDisk, FileDiff, Finding, apply_fixes, lint};
use gantry_insight::sbom::ImageContents;
use gantry_insight::topology::{TopologyUpdate, watch_topology};
use gantry_insight::vuln::{Database, VulnerabilityReport};
use gantry_insight::{InsightError, Lang};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::{Gantry, StreamMsg};

/// How many wasted paths and biggest files a layer report lists.
pub const REPORT_TOP: usize = 100;
/// How often a reading stream says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// How many analysed images are kept (their layer trees are asked for one by one).
const CACHED_IMAGES: usize = 4;

/// What the layer view receives while an image is read: how far, then the analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayersProgress {
    /// Bytes of the image's export read so far, of about `total` (the image's size).
    Reading {
        bytes: u64,
        total: u64,
    },
    Done {
        report: Box<LayerReport>,
    },
}

/// What the contents view receives while an image is read: how far, then its packages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentsProgress {
    /// Bytes of the image's export read so far, of about `total` (the image's size).
    Reading {
        bytes: u64,
        total: u64,
    },
    Done {
        contents: Box<ImageContents>,
    },
}

/// A Dockerfile with its advice, as read now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DockerfileReview {
    /// The Dockerfile read (a folder resolves to its `Dockerfile`).
    pub path: String,
    pub text: String,
    /// What was read, fingerprinted: a fix is written only while the files still match it.
    pub revision: String,
    /// Whether the build context has a `.dockerignore`.
    pub has_dockerignore: bool,
    /// Sorted by line; a fix is asked for by its index here.
    pub findings: Vec<Finding>,
}

/// What applying some fixes would change, shown before anything is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FixPreview {
    pub revision: String,
    /// One diff per file (the Dockerfile first; a `.dockerignore` may be created).
    pub files: Vec<FileDiff>,
    /// Rule ids whose fixes are in the diffs.
    pub applied: Vec<String>,
    /// Rule ids left out because their fix overlaps one taken (they can be applied next).
    pub skipped: Vec<String>,
}

impl From<InsightError> for ApiError {
    fn from(e: InsightError) -> Self {
        let hint = e.hint();
        let message = e.to_string();
        match e {
            InsightError::Engine(engine) => Self::from(engine),
            InsightError::Archive { .. } => Self::new(EngineErrorCode::InvalidArchive, message, hint),
            InsightError::Io { .. } => Self::io(message, hint),
            InsightError::BadDatabase { .. } => Self::new(GantryErrorCode::InvalidDatabase, message, hint),
            InsightError::Changed { .. } => Self::new(GantryErrorCode::FileChanged, message, hint),
            _ => Self::new(GantryErrorCode::Unsupported, message, hint),
        }
    }
}

/// Analysed images by ID. An image ID is the digest of its content, so an analysis holds for
/// every engine and every `Gantry` of this process.
static ANALYSED: Mutex<VecDeque<(String, Analysed)>> = Mutex::new(VecDeque::new());

#[derive(Clone)]
enum Analysed {
    Layers(Arc<ImageLayers>),
    Contents(Arc<ImageContents>),
}

fn remember(id: &str, analysed: Analysed) {
    if let Ok(mut cache) = ANALYSED.lock() {
        let same_kind = |a: &Analysed| std::mem::discriminant(a) == std::mem::discriminant(&analysed);
        cache.retain(|(cached, a)| !(cached == id && same_kind(a)));
        cache.push_front((id.to_string(), analysed));
        cache.truncate(CACHED_IMAGES * 2);
    }
}

fn recall<T>(id: &str, pick: impl Fn(&Analysed) -> Option<T>) -> Option<T> {
    let cache = ANALYSED.lock().ok()?;
    cache.iter().filter(|(cached, _)| cached == id).find_map(|(_, a)| pick(a))
}

impl Gantry {
    /// The image's ID and size (the export is about that big).
    async fn image_id_and_size(&self, reference: &str) -> ApiResult<(String, u64)> {
        let details = self.engine().await?.inspect_image(reference).await?;
        Ok((details.id, details.size.max(0) as u64))
    }

    /// Runs `work` (which counts the bytes it read) as a cancellable stream: `reading` items
    /// every [`PROGRESS_EVERY`] while the count moves, then `done` with the result.
    fn read_image_streamed<T, R, Fut>(
        &self,
        total: u64,
        work: impl FnOnce(Arc<AtomicU64>) -> Fut,
        reading: fn(u64, u64) -> T,
        done: fn(R) -> T,
        sink: impl Fn(StreamMsg<T>) + Send + 'static,
    ) -> u64
    where
        T: Send + 'static,
        R: Send + 'static,
        Fut: std::future::Future<Output = Result<R, InsightError>> + Send + 'static,
    {
        let progress = Arc::new(AtomicU64::new(0));
        let work = work(Arc::clone(&progress));
        self.streams.spawn_task(move |id, token| {
            sink(StreamMsg::Started { id });
            async move {
                tokio::pin!(work);
                let mut tick = tokio::time::interval(PROGRESS_EVERY);
                let mut told = None;
                let outcome = loop {
                    tokio::select! {
                        () = token.cancelled() => break None,
                        result = &mut work => break Some(result),
                        _ = tick.tick() => {
                            let bytes = progress.load(Ordering::Relaxed);
                            if told != Some(bytes) {
                                told = Some(bytes);
                                sink(StreamMsg::Items { items: vec![reading(bytes, total)] });
                            }
                        }
                    }
                };
                match outcome {
                    Some(Ok(result)) => sink(StreamMsg::Items { items: vec![done(result)] }),
                    Some(Err(e)) => sink(StreamMsg::Error { error: ApiError::from(e) }),
                    None => {}
                }
                sink(StreamMsg::End);
            }
        })
    }

    /// Reads an image's layers (streamed from the engine's export, bounded memory) and
    /// analyses them: each layer's instruction, size and wasted bytes, dive's efficiency score,
    /// the paths that waste the most and the biggest files. Streams progress, then the report;
    /// cancelling stops the export.
    pub async fn image_layers(
        &self,
        reference: String,
        sink: impl Fn(StreamMsg<LayersProgress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let (id, total) = self.image_id_and_size(&reference).await?;
        let work = move |progress| async move {
            let layers = match recall(&id, |a| match a {
                Analysed::Layers(l) => Some(Arc::clone(l)),
                Analysed::Contents(_) => None,
            }) {
                Some(layers) => layers,
                None => {
                    let layers =
                        Arc::new(gantry_insight::image::analyze_layers(&engine, &reference, Some(progress)).await?);
                    remember(&id, Analysed::Layers(Arc::clone(&layers)));
                    layers
                }
            };
            Ok(layers.report(REPORT_TOP))
        };
        let reading = |bytes, total| LayersProgress::Reading { bytes, total };
        let done = |report| LayersProgress::Done { report: Box::new(report) };
        Ok(self.read_image_streamed(total, work, reading, done, sink))
    }

    /// The file tree of layer `layer` (0 is the bottom one) with what it added, changed and
    /// removed; reads the image again when its analysis is no longer kept.
    pub async fn image_layer_tree(&self, reference: String, layer: u32) -> ApiResult<TreeNode> {
        let (id, _) = self.image_id_and_size(&reference).await?;
        let layers = match recall(&id, |a| match a {
            Analysed::Layers(l) => Some(Arc::clone(l)),
            Analysed::Contents(_) => None,
        }) {
            Some(layers) => layers,
            None => {
                let engine = self.engine().await?;
                let layers = Arc::new(gantry_insight::image::analyze_layers(&engine, &reference, None).await?);
                remember(&id, Analysed::Layers(Arc::clone(&layers)));
                layers
            }
        };
        let count = layers.layer_count();
        let tree = tokio::task::spawn_blocking(move || layers.tree(layer as usize))
            .await
            .map_err(|e| ApiError::new(GantryErrorCode::Unsupported, format!("the layer tree failed: {e}"), ""))?;
        tree.ok_or_else(|| {
            ApiError::new(
                EngineErrorCode::NotFound,
                format!("{reference} has no layer {layer}"),
                format!("Its layers are 0 to {}.", count.saturating_sub(1)),
            )
        })
    }

    /// Reads an image's packages (dpkg, apk, rpm, Python, Node, Go, Rust); streams progress,
    /// then the table.
    pub async fn image_contents(
        &self,
        reference: String,
        sink: impl Fn(StreamMsg<ContentsProgress>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let (id, total) = self.image_id_and_size(&reference).await?;
        let work = move |progress| async move {
            let contents = read_contents(&engine, &reference, &id, Some(progress)).await?;
            Ok(ImageContents::clone(&contents))
        };
        let reading = |bytes, total| ContentsProgress::Reading { bytes, total };
        let done = |contents| ContentsProgress::Done { contents: Box::new(contents) };
        Ok(self.read_image_streamed(total, work, reading, done, sink))
    }

    /// The image's packages as a CycloneDX 1.5 JSON document (the text of the file to save).
    pub async fn image_sbom(&self, reference: String) -> ApiResult<String> {
        let engine = self.engine().await?;
        let (id, _) = self.image_id_and_size(&reference).await?;
        let contents = read_contents(&engine, &reference, &id, None).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let document = gantry_insight::sbom::cyclonedx::cyclonedx(&contents, now);
        serde_json::to_string_pretty(&document)
            .map(|text| text + "\n")
            .map_err(|e| ApiError::new(GantryErrorCode::Unsupported, format!("cannot write the document: {e}"), ""))
    }

    /// The known vulnerabilities of the image's packages in an OSV database file the user
    /// imported (JSON, JSON lines or a zip of them), offline.
    pub async fn image_vulns(&self, reference: String, database: String) -> ApiResult<VulnerabilityReport> {
        let engine = self.engine().await?;
        let (id, _) = self.image_id_and_size(&reference).await?;
        let path = database.clone();
        let loading = tokio::task::spawn_blocking(move || Database::load(Path::new(&path)));
        let contents = read_contents(&engine, &reference, &id, None).await?;
        let db = loading.await.map_err(|e| {
            ApiError::new(GantryErrorCode::InvalidDatabase, format!("reading {database} failed: {e}"), "")
        })??;
        Ok(db.scan(&contents, &database))
    }

    /// Reads a Dockerfile (or a build context folder's) and lints it in `lang`.
    pub async fn dockerfile_lint(&self, path: String, lang: Lang) -> ApiResult<DockerfileReview> {
        let file = open_dockerfile(path, lang).await?;
        Ok(review(&file))
    }

    /// The diffs that the fixes of findings `findings` (indexes into the review's list; empty:
    /// every fix) would make. Writes nothing; refused when the files changed since `revision`.
    pub async fn dockerfile_fix_preview(
        &self,
        path: String,
        revision: String,
        findings: Vec<u32>,
        lang: Lang,
    ) -> ApiResult<FixPreview> {
        let file = open_dockerfile(path, lang).await?;
        check_revision(&file, &revision)?;
        let fixed = chosen_fixes(&file, &findings);
        Ok(FixPreview { revision, files: file.diffs(&fixed), applied: fixed.applied, skipped: fixed.skipped })
    }

    /// Writes the fixes of findings `findings` (as previewed) and returns the new review;
    /// refused, writing nothing, when the files changed since `revision`.
    pub async fn dockerfile_fix_apply(
        &self,
        path: String,
        revision: String,
        findings: Vec<u32>,
        lang: Lang,
    ) -> ApiResult<DockerfileReview> {
        let file = open_dockerfile(path, lang).await?;
        check_revision(&file, &revision)?;
        let fixed = chosen_fixes(&file, &findings);
        let written = file.clone();
        tokio::task::spawn_blocking(move || written.write(&fixed))
            .await
            .map_err(|e| ApiError::io(format!("writing {} failed: {e}", file.path.display()), ""))??;
        let after = open_dockerfile(file.path.display().to_string(), lang).await?;
        Ok(review(&after))
    }

    /// The engine's events as they happen (from `filter.since`), each explained in `lang`: what
    /// happened, what it means for the user, and the lab that teaches it.
    pub async fn system_events_explained(
        &self,
        filter: EventFilter,
        lang: Lang,
        sink: impl Fn(StreamMsg<ExplainedEvent>) + Send + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(explained_events(&engine, &filter, lang), 200, sink))
    }

    /// The live picture: host ports, containers, networks, volumes and host folders as a graph,
    /// then a new one after every change (from the engine's events, no polling).
    pub async fn topology_watch(&self, sink: impl Fn(StreamMsg<TopologyUpdate>) + Send + 'static) -> ApiResult<u64> {
        let engine = self.engine().await?;
        Ok(self.streams.forward(watch_topology(&engine), 1, sink))
    }
}

/// The image's packages, from the cache or read now.
async fn read_contents(
    engine: &gantry_engine::Engine,
    reference: &str,
    id: &str,
    progress: Option<Arc<AtomicU64>>,
) -> Result<Arc<ImageContents>, InsightError> {
    let cached = recall(id, |a| match a {
        Analysed::Contents(c) => Some(Arc::clone(c)),
        Analysed::Layers(_) => None,
    });
    if let Some(contents) = cached {
        return Ok(contents);
    }
    let contents = Arc::new(gantry_insight::sbom::image_contents(engine, reference, progress).await?);
    remember(id, Analysed::Contents(Arc::clone(&contents)));
    Ok(contents)
}

/// The largest Dockerfile the app reads (real ones are a few kilobytes).
const DOCKERFILE_MAX_BYTES: u64 = 1 << 20;

/// Whether a file name is a Dockerfile's: `Dockerfile`, `Containerfile`, `Dockerfile.dev`,
/// `app.Dockerfile` (any case). The app reads and shows only such files, so the view cannot be
/// used to read other files.
pub fn is_dockerfile_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["dockerfile", "containerfile"]
        .iter()
        .any(|base| name == *base || name.starts_with(&format!("{base}.")) || name.ends_with(&format!(".{base}")))
}

async fn open_dockerfile(path: String, lang: Lang) -> ApiResult<DockerfileOnDisk> {
    let given = Path::new(&path);
    let file = if given.is_dir() { given.join("Dockerfile") } else { given.to_path_buf() };
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !is_dockerfile_name(&name) {
        return Err(ApiError::new(
            GantryErrorCode::InvalidName,
            format!("{} is not a Dockerfile", file.display()),
            "Give a file named Dockerfile or Containerfile (Dockerfile.dev and app.Dockerfile work too), or its folder.",
        ));
    }
    if std::fs::metadata(&file).is_ok_and(|m| m.len() > DOCKERFILE_MAX_BYTES) {
        return Err(ApiError::new(
            GantryErrorCode::InvalidName,
            format!("{} is larger than 1 MiB: not a Dockerfile", file.display()),
            "Give the Dockerfile of the build, or its folder.",
        ));
    }
    tokio::task::spawn_blocking(move || DockerfileOnDisk::open(&file, lang, Vec::new()))
        .await
        .map_err(|e| ApiError::io(format!("reading the Dockerfile failed: {e}"), ""))?
        .map_err(ApiError::from)
}

fn review(file: &DockerfileOnDisk) -> DockerfileReview {
    DockerfileReview {
        path: file.path.display().to_string(),
        text: file.text.clone(),
        revision: file.revision(),
        has_dockerignore: matches!(file.context.dockerignore, gantry_insight::lint::Dockerignore::Present(_)),
        findings: lint(&file.text, &file.context),
    }
}

fn check_revision(file: &DockerfileOnDisk, revision: &str) -> ApiResult<()> {
    if file.revision() == revision {
        return Ok(());
    }
    Err(ApiError::from(InsightError::Changed { path: file.path.display().to_string() }))
}

/// The fixes of the chosen findings (all when none is chosen), applied to the text as read.
fn chosen_fixes(file: &DockerfileOnDisk, chosen: &[u32]) -> gantry_insight::lint::AppliedFixes {
    let findings = lint(&file.text, &file.context);
    let picked: Vec<Finding> = if chosen.is_empty() {
        findings
    } else {
        chosen.iter().filter_map(|&i| findings.get(i as usize).cloned()).collect()
    };
    apply_fixes(&file.text, &picked, &|p| file.other_file(p))
}

#[cfg(test)]
mod tests {
    use super::is_dockerfile_name;

    #[test]
    fn only_dockerfiles_are_read() {
        for name in ["Dockerfile", "dockerfile", "Containerfile", "Dockerfile.dev", "app.Dockerfile"] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in ["passwd", "id_rsa", "Dockerfiles", "my-dockerfile", ".bashrc", ""] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }
}
