//! The bundle reader against damaged files: random bytes, every truncation, every flipped byte.
//! It never panics; a truncated file is refused as truncated; a flipped byte is refused (as a
//! damaged header, a corrupt part or a corrupt manifest) unless it only touched padding, in which
//! case nothing an import uses has changed. Property targets run through gantry-testkit (counted
//! in docs/reliability.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gantry_testkit::prop::proptest::prelude::*;
use gantry_testkit::prop::proptest::test_runner::TestCaseError;
use gantry_workshop::bundle::MANIFEST_NAME;
use gantry_workshop::manifest::{FORMAT, KIND, LabEntry, Manifest, Part, SettingsDefaults};
use gantry_workshop::pack::write::{PartFile, write_bundle};
use gantry_workshop::sign::Seal;
use gantry_workshop::{Bundle, Digest, SigningKey, WorkshopError};

/// A small valid bundle (three blobs of odd sizes, one a lab) made without an engine.
fn sample() -> &'static (tempfile::TempDir, PathBuf, Vec<u8>) {
    static SAMPLE: OnceLock<(tempfile::TempDir, PathBuf, Vec<u8>)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.gantry-workshop");
        let bytes = tokio::runtime::Runtime::new().unwrap().block_on(write_sample(dir.path(), &path, None));
        (dir, path, bytes)
    })
}

async fn write_sample(dir: &Path, out: &Path, key: Option<&SigningKey>) -> Vec<u8> {
    let mut files = Vec::new();
    let contents: [(&str, Vec<u8>); 4] = [
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json", br#"{"schemaVersion":2,"manifests":[]}"#.to_vec()),
        ("", (0..1500u32).map(|i| (i * 7 % 251) as u8).collect()),
        ("", (0..513u32).map(|i| (i % 13) as u8).collect()),
    ];
    for (i, (name, bytes)) in contents.into_iter().enumerate() {
        let digest = Digest::of(&bytes);
        let file = dir.join(format!("part-{i}"));
        std::fs::write(&file, &bytes).unwrap();
        let path = if name.is_empty() { digest.blob_path() } else { name.to_string() };
        files.push(PartFile { part: Part { path, digest, size: bytes.len() as u64 }, file });
    }
    let lab = files[3].part.clone();
    let manifest = Manifest {
        format: FORMAT,
        kind: KIND.into(),
        title: "Sample".into(),
        created_by: "test".into(),
        platforms: vec![],
        settings: SettingsDefaults::default(),
        labs: vec![LabEntry { id: "lab".into(), digest: lab.digest, size: lab.size }],
        images: vec![],
        missing_platforms: vec![],
        parts: files.iter().map(|f| f.part.clone()).collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let seal = Seal { manifest: Digest::of(&manifest_bytes), signature: key.map(|k| k.sign(&manifest_bytes)) };
    let seal = serde_json::to_vec(&seal).unwrap();
    let cancel = gantry_engine::CancellationToken::new();
    write_bundle(out, &manifest_bytes, &seal, &files, &|_, _| {}, &cancel).await.unwrap();
    std::fs::read(out).unwrap()
}

/// Opens `bytes` as a bundle and reads every part (checking digests); the parts' bytes and the
/// manifest's when everything passed.
fn open_and_read(bytes: &[u8], scratch: &Path) -> Result<(Vec<u8>, Vec<Vec<u8>>), WorkshopError> {
    std::fs::write(scratch, bytes).unwrap();
    let bundle = Bundle::open(scratch)?;
    let parts = bundle.manifest.parts.iter().map(|p| bundle.read_part(p, u64::MAX)).collect::<Result<Vec<_>, _>>()?;
    Ok((bundle.manifest_bytes.clone(), parts))
}

fn known(e: &WorkshopError) -> bool {
    matches!(
        e,
        WorkshopError::NotABundle { .. }
            | WorkshopError::Truncated { .. }
            | WorkshopError::Corrupt { .. }
            | WorkshopError::NewerFormat { .. }
    )
}

#[test]
fn the_sample_opens_and_every_part_verifies() {
    let (dir, path, bytes) = sample();
    let (manifest, parts) = open_and_read(bytes, &dir.path().join("copy")).unwrap();
    assert_eq!(parts.len(), 4);
    let bundle = Bundle::open(path).unwrap();
    assert_eq!(bundle.manifest_bytes, manifest);
    assert_eq!(bundle.id, Digest::of(&manifest));
    // Other tar readers see the same members, in order.
    let mut tar = tar::Archive::new(bytes.as_slice());
    let names: Vec<String> = tar.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert_eq!(names[0], MANIFEST_NAME);
    assert_eq!(names.len(), 6);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("random");
    let (_, _, valid) = sample();
    // Random bytes, and random bytes after a valid first header (so the manifest parser runs).
    let strategy = (prop::collection::vec(any::<u8>(), 0..4096), any::<bool>());
    gantry_testkit::prop::check("workshop bundle reader: arbitrary bytes", file!(), 0, strategy, |(tail, prefix)| {
        let mut bytes = if prefix { valid[..512].to_vec() } else { Vec::new() };
        bytes.extend(tail);
        match open_and_read(&bytes, &file) {
            Ok(_) => Err(TestCaseError::fail("random bytes opened as a bundle")),
            Err(e) if known(&e) => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("unexpected error kind: {e:?}"))),
        }
    });
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("cut");
    let (_, _, valid) = sample();
    let len = valid.len();
    gantry_testkit::prop::check(
        "workshop bundle reader: truncated file",
        file!(),
        0,
        0..len,
        |cut| match open_and_read(&valid[..cut], &file) {
            Ok(_) => Err(TestCaseError::fail(format!("cut at {cut} of {len} opened"))),
            Err(WorkshopError::Truncated { .. }) => Ok(()),
            Err(WorkshopError::NotABundle { .. }) if cut < 512 => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("cut at {cut}: {e:?}"))),
        },
    );
    // And the boundaries, every time.
    for cut in [0, 511, 512, 1024, len - 1025, len - 1024, len - 512, len - 1] {
        let e = open_and_read(&valid[..cut], &file).unwrap_err();
        assert!(matches!(e, WorkshopError::Truncated { .. }) || cut < 512, "cut {cut}: {e:?}");
    }
}

#[test]
fn a_flipped_byte_is_refused_or_touched_only_padding() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("flipped");
    let (_, _, valid) = sample();
    let original = open_and_read(valid, &scratch.path().join("original")).unwrap();
    let strategy = (0..valid.len(), 1u8..=255);
    gantry_testkit::prop::check("workshop bundle reader: flipped byte", file!(), 0, strategy, |(at, mask)| {
        let mut bytes = valid.clone();
        bytes[at] ^= mask;
        match open_and_read(&bytes, &file) {
            Err(e) if known(&e) => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("byte {at}: unexpected error {e:?}"))),
            Ok(read) if read == original => Ok(()),
            Ok(_) => Err(TestCaseError::fail(format!("byte {at} ^ {mask:#x} changed content and was not noticed"))),
        }
    });
}

#[tokio::test]
async fn signatures_verify_and_a_changed_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let (other, _) = SigningKey::generate().unwrap();
    let path = dir.path().join("signed.gantry-workshop");
    let bytes = write_sample(dir.path(), &path, Some(&key)).await;
    let bundle = Bundle::open(&path).unwrap();
    assert_eq!(bundle.check_signature(None).unwrap(), Some(key.public()));
    assert_eq!(bundle.check_signature(Some(&key.public())).unwrap(), Some(key.public()));
    assert!(matches!(bundle.check_signature(Some(&other.public())), Err(WorkshopError::Signature { .. })));
    // The unsigned sample does not pass when a key is required.
    let unsigned = Bundle::open(&sample().1).unwrap();
    assert!(matches!(unsigned.check_signature(Some(&key.public())), Err(WorkshopError::Signature { .. })));
    // A title changed in place (same length, header checksum fixed up) is caught by the seal.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\"Sample\"").unwrap() + 1;
    let mut changed = bytes.clone();
    changed[at] = b'X';
    let e = open_and_read(&changed, &dir.path().join("changed")).unwrap_err();
    assert!(matches!(e, WorkshopError::Corrupt { ref part, .. } if part == MANIFEST_NAME), "{e:?}");
    gantry_testkit::reliability::bad_inputs("workshop bundle: signature and seal", 4);
}
