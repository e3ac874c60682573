//! What binaries say about themselves: Go's build information (section `.go.buildinfo`, Go 1.18
//! and later: the Go version, the main module and every dependency module) and Rust's
//! `cargo auditable` data (section `.dep-v0`, zlib-compressed JSON of the crates built in).

use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;

use super::{Ecosystem, Package, purl};

/// Go's build-info magic, at the start of `.go.buildinfo`.
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The markers around Go's module information string.
const GO_MODINFO_MARKER_LEN: usize = 16;
/// Decompressed `cargo auditable` data larger than this is not what it claims.
const MAX_AUDIT_JSON: u64 = 16 * 1024 * 1024;

/// A section of an ELF file: (file offset, size).
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub offset: u64,
    pub size: u64,
}

/// Finds named sections in an ELF file (32/64-bit, either byte order). `None` when it is no ELF.
pub fn elf_sections(file: &mut (impl Read + Seek), names: &[&str]) -> std::io::Result<Option<Vec<Option<Section>>>> {
    let mut ident = [0u8; 64];
    file.seek(SeekFrom::Start(0))?;
    if file.read(&mut ident)? < 52 || &ident[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let wide = ident[4] == 2;
    let little = ident[5] == 1;
    let u16_at = |b: &[u8], o: usize| {
        if little { u16::from_le_bytes([b[o], b[o + 1]]) } else { u16::from_be_bytes([b[o], b[o + 1]]) }
    };
    let u32_at = |b: &[u8], o: usize| {
        let bytes = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if little { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&b[o..o + 8]);
        if little { u64::from_le_bytes(bytes) } else { u64::from_be_bytes(bytes) }
    };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (u64_at(&ident, 0x28), u16_at(&ident, 0x3a), u16_at(&ident, 0x3c), u16_at(&ident, 0x3e))
    } else {
        (u64::from(u32_at(&ident, 0x20)), u16_at(&ident, 0x2e), u16_at(&ident, 0x30), u16_at(&ident, 0x32))
    };
    if shoff == 0 || shnum == 0 || shentsize < 40 || shstrndx >= shnum {
        return Ok(Some(vec![None; names.len()]));
    }
    let mut table = vec![0u8; usize::from(shentsize) * usize::from(shnum)];
    file.seek(SeekFrom::Start(shoff))?;
    file.read_exact(&mut table)?;
    let header = |i: usize| -> (u32, u64, u64) {
        let h = &table[i * usize::from(shentsize)..];
        if wide {
            (u32_at(h, 0), u64_at(h, 0x18), u64_at(h, 0x20))
        } else {
            (u32_at(h, 0), u64::from(u32_at(h, 0x10)), u64::from(u32_at(h, 0x14)))
        }
    };
    let (_, strtab_offset, strtab_size) = header(usize::from(shstrndx));
    let mut strtab = vec![0u8; strtab_size.min(1 << 20) as usize];
    file.seek(SeekFrom::Start(strtab_offset))?;
    file.read_exact(&mut strtab)?;
    let mut found = vec![None; names.len()];
    for i in 0..usize::from(shnum) {
        let (name_offset, offset, size) = header(i);
        let name_bytes = strtab.get(name_offset as usize..).unwrap_or_default();
        let name = &name_bytes[..name_bytes.iter().position(|b| *b == 0).unwrap_or(name_bytes.len())];
        if let Some(slot) = names.iter().position(|n| n.as_bytes() == name) {
            found[slot] = Some(Section { offset, size });
        }
    }
    Ok(Some(found))
}

/// Reads Go's version and module information from the start of `.go.buildinfo`. `Ok(None)`
/// for the pre-1.18 layout (pointers into the binary's data), which is not read.
pub fn read_go_buildinfo(data: &[u8]) -> Option<(String, String)> {
    if !data.starts_with(GO_MAGIC) || data.len() < 32 || data[15] & 2 == 0 {
        return None;
    }
    let mut position = 32;
    let mut bytes_at = || -> Option<&[u8]> {
        let (length, used) = uvarint(data.get(position..)?)?;
        position += used;
        let bytes = data.get(position..position + usize::try_from(length).ok()?)?;
        position += bytes.len();
        Some(bytes)
    };
    let version = String::from_utf8_lossy(bytes_at()?).into_owned();
    let modinfo = bytes_at().unwrap_or_default();
    // The module text sits between two 16-byte markers (not UTF-8: cut them off as bytes).
    let modinfo = if modinfo.len() >= 2 * GO_MODINFO_MARKER_LEN {
        &modinfo[GO_MODINFO_MARKER_LEN..modinfo.len() - GO_MODINFO_MARKER_LEN]
    } else {
        modinfo
    };
    Some((version, String::from_utf8_lossy(modinfo).into_owned()))
}

fn uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A Go module: path and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoModule {
    pub path: String,
    pub version: String,
}

/// The main package path, main module and dependencies in Go's module information text
/// (`path`, `mod`, `dep` and `=>` lines; a `=>` line replaces the module above it).
pub fn parse_go_modinfo(modinfo: &str) -> (Option<String>, Option<GoModule>, Vec<GoModule>) {
    let mut path = None;
    let mut main = None;
    let mut deps: Vec<GoModule> = Vec::new();
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let module = || GoModule {
            path: fields.get(1).unwrap_or(&"").to_string(),
            version: fields.get(2).unwrap_or(&"").to_string(),
        };
        match fields.first() {
            Some(&"path") => path = fields.get(1).map(|p| p.to_string()),
            Some(&"mod") => main = Some(module()),
            Some(&"dep") => deps.push(module()),
            Some(&"=>") => {
                if let Some(last) = deps.last_mut() {
                    *last = module();
                }
            }
            _ => {}
        }
    }
    (path, main, deps)
}

fn go_package(path: &str, version: &str, location: &str) -> Package {
    let (namespace, name) = path.rsplit_once('/').map_or((None, path), |(n, m)| (Some(n), m));
    Package {
        name: path.to_string(),
        version: version.to_string(),
        ecosystem: Ecosystem::Go,
        source: None,
        source_version: None,
        arch: None,
        license: None,
        purl: purl(Ecosystem::Go, namespace, name, version, &[]),
        location: location.to_string(),
        layer: None,
    }
}

/// The packages a Go binary's build information names: the standard library (`stdlib`, as the
/// Go vulnerability database calls it), the main module and every dependency.
pub fn go_packages(version: &str, modinfo: &str, location: &str) -> Vec<Package> {
    let mut packages = vec![go_package("stdlib", version.trim_start_matches("go"), location)];
    let (path, main, deps) = parse_go_modinfo(modinfo);
    match main {
        Some(module) => packages.push(go_package(&module.path, &module.version, location)),
        None => {
            if let Some(path) = path.filter(|p| !p.is_empty() && p != "command-line-arguments") {
                packages.push(go_package(&path, "(devel)", location));
            }
        }
    }
    packages.extend(deps.iter().map(|d| go_package(&d.path, &d.version, location)));
    packages
}

#[derive(Deserialize)]
struct AuditData {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: String,
}

/// The crates `cargo auditable` recorded (zlib-compressed JSON), build-time crates left out.
pub fn rust_packages(compressed: &[u8], location: &str) -> Option<Vec<Package>> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed).take(MAX_AUDIT_JSON).read_to_end(&mut json).ok()?;
    let data: AuditData = serde_json::from_slice(&json).ok()?;
    Some(
        data.packages
            .into_iter()
            .filter(|p| p.kind != "build")
            .map(|p| Package {
                purl: purl(Ecosystem::Cargo, None, &p.name, &p.version, &[]),
                name: p.name,
                version: p.version,
                ecosystem: Ecosystem::Cargo,
                source: (!p.source.is_empty()).then_some(p.source),
                source_version: None,
                arch: None,
                license: None,
                location: location.to_string(),
                layer: None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modinfo_with_replacements() {
        let modinfo = "path\texample.com/app/cmd/app\nmod\texample.com/app\tv1.2.3\th1:x=\ndep\tgolang.org/x/net\tv0.17.0\th1:y=\ndep\tgithub.com/a/b\tv1.0.0\n=>\tgithub.com/fork/b\tv1.0.1\th1:z=\nbuild\tGOOS=linux\n";
        let packages = go_packages("go1.22.5", modinfo, "/app");
        let names: Vec<(&str, &str)> = packages.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
        assert_eq!(
            names,
            vec![
                ("stdlib", "1.22.5"),
                ("example.com/app", "v1.2.3"),
                ("golang.org/x/net", "v0.17.0"),
                ("github.com/fork/b", "v1.0.1")
            ]
        );
        assert_eq!(packages[2].purl, "pkg:golang/golang.org/x/net@v0.17.0");
    }

    #[test]
    fn go_buildinfo_blob() {
        let mut blob = GO_MAGIC.to_vec();
        blob.extend([8, 2]);
        blob.resize(32, 0);
        let marker: &[u8] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
        let modinfo = [marker, b"path\tx\n", marker].concat();
        for text in [b"go1.21.0".as_slice(), modinfo.as_slice()] {
            blob.push(text.len() as u8);
            blob.extend(text);
        }
        assert_eq!(read_go_buildinfo(&blob), Some(("go1.21.0".into(), "path\tx\n".into())));
        blob[15] = 0;
        assert_eq!(read_go_buildinfo(&blob), None);
    }
}
