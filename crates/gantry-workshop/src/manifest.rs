//! The bundle's manifest (`gantry-workshop.json`, the first member of the file): what the
//! bundle holds and the digest and size of every other member.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::oci::{ImageName, Platform};

/// The newest bundle format this Gantry writes and reads (older ones are read too).
pub const FORMAT: u32 = 1;
/// The `kind` every workshop manifest carries.
pub const KIND: &str = "gantry-workshop";
/// Most bytes a manifest may have (a bundle with thousands of images stays far below).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// A workshop bundle's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Manifest {
    pub format: u32,
    pub kind: String,
    /// The workshop's title, shown to participants.
    pub title: String,
    /// The Gantry version that packed it.
    pub created_by: String,
    /// The platforms asked for when packing (every image has each, unless listed in
    /// `missing_platforms`).
    pub platforms: Vec<Platform>,
    /// Settings the trainer suggests for the room.
    #[serde(default)]
    pub settings: SettingsDefaults,
    pub labs: Vec<LabEntry>,
    pub images: Vec<ImageEntry>,
    /// Platforms that some image lacks, allowed when packing (`image platform`).
    #[serde(default)]
    pub missing_platforms: Vec<String>,
    /// Every member after the manifest and its signature, in file order.
    pub parts: Vec<Part>,
}

/// Settings the trainer suggests; each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// A registry mirror for Docker Hub pulls, e.g. `https://192.168.1.20:5443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_mirror: Option<String>,
}

/// A lab inside the bundle: its folder as a tar archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabEntry {
    pub id: String,
    pub digest: Digest,
    pub size: u64,
}

/// An image inside the bundle: its name and the OCI image index listing its platforms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageEntry {
    /// The name participants use, e.g. `busybox:1.36`.
    pub name: String,
    /// The image index blob (one manifest per platform).
    pub index: Digest,
    pub platforms: Vec<Platform>,
}

/// One member of the bundle file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Part {
    /// Its path in the file: `oci-layout`, `index.json` or `blobs/sha256/<hex>`.
    pub path: String,
    pub digest: Digest,
    pub size: u64,
}

/// Lab ids: what a lab folder may be called (`first-container`).
pub fn valid_lab_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !id.starts_with('-')
}

impl Manifest {
    /// Parses and checks a manifest: the format, every digest, path and name, and that every
    /// lab and image index is one of the parts. `Err` says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestProblem> {
        let head: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ManifestProblem::Invalid(format!("not JSON: {e}")))?;
        if head.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
            return Err(ManifestProblem::Invalid(format!("its kind is not {KIND:?}")));
        }
        let format = head.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if format > u64::from(FORMAT) {
            return Err(ManifestProblem::NewerFormat(u32::try_from(format).unwrap_or(u32::MAX)));
        }
        let manifest: Self =
            serde_json::from_value(head).map_err(|e| ManifestProblem::Invalid(format!("the manifest: {e}")))?;
        manifest.check().map_err(ManifestProblem::Invalid)?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
        if self.format == 0 {
            return Err("format 0 does not exist".into());
        }
        let mut paths = HashSet::new();
        for part in &self.parts {
            if !paths.insert(part.path.as_str()) {
                return Err(format!("part {} is listed twice", part.path));
            }
            let fixed = part.path == "oci-layout" || part.path == "index.json";
            if !fixed && part.path != part.digest.blob_path() {
                return Err(format!("part {} is not stored under its digest {}", part.path, part.digest));
            }
        }
        let blob = |d: &Digest| paths.contains(d.blob_path().as_str());
        let mut ids = HashSet::new();
        for lab in &self.labs {
            if !valid_lab_id(&lab.id) {
                return Err(format!("lab id {:?} is not a folder name (a-z, 0-9, - and _)", lab.id));
            }
            if !ids.insert(lab.id.as_str()) {
                return Err(format!("lab {} is listed twice", lab.id));
            }
            if !blob(&lab.digest) {
                return Err(format!("lab {} names {} which is not among the parts", lab.id, lab.digest));
            }
        }
        let mut names = HashSet::new();
        for image in &self.images {
            let full = ImageName::parse(&image.name).map_err(|e| format!("image {}: {e}", image.name))?.full();
            if !names.insert(full) {
                return Err(format!("image {} is listed twice", image.name));
            }
            if !blob(&image.index) {
                return Err(format!("image {}'s index {} is not among the parts", image.name, image.index));
            }
            if image.platforms.is_empty() {
                return Err(format!("image {} has no platform", image.name));
            }
        }
        Ok(())
    }

    /// The part stored under `digest`, if any.
    pub fn blob(&self, digest: &Digest) -> Option<&Part> {
        self.parts.iter().find(|p| p.digest == *digest && p.path == digest.blob_path())
    }

    /// Bytes of all parts together.
    pub fn total_size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestProblem {
    NewerFormat(u32),
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let lab = Digest::of(b"lab");
        let index = Digest::of(b"index");
        Manifest {
            format: FORMAT,
            kind: KIND.into(),
            title: "Docker 101".into(),
            created_by: "gantry test".into(),
            platforms: vec![Platform::parse("linux/amd64").expect("valid")],
            settings: SettingsDefaults::default(),
            labs: vec![LabEntry { id: "first".into(), digest: lab.clone(), size: 3 }],
            images: vec![ImageEntry {
                name: "busybox:1.36".into(),
                index: index.clone(),
                platforms: vec![Platform::parse("linux/amd64").expect("valid")],
            }],
            missing_platforms: vec![],
            parts: vec![
                Part { path: lab.blob_path(), digest: lab, size: 3 },
                Part { path: index.blob_path(), digest: index, size: 5 },
            ],
        }
    }

    #[test]
    fn round_trips_and_checks() {
        let m = sample();
        let bytes = serde_json::to_vec(&m).expect("json");
        assert_eq!(Manifest::parse(&bytes), Ok(m.clone()));
        assert_eq!(m.total_size(), 8);
        assert!(m.blob(&Digest::of(b"lab")).is_some());
    }

    #[test]
    fn refuses_what_does_not_hold_together() {
        let bad = |f: &dyn Fn(&mut Manifest)| {
            let mut m = sample();
            f(&mut m);
            Manifest::parse(&serde_json::to_vec(&m).expect("json"))
        };
        assert!(matches!(bad(&|m| m.format = 9), Err(ManifestProblem::NewerFormat(9))));
        assert!(matches!(bad(&|m| m.kind = "other".into()), Err(ManifestProblem::Invalid(_))));
        assert!(
            matches!(bad(&|m| m.parts.pop().map(drop).unwrap_or(())), Err(ManifestProblem::Invalid(e)) if e.contains("not among the parts"))
        );
        assert!(matches!(bad(&|m| m.parts[0].path = "../../etc/passwd".into()), Err(ManifestProblem::Invalid(_))));
        assert!(matches!(bad(&|m| m.labs[0].id = "../x".into()), Err(ManifestProblem::Invalid(_))));
        assert!(matches!(bad(&|m| m.images[0].name = "UPPER".into()), Err(ManifestProblem::Invalid(_))));
        assert!(
            matches!(bad(&|m| { let p = m.parts[0].clone(); m.parts.push(p) }), Err(ManifestProblem::Invalid(e)) if e.contains("twice"))
        );
        assert!(matches!(bad(&|m| m.images[0].platforms.clear()), Err(ManifestProblem::Invalid(_))));
        assert!(Manifest::parse(b"{").is_err());
        assert!(Manifest::parse(b"[]").is_err());
    }
}
