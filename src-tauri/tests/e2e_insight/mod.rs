//! The see-inside scenarios of the desktop e2e run (issue 14): an image's layers with its
//! wasted bytes and a layer's file tree, its packages with a CycloneDX export and a match in an
//! OSV file, Dockerfile advice with a fix previewed, applied and refused after an edit, events
//! explained, and the live picture with 30 containers following a change. Each takes the
//! screenshots docs/insight.md shows.

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec, MountSpec, PortSpec, RemoveOptions};

use super::{Ctx, IMAGE};
use crate::harness::{self, Result};

/// The image the layer and package scenarios look into.
const LOOKED_AT: &str = "gantry-e2e/inside:1";
/// Bytes the image stores in one layer and removes in the next.
const REMOVED: u64 = 300_000;

/// Builds [`LOOKED_AT`]: known waste (a file removed, a file overwritten) and an npm package.
async fn build_looked_at(ctx: &Ctx) -> Result<()> {
    let dir = ctx.home().join("inside-ctx");
    let package = dir.join("app/node_modules/lodash");
    std::fs::create_dir_all(&package)?;
    std::fs::write(package.join("package.json"), r#"{"name": "lodash", "version": "4.17.20", "license": "MIT"}"#)?;
    std::fs::write(dir.join("app/server.js"), "console.log('hello')\n")?;
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {IMAGE}\nCOPY app /app\nRUN head -c {REMOVED} /dev/zero > /tmp/cache.bin && head -c 50000 /dev/zero > /app/data.bin\nRUN rm /tmp/cache.bin && head -c 60000 /dev/zero > /app/data.bin\nCMD [\"sh\"]\n"
        ),
    )?;
    let spec = BuildSpec { context: dir, tag: Some(LOOKED_AT.into()), ..BuildSpec::default() };
    let mut events = ctx.engine.build_image(&spec);
    while let Some(event) = events.next().await {
        if let BuildEvent::Done { .. } = event? {
            return Ok(());
        }
    }
    Err("the build of the image to look into did not finish".into())
}

/// Images → Inside: the layer report (wasted bytes as the test built them), the worst layer's
/// tree, and the tree of the layer that removes the file, marked removed.
pub async fn image_layers_and_files(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    build_looked_at(ctx).await?;
    app.click("[data-testid=nav-images]").await?;
    app.click(&format!("[data-tags~='{LOOKED_AT}'] [data-testid=image-inside]")).await?;
    // 300 000 bytes removed + 50 000 overwritten: 350 kB (the app's units are decimal).
    app.wait_text("[data-testid=inside-wasted]", "350").await?;
    app.wait_text("[data-testid=inside-layers]", "rm /tmp/cache.bin").await?;
    app.wait_present("[data-testid=tree-row][data-path='/tmp/cache.bin'][data-change=added]").await?;
    app.screenshot("inside-layers").await?;
    let rows = app.execute("return document.querySelectorAll('[data-testid=inside-layers] tbody tr').length").await?;
    let last = rows.as_u64().unwrap_or(0).saturating_sub(1);
    app.click(&format!("[data-testid=layer-{last}]")).await?;
    app.wait_present("[data-testid=tree-row][data-path='/tmp/cache.bin'][data-change=removed]").await?;
    app.wait_present("[data-testid=tree-row][data-path='/app/data.bin'][data-change=changed]").await?;
    app.screenshot("inside-layer-tree").await?;
    app.click("[data-testid=inside-close]").await
}

/// Images → Inside → Packages: lodash listed, the CycloneDX file saved in the download folder,
/// and the OSV file's advisory for it shown.
pub async fn image_packages_and_vulnerabilities(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    if ctx.engine.inspect_image(LOOKED_AT).await.is_err() {
        build_looked_at(ctx).await?;
    }
    app.click("[data-testid=nav-images]").await?;
    app.click(&format!("[data-tags~='{LOOKED_AT}'] [data-testid=image-inside]")).await?;
    app.click("[data-testid=inside-tab-contents]").await?;
    app.wait_text("[data-testid=packages-table]", "lodash").await?;
    app.click("[data-testid=sbom-export]").await?;
    let saved = ctx.home().join("downloads").join("inside_1.cdx.json");
    let check = saved.clone();
    harness::wait_for("the CycloneDX file in the download folder", move || check.is_file()).await?;
    let bom: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved)?)?;
    assert_eq!(bom["bomFormat"], "CycloneDX");
    let db = ctx.home().join("osv.json");
    std::fs::write(
        &db,
        r#"[{"id": "GHSA-29mw-wpgm-hmr9", "aliases": ["CVE-2020-28500"], "summary": "Regular Expression Denial of Service (ReDoS) in lodash",
             "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
               "ranges": [{"type": "SEMVER", "events": [{"introduced": "4.0.0"}, {"fixed": "4.17.21"}]}]}],
             "database_specific": {"severity": "MODERATE"}}]"#,
    )?;
    app.type_into("[data-testid=vulns-db]", &db.display().to_string()).await?;
    app.click("[data-testid=vulns-check]").await?;
    app.wait_text("[data-testid=vulns-table]", "GHSA-29mw-wpgm-hmr9").await?;
    app.wait_text("[data-testid=vulns-table]", "4.17.21").await?;
    app.screenshot("inside-packages").await?;
    app.click("[data-testid=inside-close]").await?;
    let _ = ctx.engine.remove_image(LOOKED_AT, true).await;
    Ok(())
}

/// Dockerfile: findings on their lines; a fix shown as a diff writes nothing until Apply; after
/// Apply the file has it; a file edited behind the app's back is refused, not overwritten.
pub async fn dockerfile_advice_with_fixes(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let dir = ctx.home().join("advice");
    std::fs::create_dir_all(&dir)?;
    let dockerfile = dir.join("Dockerfile");
    let text = "FROM python:latest\nWORKDIR app\nCOPY . .\nRUN apt-get update\nRUN apt-get install -y curl\nRUN pip install -r requirements.txt\nCMD python app.py\n";
    std::fs::write(&dockerfile, text)?;
    std::fs::write(dir.join("requirements.txt"), "flask\n")?;
    app.click("[data-testid=nav-dockerfile]").await?;
    app.clear_and_type("[data-testid=lint-path]", &dir.display().to_string()).await?;
    app.click("[data-testid=lint-open]").await?;
    app.wait_present("[data-testid=lint-finding][data-rule=DL3007]").await?;
    app.wait_present("[data-testid=lint-finding][data-rule=DL3025]").await?;
    app.screenshot("dockerfile-advice").await?;

    app.click("[data-testid=lint-finding][data-rule=DL3025] [data-testid=lint-fix]").await?;
    app.wait_text("[data-testid=lint-preview]", "CMD [\"python\", \"app.py\"]").await?;
    app.screenshot("dockerfile-fix-preview").await?;
    assert_eq!(std::fs::read_to_string(&dockerfile)?, text, "a preview writes nothing");
    app.click("[role=dialog] [data-testid=confirm]").await?;
    app.wait_gone("[data-testid=lint-preview]").await?;
    let check = dockerfile.clone();
    harness::wait_for("the fix in the file", move || {
        std::fs::read_to_string(&check).is_ok_and(|t| t.contains("CMD [\"python\", \"app.py\"]"))
    })
    .await?;

    // Edited elsewhere: showing a fix for the old text is refused and the edit stays.
    let edited = format!("{}# edited in another editor\n", std::fs::read_to_string(&dockerfile)?);
    std::fs::write(&dockerfile, &edited)?;
    app.click("[data-testid=lint-finding][data-rule=DL3000] [data-testid=lint-fix]").await?;
    app.wait_text("[data-testid=error]", "changed since it was read").await?;
    assert_eq!(std::fs::read_to_string(&dockerfile)?, edited);
    Ok(())
}

/// Events: a container whose command does not exist is explained (exit code 127, what it means,
/// the lab that teaches it), in the Events panel and on the container's page.
pub async fn events_explained(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    app.click("[data-testid=nav-events]").await?;
    let id = ctx.run("e2e-not-found", "no-such-command-here", |_| {}).await?;
    app.wait_present("[data-testid=event][data-situation=command_not_found] [data-testid=event-meaning]").await?;
    app.wait_present("[data-testid=event][data-situation=command_not_found] [data-testid=event-lab]").await?;
    app.screenshot("events-explained").await?;
    // The container's page says it too.
    app.execute(&format!("window.__gantry.nav.openContainer('{id}')")).await?;
    app.wait_text("[data-testid=detail-news]", "exit code 127").await?;
    app.screenshot("container-news").await?;
    ctx.remove("e2e-not-found").await;
    Ok(())
}

/// The live picture: the scenery (a compose-like project with its network and volume), a
/// container publishing a port and one using a volume; a new container appears without a
/// refresh; with 30 more it stays readable; clicking a container opens it.
pub async fn live_picture(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let port = gantry_testkit::net::free_port()?;
    ctx.run("e2e-map-web", "httpd -f -p 80", |s| {
        s.ports = PortSpec::parse(&format!("127.0.0.1:{port}:80")).into_iter().collect();
    })
    .await?;
    ctx.run("e2e-map-db", "sleep 300", |s| {
        s.mounts = MountSpec::parse("e2e-map-data:/data").into_iter().collect();
    })
    .await?;
    app.click("[data-testid=nav-map]").await?;
    app.wait_present(&format!("[data-testid=map-node][data-id='port:127.0.0.1:{port}/tcp']")).await?;
    app.wait_present("[data-testid=map-node][data-id='volume:e2e-map-data']").await?;
    app.screenshot("live-picture").await?;

    ctx.run("e2e-map-late", "sleep 300", |_| {}).await?;
    app.wait_text("[data-testid=map]", "e2e-map-late").await?;
    let many = harness::create_many(engine, IMAGE, 30).await?;
    app.wait_text("[data-testid=map]", "bench-0029").await?;
    app.screenshot("live-picture-many").await?;
    // A click on a container opens its detail (dispatched: WebDriver does not click SVG groups).
    let late = engine.inspect_container("e2e-map-late").await?;
    app.execute(&format!(
        "document.querySelector(\"[data-testid=map-node][data-id='container:{}']\").dispatchEvent(new MouseEvent('click', {{ bubbles: true }}))",
        late.id
    ))
    .await?;
    app.wait_text("[data-testid=detail-name]", "e2e-map-late").await?;

    for id in &many {
        let _ = engine.remove_container(id, RemoveOptions { force: true, volumes: false }).await;
    }
    for name in ["e2e-map-web", "e2e-map-db", "e2e-map-late"] {
        ctx.remove(name).await;
    }
    let _ = engine.remove_volume("e2e-map-data", true).await;
    Ok(())
}
