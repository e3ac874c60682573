//! Reading a `docker save` archive as a stream, in one pass and bounded memory: each layer's tar
//! is read where it lies inside the archive and only its file list (names, kinds, sizes) is kept;
//! file contents pass by, except those a [`ContentCollector`] asks for. Both layouts are read:
//! Docker's (`manifest.json`, `<id>/layer.tar`, `<config>.json`) and OCI (`index.json`,
//! `blobs/sha256/…`, as Docker 25+ and the containerd image store write), with uncompressed or
//! gzip-compressed layers.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use super::InsightError;

/// JSON documents larger than this are not image metadata (a 4000-layer config is ~2 MB).
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// What a layer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// Devices, FIFOs and other special files.
    Other,
}

/// One entry of a layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Relative, cleaned path (`etc/passwd`); whiteout names are kept (`etc/.wh.old`).
    pub path: String,
    pub kind: EntryKind,
    /// Bytes of content (0 for everything but regular files).
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Symlink or hardlink target.
    pub link: Option<String>,
}

impl LayerEntry {
    /// The path's last component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The directory holding the entry (`""` at the top).
    pub fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }
}

/// The file list of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerListing {
    pub entries: Vec<LayerEntry>,
}

/// Sees the contents of the files it wants while the archive streams by.
pub trait ContentCollector {
    /// Whether to read this regular file (`layer` is the blob's name in the archive).
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool;
    /// Reads what it needs of the file; the rest is skipped.
    fn collect(&mut self, layer: &str, path: &str, size: u64, content: &mut dyn Read) -> std::io::Result<()>;
}

/// Collects nothing (layer analysis needs only the file lists).
#[derive(Debug, Default)]
pub struct NoContent;

impl ContentCollector for NoContent {
    fn wants(&self, _: &str, _: u64, _: u32) -> bool {
        false
    }
    fn collect(&mut self, _: &str, _: &str, _: u64, _: &mut dyn Read) -> std::io::Result<()> {
        Ok(())
    }
}

/// One step of the image's build history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub empty_layer: bool,
}

/// The parts of the image config the analyses use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// An image read from a `docker save` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    /// The config's digest (`sha256:…`), i.e. the image ID.
    pub id: String,
    pub tags: Vec<String>,
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<LayerListing>,
    /// Each layer's blob name in the archive (what a [`ContentCollector`] was told).
    pub layer_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OciDescriptor {
    digest: String,
    #[serde(default, rename = "mediaType")]
    media_type: String,
}

#[derive(Debug, Deserialize)]
struct OciIndexOrManifest {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
    #[serde(default)]
    config: Option<OciDescriptor>,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// Reads a whole `docker save` archive of one image.
pub fn read_saved_image(reader: impl Read, collector: &mut dyn ContentCollector) -> Result<SavedImage, InsightError> {
    let bad = |message: String| InsightError::Archive { message };
    let mut outer = tar::Archive::new(reader);
    let mut json: HashMap<String, Vec<u8>> = HashMap::new();
    let mut listings: HashMap<String, LayerListing> = HashMap::new();
    let mut aliases: HashMap<String, String> = HashMap::new();
    for entry in outer.entries().map_err(|e| bad(format!("not a tar archive: {e}")))? {
        let mut entry = entry.map_err(|e| bad(format!("reading the archive: {e}")))?;
        let name = clean_path(&entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy());
        match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(target) = entry.link_name().ok().flatten() {
                    let target = target.to_string_lossy().to_string();
                    let resolved = if entry.header().entry_type() == tar::EntryType::Symlink {
                        resolve_relative(&name, &target)
                    } else {
                        clean_path(&target)
                    };
                    aliases.insert(name, resolved);
                }
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => continue,
        }
        let size = entry.size();
        let mut head = Vec::with_capacity(512);
        (&mut entry).take(512).read_to_end(&mut head).map_err(|e| bad(format!("reading {name}: {e}")))?;
        let looks_like_json = head.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{' || *b == b'[');
        if name.ends_with(".json") || name == "repositories" || name == "oci-layout" || looks_like_json {
            if size > MAX_JSON_BYTES {
                tracing::warn!(%name, size, "skipping an oversized JSON document in the archive");
                continue;
            }
            let mut body = head;
            entry.read_to_end(&mut body).map_err(|e| bad(format!("reading {name}: {e}")))?;
            json.insert(name, body);
            continue;
        }
        let content = std::io::Cursor::new(head.clone()).chain(&mut entry);
        let listing = match sniff(&head) {
            Blob::Gzip => read_layer(flate2::read::GzDecoder::new(content), &name, collector)?,
            Blob::Tar => read_layer(content, &name, collector)?,
            Blob::Zstd => {
                return Err(InsightError::Unsupported {
                    what: format!(
                        "the zstd-compressed layer {name} (export the image from an engine that stores layers uncompressed or gzip-compressed)"
                    ),
                });
            }
            Blob::Other => continue,
        };
        listings.insert(name, listing);
    }
    // Read the padding after the end-of-archive blocks too: the export ends cleanly and the
    // progress count reaches the archive's size.
    std::io::copy(&mut outer.into_inner(), &mut std::io::sink())
        .map_err(|e| bad(format!("reading the archive's end: {e}")))?;
    let resolve = |key: &str| -> String {
        let mut key = clean_path(key);
        for _ in 0..8 {
            match aliases.get(&key) {
                Some(next) => key = next.clone(),
                None => break,
            }
        }
        key
    };
    let (config_key, tags, layer_keys) = if let Some(text) = json.get("manifest.json") {
        let manifests: Vec<DockerManifest> =
            serde_json::from_slice(text).map_err(|e| bad(format!("manifest.json: {e}")))?;
        let first = manifests.into_iter().next().ok_or_else(|| bad("manifest.json lists no image".into()))?;
        (first.config, first.repo_tags.unwrap_or_default(), first.layers)
    } else if let Some(text) = json.get("index.json") {
        oci_image(text, &json)?
    } else {
        return Err(bad("no manifest.json or index.json: this is not an image archive made by `docker save`".into()));
    };
    let config_key = resolve(&config_key);
    let config_bytes = json.get(&config_key).ok_or_else(|| bad(format!("the image config {config_key} is missing")))?;
    let config: ImageConfig =
        serde_json::from_slice(config_bytes).map_err(|e| bad(format!("the image config {config_key}: {e}")))?;
    let mut layers = Vec::with_capacity(layer_keys.len());
    let mut keys = Vec::with_capacity(layer_keys.len());
    for key in &layer_keys {
        let key = resolve(key);
        let listing = listings.get(&key).ok_or_else(|| bad(format!("the layer {key} is missing")))?;
        layers.push(listing.clone());
        keys.push(key);
    }
    let id = config_key
        .rsplit('/')
        .next()
        .map(|hex| format!("sha256:{}", hex.trim_end_matches(".json")))
        .unwrap_or_default();
    Ok(SavedImage { id, tags, config, layers, layer_keys: keys })
}

/// The config and layers of the first image an OCI `index.json` names (descending through
/// nested indexes).
fn oci_image(
    index: &[u8],
    json: &HashMap<String, Vec<u8>>,
) -> Result<(String, Vec<String>, Vec<String>), InsightError> {
    let bad = |message: String| InsightError::Archive { message };
    let blob = |digest: &str| format!("blobs/{}", digest.replacen(':', "/", 1));
    let mut document: OciIndexOrManifest =
        serde_json::from_slice(index).map_err(|e| bad(format!("index.json: {e}")))?;
    for _ in 0..4 {
        if let Some(config) = &document.config {
            let layers = document.layers.iter().map(|l| blob(&l.digest)).collect();
            return Ok((blob(&config.digest), Vec::new(), layers));
        }
        let next = document
            .manifests
            .iter()
            .find(|m| json.contains_key(&blob(&m.digest)) && !m.media_type.contains("attestation"))
            .ok_or_else(|| bad("index.json names no image manifest that is in the archive".into()))?;
        let text = &json[&blob(&next.digest)];
        document = serde_json::from_slice(text).map_err(|e| bad(format!("{}: {e}", next.digest)))?;
    }
    Err(bad("index.json nests too deeply".into()))
}

enum Blob {
    Tar,
    Gzip,
    Zstd,
    Other,
}

fn sniff(head: &[u8]) -> Blob {
    if head.starts_with(&[0x1f, 0x8b]) {
        Blob::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Blob::Zstd
    } else if head.get(257..262) == Some(b"ustar".as_slice()) || (head.len() == 512 && head.iter().all(|b| *b == 0)) {
        // ustar, GNU and PAX headers carry the magic; an empty layer is a tar of zero blocks.
        Blob::Tar
    } else {
        Blob::Other
    }
}

/// Reads one layer tar's file list, handing wanted file contents to `collector`.
fn read_layer(
    reader: impl Read,
    key: &str,
    collector: &mut dyn ContentCollector,
) -> Result<LayerListing, InsightError> {
    let bad = |e: std::io::Error| InsightError::Archive { message: format!("layer {key}: {e}") };
    let mut archive = tar::Archive::new(reader);
    let mut listing = LayerListing::default();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            _ => EntryKind::Other,
        };
        let path = clean_path(&entry.path().map_err(bad)?.to_string_lossy());
        if path.is_empty() {
            continue;
        }
        let mode = header.mode().unwrap_or(0);
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let link = entry.link_name().ok().flatten().map(|l| l.to_string_lossy().to_string());
        let size = if kind == EntryKind::File { entry.size() } else { 0 };
        if kind == EntryKind::File && collector.wants(&path, size, mode) {
            collector.collect(key, &path, size, &mut entry).map_err(bad)?;
        }
        listing.entries.push(LayerEntry { path, kind, size, mode, uid, gid, link });
    }
    Ok(listing)
}

/// `./etc//apt/` → `etc/apt`; `.` and `/` → `""` (Go's `path.Clean` without the leading slash).
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Resolves a symlink target relative to the link's directory inside the archive.
fn resolve_relative(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean_path(target);
    }
    let dir = link.rsplit_once('/').map_or("", |(d, _)| d);
    clean_path(&format!("{dir}/{target}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(clean_path("./etc//apt/"), "etc/apt");
        assert_eq!(clean_path("."), "");
        assert_eq!(clean_path("/a/../b"), "b");
        assert_eq!(resolve_relative("abc/layer.tar", "../blobs/sha256/12"), "blobs/sha256/12");
    }

    /// A `docker save` of Docker 25+ with the containerd image store: OCI layout only (no
    /// manifest.json), an image index naming two platforms of which one is in the archive, a
    /// gzip-compressed layer.
    #[test]
    fn oci_layout_with_a_nested_index_and_a_gzip_layer() {
        use std::io::Write;
        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        layer.append_data(&mut header, "etc/hello.txt", &b"hello"[..]).unwrap_or_default();
        let layer = layer.into_inner().unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&layer).unwrap_or_default();
        let layer = gz.finish().unwrap_or_default();
        let config = br#"{"architecture":"arm64","os":"linux","history":[{"created_by":"COPY hello.txt /etc/ # buildkit"}],"rootfs":{"diff_ids":["sha256:d1"]}}"#;
        let manifest = br#"{"schemaVersion":2,"config":{"digest":"sha256:c0f1"},"layers":[{"digest":"sha256:1a7e"}]}"#;
        let image_index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:aaaa","platform":{"architecture":"amd64"}},{"digest":"sha256:3a1f","platform":{"architecture":"arm64"}}]}"#;
        let index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:1d3x","mediaType":"application/vnd.oci.image.index.v1+json"}]}"#;
        let mut archive = tar::Builder::new(Vec::new());
        for (name, body) in [
            ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            ("blobs/sha256/1a7e", &layer[..]),
            ("blobs/sha256/c0f1", &config[..]),
            ("blobs/sha256/3a1f", &manifest[..]),
            ("blobs/sha256/1d3x", &image_index[..]),
            ("index.json", &index[..]),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            archive.append_data(&mut header, name, body).unwrap_or_default();
        }
        let bytes = archive.into_inner().unwrap_or_default();
        let image = read_saved_image(bytes.as_slice(), &mut NoContent).expect("an OCI archive reads");
        assert_eq!(image.id, "sha256:c0f1");
        assert_eq!(image.config.architecture, "arm64");
        assert_eq!(image.layers.len(), 1);
        assert_eq!(image.layers[0].entries[0].path, "etc/hello.txt");
        assert_eq!(image.layers[0].entries[0].size, 5);
        let zstd = [&[0x28u8, 0xb5, 0x2f, 0xfd][..], &[0u8; 600][..]].concat();
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(zstd.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, "blobs/sha256/z", zstd.as_slice()).unwrap_or_default();
        let bytes = archive.into_inner().unwrap_or_default();
        let error = read_saved_image(bytes.as_slice(), &mut NoContent).expect_err("zstd is refused clearly");
        assert!(error.to_string().contains("zstd"), "{error}");
    }
}
