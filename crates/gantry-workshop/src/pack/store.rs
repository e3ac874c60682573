//! A content-addressed blob store in a work folder, used while packing: every blob is kept once
//! under its digest, however many images or archives bring it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Digest, Hasher};

/// Blobs under `dir/<hex>`; the folder is removed when the store is dropped.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    next_temp: AtomicU64,
}

impl BlobStore {
    /// Creates (or empties) `dir` for blobs.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        Ok(Self { dir: dir.to_owned(), next_temp: AtomicU64::new(0) })
    }

    /// Where the blob `digest` is kept.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// The blob's size, if the store has it.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        std::fs::metadata(self.path(digest)).ok().map(|m| m.len())
    }

    /// Copies `reader` into the store; returns its digest and size.
    pub fn put_reader(&self, reader: &mut impl Read) -> std::io::Result<(Digest, u64)> {
        let temp = self.dir.join(format!(".tmp-{}", self.next_temp.fetch_add(1, Ordering::Relaxed)));
        let mut file = std::fs::File::create(&temp)?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])?;
            size += n as u64;
        }
        drop(file);
        let digest = hasher.finish();
        let path = self.path(&digest);
        if path.exists() {
            std::fs::remove_file(&temp)?;
        } else {
            std::fs::rename(&temp, &path)?;
        }
        Ok((digest, size))
    }

    /// Stores `bytes`; returns their digest and size.
    pub fn put_bytes(&self, bytes: &[u8]) -> std::io::Result<(Digest, u64)> {
        self.put_reader(&mut &bytes[..])
    }

    /// Reads a blob whole, refusing more than `max` bytes.
    pub fn read(&self, digest: &Digest, max: u64) -> std::io::Result<Vec<u8>> {
        let path = self.path(digest);
        let size = std::fs::metadata(&path)?.len();
        if size > max {
            return Err(std::io::Error::other(format!("{digest} is {size} bytes, more than {max} expected")));
        }
        std::fs::read(path)
    }
}

impl Drop for BlobStore {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove the packing work folder");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_blob_once_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tmp");
        let work = dir.path().join("work");
        {
            let store = BlobStore::create(&work).expect("store");
            let (a, size) = store.put_bytes(b"layer").expect("put");
            let (b, _) = store.put_bytes(b"layer").expect("put again");
            assert_eq!((a.clone(), size), (b, 5));
            assert_eq!(store.read(&a, 10).expect("read"), b"layer");
            assert!(store.read(&a, 2).is_err());
            assert_eq!(std::fs::read_dir(&work).expect("dir").count(), 1, "one blob, no temp files");
        }
        assert!(!work.exists());
    }
}
