//! What the bundle holds for each image, read from its index and manifests (each read part's
//! digest checked), and the archive that loads it into an engine of either image store.

use gantry_engine::ImageStore;

use crate::bundle::Bundle;
use crate::error::{Result, WorkshopError};
use crate::import::archive::{LoadArchive, Member};
use crate::manifest::{ImageEntry, Part};
use crate::oci::{ImageIndex, ImageManifest, Platform};
use crate::pack::index_entry;

/// One platform of an image in the bundle.
#[derive(Debug, Clone)]
pub struct PlatformParts {
    pub platform: Platform,
    pub manifest: Part,
    pub config: Part,
    pub layers: Vec<Part>,
}

/// An image in the bundle with all its parts.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub name: String,
    pub index: Part,
    pub platforms: Vec<PlatformParts>,
}

impl ImagePlan {
    /// Reads the image's index and manifests from the bundle and checks they hold together with
    /// the bundle's manifest.
    pub fn read(bundle: &Bundle, entry: &ImageEntry) -> Result<Self> {
        let what = format!("image {}", entry.name);
        let index_part = bundle.blob(&entry.index, &what)?.clone();
        let index: ImageIndex = parse(bundle, &index_part, &what)?;
        let mut platforms = Vec::new();
        for desc in &index.manifests {
            let platform =
                desc.platform.as_ref().map(Platform::from_oci).ok_or_else(|| {
                    bundle.not_bundle(format!("{what}: the index lists a manifest without a platform"))
                })?;
            let manifest_part = bundle.blob(&desc.digest, &what)?.clone();
            let manifest: ImageManifest = parse(bundle, &manifest_part, &what)?;
            let config = bundle.blob(&manifest.config.digest, &what)?.clone();
            let layers =
                manifest.layers.iter().map(|l| bundle.blob(&l.digest, &what).cloned()).collect::<Result<Vec<_>>>()?;
            platforms.push(PlatformParts { platform, manifest: manifest_part, config, layers });
        }
        let listed: Vec<&Platform> = platforms.iter().map(|p| &p.platform).collect();
        if listed.len() != entry.platforms.len() || entry.platforms.iter().any(|p| !listed.contains(&p)) {
            return Err(bundle.not_bundle(format!("{what}: its index and the bundle's manifest list other platforms")));
        }
        Ok(Self { name: entry.name.clone(), index: index_part, platforms })
    }

    /// The platform a classic engine on `engine` (`os/arch`) gets: the same platform, else the
    /// first one (it runs emulated); the flag says whether it matched.
    pub fn platform_for(&self, engine: &Platform) -> Option<(&PlatformParts, bool)> {
        self.platforms
            .iter()
            .find(|p| p.platform.os == engine.os && p.platform.architecture == engine.architecture)
            .map(|p| (p, true))
            .or_else(|| self.platforms.first().map(|p| (p, false)))
    }

    /// The archive that loads this image into an engine with `store`; `platform` is the one a
    /// classic engine gets (see [`Self::platform_for`]).
    pub fn archive(&self, bundle: &Bundle, store: ImageStore, platform: &PlatformParts) -> Result<LoadArchive> {
        let offset = |part: &Part| {
            bundle.offset(part).ok_or_else(|| bundle.not_bundle(format!("{} has no place in the file", part.path)))
        };
        let mut members = Vec::new();
        let add = |part: &Part, members: &mut Vec<Member>| -> Result<()> {
            if !members.iter().any(|m: &Member| m.name == part.path) {
                members.push(Member::part(part, offset(part)?));
            }
            Ok(())
        };
        match store {
            ImageStore::Classic => {
                let docker_manifest = serde_json::json!([{
                    "Config": platform.config.path,
                    "RepoTags": [self.name],
                    "Layers": platform.layers.iter().map(|l| l.path.clone()).collect::<Vec<_>>(),
                }]);
                members.push(Member::bytes("manifest.json", docker_manifest.to_string().into_bytes()));
                add(&platform.config, &mut members)?;
                for layer in &platform.layers {
                    add(layer, &mut members)?;
                }
            }
            ImageStore::Containerd => {
                let entry = index_entry(&self.name, self.index.digest.clone(), self.index.size)?;
                let index = serde_json::to_vec(&ImageIndex::new(vec![entry]))
                    .map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
                members.push(Member::bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
                members.push(Member::bytes("index.json", index));
                add(&self.index, &mut members)?;
                for p in &self.platforms {
                    add(&p.manifest, &mut members)?;
                    add(&p.config, &mut members)?;
                    for layer in &p.layers {
                        add(layer, &mut members)?;
                    }
                }
            }
        }
        Ok(LoadArchive { members })
    }

    /// The image ID an engine with `store` gives this image once loaded: the config's digest on
    /// a classic engine, the index's on the containerd store.
    pub fn expected_id(&self, store: ImageStore, platform: &PlatformParts) -> String {
        match store {
            ImageStore::Classic => platform.config.digest.to_string(),
            ImageStore::Containerd => self.index.digest.to_string(),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(bundle: &Bundle, part: &Part, what: &str) -> Result<T> {
    let bytes = bundle.read_part(part, crate::bundle::MAX_METADATA_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|e| bundle.not_bundle(format!("{what}: {} is not valid: {e}", part.path)))
}
