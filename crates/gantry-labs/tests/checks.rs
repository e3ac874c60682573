//! Every check kind against the REAL engine: passes on what the step asks for, fails with a reason a
//! learner can act on otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{IMAGE, context, docker, docker_in, remove, spec, unique};
use gantry_labs::eval::evaluate;
use gantry_labs::{CheckResult, CheckStatus, Lang};

async fn eval(engine: &gantry_engine::Engine, ctx: &gantry_labs::Context, text: &str) -> CheckResult {
    let spec = spec(text);
    let mut result = evaluate(engine, &spec, ctx, &[]).await;
    // A server that is slow to answer on a loaded machine is asked again, as the checker would.
    for _ in 0..3 {
        if !why(&result).contains("did not answer within") {
            break;
        }
        result = evaluate(engine, &spec, ctx, &[]).await;
    }
    result
}

fn why(result: &CheckResult) -> String {
    result.detail.as_ref().map(|d| d.get(Lang::En).to_string()).unwrap_or_default()
}

#[track_caller]
fn passes(result: &CheckResult) {
    assert_eq!(result.status, CheckStatus::Pass, "{}", why(result));
}

#[track_caller]
fn fails_with(result: &CheckResult, reason: &str) {
    assert_eq!(result.status, CheckStatus::Fail, "expected a failure: {result:?}");
    assert!(why(result).contains(reason), "reason {:?} should contain {reason:?}", why(result));
    let ru = result.detail.as_ref().map(|d| d.get(Lang::Ru).to_string()).unwrap_or_default();
    assert!(!ru.is_empty() && ru != why(result), "a Russian reason too: {ru:?}");
}

#[tokio::test]
async fn container_checks() {
    let engine = common::engine().await;
    let work = tempfile::tempdir().unwrap();
    let port = gantry_testkit::net::free_port().unwrap();
    let ctx = context(work.path(), &[("web", port), ("other", port.wrapping_add(1).max(1024))]);
    let web = unique("web");
    let done = unique("done");
    docker(&[
        "run",
        "-d",
        "--name",
        &web,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /www && echo '<h1>Hello lab</h1>' > /www/index.html && echo server ready && exec httpd -f -p 80 -h /www",
    ]);
    docker(&["run", "-d", "--name", &done, IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(docker(&["wait", &done]), "3");

    passes(&eval(&engine, &ctx, &format!("kind = \"container_running\"\ncontainer = \"{web}\"")).await);
    passes(&eval(&engine, &ctx, &format!("kind = \"container_exists\"\nimage = \"{IMAGE}\"")).await);
    fails_with(&eval(&engine, &ctx, &format!("kind = \"container_running\"\ncontainer = \"{done}\"")).await, "exited");
    fails_with(
        &eval(&engine, &ctx, "kind = \"container_running\"\ncontainer = \"lt-nobody\"").await,
        "there is no container `lt-nobody`",
    );
    passes(&eval(&engine, &ctx, &format!("kind = \"container_exited\"\ncontainer = \"{done}\"\nexit_code = 3")).await);
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"container_exited\"\ncontainer = \"{done}\"\nexit_code = 0")).await,
        "exited with code 3, not 0",
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"container_absent\"\ncontainer = \"{done}\"")).await,
        "still there",
    );
    passes(&eval(&engine, &ctx, "kind = \"container_absent\"\ncontainer = \"lt-nobody\"").await);

    let published = format!("kind = \"port_published\"\ncontainer = \"{web}\"\ncontainer_port = 80\nport = \"web\"");
    passes(&eval(&engine, &ctx, &published).await);
    passes(&eval(&engine, &ctx, &format!("{published}\nhost_ip = \"127.0.0.1\"")).await);
    fails_with(&eval(&engine, &ctx, &format!("{published}\nhost_ip = \"0.0.0.0\"")).await, "not only on 0.0.0.0");
    fails_with(
        &eval(&engine, &ctx, &published.replace("port = \"web\"", "port = \"other\"")).await,
        &format!("published on host port {port}"),
    );

    passes(&eval(&engine, &ctx, "kind = \"http\"\nport = \"web\"\nstatus = 200\ncontains = \"Hello lab\"").await);
    fails_with(
        &eval(&engine, &ctx, "kind = \"http\"\nport = \"web\"\ncontains = \"Goodbye\"").await,
        "does not contain `Goodbye`",
    );
    fails_with(&eval(&engine, &ctx, "kind = \"http\"\nport = \"web\"\npath = \"/missing\"").await, "status 404");
    fails_with(&eval(&engine, &ctx, "kind = \"http\"\nport = \"other\"").await, "nothing answers");

    passes(
        &eval(&engine, &ctx, &format!("kind = \"logs_contain\"\ncontainer = \"{web}\"\ntext = \"server ready\"")).await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"logs_contain\"\ncontainer = \"{web}\"\ntext = \"never\"")).await,
        "has not printed `never` yet",
    );
    remove(&[&web, &done], &[], &[], &[]);
}

#[tokio::test]
async fn container_settings() {
    let engine = common::engine().await;
    let ctx = context(std::path::Path::new("/tmp"), &[]);
    let hard = unique("hard");
    let soft = unique("soft");
    docker(&[
        "run",
        "-d",
        "--name",
        &hard,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--user",
        "1000:1000",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--security-opt",
        "no-new-privileges",
        IMAGE,
        "sleep",
        "300",
    ]);
    docker(&["run", "-d", "--name", &soft, IMAGE, "sleep", "300"]);
    let all = "read_only_rootfs = true\ncap_drop = [\"ALL\"]\nuser_not_root = true\nmemory_max = \"64MiB\"\npids_max = 100\nno_new_privileges = true";
    passes(&eval(&engine, &ctx, &format!("kind = \"container_settings\"\ncontainer = \"{hard}\"\n{all}")).await);
    let result = eval(&engine, &ctx, &format!("kind = \"container_settings\"\ncontainer = \"{soft}\"\n{all}")).await;
    for reason in ["--read-only", "--cap-drop", "--user", "--memory", "--pids-limit", "no-new-privileges"] {
        fails_with(&result, reason);
    }
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"container_settings\"\ncontainer = \"{hard}\"\nmemory_max = \"32MiB\""))
            .await,
        "not at most 33.6MB",
    );
    remove(&[&hard, &soft], &[], &[], &[]);
}

#[tokio::test]
async fn image_checks() {
    let engine = common::engine().await;
    let ctx = context(std::path::Path::new("/tmp"), &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.txt"), "app").unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {IMAGE}\nRUN echo one > /one\nCOPY app.txt /app/app.txt\nUSER 10001\nHEALTHCHECK CMD [\"true\"]\n"
        ),
    )
    .unwrap();
    let good = format!("{}:1", unique("img"));
    docker_in(dir.path(), &["build", "-q", "-t", &good, "."]);
    let plain = format!("{}:1", unique("plain"));
    docker(&["tag", IMAGE, &plain]);

    passes(&eval(&engine, &ctx, &format!("kind = \"image_exists\"\nimage = \"{good}\"")).await);
    fails_with(&eval(&engine, &ctx, "kind = \"image_exists\"\nimage = \"lt-none:1\"").await, "there is no image");
    passes(&eval(&engine, &ctx, "kind = \"image_absent\"\nimage = \"lt-none:1\"").await);
    fails_with(&eval(&engine, &ctx, &format!("kind = \"image_absent\"\nimage = \"{good}\"")).await, "still there");
    passes(
        &eval(&engine, &ctx, &format!("kind = \"image_history\"\nimage = \"{good}\"\ninstruction = \"echo one\""))
            .await,
    );
    passes(
        &eval(&engine, &ctx, &format!("kind = \"image_history\"\nimage = \"{good}\"\ninstruction = \"USER 10001\""))
            .await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_history\"\nimage = \"{plain}\"\ninstruction = \"USER\"")).await,
        "no layer",
    );
    passes(&eval(&engine, &ctx, &format!("kind = \"image_layers\"\nimage = \"{good}\"\nmax = 3")).await);
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_layers\"\nimage = \"{good}\"\nmax = 2")).await,
        "3 layers",
    );
    passes(&eval(&engine, &ctx, &format!("kind = \"image_size\"\nimage = \"{good}\"\nmax = \"10MB\"")).await);
    passes(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"image_shares_layers\"\nimage = \"{good}\"\nwith = \"{plain}\"\nmin = 1"),
        )
        .await,
    );
    fails_with(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"image_shares_layers\"\nimage = \"{good}\"\nwith = \"{plain}\"\nmin = 2"),
        )
        .await,
        "shares 1 of its first layers",
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_size\"\nimage = \"{good}\"\nmax = \"1kB\"")).await,
        "more than 1.0kB",
    );
    // `good` is `plain` plus a few bytes.
    passes(
        &eval(&engine, &ctx, &format!("kind = \"image_size\"\nimage = \"{plain}\"\nsmaller_than = \"{good}\"")).await,
    );
    fails_with(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"image_size\"\nimage = \"{plain}\"\nsmaller_than = \"{good}\"\nby = \"1MB\""),
        )
        .await,
        "not 1.0MB smaller",
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_size\"\nimage = \"{good}\"\nsmaller_than = \"{plain}\"")).await,
        "not 0B smaller",
    );
    passes(&eval(&engine, &ctx, &format!("kind = \"image_not_root\"\nimage = \"{good}\"")).await);
    fails_with(&eval(&engine, &ctx, &format!("kind = \"image_not_root\"\nimage = \"{plain}\"")).await, "runs as root");
    passes(&eval(&engine, &ctx, &format!("kind = \"image_healthcheck\"\nimage = \"{good}\"")).await);
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_healthcheck\"\nimage = \"{plain}\"")).await,
        "no health check",
    );
    passes(
        &eval(&engine, &ctx, &format!("kind = \"image_file_absent\"\nimage = \"{good}\"\npath = \"/app/secret.env\""))
            .await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_file_absent\"\nimage = \"{good}\"\npath = \"/app/app.txt\""))
            .await,
        "contains `/app/app.txt`",
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"image_file_absent\"\nimage = \"{good}\"\npath = \"/app\"")).await,
        "contains `/app`",
    );
    // The helper containers that looked inside the image are gone.
    let left = docker(&["ps", "-a", "--filter", "name=gantry-lab-check-", "--format", "{{.Names}}"]);
    assert_eq!(left, "");
    remove(&[], &[], &[], &[&good, &plain]);
}

#[tokio::test]
async fn volume_and_mount_checks() {
    let engine = common::engine().await;
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("site")).unwrap();
    let ctx = context(work.path(), &[]);
    let volume = unique("vol");
    let writer = unique("writer");
    let binder = unique("binder");
    docker(&["volume", "create", &volume]);
    docker(&[
        "run",
        "--name",
        &writer,
        "-v",
        &format!("{volume}:/data"),
        IMAGE,
        "sh",
        "-c",
        "echo kept-in-the-volume > /data/note.txt",
    ]);
    let site = work.path().join("site");
    docker(&["run", "-d", "--name", &binder, "-v", &format!("{}:/srv", site.display()), IMAGE, "sleep", "300"]);

    passes(&eval(&engine, &ctx, &format!("kind = \"volume_exists\"\nvolume = \"{volume}\"")).await);
    fails_with(&eval(&engine, &ctx, "kind = \"volume_exists\"\nvolume = \"lt-novol\"").await, "no volume");
    passes(&eval(&engine, &ctx, "kind = \"volume_absent\"\nvolume = \"lt-novol\"").await);
    fails_with(&eval(&engine, &ctx, &format!("kind = \"volume_absent\"\nvolume = \"{volume}\"")).await, "still there");
    passes(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"volume_mounted\"\nvolume = \"{volume}\"\ncontainer = \"{writer}\"\ntarget = \"/data\""),
        )
        .await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"volume_mounted\"\nvolume = \"{volume}\"\ncontainer = \"{binder}\""))
            .await,
        "does not mount volume",
    );
    let file = format!("kind = \"volume_file\"\nvolume = \"{volume}\"\npath = \"note.txt\"");
    // Read through the container that mounts it ...
    passes(&eval(&engine, &ctx, &format!("{file}\ncontains = \"kept-in-the-volume\"")).await);
    fails_with(&eval(&engine, &ctx, &format!("{file}\ncontains = \"lost\"")).await, "does not contain `lost`");
    // ... and, once no container does, through a helper that is removed afterwards.
    docker(&["rm", &writer]);
    passes(&eval(&engine, &ctx, &format!("{file}\ncontains = \"kept-in-the-volume\"")).await);
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"volume_file\"\nvolume = \"{volume}\"\npath = \"absent.txt\"")).await,
        "has no file `absent.txt`",
    );
    let left = docker(&["ps", "-a", "--filter", "name=gantry-lab-check-", "--format", "{{.Names}}"]);
    assert_eq!(left, "");

    passes(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"bind_mount\"\ncontainer = \"{binder}\"\nsource = \"site\"\ntarget = \"/srv\""),
        )
        .await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"bind_mount\"\ncontainer = \"{binder}\"\nsource = \"other\"")).await,
        "not ",
    );
    remove(&[&binder], &[&volume], &[], &[]);
}

#[tokio::test]
async fn network_checks() {
    let engine = common::engine().await;
    let ctx = context(std::path::Path::new("/tmp"), &[]);
    let net = unique("net");
    let (api, client, loner) = (unique("api"), unique("client"), unique("loner"));
    docker(&["network", "create", &net]);
    docker(&["run", "-d", "--name", &api, "--network", &net, "--network-alias", "backend", IMAGE, "sleep", "300"]);
    docker(&["run", "-d", "--name", &client, "--network", &net, IMAGE, "sleep", "300"]);
    docker(&["run", "-d", "--name", &loner, IMAGE, "sleep", "300"]);

    passes(&eval(&engine, &ctx, &format!("kind = \"network_exists\"\nnetwork = \"{net}\"")).await);
    fails_with(&eval(&engine, &ctx, "kind = \"network_exists\"\nnetwork = \"lt-nonet\"").await, "no network");
    passes(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"network_attached\"\nnetwork = \"{net}\"\ncontainers = [\"{api}\", \"{client}\"]"),
        )
        .await,
    );
    fails_with(
        &eval(
            &engine,
            &ctx,
            &format!("kind = \"network_attached\"\nnetwork = \"{net}\"\ncontainers = [\"{api}\", \"{loner}\"]"),
        )
        .await,
        &format!("not attached to `{net}`: `{loner}`"),
    );
    passes(&eval(&engine, &ctx, &format!("kind = \"resolves\"\ncontainer = \"{client}\"\nname = \"{api}\"")).await);
    passes(&eval(&engine, &ctx, &format!("kind = \"resolves\"\ncontainer = \"{client}\"\nname = \"backend\"")).await);
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"resolves\"\ncontainer = \"{loner}\"\nname = \"{api}\"")).await,
        "only on the default network",
    );
    // What the check says matches what the engine's DNS does.
    let answer = docker(&["exec", &client, "nslookup", &api]);
    assert!(answer.contains("Address"), "{answer}");
    docker(&["network", "connect", &net, &loner]);
    passes(&eval(&engine, &ctx, &format!("kind = \"resolves\"\ncontainer = \"{loner}\"\nname = \"backend\"")).await);
    remove(&[&api, &client, &loner], &[], &[&net], &[]);
}

#[tokio::test]
async fn compose_file_and_event_checks() {
    let engine = common::engine().await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(".dockerignore"), "secrets.env\n").unwrap();
    let ctx = context(work.path(), &[]);
    let project = unique("proj");
    let web = unique("web");
    // What `docker compose up` labels its containers with.
    docker(&[
        "run",
        "-d",
        "--name",
        &web,
        "--label",
        &format!("com.docker.compose.project={project}"),
        "--label",
        "com.docker.compose.service=web",
        IMAGE,
        "sleep",
        "300",
    ]);
    passes(
        &eval(&engine, &ctx, &format!("kind = \"compose_up\"\nproject = \"{project}\"\nservices = [\"web\"]")).await,
    );
    fails_with(
        &eval(&engine, &ctx, &format!("kind = \"compose_up\"\nproject = \"{project}\"\nservices = [\"web\", \"db\"]"))
            .await,
        "not running: `db`",
    );
    fails_with(
        &eval(&engine, &ctx, "kind = \"compose_up\"\nproject = \"lt-noproj\"\nservices = [\"web\"]").await,
        "has no containers",
    );

    passes(&eval(&engine, &ctx, "kind = \"file_contains\"\nfile = \".dockerignore\"\ntext = \"secrets.env\"").await);
    fails_with(
        &eval(&engine, &ctx, "kind = \"file_contains\"\nfile = \".dockerignore\"\ntext = \".git\"").await,
        "does not contain",
    );
    fails_with(
        &eval(&engine, &ctx, "kind = \"file_contains\"\nfile = \"Dockerfile\"\ntext = \"FROM\"").await,
        "no file `Dockerfile`",
    );
    passes(&eval(&engine, &ctx, "kind = \"file_exists\"\nfile = \".dockerignore\"\nmin_size = 5").await);
    fails_with(
        &eval(&engine, &ctx, "kind = \"file_exists\"\nfile = \".dockerignore\"\nmin_size = \"1kB\"").await,
        "less than 1.0kB",
    );

    let events = vec![gantry_engine::Event {
        resource: "container".into(),
        action: "oom".into(),
        id: "abc".into(),
        name: Some("hog".into()),
        attributes: Default::default(),
        time: 0,
        time_nano: 0,
    }];
    let seen = spec("kind = \"event_seen\"\nresource = \"container\"\naction = \"oom\"\nname = \"hog\"");
    passes(&evaluate(&engine, &seen, &ctx, &events).await);
    let result = evaluate(&engine, &seen, &ctx, &[]).await;
    fails_with(&result, "has not reported `container oom` (hog)");
    remove(&[&web], &[], &[], &[]);
}

#[tokio::test]
async fn dockerfile_lint_check() {
    let engine = common::engine().await;
    let work = tempfile::tempdir().unwrap();
    let ctx = context(work.path(), &[]);
    let check = "kind = \"dockerfile_lint\"\nrules = [\"DL3007\", \"DL3009\", \"AptUpdateInSeparateRun\"]";
    fails_with(&eval(&engine, &ctx, check).await, "no file `Dockerfile`");
    std::fs::write(
        work.path().join("Dockerfile"),
        "FROM debian:latest\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends ca-certificates\n",
    )
    .unwrap();
    let result = eval(&engine, &ctx, check).await;
    fails_with(&result, "line 1:");
    fails_with(&result, "(DL3007)");
    fails_with(&result, "AptUpdateInSeparateRun");
    assert!(result.detail.as_ref().unwrap().get(Lang::Ru).contains("строка 1"), "{result:?}");
    std::fs::write(
        work.path().join("Dockerfile"),
        "FROM debian:bookworm-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends ca-certificates \\\n && rm -rf /var/lib/apt/lists/*\n",
    )
    .unwrap();
    passes(&eval(&engine, &ctx, check).await);
}

/// `gantry lab start` names the declared images the engine lacks (under any of their spellings).
#[tokio::test]
async fn missing_images_are_the_declared_ones_the_engine_lacks() {
    let engine = common::engine().await;
    let lab_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/first-container");
    let mut lab = gantry_labs::load_lab(&lab_dir).unwrap();
    lab.images = vec![format!("docker.io/{IMAGE}"), "gantry-test/no-such-image:1".into()];
    let missing = gantry_labs::session::missing_images(&engine, &lab).await.unwrap();
    assert_eq!(missing, vec!["gantry-test/no-such-image:1".to_string()]);
}
