//! Reading what `docker save` writes into the blob store, whichever engine wrote it:
//!
//! - classic engines before Docker 25: `manifest.json` naming `<config>.json` and
//!   `<id>/layer.tar` files (a layer already written is a symlink to the first copy);
//! - Docker 25 and later: an OCI image layout (`index.json`, `blobs/sha256/…`) beside
//!   `manifest.json`; with the containerd image store the index lists every platform the engine
//!   has, and platforms whose content is not local are listed but absent.
//!
//! The result is one [`PlatformImage`] per platform present.

use std::collections::HashMap;
use std::io::Read;

use crate::digest::Digest;
use crate::oci::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, ImageName, MEDIA_CONFIG, MEDIA_LAYER_TAR, MEDIA_MANIFEST,
    Platform,
};
use crate::pack::store::BlobStore;

/// Most bytes of JSON read from an archive (indexes, manifests, configs).
const MAX_JSON: u64 = 8 * 1024 * 1024;

/// One platform of an image: its manifest, config and layers (all in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformImage {
    pub platform: Platform,
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The files of a saved archive, by path.
#[derive(Debug, Default)]
pub struct SavedArchive {
    files: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

/// Copies every file of the tar archive `reader` into `store`.
pub fn read_archive(reader: impl Read, store: &BlobStore) -> Result<SavedArchive, String> {
    let mut archive = tar::Archive::new(reader);
    let mut saved = SavedArchive::default();
    for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("a damaged entry: {e}"))?;
        let path = entry.path().map_err(|e| format!("an entry name: {e}"))?.display().to_string();
        let path = path.trim_start_matches("./").to_string();
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let stored = store.put_reader(&mut entry).map_err(|e| format!("storing {path}: {e}"))?;
                saved.files.insert(path, stored);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("{path}: {e}"))?
                    .ok_or_else(|| format!("{path} links to nothing"))?
                    .display()
                    .to_string();
                saved.links.insert(path, target);
            }
            _ => {}
        }
    }
    Ok(saved)
}

impl SavedArchive {
    /// The blob a path holds, following links (relative to the link's folder, as
    /// `docker save` writes them).
    fn file(&self, path: &str) -> Result<(Digest, u64), String> {
        let mut path = path.trim_start_matches("./").to_string();
        for _ in 0..8 {
            if let Some(found) = self.files.get(&path) {
                return Ok(found.clone());
            }
            let target = self.links.get(&path).ok_or_else(|| format!("the archive has no file {path}"))?;
            path = if target.starts_with('/') {
                target.trim_start_matches('/').to_string()
            } else {
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                normalize(&format!("{dir}/{target}"))
            };
        }
        Err(format!("{path}: too many links"))
    }

    /// The platforms of `name` in the archive (the only image when the archive holds one).
    pub fn images(&self, name: &str, store: &BlobStore) -> Result<Vec<PlatformImage>, String> {
        if self.files.contains_key("index.json") {
            self.oci_images(name, store)
        } else if self.files.contains_key("manifest.json") {
            self.legacy_images(name, store)
        } else {
            Err("it has neither index.json nor manifest.json".into())
        }
    }

    fn oci_images(&self, name: &str, store: &BlobStore) -> Result<Vec<PlatformImage>, String> {
        let index: ImageIndex = json(store, &self.file("index.json")?.0, "index.json")?;
        let wanted = ImageName::parse(name).ok().map(|n| n.full());
        let named = |d: &&Descriptor| {
            d.annotations.get(crate::oci::ANNOTATION_IMAGE_NAME).is_some_and(|n| Some(n) == wanted.as_ref())
        };
        let entries: Vec<&Descriptor> = match index.manifests.iter().filter(named).collect::<Vec<_>>() {
            found if !found.is_empty() => found,
            _ if index.manifests.len() == 1 => index.manifests.iter().collect(),
            _ => return Err(format!("index.json lists {} images, none named {name}", index.manifests.len())),
        };
        let mut out = Vec::new();
        for entry in entries {
            self.check_blob_path(entry)?;
            if entry.is_index() {
                if store.size(&entry.digest).is_none() {
                    return Err(format!("the image index {} is missing", entry.digest));
                }
                let child: ImageIndex = json(store, &entry.digest, "the image index")?;
                for m in &child.manifests {
                    if let Some(image) = platform_image(m, m.platform.as_ref().map(Platform::from_oci), store)? {
                        out.push(image);
                    }
                }
            } else if let Some(image) = platform_image(entry, None, store)? {
                out.push(image);
            }
        }
        Ok(out)
    }

    /// Blobs in an OCI layout are named by their digest; a blob whose bytes say otherwise is damaged.
    fn check_blob_path(&self, d: &Descriptor) -> Result<(), String> {
        match self.files.get(&d.digest.blob_path()) {
            Some((actual, _)) if *actual != d.digest => {
                Err(format!("{} holds bytes whose digest is {actual}", d.digest.blob_path()))
            }
            _ => Ok(()),
        }
    }

    fn legacy_images(&self, name: &str, store: &BlobStore) -> Result<Vec<PlatformImage>, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            layers: Vec<String>,
        }
        let entries: Vec<Entry> = json(store, &self.file("manifest.json")?.0, "manifest.json")?;
        let wanted = ImageName::parse(name).ok().map(|n| n.full());
        let full = |t: &String| ImageName::parse(t).ok().map(|n| n.full());
        let entry = match entries.iter().find(|e| e.repo_tags.iter().flatten().any(|t| full(t) == wanted)) {
            Some(e) => e,
            None if entries.len() == 1 => &entries[0],
            None => return Err(format!("manifest.json lists {} images, none named {name}", entries.len())),
        };
        let (config_digest, config_size) = self.file(&entry.config)?;
        let config: ImageConfig = json(store, &config_digest, "the image config")?;
        let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(format!("the config lists {} layers, manifest.json {}", diff_ids.len(), entry.layers.len()));
        }
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(&diff_ids) {
            let (digest, size) = self.file(path)?;
            // Classic engines save layers uncompressed: the file's digest is the layer's diff ID.
            if digest.as_str() != diff_id {
                return Err(format!("{path} has digest {digest}, the config says {diff_id}"));
            }
            layers.push(Descriptor::new(MEDIA_LAYER_TAR, digest, size));
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_MANIFEST.into()),
            config: Descriptor::new(MEDIA_CONFIG, config_digest, config_size),
            layers,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
        let (digest, size) = store.put_bytes(&bytes).map_err(|e| format!("storing a manifest: {e}"))?;
        Ok(vec![PlatformImage {
            platform: config.platform(),
            manifest: Descriptor::new(MEDIA_MANIFEST, digest, size),
            config: manifest.config,
            layers: manifest.layers,
        }])
    }
}

/// One platform's image from its manifest descriptor; `None` when its content is not in the
/// archive (a platform the engine lists but does not have) or it is not an image (attestations).
fn platform_image(
    desc: &Descriptor,
    hint: Option<Platform>,
    store: &BlobStore,
) -> Result<Option<PlatformImage>, String> {
    if hint.as_ref().is_some_and(Platform::is_unknown) || store.size(&desc.digest).is_none() {
        return Ok(None);
    }
    let manifest: ImageManifest = json(store, &desc.digest, "an image manifest")?;
    if store.size(&manifest.config.digest).is_none() || manifest.layers.iter().any(|l| store.size(&l.digest).is_none())
    {
        return Ok(None);
    }
    let config: ImageConfig = json(store, &manifest.config.digest, "an image config")?;
    let platform = match config.platform() {
        p if !p.os.is_empty() && !p.architecture.is_empty() && !p.is_unknown() => p,
        _ => return Ok(None),
    };
    let media_type = manifest.media_type.clone().unwrap_or_else(|| desc.media_type.clone());
    let mut descriptor = Descriptor::new(&media_type, desc.digest.clone(), desc.size);
    descriptor.platform = None;
    Ok(Some(PlatformImage { platform, manifest: descriptor, config: manifest.config, layers: manifest.layers }))
}

fn json<T: serde::de::DeserializeOwned>(store: &BlobStore, digest: &Digest, what: &str) -> Result<T, String> {
    let bytes = store.read(digest, MAX_JSON).map_err(|e| format!("reading {what}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{what} is not valid: {e}"))
}

/// `a/./b/../c` → `a/c`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_relative_to_their_folder() {
        assert_eq!(normalize("abc/../def/layer.tar"), "def/layer.tar");
        assert_eq!(normalize("./a/./b"), "a/b");
    }
}
