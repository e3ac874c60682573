//! Offline vulnerability matching against an OSV database file the user imports
//! (<https://ossf.github.io/osv-schema/>): one advisory, a JSON array of advisories, JSON lines,
//! or a `.zip` of advisory files (osv.dev's per-ecosystem `all.zip`).
//!
//! A package is affected when an advisory names its ecosystem (and, for distributions, its
//! release: `Debian:12`, `Alpine:v3.19`) and name, and its version is listed or falls in an
//! `ECOSYSTEM` or `SEMVER` range under that ecosystem's version order ([`version`]).

pub mod version;
mod zip;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::InsightError;
use crate::sbom::{Ecosystem, ImageContents, OsRelease, Package};
use version::{Scheme, compare};

/// One advisory, as much of OSV's schema as matching needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<AffectedPackage>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<RangeEvent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeEvent {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

/// A known vulnerability of a package in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VulnerabilityMatch {
    /// The advisory id (`CVE-…`, `GHSA-…`, `DSA-…`, …) and its aliases.
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// The severity the database gives (`HIGH`, `CRITICAL`, …) or a CVSS vector.
    pub severity: Option<String>,
    pub package: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    /// The first version that fixes it, when the advisory says.
    pub fixed: Option<String>,
    pub url: Option<String>,
    /// Where the package was found in the image.
    pub location: String,
}

/// The vulnerability scan of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VulnerabilityReport {
    pub reference: String,
    pub id: String,
    pub database: String,
    /// Advisories in the database that could apply to packages of these ecosystems.
    pub advisories: u64,
    pub packages: u64,
    pub matches: Vec<VulnerabilityMatch>,
    pub notes: Vec<String>,
}

/// An imported OSV database, indexed by ecosystem and package name.
#[derive(Debug, Default)]
pub struct Database {
    advisories: Vec<Advisory>,
    /// (OSV ecosystem base name, normalized package name) → (advisory, affected entry).
    index: HashMap<(String, String), Vec<(usize, usize)>>,
}

/// OSV's ecosystem name for a package's ecosystem (the distribution's for `rpm`).
fn osv_ecosystem(ecosystem: Ecosystem, os: Option<&OsRelease>) -> Option<&'static str> {
    Some(match ecosystem {
        Ecosystem::Debian => match os.map(|o| o.id.as_str()) {
            Some("ubuntu") => "Ubuntu",
            _ => "Debian",
        },
        Ecosystem::Alpine => "Alpine",
        Ecosystem::Python => "PyPI",
        Ecosystem::Npm => "npm",
        Ecosystem::Go => "Go",
        Ecosystem::Cargo => "crates.io",
        Ecosystem::Rpm => match os.map(|o| o.id.as_str()) {
            Some("rocky") => "Rocky Linux",
            Some("almalinux") => "AlmaLinux",
            Some("rhel") => "Red Hat",
            Some("opensuse-leap" | "opensuse-tumbleweed") => "openSUSE",
            Some("sles") => "SUSE",
            _ => return None,
        },
    })
}

fn scheme(ecosystem: Ecosystem) -> Scheme {
    match ecosystem {
        Ecosystem::Debian => Scheme::Dpkg,
        Ecosystem::Alpine => Scheme::Apk,
        Ecosystem::Rpm => Scheme::Rpm,
        Ecosystem::Python => Scheme::Pep440,
        Ecosystem::Npm | Ecosystem::Go | Ecosystem::Cargo => Scheme::Semver,
    }
}

/// Names as the ecosystem compares them (PyPI ignores case and `-_.` differences).
fn normal_name(ecosystem_base: &str, name: &str) -> String {
    match ecosystem_base {
        "PyPI" => crate::sbom::normalize_python_name(name),
        _ => name.to_string(),
    }
}

/// The release an OSV ecosystem suffix must name for this OS (`12` for Debian 12, `v3.19` for
/// Alpine 3.19.1).
fn release_of(ecosystem_base: &str, os: Option<&OsRelease>) -> Option<String> {
    let version = &os?.version_id;
    match ecosystem_base {
        "Alpine" => {
            let parts: Vec<&str> = version.split('.').take(2).collect();
            Some(format!("v{}", parts.join(".")))
        }
        "Debian" => Some(version.split('.').next().unwrap_or(version).to_string()),
        _ => Some(version.clone()),
    }
}

const KNOWN_ECOSYSTEMS: [&str; 12] = [
    "Debian",
    "Ubuntu",
    "Alpine",
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Rocky Linux",
    "AlmaLinux",
    "Red Hat",
    "openSUSE",
    "SUSE",
];

impl Database {
    /// Reads an OSV database file (JSON, JSON lines, or zip of JSON files).
    pub fn load(path: &Path) -> Result<Self, InsightError> {
        let bad = |message: String| InsightError::BadDatabase { path: path.display().to_string(), message };
        let bytes = std::fs::read(path).map_err(|source| InsightError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        let mut database = Self::default();
        if bytes.starts_with(b"PK\x03\x04") {
            for (name, content) in zip::entries(&bytes).map_err(bad)? {
                if name.ends_with(".json") {
                    database.add_json(&content).map_err(|e| bad(format!("{name}: {e}")))?;
                }
            }
        } else {
            database.add_json(&bytes).map_err(bad)?;
        }
        if database.advisories.is_empty() {
            return Err(bad("it holds no advisory for an ecosystem Gantry matches (Debian, Alpine, PyPI, npm, Go, crates.io, rpm distributions)".into()));
        }
        Ok(database)
    }

    /// Adds advisories from JSON text: one object, an array, or one object per line.
    pub fn add_json(&mut self, bytes: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let trimmed = text.trim_start();
        let values: Vec<Value> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| e.to_string())?
        } else {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(value) => vec![value],
                Err(_) => trimmed
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).map_err(|e| format!("not OSV JSON: {e}")))
                    .collect::<Result<_, _>>()?,
            }
        };
        for value in values {
            let advisory: Advisory = serde_json::from_value(value).map_err(|e| format!("not an OSV advisory: {e}"))?;
            self.add(advisory);
        }
        Ok(())
    }

    fn add(&mut self, advisory: Advisory) {
        if advisory.withdrawn.is_some() {
            return;
        }
        let index = self.advisories.len();
        let mut used = false;
        for (slot, affected) in advisory.affected.iter().enumerate() {
            let Some(package) = &affected.package else { continue };
            let base = package.ecosystem.split(':').next().unwrap_or_default();
            if !KNOWN_ECOSYSTEMS.contains(&base) {
                continue;
            }
            used = true;
            self.index.entry((base.to_string(), normal_name(base, &package.name))).or_default().push((index, slot));
        }
        if used {
            self.advisories.push(advisory);
        }
    }

    /// How many advisories apply to ecosystems Gantry matches.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The advisories that affect `package` on `os`.
    pub fn matches(&self, package: &Package, os: Option<&OsRelease>) -> Vec<VulnerabilityMatch> {
        let Some(base) = osv_ecosystem(package.ecosystem, os) else { return Vec::new() };
        // Distribution advisories name source packages (Debian) or origins (Alpine).
        let name = match package.ecosystem {
            Ecosystem::Debian | Ecosystem::Alpine => package.source.clone().unwrap_or_else(|| package.name.clone()),
            _ => package.name.clone(),
        };
        let version = match package.ecosystem {
            Ecosystem::Debian => package.source_version.clone().unwrap_or_else(|| package.version.clone()),
            _ => package.version.clone(),
        };
        if version.is_empty() || version == "(devel)" {
            return Vec::new();
        }
        let release = release_of(base, os);
        let scheme = scheme(package.ecosystem);
        let mut found: Vec<VulnerabilityMatch> = Vec::new();
        for &(index, slot) in self.index.get(&(base.to_string(), normal_name(base, &name))).into_iter().flatten() {
            let advisory = &self.advisories[index];
            let affected = &advisory.affected[slot];
            let ecosystem = affected.package.as_ref().map(|p| p.ecosystem.as_str()).unwrap_or_default();
            if let Some((_, wanted)) = ecosystem.split_once(':')
                && release.as_deref() != Some(wanted.split(':').next().unwrap_or(wanted))
            {
                continue;
            }
            let Some(fixed) = affected_version(affected, &version, scheme) else { continue };
            if found.iter().any(|m| m.id == advisory.id) {
                continue;
            }
            found.push(VulnerabilityMatch {
                id: advisory.id.clone(),
                aliases: advisory.aliases.clone(),
                summary: if advisory.summary.is_empty() {
                    advisory.details.lines().next().unwrap_or_default().chars().take(200).collect()
                } else {
                    advisory.summary.clone()
                },
                severity: severity(advisory, affected),
                package: package.name.clone(),
                version: package.version.clone(),
                ecosystem: package.ecosystem,
                fixed,
                url: advisory
                    .references
                    .iter()
                    .find(|r| r.kind == "ADVISORY")
                    .or_else(|| advisory.references.first())
                    .map(|r| r.url.clone()),
                location: package.location.clone(),
            });
        }
        found
    }

    /// Every known vulnerability of an image's packages, most severe first.
    pub fn scan(&self, contents: &ImageContents, database: &str) -> VulnerabilityReport {
        let mut matches: Vec<VulnerabilityMatch> =
            contents.packages.iter().flat_map(|p| self.matches(p, contents.os.as_ref())).collect();
        matches.sort_by(|a, b| {
            severity_rank(&b.severity)
                .cmp(&severity_rank(&a.severity))
                .then_with(|| (&a.package, &a.id).cmp(&(&b.package, &b.id)))
        });
        let mut notes = contents.notes.clone();
        if contents.packages.iter().any(|p| p.ecosystem == Ecosystem::Rpm)
            && osv_ecosystem(Ecosystem::Rpm, contents.os.as_ref()).is_none()
        {
            notes.push(format!(
                "rpm packages of {} are not matched: OSV has no feed for this distribution",
                contents.os.as_ref().map_or("this system", |o| o.id.as_str())
            ));
        }
        VulnerabilityReport {
            reference: contents.reference.clone(),
            id: contents.id.clone(),
            database: database.to_string(),
            advisories: self.advisories.len() as u64,
            packages: contents.packages.len() as u64,
            matches,
            notes,
        }
    }
}

fn severity_rank(severity: &Option<String>) -> u8 {
    match severity.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("CRITICAL") => 5,
        Some("HIGH" | "IMPORTANT") => 4,
        Some("MEDIUM" | "MODERATE") => 3,
        Some("LOW") => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// The database's severity label, else the first CVSS vector.
fn severity(advisory: &Advisory, affected: &Affected) -> Option<String> {
    let label = |value: &Option<Value>| value.as_ref().and_then(|v| v["severity"].as_str()).map(str::to_string);
    label(&affected.ecosystem_specific)
        .or_else(|| label(&affected.database_specific))
        .or_else(|| label(&advisory.database_specific))
        .or_else(|| advisory.severity.first().map(|s| s.score.clone()))
        .filter(|s| !s.is_empty())
}

/// `Some(first fixed version, if any)` when `version` is affected.
fn affected_version(affected: &Affected, version: &str, scheme: Scheme) -> Option<Option<String>> {
    let listed = affected.versions.iter().any(|v| compare(scheme, v, version) == Ordering::Equal);
    let mut hit = listed;
    let mut fixed: Option<String> = None;
    for range in affected.ranges.iter().filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER") {
        let range_scheme = if range.kind == "SEMVER" { Scheme::Semver } else { scheme };
        let cmp = |a: &str, b: &str| compare(range_scheme, a, b);
        // Evaluate the events in version order: introduced opens, fixed/last_affected close.
        let mut events: Vec<(String, &RangeEvent)> = range
            .events
            .iter()
            .filter_map(|e| {
                let v = e.introduced.as_ref().or(e.fixed.as_ref()).or(e.last_affected.as_ref()).or(e.limit.as_ref())?;
                Some((v.clone(), e))
            })
            .collect();
        events.sort_by(|(a, ea), (b, eb)| {
            let zero_a = ea.introduced.as_deref() == Some("0");
            let zero_b = eb.introduced.as_deref() == Some("0");
            zero_b.cmp(&zero_a).then_with(|| cmp(a, b))
        });
        let mut inside = false;
        for (event_version, event) in &events {
            if event.introduced.is_some()
                && (event.introduced.as_deref() == Some("0") || cmp(version, event_version) != Ordering::Less)
            {
                inside = true;
            }
            if event.fixed.is_some() && cmp(version, event_version) != Ordering::Less {
                inside = false;
            }
            if event.last_affected.is_some() && cmp(version, event_version) == Ordering::Greater {
                inside = false;
            }
            if event.limit.is_some() && cmp(version, event_version) != Ordering::Less {
                inside = false;
            }
        }
        if inside {
            hit = true;
            fixed = events
                .iter()
                .filter(|(v, e)| e.fixed.is_some() && cmp(v, version) == Ordering::Greater)
                .map(|(v, _)| v.clone())
                .next()
                .or(fixed);
        }
    }
    hit.then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(ecosystem: Ecosystem, name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            ecosystem,
            source: None,
            source_version: None,
            arch: None,
            license: None,
            purl: String::new(),
            location: "/x".into(),
            layer: None,
        }
    }

    #[test]
    fn ranges_per_ecosystem() {
        let mut db = Database::default();
        db.add_json(br#"[
            {"id":"PYSEC-1","affected":[{"package":{"ecosystem":"PyPI","name":"Requests"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.31.0"}]}]}]},
            {"id":"GHSA-npm","affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"SEMVER","events":[{"introduced":"4.0.0"},{"last_affected":"4.17.20"}]}]}]},
            {"id":"DSA-1","affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u4"}]}]}]},
            {"id":"ALPINE-1","affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"busybox"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r16"}]}]}]},
            {"id":"WITHDRAWN","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"lodash"},"versions":["4.17.20"]}]},
            {"id":"OTHER","affected":[{"package":{"ecosystem":"Maven","name":"x"}}]}
        ]"#).expect("valid");
        assert_eq!(db.len(), 4);
        let hits = db.matches(&package(Ecosystem::Python, "requests", "2.28.1"), None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].fixed.as_deref(), Some("2.31.0"));
        assert!(db.matches(&package(Ecosystem::Python, "requests", "2.31.0"), None).is_empty());
        assert_eq!(db.matches(&package(Ecosystem::Npm, "lodash", "4.17.20"), None).len(), 1);
        assert!(db.matches(&package(Ecosystem::Npm, "lodash", "4.17.21"), None).is_empty());
        assert!(db.matches(&package(Ecosystem::Npm, "lodash", "3.10.1"), None).is_empty());
        let debian = OsRelease { id: "debian".into(), version_id: "12".into(), pretty_name: String::new() };
        let mut libc = package(Ecosystem::Debian, "libc6", "2.36-9+deb12u3");
        libc.source = Some("glibc".into());
        assert_eq!(db.matches(&libc, Some(&debian)).len(), 1);
        let bookworm_fixed = Package { version: "2.36-9+deb12u4".into(), ..libc.clone() };
        assert!(db.matches(&bookworm_fixed, Some(&debian)).is_empty());
        let bullseye = OsRelease { version_id: "11".into(), ..debian.clone() };
        assert!(db.matches(&libc, Some(&bullseye)).is_empty(), "another release's advisory");
        let alpine = OsRelease { id: "alpine".into(), version_id: "3.19.1".into(), pretty_name: String::new() };
        assert_eq!(db.matches(&package(Ecosystem::Alpine, "busybox", "1.36.1-r15"), Some(&alpine)).len(), 1);
        assert!(db.matches(&package(Ecosystem::Alpine, "busybox", "1.36.1-r16"), Some(&alpine)).is_empty());
    }

    #[test]
    fn bad_databases_are_refused() {
        let mut db = Database::default();
        assert!(db.add_json(b"not json").is_err());
        assert!(db.add_json(br#"{"summary":"no id"}"#).is_err());
    }
}
