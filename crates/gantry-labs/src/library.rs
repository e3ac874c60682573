//! The catalogue: every lab found in the lab folders, in order, with the ones that failed to load.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{LabError, Result};
use crate::lab::{Lab, Level, MANIFEST};
use crate::load::load_lab;
use crate::text::Lang;

/// Environment variable naming extra lab folders (separated like `PATH`).
pub const LABS_DIR_ENV: &str = "GANTRY_LABS_DIR";
/// A file in a folder of labs giving the catalogue's order: `order = ["first-container", ...]`
/// (lab ids; labs it does not name come after, by folder name).
pub const CATALOGUE: &str = "catalogue.toml";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    order: Vec<String>,
}

/// The order `root/catalogue.toml` gives (empty when there is none).
pub fn catalogue_order(root: &Path) -> Result<Vec<String>> {
    let path = root.join(CATALOGUE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LabError::io("read", &path, e)),
    };
    toml::from_str::<CatalogueFile>(&text).map(|c| c.order).map_err(|e| {
        let line = e.span().map_or(1, |s| crate::step::line_of(&text, s.start));
        LabError::Invalid { dir: root.to_path_buf(), problems: vec![crate::Problem::new(&path, line, e.message())] }
    })
}

/// The labs of one or more folders.
#[derive(Debug, Default)]
pub struct Library {
    labs: Vec<Lab>,
    broken: Vec<(PathBuf, LabError)>,
}

/// One line of the catalogue, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabSummary {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub level: Level,
    pub duration_minutes: u32,
    pub steps: usize,
    pub images: Vec<String>,
}

impl Library {
    /// Loads every lab folder (a folder with a `lab.toml`) directly inside each of `roots`, and
    /// each root that is itself a lab folder. Labs come in the order of the root's
    /// [`CATALOGUE`] file, then by folder name; when two have the same id, the first root wins.
    pub fn load(roots: &[PathBuf]) -> Self {
        let mut library = Self::default();
        for root in roots {
            let dirs = match lab_dirs(root) {
                Ok(dirs) => dirs,
                Err(e) => {
                    library.broken.push((root.clone(), e));
                    continue;
                }
            };
            let order = catalogue_order(root).unwrap_or_else(|e| {
                library.broken.push((root.join(CATALOGUE), e));
                Vec::new()
            });
            let mut loaded = Vec::new();
            for dir in dirs {
                match load_lab(&dir) {
                    Ok(lab) if library.labs.iter().chain(&loaded).any(|l: &Lab| l.id == lab.id) => {
                        tracing::warn!(id = %lab.id, dir = %dir.display(), "a lab with this id was already loaded; skipped");
                    }
                    Ok(lab) => loaded.push(lab),
                    Err(e) => library.broken.push((dir, e)),
                }
            }
            // Named in the catalogue's order first (stable: the rest keep their folder order).
            loaded.sort_by_key(|lab| order.iter().position(|id| *id == lab.id).unwrap_or(usize::MAX));
            library.labs.extend(loaded);
        }
        library
    }

    /// The labs that loaded.
    pub fn labs(&self) -> &[Lab] {
        &self.labs
    }

    /// Folders that hold a lab that did not load, with why.
    pub fn broken(&self) -> &[(PathBuf, LabError)] {
        &self.broken
    }

    /// The lab with this id.
    pub fn get(&self, id: &str) -> Result<&Lab> {
        self.labs.iter().find(|l| l.id == id).ok_or_else(|| LabError::UnknownLab {
            id: id.to_string(),
            known: self.labs.iter().map(|l| l.id.clone()).collect(),
        })
    }

    /// The catalogue in `lang`.
    pub fn summaries(&self, lang: Lang) -> Vec<LabSummary> {
        self.labs.iter().map(|lab| summarize(lab, lang)).collect()
    }
}

/// The lab folders `root` names: itself when it is one (it has a `lab.toml`), else the lab folders
/// directly inside it, sorted by name.
pub fn lab_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    if root.join(MANIFEST).is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let entries = std::fs::read_dir(root).map_err(|e| LabError::io("read", root, e))?;
    let mut dirs: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join(MANIFEST).is_file()).collect();
    dirs.sort();
    Ok(dirs)
}

/// A lab's catalogue line in `lang`.
pub fn summarize(lab: &Lab, lang: Lang) -> LabSummary {
    LabSummary {
        id: lab.id.clone(),
        title: lab.title.get(lang).to_string(),
        summary: lab.summary.get(lang).to_string(),
        level: lab.level,
        duration_minutes: lab.duration_minutes,
        steps: lab.steps.len(),
        images: lab.images.clone(),
    }
}

/// The labs folder of an installed Gantry, relative to the folder holding its executables:
/// `/usr/bin/gantry` and `/usr/bin/gantry-desktop` read `/usr/share/gantry/labs` (the .deb,
/// installer/build-deb.sh).
pub const INSTALLED_LABS: [&str; 3] = ["share", "gantry", "labs"];

/// Where Gantry looks for labs: the folders in `GANTRY_LABS_DIR`, then `imported` (the labs of
/// imported workshops, newest first: a trainer's version of a lab comes before the one Gantry
/// ships), then `<exe>/../share/gantry/labs` (the installed package), then, in a debug build only,
/// the source tree's `labs/` (a development build; a release binary never depends on where it
/// was built). Only folders that exist are returned, each once.
pub fn default_roots(exe: Option<&Path>, imported: &[PathBuf]) -> Vec<PathBuf> {
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("labs");
    let source_tree = cfg!(debug_assertions).then_some(source_tree.as_path());
    roots(std::env::var_os(LABS_DIR_ENV).as_deref(), imported, exe, source_tree)
}

/// [`default_roots`] from its inputs: the `GANTRY_LABS_DIR` value, the imported workshops' lab
/// folders, the running executable and the source tree's labs folder (when this build may use it).
pub fn roots(
    labs_dir_env: Option<&std::ffi::OsStr>,
    imported: &[PathBuf],
    exe: Option<&Path>,
    source_tree: Option<&Path>,
) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = labs_dir_env
        .map(|v| std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    roots.extend(imported.iter().cloned());
    if let Some(prefix) = exe.and_then(Path::parent).and_then(Path::parent) {
        roots.push(INSTALLED_LABS.iter().fold(prefix.to_path_buf(), |dir, part| dir.join(part)));
    }
    roots.extend(source_tree.map(Path::to_path_buf));
    let mut seen = Vec::new();
    roots.retain(|p| match std::fs::canonicalize(p) {
        Ok(real) if real.is_dir() && !seen.contains(&real) => {
            seen.push(real);
            true
        }
        _ => false,
    });
    roots
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An installed layout (`<prefix>/bin/gantry`, `<prefix>/share/gantry/labs`): the labs are
    /// found from the executable's path alone, after `GANTRY_LABS_DIR` and imported workshops';
    /// missing folders, files and repeats are left out.
    #[test]
    fn labs_are_found_in_order_next_to_the_executable() {
        let tmp = tempfile::tempdir().unwrap();
        let prefix = tmp.path().join("usr");
        let installed = prefix.join("share/gantry/labs");
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        let exe = prefix.join("bin/gantry-desktop");
        let own = tmp.path().join("mine");
        std::fs::create_dir_all(&own).unwrap();
        let not_a_dir = tmp.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();

        assert_eq!(roots(None, &[], Some(&exe), None), vec![installed.clone()]);
        let env =
            std::env::join_paths([own.as_path(), tmp.path().join("missing").as_path(), not_a_dir.as_path()]).unwrap();
        assert_eq!(roots(Some(&env), &[], Some(&exe), Some(&installed)), vec![own.clone(), installed.clone()]);
        // An imported workshop's labs come after GANTRY_LABS_DIR and before the shipped ones.
        let workshop = tmp.path().join("workshops/0123/labs");
        std::fs::create_dir_all(&workshop).unwrap();
        let imported = [workshop.clone(), tmp.path().join("workshops/gone/labs")];
        assert_eq!(roots(Some(&env), &imported, Some(&exe), None), vec![own.clone(), workshop, installed.clone()]);
        // Not installed (no share/gantry/labs beside the executable): only the source tree.
        let elsewhere = tmp.path().join("target/debug/gantry");
        assert_eq!(roots(None, &[], Some(&elsewhere), Some(&own)), vec![own]);
        assert!(roots(None, &[], None, None).is_empty());
    }
}
