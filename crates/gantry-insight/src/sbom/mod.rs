//! What software an image holds: operating-system packages (dpkg, apk, rpm's SQLite database),
//! language packages (Python dist-info/egg-info, Node `node_modules/*/package.json`), and what
//! binaries say about themselves (Go build info, Rust `cargo auditable` data), read from the
//! final file system of the image (a database a later layer replaced or removed does not count).
//! [`cyclonedx`] writes the result as a CycloneDX 1.5 JSON document.

mod binaries;
mod collector;
pub mod cyclonedx;
mod databases;
mod languages;
pub mod rpm;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use gantry_engine::Engine;
use serde::{Deserialize, Serialize};

use crate::InsightError;
use crate::image::layers::ImageLayers;
use crate::image::read_image;
pub use binaries::{go_packages, parse_go_modinfo, rust_packages};
pub use collector::PackageCollector;
pub use databases::{parse_apk_installed, parse_dpkg_status, parse_os_release};
pub use languages::{normalize_python_name, parse_node_package, parse_python_metadata};

/// Where a package comes from (and whose version rules and vulnerability feeds apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Ecosystem {
    Debian,
    Alpine,
    Rpm,
    Python,
    Npm,
    Go,
    Cargo,
}

impl Ecosystem {
    /// The package URL type (`pkg:deb/…`).
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Debian => "deb",
            Self::Alpine => "apk",
            Self::Rpm => "rpm",
            Self::Python => "pypi",
            Self::Npm => "npm",
            Self::Go => "golang",
            Self::Cargo => "cargo",
        }
    }

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Debian => "deb",
            Self::Alpine => "apk",
            Self::Rpm => "rpm",
            Self::Python => "python",
            Self::Npm => "npm",
            Self::Go => "go",
            Self::Cargo => "rust",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Package {
    pub name: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    /// The source package and its version, for distribution packages built from one (Debian's
    /// security data is keyed by them).
    pub source: Option<String>,
    pub source_version: Option<String>,
    pub arch: Option<String>,
    /// SPDX expression or the license text the package declares.
    pub license: Option<String>,
    /// The package URL (purl).
    pub purl: String,
    /// The file that says the package is there.
    pub location: String,
    /// The layer that file comes from.
    pub layer: Option<usize>,
}

/// The operating system an image is built on (`/etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OsRelease {
    /// `debian`, `alpine`, `ubuntu`, `fedora`, …
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

/// What an image holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageContents {
    pub reference: String,
    pub id: String,
    pub tags: Vec<String>,
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    /// What could not be read, said plainly (e.g. an rpm database in Berkeley DB format).
    pub notes: Vec<String>,
}

/// Reads an image from the engine and lists its packages.
pub async fn image_contents(
    engine: &Engine,
    reference: &str,
    progress: Option<Arc<AtomicU64>>,
) -> Result<ImageContents, InsightError> {
    let (image, collector) = read_image(engine, reference, PackageCollector::new()?, progress).await?;
    let reference = reference.to_string();
    tokio::task::spawn_blocking(move || {
        let keys = image.layer_keys.clone();
        let (id, tags) = (image.id.clone(), image.tags.clone());
        let layers = ImageLayers::new(&reference, image);
        let (os, packages, notes) = collector.finish(&keys, &|path| layers.final_layer(path));
        ImageContents { reference, id, tags, os, packages, notes }
    })
    .await
    .map_err(|e| InsightError::Archive { message: format!("the analysis stopped: {e}") })
}

/// Percent-encodes what a purl component may not hold as is.
pub(crate) fn purl_escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS` with each part escaped (a namespace may hold `/`).
pub(crate) fn purl(
    ecosystem: Ecosystem,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = format!("pkg:{}/", ecosystem.purl_type());
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        let parts: Vec<String> = namespace.split('/').map(purl_escape).collect();
        out.push_str(&parts.join("/"));
        out.push('/');
    }
    out.push_str(&purl_escape(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&purl_escape(version));
    }
    let qualifiers: Vec<String> =
        qualifiers.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", purl_escape(v))).collect();
    if !qualifiers.is_empty() {
        out.push('?');
        out.push_str(&qualifiers.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_urls() {
        assert_eq!(
            purl(
                Ecosystem::Debian,
                Some("debian"),
                "curl",
                "7.88.1-10+deb12u8",
                &[("arch", "amd64"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u8?arch=amd64&distro=debian-12"
        );
        assert_eq!(purl(Ecosystem::Npm, Some("@babel"), "core", "7.24.0", &[]), "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(
            purl(Ecosystem::Go, Some("github.com/opencontainers"), "runc", "v1.1.12", &[]),
            "pkg:golang/github.com/opencontainers/runc@v1.1.12"
        );
    }
}
