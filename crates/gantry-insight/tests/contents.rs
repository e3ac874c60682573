//! What is in an image, against the engine at DOCKER_HOST (./scripts/test starts a private one).
//! Images are built here from real files: this Debian machine's dpkg database and os-release,
//! a Go binary of this machine (runc), Python and Node package manifests, a Rust binary with
//! `cargo auditable` data, an Alpine package database, rpm's SQLite database; a package removed
//! by a later layer must not be listed. The packages are checked against `dpkg-query` and
//! against what the test reads from the binaries itself; the CycloneDX export against the 1.5
//! schema's rules; vulnerabilities against an OSV fixture.
#![cfg(unix)] // builds images from this machine's files with unix modes against the private engine: unix only
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec, Engine};
use gantry_insight::sbom::cyclonedx::cyclonedx;
use gantry_insight::sbom::{Ecosystem, ImageContents, image_contents};
use gantry_insight::vuln::Database;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

async fn engine() -> Engine {
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/test");
    let engine = Engine::from_env().await.expect("engine at DOCKER_HOST");
    engine.inspect_image("gantry-test/busybox:latest").await.expect("the fixture image (./scripts/test imports it)");
    engine
}

fn put(root: &Path, path: &str, content: &[u8]) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, content).unwrap();
}

fn executable(root: &Path, path: &str, content: &[u8]) {
    put(root, path, content);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(0o755)).unwrap();
}

async fn build(engine: &Engine, context: &Path, dockerfile: &str, tag: &str) {
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    let spec = BuildSpec { context: context.to_path_buf(), tag: Some(tag.into()), ..BuildSpec::default() };
    let mut events = engine.build_image(&spec);
    while let Some(event) = events.next().await {
        let _: BuildEvent = event.expect("the build succeeds");
    }
}

/// A minimal 64-bit ELF file with one `.dep-v0` section holding zlib-compressed `json`.
fn elf_with_audit_data(json: &Value) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(json.to_string().as_bytes()).unwrap();
    let data = encoder.finish().unwrap();
    let names = b"\0.shstrtab\0.dep-v0\0";
    let names_offset = 64u64;
    let data_offset = names_offset + names.len() as u64;
    let sections_offset = data_offset + data.len() as u64;
    let mut elf = vec![0u8; 64];
    elf[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf[16..18].copy_from_slice(&2u16.to_le_bytes());
    elf[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[40..48].copy_from_slice(&sections_offset.to_le_bytes());
    elf[52..54].copy_from_slice(&64u16.to_le_bytes());
    elf[58..60].copy_from_slice(&64u16.to_le_bytes());
    elf[60..62].copy_from_slice(&3u16.to_le_bytes());
    elf[62..64].copy_from_slice(&1u16.to_le_bytes());
    elf.extend_from_slice(names);
    elf.extend_from_slice(&data);
    let section = |name: u32, kind: u32, offset: u64, size: u64| {
        let mut header = vec![0u8; 64];
        header[0..4].copy_from_slice(&name.to_le_bytes());
        header[4..8].copy_from_slice(&kind.to_le_bytes());
        header[24..32].copy_from_slice(&offset.to_le_bytes());
        header[32..40].copy_from_slice(&size.to_le_bytes());
        header
    };
    elf.extend(vec![0u8; 64]);
    elf.extend(section(1, 3, names_offset, names.len() as u64));
    elf.extend(section(11, 1, data_offset, data.len() as u64));
    elf
}

/// The Go version in a binary's build information, read the simple way (find the magic, skip
/// the 32-byte header, read one length-prefixed string).
fn go_version_of(binary: &[u8]) -> String {
    let at = binary.windows(14).position(|w| w == b"\xff Go buildinf:").expect("a Go binary");
    let length = binary[at + 32] as usize;
    String::from_utf8(binary[at + 33..at + 33 + length].to_vec()).unwrap()
}

/// `dpkg-query`'s view of the installed packages in a dpkg status file (a copy: other programs
/// may install packages on this machine meanwhile).
fn dpkg_query(status: &[u8]) -> BTreeSet<(String, String)> {
    let admin = tempfile::tempdir().unwrap();
    std::fs::write(admin.path().join("status"), status).unwrap();
    let admindir = format!("--admindir={}", admin.path().display());
    let output = std::process::Command::new("dpkg-query")
        .args([admindir.as_str(), "-W", "-f", "${db:Status-Status} ${Package} ${Version}\\n"])
        .output()
        .expect("dpkg-query runs (a Debian machine)");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "installed")
                .then(|| (words.next().unwrap().to_string(), words.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// Checks a CycloneDX document against the 1.5 schema's rules for what Gantry writes:
/// required fields, no properties outside the schema, enums, the serial number's pattern,
/// unique bom-refs, component purls.
fn check_cyclonedx(bom: &Value) {
    let allowed_top = ["$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components"];
    let allowed_metadata = ["timestamp", "tools", "component"];
    let allowed_component = ["type", "bom-ref", "name", "version", "purl", "licenses", "properties"];
    let types = [
        "application",
        "framework",
        "library",
        "container",
        "platform",
        "operating-system",
        "device",
        "device-driver",
        "firmware",
        "file",
        "machine-learning-model",
        "data",
    ];
    let object = bom.as_object().expect("an object");
    for key in ["bomFormat", "specVersion", "version"] {
        assert!(object.contains_key(key), "missing {key}");
    }
    assert!(object.keys().all(|k| allowed_top.contains(&k.as_str())), "{:?}", object.keys());
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.5");
    assert!(bom["version"].is_u64());
    let serial = bom["serialNumber"].as_str().unwrap();
    let hex = serial.strip_prefix("urn:uuid:").unwrap();
    let groups: Vec<usize> = hex.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{serial}");
    assert!(hex.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{serial}");
    let metadata = bom["metadata"].as_object().unwrap();
    assert!(metadata.keys().all(|k| allowed_metadata.contains(&k.as_str())));
    let timestamp = metadata["timestamp"].as_str().unwrap();
    assert!(timestamp.len() == 20 && timestamp.ends_with('Z') && &timestamp[10..11] == "T", "{timestamp}");
    let mut refs = BTreeSet::new();
    let subject = &metadata["component"];
    let components = bom["components"].as_array().unwrap();
    for component in std::iter::once(subject).chain(components) {
        let c = component.as_object().unwrap();
        assert!(c.keys().all(|k| allowed_component.contains(&k.as_str())), "{c:?}");
        assert!(types.contains(&c["type"].as_str().unwrap()), "{c:?}");
        assert!(!c["name"].as_str().unwrap().is_empty());
        assert!(refs.insert(c["bom-ref"].as_str().unwrap().to_string()), "duplicate bom-ref {c:?}");
        if let Some(purl) = c.get("purl") {
            assert!(purl.as_str().unwrap().starts_with("pkg:"), "{purl}");
        }
        for license in c.get("licenses").and_then(Value::as_array).into_iter().flatten() {
            assert!(license["license"]["name"].is_string() || license["license"]["id"].is_string(), "{license}");
        }
        for property in c.get("properties").and_then(Value::as_array).into_iter().flatten() {
            assert!(property["name"].is_string() && property["value"].is_string(), "{property}");
        }
    }
    assert_eq!(subject["type"], "container");
}

fn find<'a>(
    contents: &'a ImageContents,
    ecosystem: Ecosystem,
    name: &str,
) -> Option<&'a gantry_insight::sbom::Package> {
    contents.packages.iter().find(|p| p.ecosystem == ecosystem && p.name == name)
}

#[tokio::test]
async fn debian_image_contents_sbom_and_vulnerabilities() {
    let engine = engine().await;
    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("rootfs");
    let dpkg_status = std::fs::read("/var/lib/dpkg/status").unwrap();
    put(&root, "var/lib/dpkg/status", &dpkg_status);
    put(&root, "etc/os-release", &std::fs::read("/etc/os-release").unwrap());
    let runc = std::fs::read("/usr/sbin/runc").expect("runc, a Go binary (Debian's runc package)");
    executable(&root, "usr/local/bin/runc", &runc);
    let audit = json!({"packages": [
        {"name": "rusty", "version": "0.1.0", "source": "local", "kind": "runtime", "root": true, "dependencies": [1, 2]},
        {"name": "smallvec", "version": "1.6.0", "source": "crates.io", "kind": "runtime"},
        {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"}
    ]});
    executable(&root, "usr/local/bin/rusty", &elf_with_audit_data(&audit));
    put(
        &root,
        "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\nLicense: Apache 2.0\n\nHTTP for Humans.\n",
    );
    put(&root, "usr/lib/python3/dist-packages/removed-1.0.dist-info/METADATA", b"Name: removed\nVersion: 1.0\n");
    put(
        &root,
        "app/node_modules/lodash/package.json",
        br#"{"name": "lodash", "version": "4.17.20", "license": "MIT"}"#,
    );
    put(
        &root,
        "app/node_modules/@types/node/package.json",
        br#"{"name": "@types/node", "version": "20.11.5", "license": "MIT"}"#,
    );
    put(&root, "app/node_modules/lodash/fp/package.json", br#"{"name": "not-a-package", "version": "0"}"#);
    let tag = format!("gantry-test/insight-debian:{}", std::process::id());
    build(
        &engine,
        context.path(),
        "FROM gantry-test/busybox:latest\nCOPY rootfs/ /\nRUN rm -rf /usr/lib/python3/dist-packages/removed-1.0.dist-info\n",
        &tag,
    )
    .await;

    let contents = image_contents(&engine, &tag, None).await.expect("contents");
    let os = contents.os.clone().expect("os-release read");
    assert_eq!(os.id, "debian");

    let listed: BTreeSet<(String, String)> = contents
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let expected = dpkg_query(&dpkg_status);
    if listed != expected {
        let missing: Vec<_> = expected.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&expected).collect();
        panic!("the dpkg packages differ from dpkg-query's: missing {missing:?}, extra {extra:?}");
    }
    let base_files = find(&contents, Ecosystem::Debian, "base-files").expect("base-files");
    assert_eq!(base_files.location, "/var/lib/dpkg/status");
    assert!(base_files.purl.starts_with("pkg:deb/debian/base-files@"), "{}", base_files.purl);

    let stdlib = find(&contents, Ecosystem::Go, "stdlib").expect("Go's standard library in runc");
    assert_eq!(format!("go{}", stdlib.version), go_version_of(&runc));
    let runc_main = find(&contents, Ecosystem::Go, "github.com/opencontainers/runc").expect("runc's main package path");
    assert_eq!(runc_main.location, "/usr/local/bin/runc");
    assert_eq!(find(&contents, Ecosystem::Cargo, "smallvec").map(|p| p.version.as_str()), Some("1.6.0"));
    assert!(find(&contents, Ecosystem::Cargo, "cc").is_none(), "build-time crates are not shipped");
    let requests = find(&contents, Ecosystem::Python, "requests").expect("requests");
    assert_eq!((requests.version.as_str(), requests.license.as_deref()), ("2.28.1", Some("Apache 2.0")));
    assert!(find(&contents, Ecosystem::Python, "removed").is_none(), "a later layer removed it");
    assert!(
        find(&contents, Ecosystem::Npm, "lodash").is_some() && find(&contents, Ecosystem::Npm, "@types/node").is_some()
    );
    assert!(find(&contents, Ecosystem::Npm, "not-a-package").is_none());

    check_cyclonedx(&cyclonedx(&contents, 1_700_000_000));

    // Vulnerabilities: the fixture's language advisories plus two Debian and one Go advisory
    // written for this machine's versions.
    let mut advisories: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/osv/advisories.json")).unwrap()).unwrap();
    let base_source_version = base_files.source_version.clone().unwrap_or_else(|| base_files.version.clone());
    let release = os.version_id.split('.').next().unwrap().to_string();
    advisories.push(json!({"id": "TEST-DEB-AFFECTED", "summary": "affects this machine's base-files",
        "affected": [{"package": {"ecosystem": format!("Debian:{release}"), "name": "base-files"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": format!("{base_source_version}+gantry1")}]}]}]}));
    advisories.push(json!({"id": "TEST-DEB-FIXED", "affected": [{"package": {"ecosystem": format!("Debian:{release}"), "name": "base-files"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}));
    advisories.push(
        json!({"id": "TEST-DEB-OTHER-RELEASE", "affected": [{"package": {"ecosystem": "Debian:1", "name": "base-files"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}),
    );
    advisories.push(json!({"id": "TEST-GO-STDLIB", "affected": [{"package": {"ecosystem": "Go", "name": "stdlib"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": format!("{}.1", stdlib.version)}]}]}]}));
    let db_file = context.path().join("osv.json");
    std::fs::write(&db_file, serde_json::to_vec(&advisories).unwrap()).unwrap();
    let database = Database::load(&db_file).expect("the OSV fixture loads");
    let report = database.scan(&contents, "osv.json");
    let ids: BTreeSet<&str> = report.matches.iter().map(|m| m.id.as_str()).collect();
    let expected: BTreeSet<&str> =
        ["TEST-DEB-AFFECTED", "TEST-GO-STDLIB", "PYSEC-2023-74", "GHSA-29mw-wpgm-hmr9", "RUSTSEC-2021-0003"]
            .into_iter()
            .collect();
    assert_eq!(ids, expected, "{:#?}", report.matches);
    let requests_vuln = report.matches.iter().find(|m| m.id == "PYSEC-2023-74").unwrap();
    assert_eq!(requests_vuln.fixed.as_deref(), Some("2.31.0"));
    engine.remove_image(&tag, true).await.unwrap();
}

#[tokio::test]
async fn alpine_and_rpm_databases() {
    let engine = engine().await;
    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("rootfs");
    put(&root, "lib/apk/db/installed", &std::fs::read(format!("{FIXTURES}/apk-installed")).unwrap());
    put(
        &root,
        "etc/os-release",
        b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
    );
    let tag = format!("gantry-test/insight-alpine:{}", std::process::id());
    build(&engine, context.path(), "FROM gantry-test/busybox:latest\nCOPY rootfs/ /\n", &tag).await;
    let contents = image_contents(&engine, &tag, None).await.expect("contents");
    let alpine: Vec<(&str, &str)> = contents
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Alpine)
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(alpine, [("busybox", "1.36.1-r15"), ("musl", "1.2.4_git20230717-r4"), ("zlib", "1.3.1-r0")]);
    let database = Database::load(Path::new(&format!("{FIXTURES}/osv/advisories.json"))).unwrap();
    let ids: Vec<String> = database.scan(&contents, "fixture").matches.into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["ALPINE-CVE-2023-42366"]);
    engine.remove_image(&tag, true).await.unwrap();

    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("rootfs");
    put(&root, "var/lib/rpm/rpmdb.sqlite", &std::fs::read(format!("{FIXTURES}/rpmdb.sqlite")).unwrap());
    put(&root, "var/lib/rpm/Packages", b"\0\0\0\0 a Berkeley DB file is not read");
    put(&root, "etc/os-release", b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n");
    let tag = format!("gantry-test/insight-rpm:{}", std::process::id());
    build(&engine, context.path(), "FROM gantry-test/busybox:latest\nCOPY rootfs/ /\n", &tag).await;
    let contents = image_contents(&engine, &tag, None).await.expect("contents");
    let rpms: Vec<&str> =
        contents.packages.iter().filter(|p| p.ecosystem == Ecosystem::Rpm).map(|p| p.name.as_str()).collect();
    let expected: Vec<String> = std::fs::read_to_string(format!("{FIXTURES}/rpmdb.expected"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(rpms.len(), expected.len());
    assert!(expected.iter().all(|name| rpms.contains(&name.as_str())), "{rpms:?}");
    assert!(contents.notes.iter().any(|n| n.contains("Berkeley DB")), "{:?}", contents.notes);
    engine.remove_image(&tag, true).await.unwrap();
}
