//! Operating-system package databases: dpkg's `status` (and distroless `status.d/`), apk's
//! `installed`, and `os-release`.

use super::{Ecosystem, OsRelease, Package, purl};

/// `Key: value` stanzas separated by blank lines; continuation lines start with a blank.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut all = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

fn field<'a>(stanza: &'a [(String, String)], key: &str) -> Option<&'a str> {
    stanza.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
}

/// The installed packages of a dpkg `status` file (or one file of `status.d/`).
pub fn parse_dpkg_status(text: &str, location: &str, os: Option<&OsRelease>) -> Vec<Package> {
    let distro = os.map(|o| format!("{}-{}", o.id, o.version_id)).unwrap_or_default();
    let namespace = os.map_or("debian", |o| if o.id.is_empty() { "debian" } else { o.id.as_str() });
    stanzas(text)
        .into_iter()
        .filter(|s| {
            // `status.d/` files have no Status field: what is listed there is installed.
            field(s, "Status").is_none_or(|status| status.split_whitespace().last() == Some("installed"))
        })
        .filter_map(|s| {
            let name = field(&s, "Package")?.to_string();
            let version = field(&s, "Version")?.to_string();
            let arch = field(&s, "Architecture").map(str::to_string);
            let (source, source_version) = match field(&s, "Source") {
                Some(text) => match text.split_once('(') {
                    Some((n, v)) => (Some(n.trim().to_string()), Some(v.trim_end_matches(')').trim().to_string())),
                    None => (Some(text.trim().to_string()), Some(version.clone())),
                },
                None => (None, None),
            };
            let purl = purl(
                Ecosystem::Debian,
                Some(namespace),
                &name,
                &version,
                &[("arch", arch.as_deref().unwrap_or("")), ("distro", &distro)],
            );
            Some(Package {
                name,
                version,
                ecosystem: Ecosystem::Debian,
                source,
                source_version,
                arch,
                license: None,
                purl,
                location: location.to_string(),
                layer: None,
            })
        })
        .collect()
}

/// The packages of apk's `lib/apk/db/installed` (`P:` name, `V:` version, `A:` arch, `L:`
/// license, `o:` origin).
pub fn parse_apk_installed(text: &str, location: &str, os: Option<&OsRelease>) -> Vec<Package> {
    let distro = os.map(|o| format!("{}-{}", o.id, o.version_id)).unwrap_or_default();
    let mut packages = Vec::new();
    for record in text.split("\n\n") {
        let value = |key: char| {
            record.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':'))).map(str::to_string)
        };
        let (Some(name), Some(version)) = (value('P'), value('V')) else { continue };
        let arch = value('A');
        let purl = purl(
            Ecosystem::Alpine,
            Some("alpine"),
            &name,
            &version,
            &[("arch", arch.as_deref().unwrap_or("")), ("distro", &distro)],
        );
        packages.push(Package {
            name,
            version: version.clone(),
            ecosystem: Ecosystem::Alpine,
            source: value('o'),
            source_version: value('o').map(|_| version),
            arch,
            license: value('L'),
            purl,
            location: location.to_string(),
            layer: None,
        });
    }
    packages
}

/// `/etc/os-release`: `ID`, `VERSION_ID`, `PRETTY_NAME` (values may be quoted).
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim().trim_matches(['"', '\'']).to_string();
        match key.trim() {
            "ID" => os.id = value,
            "VERSION_ID" => os.version_id = value,
            "PRETTY_NAME" => os.pretty_name = value,
            _ => {}
        }
    }
    os
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n more text\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: zlib1g\nStatus: install ok installed\nSource: zlib (1:1.2.13.dfsg-1)\nVersion: 1:1.2.13.dfsg-1+b1\n";
        let os = OsRelease { id: "debian".into(), version_id: "12".into(), pretty_name: String::new() };
        let packages = parse_dpkg_status(text, "/var/lib/dpkg/status", Some(&os));
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].source.as_deref(), Some("glibc"));
        assert_eq!(packages[0].source_version.as_deref(), Some("2.36-9+deb12u4"));
        assert_eq!(packages[0].purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
        assert_eq!(packages[1].source_version.as_deref(), Some("1:1.2.13.dfsg-1"));
    }

    #[test]
    fn apk_installed_and_os_release() {
        let text = "C:Q1abc=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nL:MIT\n";
        let packages = parse_apk_installed(text, "/lib/apk/db/installed", None);
        assert_eq!(packages.len(), 2);
        assert_eq!((packages[0].name.as_str(), packages[0].version.as_str()), ("busybox", "1.36.1-r15"));
        assert_eq!(packages[1].license.as_deref(), Some("MIT"));
        let os = parse_os_release(
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
        );
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("alpine", "3.19.1"));
    }
}
