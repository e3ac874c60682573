//! The guest engine's configuration beyond what the image bakes in: registry mirrors and the CA
//! certificates they are trusted with (a workshop room's own certificate, pinned by its join code).
//!
//! The guest image bakes `/etc/docker/daemon.json` ([`BAKED_DAEMON_JSON`]). When mirrors are set,
//! the host writes a folder ([`write_guest_docker_dir`]) holding that file with
//! `registry-mirrors` merged in ([`daemon_json`]) and `certs.d/HOST:PORT/ca.crt` for each mirror
//! with a pinned CA, and the driver shares it read-only into the guest at `/etc/docker`
//! ([`GUEST_DOCKER_DIR`]) through the same channel as the shared folders (a 9p share named in
//! the fw_cfg `config`: the init mounts shares before it starts dockerd), so the guest image
//! is unchanged. dockerd reads them when it starts: a change takes effect at the VM's next start.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

/// The guest image's `/etc/docker/daemon.json` (the same file `vm-images/build.sh` bakes in).
pub const BAKED_DAEMON_JSON: &str = include_str!("../../../vm-images/daemon.json");

/// Where the guest's dockerd reads `daemon.json` and `certs.d/`.
pub const GUEST_DOCKER_DIR: &str = "/etc/docker";

/// A registry mirror for Docker Hub pulls in Gantry's VM.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegistryMirror {
    /// `https://HOST[:PORT]`, e.g. `https://192.168.1.20:5443`.
    pub url: String,
    /// PEM certificate(s) the mirror's TLS certificate must chain to (a workshop room's own
    /// certificate); none: the engine's usual trusted CAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// Why a mirror cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    #[error("registry mirror {url:?} is not a valid address: {reason}")]
    Url { url: String, reason: String },
    #[error("the certificate for registry mirror {url} is not valid: {reason}")]
    Certificate { url: String, reason: String },
    #[error("the engine's daemon.json cannot take the mirrors: {reason}")]
    DaemonJson { reason: String },
}

impl MirrorError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Url { .. } => {
                "write it as https://HOST or https://HOST:PORT (no path), e.g. https://192.168.1.20:5443"
            }
            Self::Certificate { .. } => {
                "join the workshop room again (the join code pins its certificate), or remove the mirror"
            }
            Self::DaemonJson { .. } => "this is a bug in the guest image's daemon.json: report it",
        }
    }
}

/// The `HOST[:PORT]` of a mirror URL: the name of its `certs.d` folder. Only `https://` with a
/// host (a DNS name, an IPv4 address or a bracketed IPv6 address) and an optional port; no user,
/// path, query or fragment (a trailing `/` is allowed). `http://` mirrors would also need
/// `insecure-registries`: refused.
pub fn mirror_authority(url: &str) -> Result<&str, MirrorError> {
    let bad = |reason: &str| MirrorError::Url { url: url.to_owned(), reason: reason.to_owned() };
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        if url.starts_with("http://") {
            bad("a plain-HTTP mirror is not supported (anyone on the network could change the images): use https://")
        } else {
            bad("it must start with https://")
        }
    })?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if let Some(c) = authority.chars().find(|c| matches!(c, '/' | '?' | '#' | '@' | '\\')) {
        return Err(bad(&format!("only a host and a port may follow https:// (found {c:?})")));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
        inside.parse::<std::net::Ipv6Addr>().map_err(|_| bad("not an IPv6 address between [ and ]"))?;
        match after {
            "" => (inside, None),
            p => (inside, Some(p.strip_prefix(':').ok_or_else(|| bad("expected :PORT after ]"))?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[') {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(bad("the host must be a name (letters, digits, - and .) or an IP address"));
        }
    }
    if let Some(p) = port {
        let ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        if !ok || !matches!(p.parse::<u32>(), Ok(1..=65535)) {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
    }
    Ok(authority)
}

/// Checks a mirror: its URL ([`mirror_authority`]) and, when given, that its CA is one or more
/// PEM certificates that parse as trust anchors.
pub fn check_mirror(m: &RegistryMirror) -> Result<(), MirrorError> {
    mirror_authority(&m.url)?;
    if let Some(pem) = &m.ca_pem {
        let bad = |reason: String| MirrorError::Certificate { url: m.url.clone(), reason };
        let mut roots = rustls::RootCertStore::empty();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| bad(format!("not PEM: {e}")))?;
            roots.add(cert).map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad("no -----BEGIN CERTIFICATE----- block".into()));
        }
    }
    Ok(())
}

/// `base` (a daemon.json object) with the mirrors' URLs added to `registry-mirrors` after those
/// it already lists (each URL once, trailing `/` ignored for the comparison); every other key is
/// kept as it was. Pretty-printed JSON.
pub fn daemon_json(base: &str, mirrors: &[RegistryMirror]) -> Result<String, MirrorError> {
    let bad = |reason: String| MirrorError::DaemonJson { reason };
    let mut doc: serde_json::Value = serde_json::from_str(base).map_err(|e| bad(e.to_string()))?;
    let obj = doc.as_object_mut().ok_or_else(|| bad("not a JSON object".into()))?;
    let list = obj.entry("registry-mirrors").or_insert_with(|| serde_json::Value::Array(Vec::new()));
    let list = list.as_array_mut().ok_or_else(|| bad("registry-mirrors is not a list".into()))?;
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    for m in mirrors {
        mirror_authority(&m.url)?;
        if !list.iter().any(|v| v.as_str().is_some_and(|s| same(s, &m.url))) {
            list.push(serde_json::Value::String(m.url.clone()));
        }
    }
    serde_json::to_string_pretty(&doc).map_err(|e| bad(e.to_string()))
}

/// The files of the guest's `/etc/docker` for these mirrors: `daemon.json` and
/// `certs.d/HOST:PORT/ca.crt` per mirror with a CA (relative paths, contents).
pub fn guest_docker_files(mirrors: &[RegistryMirror]) -> Result<Vec<(String, String)>, MirrorError> {
    let mut files = vec![("daemon.json".to_owned(), daemon_json(BAKED_DAEMON_JSON, mirrors)? + "\n")];
    for m in mirrors {
        check_mirror(m)?;
        if let Some(pem) = &m.ca_pem {
            files.push((format!("certs.d/{}/ca.crt", mirror_authority(&m.url)?), pem.clone()));
        }
    }
    Ok(files)
}

/// Writes [`guest_docker_files`] into `dir` (Gantry's own folder in the instance directory),
/// replacing what it held: written beside it first, then swapped in, so the guest never sees half
/// a folder. With no mirrors, `dir` is removed (the guest keeps its baked `daemon.json`).
pub fn write_guest_docker_dir(dir: &Path, mirrors: &[RegistryMirror]) -> std::io::Result<()> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = dir.with_file_name(format!("{name}.partial"));
    let old = dir.with_file_name(format!("{name}.old"));
    for d in [&staging, &old] {
        remove_dir_if_exists(d)?;
    }
    if mirrors.is_empty() {
        return remove_dir_if_exists(dir);
    }
    let files = guest_docker_files(mirrors).map_err(std::io::Error::other)?;
    for (rel, content) in files {
        let path = staging.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&staging, dir)?;
    remove_dir_if_exists(&old)
}

fn remove_dir_if_exists(d: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(d) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn mirror(url: &str) -> RegistryMirror {
        RegistryMirror { url: url.into(), ca_pem: None }
    }

    #[test]
    fn authorities() {
        for (url, auth) in [
            ("https://192.168.1.20:5443", "192.168.1.20:5443"),
            ("https://mirror.example.com/", "mirror.example.com"),
            ("https://[fe80::1]:5443", "[fe80::1]:5443"),
            ("https://[::1]", "[::1]"),
        ] {
            assert_eq!(mirror_authority(url).unwrap(), auth, "{url}");
        }
        for url in [
            "http://192.168.1.20:5443",
            "192.168.1.20:5443",
            "https://",
            "https://host/v2",
            "https://user@host",
            "https://host:0",
            "https://host:65536",
            "https://host:",
            "https://ho st",
            "https://-host",
            "https://[::1",
            "https://[zz]:1",
            "https://host?x",
            "https://../etc",
            "https://a..b",
        ] {
            assert!(mirror_authority(url).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn the_baked_daemon_json_keeps_its_keys_and_gains_the_mirrors() {
        let out = daemon_json(BAKED_DAEMON_JSON, &[mirror("https://10.0.2.2:5443")]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["features"]["containerd-snapshotter"], true);
        assert_eq!(v["registry-mirrors"], serde_json::json!(["https://10.0.2.2:5443"]));
    }

    #[test]
    fn refuses_a_daemon_json_it_cannot_extend() {
        assert!(daemon_json("[]", &[]).is_err());
        assert!(daemon_json("{\"registry-mirrors\": 3}", &[mirror("https://a")]).is_err());
        assert!(daemon_json("{", &[]).is_err());
    }

    #[test]
    fn certificates_are_checked() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["room".into()]).unwrap().self_signed(&key).unwrap();
        let good = RegistryMirror { url: "https://10.0.2.2:5443".into(), ca_pem: Some(cert.pem()) };
        check_mirror(&good).unwrap();
        let files = guest_docker_files(std::slice::from_ref(&good)).unwrap();
        assert_eq!(files[1], ("certs.d/10.0.2.2:5443/ca.crt".to_owned(), cert.pem()));
        for pem in ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            let m = RegistryMirror { ca_pem: Some(pem.into()), ..good.clone() };
            assert!(matches!(check_mirror(&m), Err(MirrorError::Certificate { .. })), "{pem:?}");
        }
    }

    #[test]
    fn the_folder_is_replaced_whole_and_removed_without_mirrors() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("guest-docker");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["room".into()]).unwrap().self_signed(&key).unwrap();
        let a = RegistryMirror { url: "https://a:1".into(), ca_pem: Some(cert.pem()) };
        write_guest_docker_dir(&dir, &[a]).unwrap();
        assert!(dir.join("certs.d/a:1/ca.crt").is_file());
        write_guest_docker_dir(&dir, &[mirror("https://b")]).unwrap();
        assert!(!dir.join("certs.d/a:1").exists(), "the old mirror's certificate is gone");
        let json = std::fs::read_to_string(dir.join("daemon.json")).unwrap();
        assert!(json.contains("https://b") && !json.contains("https://a:1"), "{json}");
        write_guest_docker_dir(&dir, &[]).unwrap();
        assert!(!dir.exists());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0, "no staging folder left");
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}",
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|a| format!("[{a}]")),
        ]
    }

    fn url() -> impl Strategy<Value = String> {
        (host(), proptest::option::of(1u16..), any::<bool>()).prop_map(|(h, p, slash)| {
            format!("https://{h}{}{}", p.map(|p| format!(":{p}")).unwrap_or_default(), if slash { "/" } else { "" })
        })
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Every URL of the grammar is accepted, and its authority is what follows https://.
        #[test]
        fn valid_urls_are_accepted(u in url()) {
            let auth = mirror_authority(&u).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(auth, u.trim_start_matches("https://").trim_end_matches('/'));
        }

        /// Arbitrary text never panics the parser, and what it accepts has no path separator.
        #[test]
        fn the_url_parser_never_panics(s in ".{0,40}") {
            if let Ok(auth) = mirror_authority(&s) {
                prop_assert!(!auth.contains('/') && !auth.contains(".."));
            }
        }

        /// Any valid mirror list round-trips through daemon.json (in order, each once, after the
        /// mirrors the file already had) and every other key of the file is kept unchanged.
        #[test]
        fn daemon_json_merge_round_trips(
            urls in proptest::collection::vec(url(), 0..6),
            existing in proptest::collection::vec(url(), 0..3),
            others in proptest::collection::btree_map("[a-z-]{1,12}", json_value(), 0..5),
        ) {
            let mut base: serde_json::Map<String, serde_json::Value> =
                others.into_iter().filter(|(k, _)| k != "registry-mirrors").collect();
            if !existing.is_empty() {
                base.insert("registry-mirrors".into(), serde_json::json!(existing));
            }
            let base_text = serde_json::to_string(&base).unwrap();
            let mirrors: Vec<RegistryMirror> = urls.iter().map(|u| mirror(u)).collect();
            let out: serde_json::Value = serde_json::from_str(&daemon_json(&base_text, &mirrors).unwrap()).unwrap();
            let obj = out.as_object().unwrap();
            for (k, v) in &base {
                if k != "registry-mirrors" {
                    prop_assert_eq!(obj.get(k), Some(v));
                }
            }
            prop_assert_eq!(obj.len(), base.len() + usize::from(!base.contains_key("registry-mirrors")));
            let mut expected: Vec<String> = existing.clone();
            for u in &urls {
                if !expected.iter().any(|e| e.trim_end_matches('/') == u.trim_end_matches('/')) {
                    expected.push(u.clone());
                }
            }
            prop_assert_eq!(&obj["registry-mirrors"], &serde_json::json!(expected));
        }
    }
}
