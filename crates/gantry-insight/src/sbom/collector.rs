//! Picks the files that say what is installed out of the layer stream, parses them on the spot
//! (binaries are spooled to one temporary file to read their sections), and at the end keeps
//! what the final file system still has.

use std::io::{Read, Seek, SeekFrom, Write};

use super::binaries::{elf_sections, go_packages, read_go_buildinfo, rust_packages};
use super::databases::{parse_apk_installed, parse_dpkg_status, parse_os_release};
use super::languages::{is_node_package_manifest, parse_node_package, parse_python_metadata};
use super::rpm::{RPM_DATABASES, RpmDatabaseKind, read_rpm_database};
use super::{OsRelease, Package};
use crate::image::archive::ContentCollector;

/// Text databases and manifests larger than this are not what their name says.
const MAX_TEXT: u64 = 64 * 1024 * 1024;
/// Binaries larger than this are not searched for build information.
const MAX_BINARY: u64 = 512 * 1024 * 1024;
/// Build-information sections larger than this are not real.
const MAX_SECTION: u64 = 16 * 1024 * 1024;

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
const DPKG_STATUS: &str = "var/lib/dpkg/status";
const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d/";
const APK_INSTALLED: &str = "lib/apk/db/installed";

/// What a file in a layer said.
#[derive(Debug)]
enum Found {
    OsRelease(OsRelease),
    /// A package database that needs the OS to name its packages right: parsed at the end.
    Database {
        kind: DatabaseKind,
        text: String,
    },
    Packages(Vec<Package>),
    Note(String),
}

#[derive(Debug, Clone, Copy)]
enum DatabaseKind {
    Dpkg,
    Apk,
}

/// The [`ContentCollector`] behind [`super::image_contents`].
#[derive(Debug)]
pub struct PackageCollector {
    found: Vec<(String, String, Found)>,
    spool: std::fs::File,
}

impl PackageCollector {
    /// A collector with its spool file (an anonymous temporary file).
    pub fn new() -> Result<Self, crate::InsightError> {
        let spool = tempfile::tempfile().map_err(|source| crate::InsightError::Io {
            action: "create a temporary file in",
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
        Ok(Self { found: Vec::new(), spool })
    }

    fn note(&mut self, layer: &str, path: &str, found: Found) {
        self.found.push((layer.to_string(), path.to_string(), found));
    }

    /// Copies `content` into the spool file; returns it ready to read.
    fn spool(&mut self, head: &[u8], content: &mut dyn Read) -> std::io::Result<&mut std::fs::File> {
        self.spool.set_len(0)?;
        self.spool.seek(SeekFrom::Start(0))?;
        self.spool.write_all(head)?;
        std::io::copy(content, &mut self.spool)?;
        self.spool.seek(SeekFrom::Start(0))?;
        Ok(&mut self.spool)
    }

    fn binary(&mut self, layer: &str, path: &str, content: &mut dyn Read) -> std::io::Result<()> {
        let mut head = [0u8; 4];
        let n = content.read(&mut head)?;
        if n < 4 || &head != b"\x7fELF" {
            return Ok(());
        }
        let location = format!("/{path}");
        let file = self.spool(&head, content)?;
        let Some(sections) = elf_sections(file, &[".go.buildinfo", ".dep-v0"])? else { return Ok(()) };
        let mut read_section = |section: Option<super::binaries::Section>| -> std::io::Result<Option<Vec<u8>>> {
            let Some(section) = section.filter(|s| s.size <= MAX_SECTION) else { return Ok(None) };
            let mut data = vec![0u8; section.size as usize];
            file.seek(SeekFrom::Start(section.offset))?;
            file.read_exact(&mut data)?;
            Ok(Some(data))
        };
        let go = read_section(sections[0])?;
        let rust = read_section(sections[1])?;
        if let Some(data) = go {
            match read_go_buildinfo(&data) {
                Some((version, modinfo)) => {
                    let packages = go_packages(&version, &modinfo, &location);
                    self.note(layer, path, Found::Packages(packages));
                }
                None => self.note(
                    layer,
                    path,
                    Found::Note(format!(
                        "{location} is a Go binary built before Go 1.18; its build information is not read"
                    )),
                ),
            }
        }
        if let Some(data) = rust {
            match rust_packages(&data, &location) {
                Some(packages) => self.note(layer, path, Found::Packages(packages)),
                None => self.note(
                    layer,
                    path,
                    Found::Note(format!("{location}: its cargo auditable data could not be read")),
                ),
            }
        }
        Ok(())
    }

    /// The OS, the packages and notes of the final file system: `final_layer` says which layer
    /// a path's final version comes from (`None`: the path is gone), `layer_keys` the blob name
    /// of each layer.
    pub fn finish(
        self,
        layer_keys: &[String],
        final_layer: &dyn Fn(&str) -> Option<usize>,
    ) -> (Option<OsRelease>, Vec<Package>, Vec<String>) {
        let alive: Vec<(usize, String, Found)> = self
            .found
            .into_iter()
            .filter_map(|(key, path, found)| {
                let layer = layer_keys.iter().position(|k| *k == key)?;
                (final_layer(&path) == Some(layer)).then_some((layer, path, found))
            })
            .collect();
        let os = OS_RELEASE.iter().find_map(|wanted| {
            alive.iter().find_map(|(_, path, found)| match found {
                Found::OsRelease(os) if path == wanted => Some(os.clone()),
                _ => None,
            })
        });
        let mut packages = Vec::new();
        let mut notes = Vec::new();
        for (layer, path, found) in alive {
            let location = format!("/{path}");
            let mut listed = match found {
                Found::OsRelease(_) => continue,
                Found::Note(note) => {
                    notes.push(note);
                    continue;
                }
                Found::Packages(list) => list,
                Found::Database { kind: DatabaseKind::Dpkg, text } => parse_dpkg_status(&text, &location, os.as_ref()),
                Found::Database { kind: DatabaseKind::Apk, text } => parse_apk_installed(&text, &location, os.as_ref()),
            };
            for package in &mut listed {
                package.layer = Some(layer);
            }
            packages.extend(listed);
        }
        packages.sort_by(|a, b| {
            (a.ecosystem, &a.name, &a.version, &a.location).cmp(&(b.ecosystem, &b.name, &b.version, &b.location))
        });
        (os, packages, notes)
    }
}

fn is_python_metadata(path: &str) -> bool {
    path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") || path.ends_with(".egg-info")
}

impl ContentCollector for PackageCollector {
    fn wants(&self, path: &str, size: u64, mode: u32) -> bool {
        let text = size <= MAX_TEXT
            && (OS_RELEASE.contains(&path)
                || path == DPKG_STATUS
                || path.starts_with(DPKG_STATUS_D)
                || path == APK_INSTALLED
                || is_python_metadata(path)
                || is_node_package_manifest(path));
        let database = RPM_DATABASES.iter().any(|(p, _)| *p == path);
        let binary = mode & 0o111 != 0 && (64..=MAX_BINARY).contains(&size);
        text || database || binary
    }

    fn collect(&mut self, layer: &str, path: &str, _size: u64, content: &mut dyn Read) -> std::io::Result<()> {
        if let Some((_, kind)) = RPM_DATABASES.iter().find(|(p, _)| *p == path) {
            let kind: RpmDatabaseKind = *kind;
            let location = format!("/{path}");
            let file = self.spool(&[], content)?;
            let found = match read_rpm_database(kind, file, &location) {
                Ok(packages) => Found::Packages(packages),
                Err(note) => Found::Note(note),
            };
            self.note(layer, path, found);
            return Ok(());
        }
        let is_text = OS_RELEASE.contains(&path)
            || path == DPKG_STATUS
            || path.starts_with(DPKG_STATUS_D)
            || path == APK_INSTALLED
            || is_python_metadata(path)
            || is_node_package_manifest(path);
        if !is_text {
            return self.binary(layer, path, content);
        }
        let mut bytes = Vec::new();
        content.take(MAX_TEXT).read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let location = format!("/{path}");
        let found = if OS_RELEASE.contains(&path) {
            Found::OsRelease(parse_os_release(&text))
        } else if path == DPKG_STATUS || path.starts_with(DPKG_STATUS_D) {
            Found::Database { kind: DatabaseKind::Dpkg, text }
        } else if path == APK_INSTALLED {
            Found::Database { kind: DatabaseKind::Apk, text }
        } else if is_python_metadata(path) {
            match parse_python_metadata(&text, &location) {
                Some(p) => Found::Packages(vec![p]),
                None => return Ok(()),
            }
        } else {
            match parse_node_package(&text, &location) {
                Some(p) => Found::Packages(vec![p]),
                None => return Ok(()),
            }
        };
        self.note(layer, path, found);
        Ok(())
    }
}
