//! Building images from a context directory, honouring `.dockerignore`, with streamed output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
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
    /// The context was packed: how many files and bytes are sent.
    Context { files: u64, bytes: u64 },
    /// A line of builder output ("Step 2/4 : RUN ...", command output).
    Output { text: String },
    /// Download progress of a base image layer.
    Progress { layer: Option<String>, status: String, current: Option<i64>, total: Option<i64> },
    /// The build finished; the ID of the image it made.
    Done { image_id: String },
}

/// Packs `context` into a tar archive, skipping what `.dockerignore` excludes (the
/// Dockerfile and `.dockerignore` themselves are always sent, as Docker does).
pub fn pack_context(context: &Path, dockerfile: &str) -> Result<(Vec<u8>, u64)> {
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
        Ok(text) => DockerIgnore::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(io("read", &ignore_path, e)),
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut files = 0u64;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = context.join(&rel_dir);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io("read directory", &dir, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| io("read directory", &dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = rel_dir.join(entry.file_name());
            let rel_text = rel.to_string_lossy().replace('\\', "/");
            let always = rel_text == dockerfile || rel_text == ".dockerignore";
            if !always && ignore.is_excluded(&rel_text) {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| io("stat", &entry.path(), e))?;
            if file_type.is_dir() {
                builder.append_dir(&rel, entry.path()).map_err(|e| io("pack", &entry.path(), e))?;
                stack.push(rel);
            } else {
                builder.append_path_with_name(entry.path(), &rel).map_err(|e| io("pack", &entry.path(), e))?;
                files += 1;
            }
        }
    }
    let bytes = builder.into_inner().map_err(|e| io("pack", context, e))?;
    Ok((bytes, files))
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
            let (tar, files) = tokio::task::spawn_blocking(move || pack_context(&context, &df))
                .await
                .map_err(|e| EngineError::Protocol { message: format!("packing the context failed: {e}") })??;
            if !tx.send(Ok(BuildEvent::Context { files, bytes: tar.len() as u64 })).await {
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
            let mut raw = engine.docker.build_image(options, None, Some(bollard::body_full(tar.into())));
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
