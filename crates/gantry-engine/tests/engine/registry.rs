//! Push and pull through a real local registry (`GANTRY_TEST_REGISTRY=127.0.0.1:PORT`, started by
//! ./scripts/test from Debian's docker-registry), and logins against a second one with htpasswd
//! (`GANTRY_TEST_AUTH_REGISTRY`). Without them the tests say so and pass.

use futures_util::StreamExt;
use gantry_engine::{EngineError, Progress, RegistryAuth, RunSpec};

use crate::common::{IMAGE, auth_registry, connect, setup, transfer, within};
use gantry_testkit::net::free_port;

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

// ---- a registry with a login (`GANTRY_TEST_AUTH_REGISTRY`, htpasswd) ----

fn wrong(auth: &RegistryAuth) -> RegistryAuth {
    RegistryAuth { password: format!("{}-wrong", auth.password), ..auth.clone() }
}

#[tokio::test]
async fn login_with_the_right_password_is_accepted() {
    let Some(auth) = auth_registry() else { return };
    connect().await.check_registry_login(&auth).await.unwrap_or_else(|e| panic!("login {auth:?}: {e}"));
}

#[tokio::test]
async fn login_with_a_wrong_password_is_a_registry_auth_error() {
    let Some(auth) = auth_registry() else { return };
    let e = connect().await.check_registry_login(&wrong(&auth)).await.unwrap_err();
    assert!(matches!(e, EngineError::RegistryAuth { ref server, .. } if *server == auth.server), "{e:?}");
    assert_eq!(e.code(), gantry_engine::EngineErrorCode::RegistryAuth);
    assert!(e.hint().contains("password"), "{}", e.hint());
}

#[tokio::test]
async fn login_to_a_registry_that_does_not_answer_is_a_registry_error() {
    let auth = RegistryAuth {
        server: format!("127.0.0.1:{}", free_port().unwrap()),
        username: "u".into(),
        password: "p".into(),
    };
    let e = connect().await.check_registry_login(&auth).await.unwrap_err();
    assert!(matches!(e, EngineError::Registry { .. }), "{e:?}");
}

#[tokio::test]
async fn push_and_pull_need_the_login() {
    let Some(auth) = auth_registry() else { return };
    let t = setup("auth-registry").await;
    let reference = format!("{}/gantry-test/{}:v1", auth.server, t.name("login"));
    t.engine.tag_image(IMAGE, &reference).await.unwrap();
    t.track_image(&reference);

    let e = transfer(&t.engine, &reference, None, false).await.unwrap_err();
    assert!(matches!(e, EngineError::RegistryAuth { ref server, .. } if *server == auth.server), "{e:?}");
    let e = transfer(&t.engine, &reference, Some(&wrong(&auth)), false).await.unwrap_err();
    assert!(matches!(e, EngineError::RegistryAuth { .. }), "{e:?}");
    transfer(&t.engine, &reference, Some(&auth), false).await.unwrap_or_else(|e| panic!("push {reference}: {e}"));

    t.engine.remove_image(&reference, true).await.unwrap();
    let e = transfer(&t.engine, &reference, None, true).await.unwrap_err();
    assert!(matches!(e, EngineError::RegistryAuth { .. }), "{e:?}");
    transfer(&t.engine, &reference, Some(&auth), true).await.unwrap_or_else(|e| panic!("pull {reference}: {e}"));
    assert!(t.engine.inspect_image(&reference).await.is_ok());
}
