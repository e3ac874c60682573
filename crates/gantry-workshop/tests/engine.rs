//! Pack and import against the real engine at `DOCKER_HOST` (the private one ./scripts/test
//! starts): a round trip with two labs and a two-platform image, shared layers stored once,
//! resuming, and the fault scenarios (flipped byte, truncated file, cancel mid-load, wrong key)
//! each leaving nothing half-imported. Every image is made here under a unique name and removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gantry_engine::{CancellationToken, Engine};
use gantry_testkit::images::{self, FIXTURE};
use gantry_workshop::{
    Bundle, ImageRequest, ImportEvent, ImportOptions, ImportReport, PackSpec, Platform, SigningKey, WorkshopError,
};

/// Removes the named images when dropped (even when the test panics).
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let refs: Vec<&str> = self.0.iter().map(String::as_str).collect();
        images::remove(&refs);
    }
}

fn platform(text: &str) -> Platform {
    Platform::parse(text).unwrap()
}

fn lab(dir: &Path, id: &str) -> PathBuf {
    gantry_testkit::labs::write_lab(dir, id, &["first"], FIXTURE)
}

/// A base image and an image built on it (they share the busybox layer).
fn base_and_app(tags: &mut Images) -> (String, String) {
    let base = images::unique_tag("ws-base");
    images::docker(&["tag", FIXTURE, &base]).unwrap();
    tags.0.push(base.clone());
    let app = images::unique_tag("ws-app");
    images::build(
        &app,
        "FROM gantry-test/busybox:latest\nRUN echo from-the-bundle > /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
    )
    .unwrap();
    tags.0.push(app.clone());
    (base, app)
}

/// An arm64 image to stand for `name`'s other platform; `None` (said) where the arm64 busybox
/// is not available outside CI.
fn arm64_variant(tags: &mut Images) -> Option<String> {
    let tag = images::unique_tag("ws-arm64");
    if images::load_arm64_busybox(&tag).unwrap() {
        tags.0.push(tag.clone());
        Some(tag)
    } else {
        assert!(std::env::var_os("CI").is_none(), "{} must be set in CI", images::ARM64_BUSYBOX_VAR);
        eprintln!("arm64 half skipped: {} is not set", images::ARM64_BUSYBOX_VAR);
        None
    }
}

async fn pack(
    engine: &Engine,
    spec: &PackSpec,
    key: Option<&SigningKey>,
) -> gantry_workshop::Result<gantry_workshop::PackReport> {
    gantry_workshop::pack(engine, spec, key, &|_| {}, &CancellationToken::new()).await
}

async fn import(engine: &Engine, bundle: &Path, workshops: &Path) -> gantry_workshop::Result<ImportReport> {
    let options = ImportOptions { bundle: bundle.to_owned(), workshops_dir: workshops.to_owned(), trusted_key: None };
    gantry_workshop::import(engine, &options, &|_| {}, &CancellationToken::new()).await
}

fn present(reference: &str) -> bool {
    images::image_id(reference).is_ok()
}

#[tokio::test]
async fn pack_then_import_offline_round_trip() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let (base, app) = base_and_app(&mut tags);
    let arm = arm64_variant(&mut tags);
    let mut requests = vec![ImageRequest::parse(&base).unwrap(), ImageRequest::parse(&app).unwrap()];
    let mut platforms = vec![platform("linux/amd64")];
    if let Some(arm) = &arm {
        requests.push(ImageRequest::parse(&format!("{base}={arm}")).unwrap());
        platforms.push(platform("linux/arm64"));
    }
    let spec = PackSpec {
        title: "Docker 101".into(),
        labs: vec![lab(dir.path(), "first-container"), lab(dir.path(), "images-and-layers")],
        images: requests,
        platforms: platforms.clone(),
        allow_missing_platforms: true,
        output: dir.path().join("docker-101.gantry-workshop"),
        ..Default::default()
    };
    let report = pack(&engine, &spec, None).await.unwrap();
    assert_eq!(report.images.len(), 2);
    assert_eq!(report.images[0].platforms, platforms, "the base image has every platform asked for");
    assert_eq!(report.images[1].platforms, [platform("linux/amd64")]);
    if arm.is_some() {
        assert_eq!(report.missing_platforms, [format!("{app} linux/arm64/v8")]);
    }
    assert!(
        report.shared_blobs >= 1 && report.shared_bytes > 1_000_000,
        "the busybox layer is stored once: {report:?}"
    );
    let bundle = Bundle::open(&report.path).unwrap();
    assert_eq!(bundle.id, report.id);
    assert_eq!(bundle.manifest.labs.len(), 2);
    // Every blob once.
    let mut paths: Vec<&str> = bundle.manifest.parts.iter().map(|p| p.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), bundle.manifest.parts.len());

    let (base_id, app_id) = (images::image_id(&base).unwrap(), images::image_id(&app).unwrap());
    images::remove(&[&base, &app]);
    assert!(!present(&app));
    let workshops = dir.path().join("workshops");
    let events = Mutex::new(Vec::new());
    let options = ImportOptions { bundle: report.path.clone(), workshops_dir: workshops.clone(), trusted_key: None };
    let imported =
        gantry_workshop::import(&engine, &options, &|e| events.lock().unwrap().push(e), &CancellationToken::new())
            .await
            .unwrap();
    assert_eq!(images::image_id(&base).unwrap(), base_id);
    assert_eq!(images::image_id(&app).unwrap(), app_id);
    assert_eq!(images::docker(&["run", "--rm", &app]).unwrap().trim(), "from-the-bundle");
    assert!(imported.images.iter().all(|i| !i.already_present));
    assert_eq!(imported.labs, ["first-container", "images-and-layers"]);
    assert!(imported.labs_dir.join("images-and-layers/steps/first.en.md").is_file());
    assert_eq!(imported.verified_now, bundle.manifest.parts.len());
    let events = events.into_inner().unwrap();
    assert!(events.iter().any(|e| matches!(e, ImportEvent::Loading { done, total, .. } if done == total)));
    assert_eq!(gantry_workshop::imported(&workshops), std::slice::from_ref(&imported));

    // A second import checks nothing again and loads nothing again.
    let again = import(&engine, &report.path, &workshops).await.unwrap();
    assert_eq!((again.verified_now, again.verified_before), (0, bundle.manifest.parts.len()));
    assert!(again.images.iter().all(|i| i.already_present), "{again:?}");
}

#[tokio::test]
async fn a_missing_platform_is_refused_unless_allowed() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let (_, app) = base_and_app(&mut tags);
    let spec = PackSpec {
        images: vec![ImageRequest::parse(&app).unwrap()],
        platforms: vec![platform("linux/amd64"), platform("linux/s390x")],
        output: dir.path().join("b.gantry-workshop"),
        ..Default::default()
    };
    let e = pack(&engine, &spec, None).await.unwrap_err();
    assert!(e.to_string().contains(&format!("{app} linux/s390x")), "{e}");
    assert!(e.hint().contains("--allow-missing-platforms"), "{}", e.hint());
    assert!(!spec.output.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no work folder left behind");
    let unknown = PackSpec { images: vec![ImageRequest::parse("gantry-test/never-built:1").unwrap()], ..spec };
    assert!(matches!(pack(&engine, &unknown, None).await, Err(WorkshopError::Engine(_))));
}

/// Packs `app` alone; returns the bundle path.
async fn small_bundle(engine: &Engine, dir: &Path, app: &str, key: Option<&SigningKey>) -> PathBuf {
    let spec = PackSpec {
        images: vec![ImageRequest::parse(app).unwrap()],
        labs: vec![lab(dir, "only-lab")],
        output: dir.join("small.gantry-workshop"),
        ..Default::default()
    };
    pack(engine, &spec, key).await.unwrap().path
}

#[tokio::test]
async fn a_flipped_byte_in_a_layer_is_refused_and_nothing_is_loaded() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let (_, app) = base_and_app(&mut tags);
    let path = small_bundle(&engine, dir.path(), &app, None).await;
    let bundle = Bundle::open(&path).unwrap();
    let layer = bundle.manifest.parts.iter().max_by_key(|p| p.size).unwrap().clone();
    let at = (bundle.offset(&layer).unwrap() + layer.size / 2) as usize;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();

    images::remove(&[&app]);
    let workshops = dir.path().join("workshops");
    let e = import(&engine, &path, &workshops).await.unwrap_err();
    assert!(matches!(&e, WorkshopError::Corrupt { part, .. } if *part == layer.path), "{e:?}");
    assert!(e.hint().contains("copy it again"), "{}", e.hint());
    assert!(!present(&app), "nothing loaded from a corrupt bundle");
    assert!(gantry_workshop::imported(&workshops).is_empty());

    // The same file, repaired, imports.
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    import(&engine, &path, &workshops).await.unwrap();
    assert!(present(&app));
    gantry_testkit::reliability::fault(
        "a byte flipped inside a layer of a workshop bundle, then imported",
        "the import is refused naming the part before anything reaches the engine; the repaired file imports",
        "refused with Corrupt naming the layer; no image in the engine; the repaired file imported",
    );
}

#[tokio::test]
async fn a_truncated_bundle_is_refused_and_nothing_is_loaded() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let (_, app) = base_and_app(&mut tags);
    let path = small_bundle(&engine, dir.path(), &app, None).await;
    let full = std::fs::read(&path).unwrap();
    images::remove(&[&app]);
    let workshops = dir.path().join("workshops");
    for cut in [full.len() / 3, full.len() / 2, full.len() - 1] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let e = import(&engine, &path, &workshops).await.unwrap_err();
        assert!(matches!(e, WorkshopError::Truncated { .. }), "cut at {cut}: {e:?}");
        assert!(!present(&app));
    }
    std::fs::write(&path, &full).unwrap();
    import(&engine, &path, &workshops).await.unwrap();
    assert!(present(&app));
    gantry_testkit::reliability::fault(
        "a workshop bundle cut short (a third, half, all but one byte), then imported",
        "refused as truncated, naming where it ends; nothing loaded; the whole file imports",
        "refused as Truncated each time; no image in the engine; the whole file imported",
    );
}

#[tokio::test]
async fn cancelled_mid_load_leaves_no_image_and_the_next_run_resumes() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let big = images::unique_tag("ws-big");
    images::build(
        &big,
        "FROM gantry-test/busybox:latest\nRUN dd if=/dev/urandom of=/big bs=1048576 count=48 2>/dev/null\n",
    )
    .unwrap();
    tags.0.push(big.clone());
    let path = small_bundle(&engine, dir.path(), &big, None).await;
    let parts = Bundle::open(&path).unwrap().manifest.parts.len();
    images::remove(&[&big]);

    let workshops = dir.path().join("workshops");
    let cancel = CancellationToken::new();
    let options = ImportOptions { bundle: path.clone(), workshops_dir: workshops.clone(), trusted_key: None };
    let on_event = |e: ImportEvent| {
        if matches!(e, ImportEvent::Loading { .. }) {
            cancel.cancel();
        }
    };
    let e = gantry_workshop::import(&engine, &options, &on_event, &cancel).await.unwrap_err();
    assert!(matches!(e, WorkshopError::Cancelled), "{e:?}");
    // The engine discarded the half-sent image.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!present(&big), "a cancelled load leaves no image");

    let resumed = import(&engine, &path, &workshops).await.unwrap();
    assert_eq!((resumed.verified_now, resumed.verified_before), (0, parts), "digests are not checked twice");
    assert!(present(&big));
    gantry_testkit::reliability::fault(
        "a workshop import cancelled while the engine receives a 48 MiB image",
        "no half image in the engine; the next run checks no digest again and loads the image",
        "no image after the cancel; the next run verified 0 parts again and loaded it",
    );
}

#[tokio::test]
async fn a_signed_bundle_imports_only_with_its_key() {
    let engine = Engine::from_env().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tags = Images(vec![]);
    let (_, app) = base_and_app(&mut tags);
    let (key, _) = SigningKey::generate().unwrap();
    let (other, _) = SigningKey::generate().unwrap();
    let path = small_bundle(&engine, dir.path(), &app, Some(&key)).await;
    images::remove(&[&app]);
    let workshops = dir.path().join("workshops");
    let with = |trusted: Option<&SigningKey>| ImportOptions {
        bundle: path.clone(),
        workshops_dir: workshops.clone(),
        trusted_key: trusted.map(SigningKey::public),
    };
    let e =
        gantry_workshop::import(&engine, &with(Some(&other)), &|_| {}, &CancellationToken::new()).await.unwrap_err();
    assert!(matches!(e, WorkshopError::Signature { .. }), "{e:?}");
    assert!(!present(&app));
    let report = gantry_workshop::import(&engine, &with(Some(&key)), &|_| {}, &CancellationToken::new()).await.unwrap();
    assert_eq!(report.signed_by, Some(key.public().fingerprint()));
    assert!(present(&app));
}
