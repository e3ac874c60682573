//! Registry login through the [`Gantry`] façade, against the engine at `DOCKER_HOST` and the
//! login registry ./scripts/test starts (`GANTRY_TEST_AUTH_REGISTRY`, `_USER`, `_PASSWORD`), with
//! a temporary settings file and docker config directory. Without them the test says so and passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use gantry_core::api::{ApiError, EngineErrorCode, Gantry, RegistryEntry, StreamMsg};
use gantry_core::credentials::CredentialStore;
use gantry_engine::Progress;

/// The fixture image ./scripts/test imports into its engine.
const IMAGE: &str = "gantry-test/busybox:latest";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Runs a pull or push through the façade to its end; the error it ended with, if any.
async fn transfer(api: &Gantry, reference: &str, pull: bool) -> Option<ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = move |msg: StreamMsg<Progress>| {
        let _ = tx.send(msg);
    };
    if pull {
        api.image_pull(reference.to_string(), sink).await.unwrap();
    } else {
        api.image_push(reference.to_string(), sink).await.unwrap();
    }
    let mut error = None;
    let ended = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(msg) = rx.recv().await {
            match msg {
                StreamMsg::Error { error: e } => error = Some(e),
                StreamMsg::End => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "{reference}: no end within 120 s");
    error
}

#[tokio::test]
async fn login_is_shared_with_docker_used_by_pull_and_push_and_logout_forgets_it() {
    let (Some(server), Some(user), Some(password), Some(_)) = (
        env("GANTRY_TEST_AUTH_REGISTRY"),
        env("GANTRY_TEST_AUTH_USER"),
        env("GANTRY_TEST_AUTH_PASSWORD"),
        env("DOCKER_HOST"),
    ) else {
        gantry_testkit::skip::skipped(
            "login_is_shared_with_docker_used_by_pull_and_push_and_logout_forgets_it",
            "GANTRY_TEST_AUTH_REGISTRY/_USER/_PASSWORD or DOCKER_HOST are not set",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.json");
    let config_path = dir.path().join("docker").join("config.json");
    let api = Gantry::with_paths(settings_path.clone(), CredentialStore::new(dir.path().join("docker")));

    // A wrong password is refused specifically, and nothing is kept.
    let e = api.registry_login(server.clone(), user.clone(), "not-the-password".into()).await.unwrap_err();
    assert_eq!(e.code, EngineErrorCode::RegistryAuth, "{e:?}");
    assert!(!e.hint.is_empty());
    assert!(!config_path.exists() && !settings_path.exists());
    let e = api.registry_login(server.clone(), String::new(), String::new()).await.unwrap_err();
    assert_eq!(e.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["username", "password"]);

    // The right one: config.json has it as docker login writes it; the settings list it, without it.
    let listed = api.registry_login(server.clone(), user.clone(), password.clone()).await.unwrap();
    assert_eq!(listed, [RegistryEntry { server: server.clone(), username: user.clone() }]);
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    assert_eq!(config["auths"][&server]["auth"], encoded.as_str());
    assert!(!std::fs::read_to_string(&settings_path).unwrap().contains(&password));
    assert_eq!(api.settings_get().await.unwrap().form.registries, listed);

    // Push and pull find the login by the image's registry.
    let engine = api.engine().await.unwrap();
    let reference = format!("{server}/gantry-core-test/login-{}:v1", std::process::id());
    engine.inspect_image(IMAGE).await.expect("the fixture image (./scripts/test imports it)");
    engine.tag_image(IMAGE, &reference).await.unwrap();
    assert_eq!(transfer(&api, &reference, false).await, None, "push {reference}");
    engine.remove_image(&reference, true).await.unwrap();
    assert_eq!(transfer(&api, &reference, true).await, None, "pull {reference}");
    assert!(engine.inspect_image(&reference).await.is_ok());

    // Logout removes both; the registry then refuses.
    assert_eq!(api.registry_logout(server.clone()).await.unwrap(), []);
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert!(config["auths"].get(&server).is_none(), "{config}");
    assert!(api.settings_get().await.unwrap().form.registries.is_empty());
    engine.remove_image(&reference, true).await.unwrap();
    let e = transfer(&api, &reference, true).await.expect("a pull without login fails");
    assert_eq!(e.code, EngineErrorCode::RegistryAuth, "{e:?}");
}
