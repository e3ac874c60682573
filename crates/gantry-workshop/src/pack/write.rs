//! Writing the bundle file: manifest, seal, then every part, each checked against its digest
//! as it is copied; the file appears under its name only when complete.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::bundle::{MANIFEST_NAME, SEAL_NAME};
use crate::digest::Hasher;
use crate::error::{Result, WorkshopError};
use crate::manifest::Part;
use crate::tarhead;

/// Bytes between two progress reports while writing.
const REPORT_EVERY: u64 = 16 * 1024 * 1024;

/// A part and the file holding its bytes.
#[derive(Debug, Clone)]
pub struct PartFile {
    pub part: Part,
    pub file: PathBuf,
}

/// Writes the bundle to `out` (through a hidden `.NAME.partial` file, synced, then renamed);
/// `progress(done, total)` is called as bytes are written. Returns the file's size.
pub async fn write_bundle(
    out: &Path,
    manifest: &[u8],
    seal: &[u8],
    parts: &[PartFile],
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<u64> {
    let partial = gantry_engine::partial_path(out);
    let result = write_to(&partial, manifest, seal, parts, progress, cancel).await;
    match result {
        Ok(size) => {
            tokio::fs::rename(&partial, out).await.map_err(WorkshopError::io("rename to", out))?;
            Ok(size)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

async fn write_to(
    path: &Path,
    manifest: &[u8],
    seal: &[u8],
    parts: &[PartFile],
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<u64> {
    let werr = WorkshopError::io("write", path);
    let file = tokio::fs::File::create(path).await.map_err(WorkshopError::io("create", path))?;
    let mut out = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
    let total: u64 = parts.iter().map(|p| p.part.size).sum();
    let mut written = 0u64;
    let mut next_report = 0u64;
    let mut size = 0u64;
    for (name, bytes) in [(MANIFEST_NAME, manifest), (SEAL_NAME, seal)] {
        let header = tarhead::file_header(name, bytes.len() as u64).map_err(|e| WorkshopError::invalid(e, ""))?;
        out.write_all(&header).await.map_err(WorkshopError::io("write", path))?;
        out.write_all(bytes).await.map_err(WorkshopError::io("write", path))?;
        out.write_all(&vec![0u8; tarhead::padding(bytes.len() as u64)])
            .await
            .map_err(WorkshopError::io("write", path))?;
        size += tarhead::member_len(bytes.len() as u64);
    }
    let mut buf = vec![0u8; 1024 * 1024];
    for PartFile { part, file } in parts {
        let header = tarhead::file_header(&part.path, part.size).map_err(|e| WorkshopError::invalid(e, ""))?;
        out.write_all(&header).await.map_err(WorkshopError::io("write", path))?;
        let mut source = tokio::fs::File::open(file).await.map_err(WorkshopError::io("read", file))?;
        let mut hasher = Hasher::new();
        let mut copied = 0u64;
        loop {
            if cancel.is_cancelled() {
                return Err(WorkshopError::Cancelled);
            }
            let n = source.read(&mut buf).await.map_err(WorkshopError::io("read", file))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(WorkshopError::io("write", path))?;
            copied += n as u64;
            written += n as u64;
            if written >= next_report {
                progress(written, total);
                next_report = written + REPORT_EVERY;
            }
        }
        let digest = hasher.finish();
        if copied != part.size || digest != part.digest {
            return Err(WorkshopError::Corrupt {
                path: file.clone(),
                part: part.path.clone(),
                expected: format!("{} ({} bytes)", part.digest, part.size),
                actual: format!("{digest} ({copied} bytes)"),
            });
        }
        out.write_all(&vec![0u8; tarhead::padding(part.size)]).await.map_err(WorkshopError::io("write", path))?;
        size += tarhead::member_len(part.size);
    }
    out.write_all(&tarhead::END).await.map_err(WorkshopError::io("write", path))?;
    size += tarhead::END.len() as u64;
    out.flush().await.map_err(WorkshopError::io("write", path))?;
    out.into_inner().sync_all().await.map_err(werr)?;
    progress(total, total);
    Ok(size)
}
