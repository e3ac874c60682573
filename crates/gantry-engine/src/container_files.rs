//! Reading one file out of a container, running or not, through the engine's archive API (what
//! `docker cp CONTAINER:PATH -` does). The path may be in the image, the writable layer or a mount.

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result};

/// Size of a tar header block.
const BLOCK: usize = 512;

/// A file read from a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFile {
    /// The first bytes of the file (all of it unless `truncated`).
    pub bytes: Vec<u8>,
    /// The file is longer than what was asked for.
    pub truncated: bool,
}

impl Engine {
    /// Reads the regular file at `path` (absolute) in container `id`, at most `max_bytes` of it.
    /// `Ok(None)` when nothing exists at that path; a directory, link or device is an
    /// [`EngineError::InvalidRequest`]. Only the bytes asked for are transferred: the request is
    /// dropped once they have arrived.
    pub async fn read_container_file(&self, id: &str, path: &str, max_bytes: usize) -> Result<Option<ContainerFile>> {
        if !path.starts_with('/') {
            return Err(EngineError::InvalidRequest { message: format!("{path:?} must be an absolute path") });
        }
        let options = DownloadFromContainerOptions { path: path.to_string() };
        let mut stream = self.docker.download_from_container(id, Some(options));
        let mut buf: Vec<u8> = Vec::new();
        let mut header: Option<(tar::EntryType, usize)> = None;
        loop {
            if header.is_none() && buf.len() >= BLOCK {
                header = Some(parse_header(&buf[..BLOCK], path)?);
            }
            if let Some((_, size)) = header
                && buf.len() >= BLOCK + size.min(max_bytes)
            {
                break;
            }
            match stream.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                Some(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, message }))
                    if !message.contains("No such container") =>
                {
                    return Ok(None);
                }
                Some(Err(e)) => return Err(self.err(e, ResourceKind::Container, id)),
                None => break,
            }
        }
        let Some((kind, size)) = header else {
            return Err(EngineError::Protocol { message: format!("the archive of {path} ended before its header") });
        };
        if kind != tar::EntryType::Regular && kind != tar::EntryType::Continuous {
            return Err(EngineError::InvalidRequest { message: format!("{path} is not a regular file ({kind:?})") });
        }
        let wanted = size.min(max_bytes);
        let available = buf.len().saturating_sub(BLOCK).min(wanted);
        if available < wanted {
            return Err(EngineError::Protocol { message: format!("the archive of {path} ended early") });
        }
        Ok(Some(ContainerFile { bytes: buf[BLOCK..BLOCK + wanted].to_vec(), truncated: size > max_bytes }))
    }
}

/// The entry type and size of the archive's first entry.
fn parse_header(block: &[u8], path: &str) -> Result<(tar::EntryType, usize)> {
    let bad = |why: String| EngineError::Protocol { message: format!("the archive of {path}: {why}") };
    let mut raw = [0u8; BLOCK];
    raw.copy_from_slice(block);
    let header = tar::Header::from_byte_slice(&raw);
    let size = header.size().map_err(|e| bad(e.to_string()))?;
    Ok((header.entry_type(), usize::try_from(size).map_err(|e| bad(e.to_string()))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_entry_header() {
        let mut h = tar::Header::new_gnu();
        h.set_size(42);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        assert_eq!(parse_header(h.as_bytes(), "/x").ok(), Some((tar::EntryType::Regular, 42)));
        let mut d = tar::Header::new_gnu();
        d.set_entry_type(tar::EntryType::Directory);
        d.set_size(0);
        assert_eq!(parse_header(d.as_bytes(), "/d").ok().map(|h| h.0), Some(tar::EntryType::Directory));
        let garbage = [b'z'; BLOCK];
        assert!(parse_header(&garbage, "/g").is_err());
    }
}
