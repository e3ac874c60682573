//! Compose projects through the [`Gantry`] façade, against the engine at `DOCKER_HOST` (the
//! private engine ./scripts/test starts) with the user's `docker compose` v2 plugin: a
//! two-service project made of the local fixture image (no registry) is opened from its folder,
//! brought up with live output, its logs read with service names, its down previewed and done
//! with its volume; profiles choose what up starts; bad input (no compose file, a file compose
//! rejects) gets its own error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gantry_core::api::{ApiError, ComposeAction, ComposeTarget, Gantry, GantryErrorCode, StreamMsg};
use gantry_core::credentials::CredentialStore;

/// The fixture image ./scripts/test imports into its engine.
const IMAGE: &str = "gantry-test/busybox:latest";

fn api(dir: &std::path::Path) -> Gantry {
    let host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST names the test engine (./scripts/test sets it)");
    Gantry::with_paths(dir.join("settings.json"), CredentialStore::default()).with_engine(Some(&host))
}

/// Collects a stream's items until its end, and the error it ended with.
async fn collect<T: Send + 'static>(
    start: impl AsyncFnOnce(Box<dyn Fn(StreamMsg<T>) + Send + Sync>) -> u64,
) -> (Vec<T>, Option<ApiError>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    start(Box::new(move |msg| {
        let _ = tx.send(msg);
    }))
    .await;
    let (mut items, mut error) = (Vec::new(), None);
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(msg) = rx.recv().await {
            match msg {
                StreamMsg::Items { items: batch } => items.extend(batch),
                StreamMsg::Error { error: e } => error = Some(e),
                StreamMsg::End => return,
                StreamMsg::Started { .. } => {}
            }
        }
    })
    .await
    .expect("the stream ends");
    (items, error)
}

async fn run(api: &Gantry, target: &ComposeTarget, action: ComposeAction) -> Vec<String> {
    run_on(api, target, action, &[]).await
}

/// Runs `action` on `services` only (on the whole project when there are none).
async fn run_on(api: &Gantry, target: &ComposeTarget, action: ComposeAction, services: &[&str]) -> Vec<String> {
    let services: Vec<String> = services.iter().map(|s| (*s).to_string()).collect();
    let (out, error) =
        collect(async |sink| api.compose_run(target.clone(), action, services.clone(), sink).await.unwrap()).await;
    let text: Vec<String> = out.into_iter().map(|o| o.text).collect();
    assert!(error.is_none(), "compose {action:?} {services:?} failed: {error:?}\n{}", text.join("\n"));
    text
}

#[tokio::test]
async fn a_two_service_project_goes_up_shows_its_logs_and_goes_down() {
    let tmp = tempfile::tempdir().unwrap();
    let project = format!("gantry-compose-test-{}", std::process::id());
    std::fs::write(
        tmp.path().join("compose.yaml"),
        format!(
            "name: {project}\nservices:\n  web:\n    image: {IMAGE}\n    pull_policy: never\n    stop_signal: SIGKILL\n    \
             command: [\"sh\", \"-c\", \"echo web says hello; exec sleep 600\"]\n    volumes: [data:/data]\n  \
             db:\n    image: {IMAGE}\n    pull_policy: never\n    stop_signal: SIGKILL\n    command: [\"sh\", \"-c\", \"echo db says ready; exec sleep 600\"]\n\
             volumes:\n  data: {{}}\n"
        ),
    )
    .unwrap();
    let api = api(tmp.path());

    let opened = api.compose_open(tmp.path().display().to_string()).await.unwrap();
    assert_eq!(opened.config.name, project);
    assert_eq!(opened.config.services, ["db", "web"]);
    assert_eq!(opened.config.volumes, [format!("{project}_data")]);
    let target = opened.target;
    assert_eq!(target.name.as_deref(), Some(project.as_str()));

    let up = run(&api, &target, ComposeAction::Up).await;
    assert!(up.iter().any(|l| l.contains(&format!("{project}-web-1")) && l.contains("Started")), "{up:?}");

    // Opened again from its containers' labels, as the Containers panel does.
    let found = api.compose_project_open(project.clone()).await.unwrap();
    assert_eq!(found.target, target);
    let running = api.container_list(false).await.unwrap();
    let mine: Vec<_> = running.iter().filter(|c| c.compose_project.as_deref() == Some(project.as_str())).collect();
    assert_eq!(mine.len(), 2, "{mine:?}");

    // The logs of both services, each line with its service; the follow is cancelled once both
    // have spoken, and then ends.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let id = api
        .compose_logs(target.clone(), 100, move |msg| {
            let _ = tx.send(msg);
        })
        .await
        .unwrap();
    let mut lines = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(msg) = rx.recv().await {
            match msg {
                StreamMsg::Items { items } => lines.extend(items),
                StreamMsg::Error { error } => panic!("logs failed: {error:?}"),
                StreamMsg::End => return,
                StreamMsg::Started { .. } => {}
            }
            let spoke = |service: &str| lines.iter().any(|l: &gantry_core::api::ComposeLogLine| l.service == service);
            if spoke("web") && spoke("db") {
                api.streams().cancel(id);
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the cancelled follow ends");
    assert!(
        lines.iter().any(|l| l.service == "web" && l.replica == Some(1) && l.text == "web says hello"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.service == "db" && l.text == "db says ready" && l.timestamp.is_some()), "{lines:?}");

    let preview = api.compose_down_preview(project.clone(), true).await.unwrap();
    assert_eq!(preview.containers, [format!("{project}-db-1"), format!("{project}-web-1")]);
    assert_eq!(preview.networks, [format!("{project}_default")]);
    assert_eq!(preview.volumes, [format!("{project}_data")]);

    run(&api, &target, ComposeAction::Down { volumes: true }).await;
    let after = api.compose_down_preview(project.clone(), true).await.unwrap();
    assert_eq!(after, Default::default(), "nothing of the project is left");
    let gone = api.compose_project_open(project).await.unwrap_err();
    assert_eq!(gone.code, GantryErrorCode::ComposeProjectMissing);
}

#[tokio::test]
async fn bad_input_says_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let api = api(tmp.path());
    let empty = api.compose_open(tmp.path().display().to_string()).await.unwrap_err();
    assert_eq!(empty.code, GantryErrorCode::ComposeFileMissing);
    assert!(empty.message.contains("holds no compose file"), "{}", empty.message);

    std::fs::write(tmp.path().join("compose.yaml"), "services:\n  web:\n    image: x\n   ports: [80]\n").unwrap();
    let yaml = api.compose_open(tmp.path().display().to_string()).await.unwrap_err();
    assert_eq!(yaml.code, GantryErrorCode::ComposeInvalid);
    assert!(yaml.message.starts_with("yaml: line"), "{}", yaml.message);
    assert!(yaml.hint.contains("compose.yaml"), "{}", yaml.hint);

    std::fs::write(tmp.path().join("compose.yaml"), "services:\n  web:\n    imag: x\n").unwrap();
    let schema = api.compose_open(tmp.path().display().to_string()).await.unwrap_err();
    assert_eq!(schema.code, GantryErrorCode::ComposeInvalid);
    assert!(schema.message.contains("imag"), "{}", schema.message);

    // Two services publishing one port: compose's failure comes with what to do about it.
    let project = format!("gantry-compose-port-{}", std::process::id());
    let port = 20_000 + std::process::id() % 20_000;
    let service = |name: &str| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    pull_policy: never\n    stop_signal: SIGKILL\n    \
             command: [\"sleep\", \"600\"]\n    ports: [\"127.0.0.1:{port}:80\"]\n"
        )
    };
    std::fs::write(
        tmp.path().join("compose.yaml"),
        format!("name: {project}\nservices:\n{}{}", service("a"), service("b")),
    )
    .unwrap();
    let target = api.compose_open(tmp.path().display().to_string()).await.unwrap().target;
    let (_, failed) =
        collect(async |sink| api.compose_run(target.clone(), ComposeAction::Up, Vec::new(), sink).await.unwrap()).await;
    let failed = failed.expect("the second service cannot publish the same port");
    assert_eq!(failed.code, GantryErrorCode::ComposeFailed);
    assert!(failed.message.contains("port is already allocated"), "{}", failed.message);
    assert!(failed.hint.contains("ports:"), "{}", failed.hint);
    run(&api, &target, ComposeAction::Down { volumes: false }).await;

    let stop_by_bad_name = ComposeTarget { name: Some("--all".into()), ..Default::default() };
    let refused = api.compose_run(stop_by_bad_name, ComposeAction::Stop, Vec::new(), |_| {}).await.unwrap_err();
    assert_eq!(refused.code, GantryErrorCode::Invalid);
}

/// Up starts the services of the chosen profiles only; a project opened from its containers has
/// the profiles that made them chosen and its environment file; one service stops and starts alone; stop and down reach
/// the containers of every profile (a plain `docker compose down` leaves those of profiles it
/// was not given).
#[tokio::test]
async fn profiles_choose_what_up_starts_and_down_removes_every_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let project = format!("gantry-compose-profiles-{}", std::process::id());
    let service = |command: &str| {
        format!(
            "    image: {IMAGE}\n    pull_policy: never\n    stop_signal: SIGKILL\n    command: [\"sh\", \"-c\", \"{command}\"]\n"
        )
    };
    std::fs::write(
        tmp.path().join("compose.yaml"),
        format!(
            "name: {project}\nservices:\n  web:\n{}  debug:\n{}    profiles: [debug]\n  admin:\n{}    profiles: [ops, debug]\n",
            service("exec sleep 600"),
            service("exec sleep 600"),
            service("exec sleep 600"),
        ),
    )
    .unwrap();
    let api = api(tmp.path());
    let names = async || {
        let mut names: Vec<String> = api
            .container_list(true)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.compose_project.as_deref() == Some(project.as_str()))
            .filter_map(|c| c.compose_service)
            .collect();
        names.sort();
        names
    };

    let opened = api.compose_open(tmp.path().display().to_string()).await.unwrap();
    assert_eq!(opened.config.services, ["admin", "debug", "web"], "every profile's services are listed");
    assert_eq!(opened.config.profiles, ["debug", "ops"]);
    assert!(opened.target.profiles.is_empty());
    let mut target = opened.target;
    // Started with an environment file of its own, as `docker compose --env-file` does.
    let env_file = tmp.path().join(".env.prod").display().to_string();
    std::fs::write(&env_file, "UNUSED=1\n").unwrap();
    target.env_files = vec![env_file.clone()];

    run(&api, &target, ComposeAction::Up).await;
    assert_eq!(names().await, ["web"]);

    target.profiles = vec!["debug".into()];
    run(&api, &target, ComposeAction::Up).await;
    assert_eq!(names().await, ["admin", "debug", "web"]);
    let found = api.compose_project_open(project.clone()).await.unwrap();
    assert_eq!(found.target.profiles, ["debug"], "the profile that made the containers is chosen");
    assert_eq!(found.target.env_files, [env_file], "and its environment file");

    // One service stopped and started again, the others untouched.
    let running = async || {
        let mut names: Vec<String> = api
            .container_list(false)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.compose_project.as_deref() == Some(project.as_str()))
            .filter_map(|c| c.compose_service)
            .collect();
        names.sort();
        names
    };
    run_on(&api, &target, ComposeAction::Stop, &["web"]).await;
    assert_eq!(running().await, ["admin", "debug"]);
    target.profiles.clear();
    run_on(&api, &target, ComposeAction::Up, &["web"]).await;
    assert_eq!(running().await, ["admin", "debug", "web"], "up of one service leaves the others running");

    // Down as a project opened without profiles would run it: every container still goes.
    let preview = api.compose_down_preview(project.clone(), false).await.unwrap();
    assert_eq!(preview.containers.len(), 3, "{preview:?}");
    run(&api, &target, ComposeAction::Down { volumes: false }).await;
    assert!(names().await.is_empty(), "down removed the containers of every profile");
    assert_eq!(api.compose_down_preview(project, false).await.unwrap(), Default::default());
}
