//! The see-inside commands through the [`Gantry`] API (what the desktop app calls), against the
//! engine at DOCKER_HOST (./scripts/test starts a private one): an image built here with known
//! waste and a known npm package gives its layer report (progress first), a layer's tree with
//! the removal marked, its packages, a CycloneDX document and a match in an OSV file; a
//! cancelled read ends without a report; Dockerfile fixes are previewed, written, and refused
//! after an edit; a container that exits 127 is explained; the live picture shows a new
//! container with its published port. Without DOCKER_HOST the tests say so and pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use gantry_core::api::{
    ContentsProgress, ExplainedEvent, Gantry, GantryErrorCode, Lang, LayersProgress, StreamMsg, TopologyUpdate,
};
use gantry_engine::{BuildEvent, BuildSpec, EventFilter, PortSpec, RemoveOptions, RunSpec};
use gantry_insight::explain::Situation;
use gantry_insight::image::layers::Change;
use gantry_insight::topology::NodeKind;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const BASE: &str = "gantry-test/busybox:latest";
/// Bytes the second RUN removes from the first's layer.
const REMOVED: u64 = 200_000;

fn engine_or_skip(test: &str) -> bool {
    if std::env::var_os("DOCKER_HOST").is_none() {
        gantry_testkit::skip::skipped(test, "DOCKER_HOST is not set (./scripts/test starts a private engine)");
        return false;
    }
    true
}

fn api() -> Gantry {
    let dir = std::env::temp_dir().join(format!("gantry-insight-api-{}", std::process::id()));
    Gantry::with_paths(dir.join("settings.json"), gantry_core::credentials::CredentialStore::new(dir.join("docker")))
}

/// A sink that forwards a stream's messages to a channel.
fn sink<T: Send + 'static>() -> (impl Fn(StreamMsg<T>) + Send + 'static, UnboundedReceiver<StreamMsg<T>>) {
    let (tx, rx) = unbounded_channel();
    (
        move |msg| {
            let _ = tx.send(msg);
        },
        rx,
    )
}

/// Every item until the stream ends (or fails the test on an error or after `within`).
async fn drain<T: std::fmt::Debug>(rx: &mut UnboundedReceiver<StreamMsg<T>>, within: Duration) -> Vec<T> {
    let mut items = Vec::new();
    let done = tokio::time::timeout(within, async {
        while let Some(msg) = rx.recv().await {
            match msg {
                StreamMsg::Items { items: batch } => items.extend(batch),
                StreamMsg::Error { error } => panic!("the stream failed: {error:?}"),
                StreamMsg::End => return,
                StreamMsg::Started { .. } => {}
            }
        }
    })
    .await;
    assert!(done.is_ok(), "the stream did not end within {within:?}; got {items:?}");
    items
}

/// Builds the test image: known waste (a file removed by the next layer) and lodash 4.17.20.
async fn build_image(api: &Gantry, tag: &str) {
    let context = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {BASE}\nCOPY node_modules /app/node_modules\nRUN head -c {REMOVED} /dev/zero > /big.bin\nRUN rm /big.bin\n"
    );
    std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
    let package = context.path().join("node_modules/lodash");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(package.join("package.json"), r#"{"name": "lodash", "version": "4.17.20", "license": "MIT"}"#)
        .unwrap();
    let engine = api.engine().await.unwrap();
    let spec = BuildSpec { context: context.path().to_path_buf(), tag: Some(tag.into()), ..BuildSpec::default() };
    let mut events = engine.build_image(&spec);
    let mut done = false;
    while let Some(event) = events.next().await {
        if let BuildEvent::Done { .. } = event.expect("the build succeeds") {
            done = true;
        }
    }
    assert!(done, "the build finished");
}

#[tokio::test]
async fn layers_tree_contents_sbom_and_vulnerabilities_of_a_built_image() {
    if !engine_or_skip("layers_tree_contents_sbom_and_vulnerabilities_of_a_built_image") {
        return;
    }
    let api = api();
    let tag = "gantry-test/insight-api:latest";
    build_image(&api, tag).await;

    let (on, mut rx) = sink::<LayersProgress>();
    api.image_layers(tag.into(), on).await.unwrap();
    let items = drain(&mut rx, Duration::from_secs(60)).await;
    let Some(LayersProgress::Done { report }) = items.last() else { panic!("no report: {items:?}") };
    assert!(matches!(items.first(), Some(LayersProgress::Reading { .. })), "progress comes first: {items:?}");
    assert_eq!(report.wasted_bytes, REMOVED, "{report:?}");
    let removing = report.layers.iter().find(|l| l.instruction.contains("rm /big.bin")).expect("the rm layer");
    assert_eq!(removing.removed, 1);
    let tree = api.image_layer_tree(tag.into(), removing.index as u32).await.unwrap();
    let big = tree.children.iter().find(|n| n.name == "big.bin").expect("big.bin in the rm layer's tree");
    assert_eq!((big.change, big.size_bytes), (Change::Removed, REMOVED));
    let past_end = api.image_layer_tree(tag.into(), 99).await.unwrap_err();
    assert_eq!(past_end.code, gantry_core::api::EngineErrorCode::NotFound, "{past_end:?}");

    let (on, mut rx) = sink::<ContentsProgress>();
    api.image_contents(tag.into(), on).await.unwrap();
    let items = drain(&mut rx, Duration::from_secs(60)).await;
    let Some(ContentsProgress::Done { contents }) = items.last() else { panic!("no contents: {items:?}") };
    let lodash = contents.packages.iter().find(|p| p.name == "lodash").expect("lodash listed");
    assert_eq!((lodash.version.as_str(), lodash.purl.as_str()), ("4.17.20", "pkg:npm/lodash@4.17.20"));

    let bom: serde_json::Value = serde_json::from_str(&api.image_sbom(tag.into()).await.unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert!(bom["components"].as_array().unwrap().iter().any(|c| c["purl"] == "pkg:npm/lodash@4.17.20"), "{bom}");

    let db = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        db.path(),
        r#"{"id": "GHSA-29mw-wpgm-hmr9", "summary": "ReDoS in lodash",
            "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
              "ranges": [{"type": "SEMVER", "events": [{"introduced": "4.0.0"}, {"fixed": "4.17.21"}]}]}]}"#,
    )
    .unwrap();
    let report = api.image_vulns(tag.into(), db.path().display().to_string()).await.unwrap();
    assert_eq!(report.matches.len(), 1, "{report:?}");
    assert_eq!(report.matches[0].fixed.as_deref(), Some("4.17.21"));
    std::fs::write(db.path(), "not json").unwrap();
    let bad = api.image_vulns(tag.into(), db.path().display().to_string()).await.unwrap_err();
    assert_eq!(bad.code, GantryErrorCode::InvalidDatabase, "{bad:?}");
    assert!(!bad.hint.is_empty());

    let engine = api.engine().await.unwrap();
    engine.remove_image(tag, true).await.unwrap();
}

#[tokio::test]
async fn a_cancelled_read_ends_without_a_report() {
    if !engine_or_skip("a_cancelled_read_ends_without_a_report") {
        return;
    }
    let api = api();
    let (on, mut rx) = sink::<LayersProgress>();
    let id = api.image_layers(BASE.into(), on).await.unwrap();
    api.stream_cancel(id).await.unwrap();
    let mut ended = false;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        match msg {
            StreamMsg::End => {
                ended = true;
                break;
            }
            StreamMsg::Items { items } => {
                assert!(items.iter().all(|i| matches!(i, LayersProgress::Reading { .. })), "{items:?}")
            }
            StreamMsg::Started { .. } => {}
            StreamMsg::Error { error } => panic!("a cancelled read fails: {error:?}"),
        }
    }
    assert!(ended, "the cancelled stream ends");
    let missing = api.image_layers("gantry-test/no-such-image:1".into(), |_| {}).await.unwrap_err();
    assert_eq!(missing.code, gantry_core::api::EngineErrorCode::NotFound, "{missing:?}");
}

#[tokio::test]
async fn dockerfile_fixes_are_previewed_written_and_refused_after_an_edit() {
    let api = api();
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM debian:latest\nCOPY . /app\nCMD python app.py\n").unwrap();
    let folder = dir.path().display().to_string();

    let review = api.dockerfile_lint(folder.clone(), Lang::Ru).await.unwrap();
    assert_eq!(review.path, dockerfile.display().to_string(), "a folder means its Dockerfile");
    assert!(!review.has_dockerignore);
    let json_args = review.findings.iter().position(|f| f.is("JSONArgsRecommended")).expect("JSONArgsRecommended");
    assert!(review.findings.iter().all(|f| !f.why.is_empty()));
    assert!(review.findings[json_args].message.chars().any(|c| ('а'..='я').contains(&c)), "Russian advice");

    let preview = api
        .dockerfile_fix_preview(folder.clone(), review.revision.clone(), vec![json_args as u32], Lang::En)
        .await
        .unwrap();
    assert_eq!(preview.files.len(), 1, "{preview:?}");
    assert!(preview.files[0].diff.contains("+CMD [\"python\", \"app.py\"]"), "{}", preview.files[0].diff);
    assert!(std::fs::read_to_string(&dockerfile).unwrap().contains("CMD python app.py"), "a preview writes nothing");

    let after = api
        .dockerfile_fix_apply(folder.clone(), review.revision.clone(), vec![json_args as u32], Lang::En)
        .await
        .unwrap();
    assert!(after.text.contains("CMD [\"python\", \"app.py\"]"), "{}", after.text);
    assert!(!after.findings.iter().any(|f| f.is("JSONArgsRecommended")));
    assert_eq!(std::fs::read_to_string(&dockerfile).unwrap(), after.text);

    // The file changes behind the view's back: the old revision is refused and nothing is written.
    std::fs::write(&dockerfile, format!("{}# edited elsewhere\n", after.text)).unwrap();
    let stale =
        api.dockerfile_fix_apply(folder.clone(), after.revision.clone(), Vec::new(), Lang::En).await.unwrap_err();
    assert_eq!(stale.code, GantryErrorCode::FileChanged, "{stale:?}");
    assert!(std::fs::read_to_string(&dockerfile).unwrap().ends_with("# edited elsewhere\n"));
    assert!(!dir.path().join(".dockerignore").exists());

    let missing = api.dockerfile_lint(dir.path().join("nope").display().to_string(), Lang::En).await.unwrap_err();
    assert_eq!(missing.code, GantryErrorCode::InvalidName, "{missing:?}");
    let missing =
        api.dockerfile_lint(dir.path().join("Dockerfile.dev").display().to_string(), Lang::En).await.unwrap_err();
    assert_eq!(missing.code, GantryErrorCode::Io, "{missing:?}");
    // The view reads Dockerfiles only: another file's text never reaches the window.
    std::fs::write(dir.path().join("secret.txt"), "FROM secret\n").unwrap();
    let other = api.dockerfile_lint(dir.path().join("secret.txt").display().to_string(), Lang::En).await.unwrap_err();
    assert_eq!(other.code, GantryErrorCode::InvalidName, "{other:?}");
}

#[tokio::test]
async fn events_are_explained_and_the_picture_follows_a_new_container() {
    if !engine_or_skip("events_are_explained_and_the_picture_follows_a_new_container") {
        return;
    }
    let api = api();
    let engine = api.engine().await.unwrap();
    let name = format!("gantry-insight-api-{}", std::process::id());

    let (on_events, mut events) = sink::<ExplainedEvent>();
    api.system_events_explained(EventFilter::default(), Lang::En, on_events).await.unwrap();
    let (on_picture, mut picture) = sink::<TopologyUpdate>();
    let watch = api.topology_watch(on_picture).await.unwrap();
    let first = next_update(&mut picture).await;
    assert!(first.cause.is_none(), "the first picture is the state now");

    let port = gantry_testkit::net::free_port().unwrap();
    let mut spec = RunSpec::new(BASE);
    spec.name = Some(name.clone());
    spec.command = ["sh", "-c", "no-such-command-here"].map(String::from).to_vec();
    spec.ports = vec![PortSpec::parse(&format!("127.0.0.1:{port}:80")).unwrap()];
    let id = engine.create_container(&spec).await.unwrap();
    let update = loop {
        let update = next_update(&mut picture).await;
        if update.topology.nodes.iter().any(|n| n.kind == NodeKind::Container && n.label == name) {
            break update;
        }
    };
    assert!(update.cause.is_some());
    engine.start_container(&id).await.unwrap();

    let explained = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(msg) = events.recv().await {
            if let StreamMsg::Items { items } = msg {
                for item in items {
                    if let ExplainedEvent::Event { event, explanation } = item
                        && event.name.as_deref() == Some(&name)
                        && explanation.situation == Situation::CommandNotFound
                    {
                        return explanation;
                    }
                }
            }
        }
        panic!("the events stream ended");
    })
    .await
    .expect("a 'command not found' explanation within 30 s");
    assert_eq!(explained.exit_code, Some(127));
    assert!(explained.lab.is_some());

    api.stream_cancel(watch).await.unwrap();
    engine.remove_container(&id, RemoveOptions { force: true, ..RemoveOptions::default() }).await.unwrap();
}

async fn next_update(rx: &mut UnboundedReceiver<StreamMsg<TopologyUpdate>>) -> TopologyUpdate {
    let next = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Some(StreamMsg::Items { mut items }) if !items.is_empty() => return items.remove(items.len() - 1),
                Some(StreamMsg::Error { error }) => panic!("the picture failed: {error:?}"),
                Some(StreamMsg::End) | None => panic!("the picture ended"),
                _ => {}
            }
        }
    })
    .await;
    next.expect("a picture within 30 s")
}
