//! Building images from a context directory, honouring `.dockerignore`, with streamed output.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::dockerignore::DockerIgnore;
use crate::error::{EngineError, ResourceKind, Result};
use crate::stream::{EngineStream, channel_stream};

/// What to build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct BuildSpec {
    /// The context directory.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub context: PathBuf,
    /// Dockerfile path relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// Name for the result, e.g. `myapp:dev`.
    pub tag: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
    /// Build stage to stop at.
    pub target: Option<String>,
}

/// One event of a running build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BuildEvent {
    /// The context was read: how many files, and their bytes, are sent (streamed as the build reads them).
    Context { files: u64, bytes: u64 },
    /// A line of builder output ("Step 2/4 : RUN ...", command output).
    Output { text: String },
    /// Download progress of a base image layer.
    Progress { layer: Option<String>, status: String, current: Option<i64>, total: Option<i64> },
    /// The build finished; the ID of the image it made.
    Done { image_id: String },
}

/// What goes into a build context, decided before anything is sent: the entries in the order
/// they are packed (`.dockerignore` applied), how many files and how many bytes of contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextPlan {
    /// Paths relative to the context, `/`-separated; `true` for directories.
    pub entries: Vec<(String, bool)>,
    pub files: u64,
    /// Sum of the files' sizes (the archive adds headers).
    pub bytes: u64,
}

/// Walks `context` and decides what is sent, skipping what `.dockerignore` excludes (the
/// Dockerfile and `.dockerignore` themselves are always sent, as Docker does; the engine drops
/// them again when they are excluded). A directory that is excluded is still walked when an
/// exception (`!pattern`) could re-include something inside it. Reads no file contents.
pub fn plan_context(context: &Path, dockerfile: &str) -> Result<ContextPlan> {
    let io = |action: &'static str, path: &Path, e: std::io::Error| EngineError::io(action, path.display(), e);
    if !context.is_dir() {
        return Err(EngineError::InvalidRequest {
            message: format!("build context {} is not a directory", context.display()),
        });
    }
    if !context.join(dockerfile).is_file() {
        return Err(EngineError::InvalidRequest {
            message: format!("no {dockerfile} in {}: create one or choose the Dockerfile to use", context.display()),
        });
    }
    let ignore_path = context.join(".dockerignore");
    let ignore = match std::fs::read_to_string(&ignore_path) {
        Ok(text) => DockerIgnore::parse(&text)
            .map_err(|e| EngineError::Build { message: format!("{}: {e}", ignore_path.display()) })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(io("read", &ignore_path, e)),
    };
    let mut plan = ContextPlan::default();
    let mut stack = vec![String::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = context.join(&rel_dir);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io("read directory", &dir, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| io("read directory", &dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        // Depth first in name order, as the archive lists them.
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().replace('\\', "/");
            let rel = if rel_dir.is_empty() { name } else { format!("{rel_dir}/{name}") };
            let always = rel == dockerfile || rel == ".dockerignore";
            let excluded = !always && ignore.is_excluded(&rel);
            let file_type = entry.file_type().map_err(|e| io("stat", &entry.path(), e))?;
            if file_type.is_dir() {
                if !excluded {
                    plan.entries.push((rel.clone(), true));
                    subdirs.push(rel);
                } else if ignore.may_include_below(&rel) {
                    subdirs.push(rel);
                }
            } else if !excluded {
                let size = entry.metadata().map_err(|e| io("stat", &entry.path(), e))?.len();
                plan.files += 1;
                plan.bytes += if file_type.is_file() { size } else { 0 };
                plan.entries.push((rel, false));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(plan)
}

/// Writes the planned entries of `context` as a tar archive to `out`, file by file (a file's
/// contents are copied in small chunks, never held whole).
pub fn write_context(context: &Path, plan: &ContextPlan, out: impl Write) -> Result<()> {
    let io = |action: &'static str, path: &Path, e: std::io::Error| EngineError::io(action, path.display(), e);
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    for (rel, is_dir) in &plan.entries {
        let path = context.join(rel);
        if *is_dir {
            builder.append_dir(rel, &path).map_err(|e| io("pack", &path, e))?;
        } else {
            builder.append_path_with_name(&path, rel).map_err(|e| io("pack", &path, e))?;
        }
    }
    builder.into_inner().map_err(|e| io("pack", context, e))?.flush().map_err(|e| io("pack", context, e))
}

/// Packs `context` into an in-memory tar archive (for tests and small contexts; builds stream
/// the archive instead). Returns the archive and the number of files.
pub fn pack_context(context: &Path, dockerfile: &str) -> Result<(Vec<u8>, u64)> {
    let plan = plan_context(context, dockerfile)?;
    let mut bytes = Vec::new();
    write_context(context, &plan, &mut bytes)?;
    Ok((bytes, plan.files))
}

/// A `Write` that hands chunks of at most [`CONTEXT_CHUNK`] bytes to an async channel (the
/// request body), waiting while the engine is slower than the disk: memory stays bounded.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

/// Bytes per chunk of a streamed build context.
const CONTEXT_CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CONTEXT_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CONTEXT_CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CONTEXT_CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the build request ended"))
    }
}

/// Streams the planned context as a request body, packed on a blocking thread as the engine reads.
fn context_body(
    context: PathBuf,
    plan: ContextPlan,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let error_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter { tx, buf: Vec::with_capacity(CONTEXT_CHUNK) };
        if let Err(e) = write_context(&context, &plan, writer) {
            let _ = error_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

impl Engine {
    /// Builds an image. Output streams as it happens; dropping the stream cancels the build.
    pub fn build_image(&self, spec: &BuildSpec) -> EngineStream<BuildEvent> {
        let engine = self.clone();
        let spec = spec.clone();
        channel_stream(move |tx| async move {
            if let Some(tag) = &spec.tag {
                crate::images::validate_reference(tag)?;
            }
            let dockerfile = spec.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
            let context = spec.context.clone();
            let df = dockerfile.clone();
            let plan = tokio::task::spawn_blocking(move || plan_context(&context, &df))
                .await
                .map_err(|e| EngineError::Protocol { message: format!("reading the context failed: {e}") })??;
            if !tx.send(Ok(BuildEvent::Context { files: plan.files, bytes: plan.bytes })).await {
                return Ok(());
            }
            let options = BuildImageOptions {
                dockerfile,
                t: spec.tag.clone(),
                nocache: spec.no_cache,
                rm: true,
                forcerm: true,
                buildargs: (!spec.build_args.is_empty())
                    .then(|| spec.build_args.iter().cloned().collect::<HashMap<_, _>>()),
                target: spec.target.clone().unwrap_or_default(),
                version: BuilderVersion::BuilderV1,
                ..Default::default()
            };
            let body = bollard::body_try_stream(context_body(spec.context.clone(), plan));
            let mut raw = engine.docker.build_image(options, None, Some(body));
            let mut image_id = None;
            let mut last_output = String::new();
            while let Some(item) = raw.next().await {
                let info =
                    item.map_err(|e| match engine.err(e, ResourceKind::Image, spec.tag.as_deref().unwrap_or("")) {
                        EngineError::Api { message, .. }
                        | EngineError::Protocol { message }
                        | EngineError::InvalidRequest { message } => EngineError::Build { message },
                        other => other,
                    })?;
                if let Some(detail) = info.error_detail {
                    let message = detail.message.unwrap_or_default();
                    return Err(EngineError::Build { message: if message.is_empty() { last_output } else { message } });
                }
                if let Some(id) = info.aux.and_then(|a| a.id) {
                    image_id = Some(id);
                }
                let event = if let Some(text) = info.stream {
                    let text = text.trim_end_matches('\n').to_string();
                    if text.trim().is_empty() {
                        continue;
                    }
                    last_output.clone_from(&text);
                    BuildEvent::Output { text }
                } else if let Some(status) = info.status {
                    let d = info.progress_detail.unwrap_or_default();
                    BuildEvent::Progress { layer: info.id, status, current: d.current, total: d.total }
                } else {
                    continue;
                };
                if !tx.send(Ok(event)).await {
                    return Ok(());
                }
            }
            match image_id {
                Some(image_id) => {
                    tx.send(Ok(BuildEvent::Done { image_id })).await;
                    Ok(())
                }
                None => Err(EngineError::Build {
                    message: format!("the builder ended without an image; last output: {last_output}"),
                }),
            }
        })
    }
}
