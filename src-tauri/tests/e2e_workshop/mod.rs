//! The Workshops panel caught in the middle of an import (screenshot `workshop-import-progress`).
//!
//! An import on this machine finishes before a screenshot can be taken, so the test holds it:
//! a second app (its own Gantry home, as a participant's laptop) reaches the engine through a
//! [`gate::Gate`] that stops passing the image upload on after a number of bytes until the test
//! releases it. The app has no test hook: it only sees an engine that takes its time.

// The gate is a unix socket: the scenario runs where the e2e tests run (Linux; macOS later).
#[cfg(unix)]
mod gate;

use super::Ctx;
use crate::harness::Result;

/// Bytes of an upload to the engine let through before the gate holds: more than the small
/// image (about 2 MiB of busybox), a fraction of the large one (the app has sent more by then:
/// what the sockets on the way buffer).
#[cfg(unix)]
const HOLD_AFTER: u64 = 4 * 1024 * 1024;
/// The large image: three layers of this many random bytes (they do not compress).
#[cfg(unix)]
const LAYER_BYTES: u64 = 10 * 1024 * 1024;

/// A signed bundle (two labs, a small and a large image) imported in the Workshops panel of a
/// participant's Gantry while the engine is slow to take the large image: the panel shows the
/// small image loaded and the large one loading part way, the engine has no trace of the large
/// one yet; released, the import completes and the engine holds both.
#[cfg(unix)]
pub async fn workshop_import_in_progress(ctx: &Ctx) -> Result<()> {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use crate::IMAGE;
    use crate::harness::{self, App};
    use gantry_engine::CancellationToken;

    let engine = &ctx.engine;
    let (small, large) = ("gantry-e2e/workshop-small:1", "gantry-e2e/workshop-large:1");
    let dir = ctx.home().join("import-progress");
    std::fs::create_dir_all(&dir)?;
    let bundle = dir.join("docker-101.gantry-workshop");
    let key = dir.join("trainer");
    gantry_workshop::write_key_pair(&key)?;
    engine.tag_image(IMAGE, small).await?;
    let dockerfile = format!(
        "FROM {IMAGE}\n{}",
        (0..3).map(|n| format!("RUN head -c {LAYER_BYTES} /dev/urandom > /payload{n}\n")).collect::<String>()
    );
    gantry_testkit::images::build(large, &dockerfile)?;
    let mut images = vec![gantry_workshop::ImageRequest::parse(small)?, gantry_workshop::ImageRequest::parse(large)?];
    // The small image for arm64 laptops too, where Debian's arm64 busybox is at hand (CI has it).
    let arm = "gantry-e2e/workshop-small-arm64:1";
    if gantry_testkit::images::load_arm64_busybox(arm)? {
        images.push(gantry_workshop::ImageRequest::parse(&format!("{small}={arm}"))?);
    }
    let spec = gantry_workshop::PackSpec {
        title: "Docker 101".into(),
        labs: vec![harness::repo().join("labs/first-container"), harness::repo().join("labs/publishing-ports")],
        images,
        output: bundle.clone(),
        ..Default::default()
    };
    let signing = gantry_workshop::SigningKey::read(&key)?;
    let packed = gantry_workshop::pack(engine, &spec, Some(&signing), &|_| {}, &CancellationToken::new()).await;
    let _ = engine.remove_image(arm, true).await;
    engine.remove_image(small, false).await?;
    engine.remove_image(large, true).await?;
    packed?;

    let docker_host = std::env::var("DOCKER_HOST")?;
    let gate = gate::Gate::start(&dir, &docker_host, HOLD_AFTER)?;
    let env = harness::require_env()?.ok_or("the e2e environment went away")?;
    let laptop = App::launch_with(&env, &[("DOCKER_HOST", &gate.docker_host())]).await?;
    let result = async {
        laptop.click("[data-testid=nav-workshops]").await?;
        laptop.type_into("[data-testid=workshop-path]", &bundle.display().to_string()).await?;
        laptop.type_into("[data-testid=workshop-key]", &format!("{}.pub", key.display())).await?;
        laptop.click("[data-testid=workshop-inspect]").await?;
        laptop.wait_text("[data-testid=workshop-bundle]", "Docker 101").await?;
        laptop.wait_text("[data-testid=workshop-bundle]", "SHA256:").await?;
        laptop.click("[data-testid=workshop-import]").await?;
        let holding = gate.holding();
        harness::wait_for("the gate holding the large image's upload", move || holding.load(Ordering::SeqCst)).await?;
        laptop.wait_present("[data-testid=workshop-progress][data-phase=loading]").await?;
        laptop.wait_text("[data-testid=workshop-progress]", &format!("✓ {small}")).await?;
        laptop.wait_text("[data-testid=workshop-progress]", &format!("Loading {large}")).await?;
        // The progress stands still while the gate holds: wait until two readings agree.
        let mut last = String::new();
        loop {
            let now = laptop.text_of("[data-testid=workshop-progress]").await?.unwrap_or_default();
            if now == last {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        laptop.screenshot("workshop-import-progress").await?;
        assert!(engine.inspect_image(small).await.is_ok(), "the small image was loaded before the large one");
        assert!(engine.inspect_image(large).await.is_err(), "no trace of an image still being loaded");

        gate.release();
        laptop.wait_text_for("[data-testid=workshop-table]", "Docker 101", Duration::from_secs(180)).await?;
        laptop.wait_present("[data-testid=workshop-progress][data-phase=done]").await?;
        let image = engine.inspect_image(large).await?;
        assert!(image.tags.iter().any(|t| t == large), "{:?}", image.tags);
        Ok(())
    }
    .await;
    gate.release();
    laptop.quit().await;
    let _ = engine.remove_image(small, false).await;
    let _ = engine.remove_image(large, true).await;
    result
}

#[cfg(not(unix))]
pub async fn workshop_import_in_progress(_ctx: &Ctx) -> Result<()> {
    Err("the import-in-progress scenario holds the upload with a unix socket: unix only".into())
}
