//! Push and pull through a real local registry (`GANTRY_TEST_REGISTRY=127.0.0.1:PORT`, started by
//! ./scripts/test from Debian's docker-registry). Without it the test says so and passes.

use futures_util::StreamExt;
use gantry_engine::{Progress, RunSpec};

use crate::common::{IMAGE, setup, within};

#[tokio::test]
async fn push_then_pull_round_trip_with_progress() {
    let Ok(registry) = std::env::var("GANTRY_TEST_REGISTRY") else {
        eprintln!("SKIPPED: GANTRY_TEST_REGISTRY is not set (no local registry)");
        return;
    };
    let t = setup("registry").await;
    let reference = format!("{registry}/gantry-test/{}:v1", t.name("pushed"));
    let built = crate::images::build_dockerfile(
        &t,
        &reference,
        "FROM gantry-test/busybox:latest\nRUN head -c 300000 /dev/urandom > /blob && echo pushed-content > /c\n",
    )
    .await;
    assert_eq!(built, reference);
    let id = t.engine.inspect_image(&reference).await.unwrap().id;

    let mut progress: Vec<Progress> = Vec::new();
    let mut push = t.engine.push_image(&reference, None);
    within(120, async {
        while let Some(p) = push.next().await {
            progress.push(p.unwrap_or_else(|e| panic!("push {reference}: {e}")));
        }
    })
    .await;
    assert!(progress.iter().any(|p| p.status == "Pushed"), "{progress:?}");
    // Byte progress of the layer upload. (The layer ID is not in push events: bollard 0.21's
    // PushImageInfo has no `id` field, so `Progress::layer` stays None for pushes.)
    assert!(
        progress.iter().any(|p| p.status == "Pushing" && p.total.unwrap_or(0) >= 300_000 && p.current.is_some()),
        "byte progress: {progress:?}"
    );

    t.engine.remove_image(&reference, true).await.unwrap();
    assert!(t.engine.inspect_image(&reference).await.is_err());
    let mut pull = t.engine.pull_image(&reference, None);
    let mut pulled: Vec<Progress> = Vec::new();
    within(120, async {
        while let Some(p) = pull.next().await {
            pulled.push(p.unwrap_or_else(|e| panic!("pull {reference}: {e}")));
        }
    })
    .await;
    assert!(
        pulled.iter().any(|p| p.status.contains("Pull complete") || p.status.contains("Already exists")),
        "{pulled:?}"
    );
    assert_eq!(t.engine.inspect_image(&reference).await.unwrap().id, id, "same image back");
    let mut spec = RunSpec::new(&reference);
    spec.name = Some(t.name("run"));
    spec.command = vec!["cat".into(), "/c".into()];
    let c = t.run(&spec).await;
    t.wait_exit(&c).await;
    assert_eq!(t.log_text(&c).await.trim(), "pushed-content");
    let _ = IMAGE;
}
