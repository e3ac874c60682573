//! Labs inside a bundle: a lab folder as a reproducible tar archive (sorted, owner root, time 0,
//! plain files and folders only), and its safe extraction on import.

use std::io::Read;
use std::path::{Component, Path};

use crate::error::{Result, WorkshopError};
use crate::manifest::valid_lab_id;

/// The manifest file every lab folder has (gantry-labs' format).
pub const LAB_MANIFEST: &str = "lab.toml";
/// Most bytes a lab may take (texts, starter files, small Dockerfiles).
pub const MAX_LAB_BYTES: u64 = 64 * 1024 * 1024;

/// The id of the lab in `dir`: its folder name.
pub fn lab_id(dir: &Path) -> Result<String> {
    let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !valid_lab_id(&id) {
        return Err(WorkshopError::Lab {
            lab: dir.display().to_string(),
            reason: "a lab folder's name is its id: lower-case letters, digits, - and _".into(),
        });
    }
    if !dir.join(LAB_MANIFEST).is_file() {
        return Err(WorkshopError::Lab { lab: id, reason: format!("{} has no {LAB_MANIFEST}", dir.display()) });
    }
    Ok(id)
}

/// The id of the lab in `dir` once the whole lab loads as gantry-labs reads it (what a
/// participant's Gantry will do): a lab that would not open there is refused here, with every
/// problem's file and line; its `id` must be its folder's name.
pub fn loadable_lab_id(dir: &Path) -> Result<String> {
    let id = lab_id(dir)?;
    let lab = gantry_labs::load_lab(dir).map_err(|e| WorkshopError::Lab { lab: id.clone(), reason: e.to_string() })?;
    if lab.id != id {
        return Err(WorkshopError::Lab {
            lab: id.clone(),
            reason: format!(
                "{} says id = {:?} but its folder is named {id:?}: a bundle's labs are known by their folder's name; rename one to match",
                dir.join(LAB_MANIFEST).display(),
                lab.id
            ),
        });
    }
    Ok(id)
}

/// The lab folder as a tar archive; the same folder always gives the same bytes.
pub fn lab_tar(dir: &Path) -> Result<Vec<u8>> {
    let id = lab_id(dir)?;
    let mut files = Vec::new();
    collect(dir, dir, &id, &mut files)?;
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    let mut total = 0u64;
    for rel in files {
        let path = dir.join(&rel);
        let meta = std::fs::metadata(&path).map_err(WorkshopError::io("read", &path))?;
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            header.set_cksum();
            builder.append_data(&mut header, format!("{rel}/"), std::io::empty())
        } else {
            total += meta.len();
            if total > MAX_LAB_BYTES {
                return Err(WorkshopError::Lab {
                    lab: id,
                    reason: format!("it is larger than {} MiB", MAX_LAB_BYTES / (1024 * 1024)),
                });
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if executable(&meta) { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            header.set_cksum();
            let file = std::fs::File::open(&path).map_err(WorkshopError::io("read", &path))?;
            builder.append_data(&mut header, &rel, file.take(meta.len()))
        }
        .map_err(WorkshopError::io("pack", &path))?;
    }
    builder.into_inner().map_err(WorkshopError::io("pack", dir))
}

fn collect(root: &Path, dir: &Path, id: &str, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(WorkshopError::io("read", dir))?;
    for entry in entries {
        let entry = entry.map_err(WorkshopError::io("read", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(WorkshopError::io("read", &path))?;
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        if kind.is_symlink() {
            return Err(WorkshopError::Lab {
                lab: id.into(),
                reason: format!("{rel} is a symbolic link; labs hold plain files (copy the file instead)"),
            });
        }
        if kind.is_dir() {
            out.push(rel);
            collect(root, &path, id, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}
#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Extracts a lab archive into `dest` (created; it must not exist yet). Only plain files and
/// folders with relative names that stay inside `dest` are accepted: anything else is an error
/// and `dest` is removed again.
pub fn install_lab(id: &str, archive: &[u8], dest: &Path) -> Result<()> {
    let bad = |reason: String| WorkshopError::Lab { lab: id.into(), reason };
    std::fs::create_dir_all(dest).map_err(WorkshopError::io("create", dest))?;
    let result = (|| {
        let mut tar = tar::Archive::new(archive);
        let mut total = 0u64;
        for entry in tar.entries().map_err(|e| bad(format!("its archive is not readable: {e}")))? {
            let mut entry = entry.map_err(|e| bad(format!("its archive is damaged: {e}")))?;
            let rel = entry.path().map_err(|e| bad(format!("a file name: {e}")))?.into_owned();
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(bad(format!("its archive names {}", rel.display())));
            }
            let target = dest.join(&rel);
            match entry.header().entry_type() {
                tar::EntryType::Directory => {
                    std::fs::create_dir_all(&target).map_err(WorkshopError::io("create", &target))?;
                }
                tar::EntryType::Regular => {
                    total += entry.size();
                    if total > MAX_LAB_BYTES {
                        return Err(bad("its archive is larger than a lab may be".into()));
                    }
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent).map_err(WorkshopError::io("create", parent))?;
                    }
                    let mut file = std::fs::File::create(&target).map_err(WorkshopError::io("create", &target))?;
                    std::io::copy(&mut entry, &mut file).map_err(WorkshopError::io("write", &target))?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = if entry.header().mode().unwrap_or(0o644) & 0o111 != 0 { 0o755 } else { 0o644 };
                        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                            .map_err(WorkshopError::io("write", &target))?;
                    }
                }
                other => return Err(bad(format!("{} is a {other:?}, not a plain file", rel.display()))),
            }
        }
        if !dest.join(LAB_MANIFEST).is_file() {
            return Err(bad(format!("its archive has no {LAB_MANIFEST}")));
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    result
}

/// What the room and the preflight need from a lab's `lab.toml` (gantry-labs owns the full
/// format; fields it adds are ignored here): its steps in order, the host ports it publishes and
/// the images it declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabOutline {
    pub id: String,
    /// The English title (the id when the lab has none).
    pub title: String,
    pub steps: Vec<String>,
    pub ports: Vec<u16>,
    pub images: Vec<String>,
}

impl LabOutline {
    /// Reads the outline from `lab.toml`'s text; `id` is the lab's folder name.
    pub fn parse(id: &str, text: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(default)]
            title: std::collections::BTreeMap<String, String>,
            #[serde(default)]
            steps: Vec<RawStep>,
            #[serde(default)]
            ports: std::collections::BTreeMap<String, u16>,
            #[serde(default)]
            images: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct RawStep {
            id: String,
        }
        let raw: Raw = toml::from_str(text)
            .map_err(|e| WorkshopError::Lab { lab: id.into(), reason: format!("{LAB_MANIFEST}: {e}") })?;
        let mut ports: Vec<u16> = raw.ports.into_values().collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(Self {
            id: id.into(),
            title: raw.title.get("en").cloned().unwrap_or_else(|| id.into()),
            steps: raw.steps.into_iter().map(|s| s.id).collect(),
            ports,
            images: raw.images,
        })
    }

    /// The outline of a lab packed by [`lab_tar`] (as a bundle holds it).
    pub fn from_archive(id: &str, archive: &[u8]) -> Result<Self> {
        let fail = |reason: String| WorkshopError::Lab { lab: id.into(), reason };
        let mut tar = tar::Archive::new(archive);
        for entry in tar.entries().map_err(|e| fail(e.to_string()))? {
            let mut entry = entry.map_err(|e| fail(e.to_string()))?;
            let is_manifest = entry.path().is_ok_and(|p| p.as_os_str() == LAB_MANIFEST);
            if is_manifest && entry.size() <= MAX_LAB_BYTES {
                let mut text = String::new();
                entry.read_to_string(&mut text).map_err(|e| fail(format!("{LAB_MANIFEST}: {e}")))?;
                return Self::parse(id, &text);
            }
        }
        Err(fail(format!("it has no {LAB_MANIFEST}")))
    }

    /// The outline of the lab installed in `dir`.
    pub fn read(id: &str, dir: &Path) -> Result<Self> {
        let path = dir.join(LAB_MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(WorkshopError::io("read", &path))?;
        Self::parse(id, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_read_steps_ports_and_images() {
        let text = "format = 1\nimages = [\"busybox:1.36\"]\n[ports]\nweb = 8080\napi = 8081\n[title]\nen = \"First\"\nru = \"Первый\"\n[[steps]]\nid = \"run\"\n[[steps.checks]]\nkind = \"x\"\n[[steps]]\nid = \"stop\"\n";
        let outline = LabOutline::parse("first", text).expect("valid");
        assert_eq!(outline.title, "First");
        assert_eq!(outline.steps, ["run", "stop"]);
        assert_eq!(outline.ports, [8080, 8081]);
        assert_eq!(outline.images, ["busybox:1.36"]);
        assert_eq!(LabOutline::parse("bare", "format = 1\n").expect("valid").title, "bare");
        assert!(LabOutline::parse("bad", "[[steps]]\nname = 1\n").is_err());
    }

    #[test]
    fn only_a_lab_that_loads_is_packed_with_its_problems_named_by_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let good = gantry_testkit::labs::write_lab(dir.path(), "good-lab", &["run"], "gantry-test/busybox:1");
        assert_eq!(loadable_lab_id(&good).expect("a lab that loads"), "good-lab");

        // a manifest gantry-labs refuses: the step (line 10) has no check, no solution, no texts
        let bad = dir.path().join("bad-lab");
        std::fs::create_dir_all(&bad).expect("mkdir");
        let manifest = "format = 1\nid = \"bad-lab\"\nlevel = \"beginner\"\nduration_minutes = 5\n\
                        [title]\nen = \"Bad\"\n[summary]\nen = \"Bad\"\n[[steps]]\nid = \"run\"\n";
        std::fs::write(bad.join(LAB_MANIFEST), manifest).expect("write");
        let e = loadable_lab_id(&bad).expect_err("a lab that does not load");
        let text = e.to_string();
        assert!(matches!(e, WorkshopError::Lab { ref lab, .. } if lab == "bad-lab"), "{text}");
        assert!(text.contains(&format!("{}:10", bad.join(LAB_MANIFEST).display())), "{text}");
        assert!(text.contains("[[steps.checks]]"), "{text}");

        // a lab copied under another folder name
        let renamed = dir.path().join("renamed");
        std::fs::rename(&good, &renamed).expect("rename");
        let e = loadable_lab_id(&renamed).expect_err("id and folder differ").to_string();
        assert!(e.contains("says id = \"good-lab\" but its folder is named \"renamed\""), "{e}");
    }

    #[test]
    fn packs_reproducibly_and_installs_the_same_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let lab = dir.path().join("first-container");
        std::fs::create_dir_all(lab.join("steps")).expect("mkdir");
        std::fs::write(lab.join(LAB_MANIFEST), "format = 1\n").expect("write");
        std::fs::write(lab.join("steps/hello.en.md"), "# Hello\n").expect("write");
        let a = lab_tar(&lab).expect("tar");
        let b = lab_tar(&lab).expect("tar again");
        assert_eq!(a, b);
        let dest = dir.path().join("installed");
        install_lab("first-container", &a, &dest).expect("install");
        assert_eq!(std::fs::read_to_string(dest.join("steps/hello.en.md")).expect("read"), "# Hello\n");
        assert!(lab_id(&dir.path().join("Bad Name")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_links_and_escapes() {
        let dir = tempfile::tempdir().expect("tmp");
        let lab = dir.path().join("lab");
        std::fs::create_dir_all(&lab).expect("mkdir");
        std::fs::write(lab.join(LAB_MANIFEST), "").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", lab.join("passwd")).expect("link");
        assert!(matches!(lab_tar(&lab), Err(WorkshopError::Lab { .. })));

        // An archive naming ../outside is refused and leaves nothing behind.
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_entry_type(tar::EntryType::Regular);
        let name = b"../outside";
        header.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        builder.append(&header, &b"x"[..]).expect("append");
        let evil = builder.into_inner().expect("tar");
        let dest = dir.path().join("dest");
        assert!(install_lab("lab", &evil, &dest).is_err());
        assert!(!dest.exists());
        assert!(!dir.path().join("outside").exists());
    }
}
