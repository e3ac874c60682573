//! The OCI image format as far as bundles need it: descriptors, image indexes and manifests,
//! platforms, and image names in their full form.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// An uncompressed layer (what classic engines' `docker save` holds).
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A lab folder as a tar archive inside a bundle.
pub const MEDIA_LAB: &str = "application/vnd.gantry.lab.v1.tar";
/// containerd's (and Docker's) annotation with an image's full name in an OCI layout's index.json.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI's annotation with the reference (tag) of an index.json entry.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A pointer to a blob: what it is, its digest and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OciPlatform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Self { media_type: media_type.into(), digest, size, platform: None, annotations: BTreeMap::new() }
    }

    /// An image index or Docker manifest list.
    pub fn is_index(&self) -> bool {
        self.media_type == MEDIA_INDEX || self.media_type == DOCKER_MANIFEST_LIST
    }
}

/// The platform object of a descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciPlatform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image index (or Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

impl ImageIndex {
    pub fn new(manifests: Vec<Descriptor>) -> Self {
        Self { schema_version: 2, media_type: Some(MEDIA_INDEX.into()), manifests }
    }
}

/// An image manifest: one platform's config and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config that bundles look at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ImageConfig {
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// A platform as `docker --platform` writes it: `os/arch[/variant]`, compared after
/// normalisation (`x86_64` is `amd64`, `aarch64` is `arm64`, arm64's default variant is `v8`,
/// arm's is `v7`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// A normalised platform.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let architecture = match architecture {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            "armhf" | "armv7l" => "arm",
            "i386" | "i686" => "386",
            other => other,
        };
        let variant = match (architecture, variant.filter(|v| !v.is_empty())) {
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        };
        Self { os: os.to_string(), architecture: architecture.to_string(), variant: variant.map(str::to_string) }
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self::new(os, arch, None)),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Self::new(os, arch, Some(variant))),
            _ => Err(format!(
                "{text:?} is not a platform; write it as os/arch[/variant], e.g. linux/amd64 or linux/arm64"
            )),
        }
    }

    /// The platform object for a descriptor.
    pub fn to_oci(&self) -> OciPlatform {
        OciPlatform { architecture: self.architecture.clone(), os: self.os.clone(), variant: self.variant.clone() }
    }

    pub fn from_oci(p: &OciPlatform) -> Self {
        Self::new(&p.os, &p.architecture, p.variant.as_deref())
    }

    /// Attestations and other non-images are listed in indexes as `unknown/unknown`.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" || self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Platform {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> Self {
        p.to_string()
    }
}

// As text (`linux/arm64/v8`), by hand: ts-rs cannot read `#[serde(try_from, into)]`.
impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An image name split as a registry sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// `docker.io`, `ghcr.io`, `localhost:5000`, …
    pub domain: String,
    /// The repository path in that registry, e.g. `library/busybox`.
    pub path: String,
    /// The tag (`latest` when the name gives none).
    pub tag: String,
}

impl ImageName {
    /// Parses a tagged name (`busybox:1.36`, `ghcr.io/o/app:v1`); digests are not accepted (a
    /// workshop names its images by tag). The grammar is gantry-engine's.
    pub fn parse(name: &str) -> Result<Self, String> {
        gantry_engine::images::validate_reference(name).map_err(|e| e.to_string())?;
        if name.contains('@') {
            return Err(format!("{name:?}: name workshop images by tag, not by digest"));
        }
        let (first, rest) = name.split_once('/').unwrap_or(("", name));
        let (domain, remainder) =
            if !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost") {
                (first.to_string(), rest.to_string())
            } else {
                ("docker.io".to_string(), name.to_string())
            };
        let (path, tag) = match remainder.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p.to_string(), t.to_string()),
            _ => (remainder.clone(), "latest".to_string()),
        };
        let path = if domain == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
        Ok(Self { domain, path, tag })
    }

    /// `docker.io/library/busybox:1.36`: the form containerd and index.json annotations use.
    pub fn full(&self) -> String {
        format!("{}/{}:{}", self.domain, self.path, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_normalise() {
        let arm = Platform::parse("linux/arm64").expect("valid");
        assert_eq!(arm, Platform::parse("linux/arm64/v8").expect("valid"));
        assert_eq!(arm.to_string(), "linux/arm64/v8");
        assert_eq!(Platform::new("linux", "x86_64", None).to_string(), "linux/amd64");
        assert_eq!(Platform::new("linux", "aarch64", Some("")).to_string(), "linux/arm64/v8");
        assert_eq!(Platform::parse("linux/arm").expect("valid").to_string(), "linux/arm/v7");
        for bad in ["", "linux", "linux/", "/amd64", "linux/amd64/v1/x", "Linux/AMD64", "linux/amd 64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        assert!(Platform::parse("unknown/unknown").expect("valid").is_unknown());
    }

    #[test]
    fn names_in_full() {
        let full = |n: &str| ImageName::parse(n).expect(n).full();
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("gantry-test/busybox:latest"), "docker.io/gantry-test/busybox:latest");
        assert_eq!(full("ghcr.io/o/app:v1"), "ghcr.io/o/app:v1");
        assert_eq!(full("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(full("localhost/app:2"), "localhost/app:2");
        let n = ImageName::parse("nginx:1.27-alpine").expect("valid");
        assert_eq!((n.domain.as_str(), n.path.as_str(), n.tag.as_str()), ("docker.io", "library/nginx", "1.27-alpine"));
        assert!(
            ImageName::parse("busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
                .is_err()
        );
        assert!(ImageName::parse("Not/Valid").is_err());
    }
}
