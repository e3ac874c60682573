//! The bundle file: a tar archive (ustar, plain files only) whose first member is the manifest
//! (`gantry-workshop.json`), then its seal (`gantry-workshop.seal`: the manifest's digest, and the
//! trainer's signature when signed), then every part the manifest lists, in its order: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`) holding the images' indexes, manifests, configs and layers, each blob
//! once however many images share it, and the labs as tar blobs. Other tools can read it as an
//! OCI archive (`skopeo copy oci-archive:FILE:busybox:1.36 …`).
//!
//! [`Bundle::open`] reads only the headers: it checks the manifest, that every part is where
//! the manifest says and is whole (a truncated copy is refused naming the first part cut off),
//! and that nothing else is in the file. Digests are checked when the parts are read.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher};
use crate::error::{Result, WorkshopError};
use crate::manifest::{MAX_MANIFEST_BYTES, Manifest, ManifestProblem, Part};
use crate::sign::{PublicKey, Seal, Signature};
use crate::tarhead::{self, BLOCK, Block};

/// The manifest's member name.
pub const MANIFEST_NAME: &str = "gantry-workshop.json";
/// The seal's member name.
pub const SEAL_NAME: &str = "gantry-workshop.seal";
/// The file name extension bundles are given.
pub const EXTENSION: &str = "gantry-workshop";
/// Most bytes a seal may have.
const MAX_SEAL_BYTES: u64 = 4096;
/// Most bytes after the end-of-archive marker (tar tools pad archives to 10 KiB records).
const MAX_TRAILING_BYTES: u64 = 20 * 1024;
/// Most bytes of a part read whole into memory (indexes, manifests, configs).
pub const MAX_METADATA_BYTES: u64 = 8 * 1024 * 1024;

/// An opened bundle: its manifest and where each part is.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// The manifest exactly as stored (what the signature covers).
    pub manifest_bytes: Vec<u8>,
    /// The digest of the manifest's bytes: the bundle's identity.
    pub id: Digest,
    pub signature: Option<Signature>,
    /// The file's size when it was opened.
    pub file_len: u64,
    offsets: HashMap<String, u64>,
}

impl Bundle {
    /// Opens `path` and reads its table of contents.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = std::fs::File::open(path).map_err(WorkshopError::io("open", path))?;
        let len = file.metadata().map_err(WorkshopError::io("read", path))?.len();
        Self::read_from(path, &mut file, len)
    }

    /// Reads a bundle's table of contents from `reader` of `len` bytes (`path` names it in errors).
    pub fn read_from<R: Read + Seek>(path: &Path, reader: &mut R, len: u64) -> Result<Self> {
        let not_bundle = |reason: String| WorkshopError::NotABundle { path: path.to_owned(), reason };
        let truncated = |reason: String| WorkshopError::Truncated { path: path.to_owned(), reason };
        let io = |e: std::io::Error| WorkshopError::Io { action: "read", path: path.to_owned(), source: e };
        let mut cursor = Cursor { reader, len, pos: 0 };

        let (name, size) = match cursor.header().map_err(io)? {
            Some(Ok(Block::File { name, size })) => (name, size),
            Some(Ok(Block::End)) | None => return Err(not_bundle("it is empty or not a tar archive".into())),
            Some(Err(e)) => return Err(not_bundle(format!("it does not start with a tar header ({e})"))),
        };
        if name != MANIFEST_NAME {
            return Err(not_bundle(format!("its first member is {name:?}, not {MANIFEST_NAME}")));
        }
        if size > MAX_MANIFEST_BYTES {
            return Err(not_bundle(format!("its manifest claims {size} bytes")));
        }
        let manifest_bytes =
            cursor.content(size).map_err(io)?.ok_or_else(|| truncated("it ends inside the manifest".into()))?;
        // A newer format may seal differently: say so before reading the seal.
        if let Err(ManifestProblem::NewerFormat(found)) = Manifest::parse(&manifest_bytes) {
            return Err(WorkshopError::NewerFormat {
                path: path.to_owned(),
                found,
                supported: crate::manifest::FORMAT,
            });
        }
        let size = match cursor.header().map_err(io)? {
            Some(Ok(Block::File { name, size })) if name == SEAL_NAME => size,
            None => return Err(truncated("it ends after the manifest".into())),
            Some(Err(e)) => return Err(not_bundle(format!("the header after the manifest is damaged: {e}"))),
            Some(Ok(_)) => return Err(not_bundle(format!("the manifest is not followed by its seal ({SEAL_NAME})"))),
        };
        if size > MAX_SEAL_BYTES {
            return Err(not_bundle(format!("its seal claims {size} bytes")));
        }
        let bytes = cursor.content(size).map_err(io)?.ok_or_else(|| truncated("it ends inside the seal".into()))?;
        let seal: Seal =
            serde_json::from_slice(&bytes).map_err(|e| not_bundle(format!("its seal is not readable: {e}")))?;
        let id = Digest::of(&manifest_bytes);
        if seal.manifest != id {
            return Err(WorkshopError::Corrupt {
                path: path.to_owned(),
                part: MANIFEST_NAME.into(),
                expected: seal.manifest.to_string(),
                actual: id.to_string(),
            });
        }
        let signature = seal.signature;
        let manifest = Manifest::parse(&manifest_bytes).map_err(|p| match p {
            ManifestProblem::NewerFormat(found) => {
                WorkshopError::NewerFormat { path: path.to_owned(), found, supported: crate::manifest::FORMAT }
            }
            ManifestProblem::Invalid(reason) => not_bundle(format!("its manifest is not valid: {reason}")),
        })?;

        let count = manifest.parts.len();
        let mut offsets = HashMap::with_capacity(count);
        for (i, part) in manifest.parts.iter().enumerate() {
            let where_ = || format!("part {} of {count} ({})", i + 1, part.path);
            match cursor.header().map_err(io)? {
                None | Some(Ok(Block::End)) => {
                    return Err(truncated(format!("it ends before {}; {} of {count} parts are there", where_(), i)));
                }
                Some(Err(e)) => return Err(not_bundle(format!("the header of {} is damaged: {e}", where_()))),
                Some(Ok(Block::File { name, size })) => {
                    if name != part.path || size != part.size {
                        return Err(not_bundle(format!(
                            "{} should be {} ({} bytes), the file has {name} ({size} bytes)",
                            where_(),
                            part.path,
                            part.size
                        )));
                    }
                }
            }
            let start = cursor.pos;
            if !cursor.skip(part.size) {
                return Err(truncated(format!(
                    "{} is cut off: it needs bytes {start} to {}, the file has {len}",
                    where_(),
                    start.saturating_add(part.size)
                )));
            }
            offsets.insert(part.path.clone(), start);
        }
        match cursor.header().map_err(io)? {
            None => return Err(truncated("the end-of-archive marker is missing: the copy stopped early".into())),
            Some(Ok(Block::End)) => {}
            Some(_) => return Err(not_bundle("it holds a member its manifest does not list".into())),
        }
        if cursor.len - cursor.pos < BLOCK {
            return Err(truncated("the end-of-archive marker is incomplete: the copy stopped early".into()));
        }
        cursor.trailing_zeros().map_err(io)?.map_err(not_bundle)?;
        Ok(Self { path: path.to_owned(), manifest, manifest_bytes, id, signature, file_len: len, offsets })
    }

    /// Where `part`'s bytes start in the file.
    pub fn offset(&self, part: &Part) -> Option<u64> {
        self.offsets.get(&part.path).copied()
    }

    /// Checks the signature: `Ok(Some(key))` for a bundle signed (by `trusted` when given),
    /// `Ok(None)` for an unsigned one when no key is required.
    pub fn check_signature(&self, trusted: Option<&PublicKey>) -> Result<Option<PublicKey>> {
        let fail = |reason: String| WorkshopError::Signature { path: self.path.clone(), reason };
        match (&self.signature, trusted) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(fail("the bundle is not signed, and a trusted key was given".into())),
            (Some(sig), trusted) => {
                let signer = sig.verify(&self.manifest_bytes).map_err(fail)?;
                if let Some(trusted) = trusted
                    && *trusted != signer
                {
                    return Err(fail(format!(
                        "it is signed by {}, not by the trusted key {}",
                        signer.fingerprint(),
                        trusted.fingerprint()
                    )));
                }
                Ok(Some(signer))
            }
        }
    }

    /// Reads a part whole (at most `max` bytes) and checks its digest.
    pub fn read_part(&self, part: &Part, max: u64) -> Result<Vec<u8>> {
        if part.size > max {
            return Err(self.not_bundle(format!("{} is {} bytes, more than {max} expected", part.path, part.size)));
        }
        let offset = self.offset(part).ok_or_else(|| self.not_bundle(format!("{} is not in the bundle", part.path)))?;
        let mut file = std::fs::File::open(&self.path).map_err(WorkshopError::io("open", &self.path))?;
        file.seek(SeekFrom::Start(offset)).map_err(WorkshopError::io("read", &self.path))?;
        let mut bytes = Vec::with_capacity(part.size as usize);
        file.take(part.size).read_to_end(&mut bytes).map_err(WorkshopError::io("read", &self.path))?;
        if (bytes.len() as u64) < part.size {
            return Err(WorkshopError::Truncated {
                path: self.path.clone(),
                reason: format!("{} is cut off (the file became shorter after it was opened)", part.path),
            });
        }
        self.check_digest(part, Digest::of(&bytes))?;
        Ok(bytes)
    }

    /// Reads every part and checks its digest (the whole file, once); the first mismatch is the error.
    pub fn verify_parts(&self) -> Result<()> {
        let mut file = std::fs::File::open(&self.path).map_err(WorkshopError::io("open", &self.path))?;
        for part in &self.manifest.parts {
            let offset =
                self.offset(part).ok_or_else(|| self.not_bundle(format!("{} has no place in the file", part.path)))?;
            file.seek(SeekFrom::Start(offset)).map_err(WorkshopError::io("read", &self.path))?;
            let digest = hash_reader(&mut (&mut file).take(part.size), part.size, |_| true).map_err(|e| {
                WorkshopError::Truncated { path: self.path.clone(), reason: format!("{}: {e}", part.path) }
            })?;
            if let Some(digest) = digest {
                self.check_digest(part, digest)?;
            }
        }
        Ok(())
    }

    /// The part stored under `digest`, or an error naming what refers to it.
    pub fn blob(&self, digest: &Digest, referred_by: &str) -> Result<&Part> {
        self.manifest
            .blob(digest)
            .ok_or_else(|| self.not_bundle(format!("{referred_by} refers to {digest}, which the bundle does not hold")))
    }

    /// `Corrupt` unless `actual` is the digest the manifest gives `part`.
    pub fn check_digest(&self, part: &Part, actual: Digest) -> Result<()> {
        if actual == part.digest {
            Ok(())
        } else {
            Err(WorkshopError::Corrupt {
                path: self.path.clone(),
                part: part.path.clone(),
                expected: part.digest.to_string(),
                actual: actual.to_string(),
            })
        }
    }

    pub(crate) fn not_bundle(&self, reason: String) -> WorkshopError {
        WorkshopError::NotABundle { path: self.path.clone(), reason }
    }
}

/// Hashes `part`'s bytes as read from `reader` (positioned at the part) in chunks, calling
/// `progress` with the bytes read so far; returns the digest.
pub fn hash_reader<R: Read>(
    reader: &mut R,
    size: u64,
    mut progress: impl FnMut(u64) -> bool,
) -> std::io::Result<Option<Digest>> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(buf.len() as u64) as usize;
        let n = reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ended inside a part"));
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        if !progress(done) {
            return Ok(None);
        }
    }
    Ok(Some(hasher.finish()))
}

/// A position in the bundle being scanned.
struct Cursor<'a, R> {
    reader: &'a mut R,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Cursor<'_, R> {
    /// The next header block; `None` at the end of the file.
    fn header(&mut self) -> std::io::Result<Option<std::result::Result<Block, String>>> {
        if self.pos.checked_add(BLOCK).is_none_or(|end| end > self.len) {
            return Ok(None);
        }
        self.reader.seek(SeekFrom::Start(self.pos))?;
        let mut block = [0u8; 512];
        self.reader.read_exact(&mut block)?;
        self.pos += BLOCK;
        Ok(Some(tarhead::parse_header(&block)))
    }

    /// Reads `size` bytes of content and skips the padding; `None` when the file ends first.
    fn content(&mut self, size: u64) -> std::io::Result<Option<Vec<u8>>> {
        let start = self.pos;
        if !self.skip(size) {
            return Ok(None);
        }
        self.reader.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0u8; size as usize];
        self.reader.read_exact(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Moves past `size` bytes of content and their padding; false when the file ends first.
    fn skip(&mut self, size: u64) -> bool {
        match self.pos.checked_add(size) {
            Some(content_end) if content_end <= self.len => {
                self.pos = content_end.saturating_add(tarhead::padding(size) as u64).min(self.len);
                true
            }
            _ => false,
        }
    }

    /// After the end marker's first block: the second one, then nothing but zeros.
    fn trailing_zeros(&mut self) -> std::io::Result<std::result::Result<(), String>> {
        let rest = self.len.saturating_sub(self.pos);
        if rest > MAX_TRAILING_BYTES {
            return Ok(Err(format!("{rest} bytes follow the end of the archive")));
        }
        self.reader.seek(SeekFrom::Start(self.pos))?;
        let mut tail = Vec::with_capacity(rest as usize);
        self.reader.by_ref().take(rest).read_to_end(&mut tail)?;
        if tail.iter().any(|b| *b != 0) {
            return Ok(Err("data follows the end of the archive".into()));
        }
        Ok(Ok(()))
    }
}
