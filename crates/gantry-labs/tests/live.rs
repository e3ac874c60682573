//! The live checker and the lab-scoped reset, against the REAL engine, with small labs written here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{IMAGE, docker, remove, unique};
use futures_util::StreamExt;
use gantry_engine::EngineStream;
use gantry_labs::runner::run_solution_command;
use gantry_labs::session::{self, PortChoice};
use gantry_labs::{CheckStatus, Lab, LabEvent, ProgressStore, load_lab, plan_reset, reset_lab, watch};

/// Writes a lab with these steps (`(id, checks TOML, solution TOML)`) and loads it.
fn write_lab(dir: &std::path::Path, id: &str, ports: &str, steps: &[(&str, &str, &str)]) -> Lab {
    let mut manifest = format!(
        "format = 1\nid = \"{id}\"\nlevel = \"beginner\"\nduration_minutes = 5\nimages = [\"{IMAGE}\"]\n{ports}\n\
         [title]\nen = \"T\"\nru = \"Т\"\n[summary]\nen = \"S\"\nru = \"С\"\n"
    );
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    for (step, checks, solution) in steps {
        manifest.push_str(&format!("\n[[steps]]\nid = \"{step}\"\n{checks}\n{solution}\n"));
        std::fs::write(dir.join(format!("steps/{step}.en.md")), format!("# Step {step}\n\nDo it.\n")).unwrap();
        std::fs::write(dir.join(format!("steps/{step}.ru.md")), format!("# Шаг {step}\n\nСделайте.\n")).unwrap();
    }
    std::fs::write(dir.join("lab.toml"), manifest).unwrap();
    load_lab(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The next event, within a bound that only keeps a broken test from hanging.
async fn next(stream: &mut EngineStream<LabEvent>) -> LabEvent {
    match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected a checker event, got {other:?}"),
    }
}

/// Reads events until `want` matches; returns what came before it.
async fn until(stream: &mut EngineStream<LabEvent>, want: impl Fn(&LabEvent) -> bool) -> Vec<LabEvent> {
    let mut seen = Vec::new();
    loop {
        let event = next(stream).await;
        if want(&event) {
            return seen;
        }
        seen.push(event);
    }
}

#[tokio::test]
async fn steps_turn_green_on_engine_events_and_progress_is_kept() {
    let engine = common::engine().await;
    let dir = tempfile::tempdir().unwrap();
    let (web, data, late, slow) = (unique("chk-web"), unique("chk-data"), unique("chk-late"), unique("chk-slow"));
    let port = gantry_testkit::net::free_port().unwrap();
    let lab = Arc::new(write_lab(
        dir.path().join("lab").as_path(),
        "live",
        "[ports]\nweb = 8080\n",
        &[
            (
                "run",
                &format!("[[steps.checks]]\nkind = \"container_running\"\ncontainer = \"{web}\""),
                "[[steps.solution]]\nrun = [\"docker\", \"ps\"]",
            ),
            (
                "volume",
                &format!("[[steps.checks]]\nkind = \"volume_exists\"\nvolume = \"{data}\""),
                "[[steps.solution]]\nrun = [\"docker\", \"ps\"]",
            ),
            (
                "output",
                &format!(
                    "[[steps.checks]]\nkind = \"logs_contain\"\ncontainer = \"{late}\"\ntext = \"finally ready\"\n\n[[steps.checks]]\nkind = \"event_seen\"\nresource = \"container\"\naction = \"die\"\nname = \"{web}\""
                ),
                "[[steps.solution]]\nrun = [\"docker\", \"ps\"]",
            ),
            (
                "serve",
                "[[steps.checks]]\nkind = \"http\"\nport = \"web\"\ncontains = \"slow but there\"",
                "[[steps.solution]]\nrun = [\"docker\", \"ps\"]",
            ),
        ],
    ));
    let store = ProgressStore::new(dir.path().join("progress"));
    let mut progress =
        session::start(&engine, &lab, Some(&store), &dir.path().join("work"), PortChoice::Usual).await.unwrap();
    progress.ports.insert("web".into(), port);
    store.save(&progress).unwrap();
    let ctx = session::context(&progress, engine.endpoint());
    let mut stream = watch(engine.clone(), lab.clone(), progress, ctx, Some(store.clone()));

    assert_eq!(next(&mut stream).await, LabEvent::StepStarted { step: 0, id: "run".into() });
    let LabEvent::Check { check: 0, result, .. } = next(&mut stream).await else { panic!("a check result") };
    assert_eq!(result.status, CheckStatus::Fail);
    assert_eq!(next(&mut stream).await, LabEvent::StepEvaluated { step: 0 });

    // Creating (not starting) the container changes the reason; starting it passes the step.
    docker(&["create", "--name", &web, IMAGE, "sleep", "300"]);
    let LabEvent::Check { result, .. } = next(&mut stream).await else { panic!("a check result") };
    assert_eq!(result.status, CheckStatus::Fail);
    assert!(result.detail.unwrap().get(gantry_labs::Lang::En).contains("created but not started"));
    docker(&["start", &web]);
    until(&mut stream, |e| matches!(e, LabEvent::StepPassed { step: 0, .. })).await;
    assert_eq!(store.load("live").unwrap().unwrap().passed, vec!["run".to_string()]);

    until(&mut stream, |e| matches!(e, LabEvent::StepEvaluated { step: 1 })).await;
    docker(&["volume", "create", &data]);
    until(&mut stream, |e| matches!(e, LabEvent::StepPassed { step: 1, .. })).await;

    // A line printed a while after the container started is caught by following its output (no
    // engine event comes with it); the `die` event of `web` is remembered.
    until(&mut stream, |e| matches!(e, LabEvent::StepEvaluated { step: 2 })).await;
    docker(&["run", "-d", "--name", &late, IMAGE, "sh", "-c", "sleep 2; echo finally ready; sleep 300"]);
    docker(&["rm", "-f", &web]);
    until(&mut stream, |e| matches!(e, LabEvent::StepPassed { step: 2, .. })).await;

    // A server that answers only a while after its container started: the bounded HTTP retries.
    until(&mut stream, |e| matches!(e, LabEvent::StepEvaluated { step: 3 })).await;
    docker(&[
        "run",
        "-d",
        "--name",
        &slow,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        IMAGE,
        "sh",
        "-c",
        "sleep 2; mkdir /www; echo slow but there > /www/index.html; exec httpd -f -p 80 -h /www",
    ]);
    until(&mut stream, |e| matches!(e, LabEvent::StepPassed { step: 3, .. })).await;
    assert_eq!(next(&mut stream).await, LabEvent::LabCompleted);

    // Progress survives: a new checker for the same learner has nothing left to do.
    let saved = store.load("live").unwrap().unwrap();
    assert_eq!(saved.passed, ["run", "volume", "output", "serve"]);
    let ctx = session::context(&saved, engine.endpoint());
    let mut again = watch(engine.clone(), lab.clone(), saved, ctx, Some(store));
    assert_eq!(next(&mut again).await, LabEvent::LabCompleted);
    remove(&[&late, &slow], &[&data], &[], &[]);
}

#[tokio::test]
async fn reset_removes_what_the_lab_created_and_nothing_else() {
    let engine = common::engine().await;
    let dir = tempfile::tempdir().unwrap();
    let (keep, keep_vol, keep_net, keep_img) =
        (unique("user-keep"), unique("user-vol"), unique("user-net"), unique("user-img"));
    let during = unique("user-during");
    let (app, app_vol, app_net, app_img) = (unique("lab-app"), unique("lab-vol"), unique("lab-net"), unique("lab-img"));
    // The learner's own objects, from before the lab.
    docker(&["run", "-d", "--name", &keep, IMAGE, "sleep", "300"]);
    docker(&["volume", "create", &keep_vol]);
    docker(&["network", "create", &keep_net]);
    docker(&["tag", IMAGE, &format!("{keep_img}:1")]);

    let lab_dir = dir.path().join("lab");
    let lab = write_lab(
        &lab_dir,
        "resettable",
        "",
        &[(
            "make",
            &format!(
                "[[steps.checks]]\nkind = \"container_running\"\ncontainer = \"{app}\"\n[[steps.checks]]\nkind = \"image_exists\"\nimage = \"{app_img}:1\""
            ),
            &format!(
                "[[steps.solution]]\nrun = [\"docker\", \"network\", \"create\", \"{app_net}\"]\n\
                 [[steps.solution]]\nrun = [\"docker\", \"volume\", \"create\", \"{app_vol}\"]\n\
                 [[steps.solution]]\nrun = [\"docker\", \"run\", \"-d\", \"--name\", \"{app}\", \"--network\", \"{app_net}\", \"-v\", \"{app_vol}:/data\", \"-v\", \"/anon\", \"{IMAGE}\", \"sleep\", \"300\"]\n\
                 [[steps.solution]]\nrun = [\"docker\", \"tag\", \"{IMAGE}\", \"{app_img}:1\"]\n\
                 [[steps.solution]]\nrun = [\"docker\", \"run\", \"{IMAGE}\", \"true\"]"
            ),
        )],
    );
    let store = ProgressStore::new(dir.path().join("progress"));
    let progress =
        session::start(&engine, &lab, Some(&store), &dir.path().join("work"), PortChoice::Usual).await.unwrap();
    let ctx = session::context(&progress, engine.endpoint());
    std::fs::write(progress.work_dir.join("learner-notes.txt"), "mine").unwrap();
    for command in &lab.steps[0].solution {
        run_solution_command(command, &lab.dir, &ctx, std::path::Path::new("docker"), engine.endpoint()).await.unwrap();
    }
    // Made by the learner during the lab, under a name the lab does not use.
    docker(&["run", "-d", "--name", &during, IMAGE, "sleep", "300"]);
    let anonymous =
        docker(&["inspect", "-f", "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}", &app]);
    assert!(!anonymous.is_empty());

    let plan = plan_reset(&engine, &lab, &progress, &ctx).await.unwrap();
    let names = |targets: &[gantry_labs::reset::Target]| targets.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    let containers = names(&plan.containers);
    assert!(containers.contains(&format!("container {app}")), "{plan:?}");
    // The nameless `docker run IMAGE true` of the solution is the lab's too (the lab's image).
    assert_eq!(containers.len(), 2, "{plan:?}");
    assert_eq!(names(&plan.networks), [format!("network {app_net}")]);
    assert_eq!(names(&plan.volumes), [format!("volume {app_vol}")]);
    assert_eq!(names(&plan.images), [format!("image {app_img}:1")]);

    let (report, restarted) = reset_lab(&engine, &lab, &progress, &ctx, Some(&store)).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.removed.len(), 5, "{report:?}");
    // The lab's half is gone ...
    let exists = |args: &[&str]| std::process::Command::new("docker").args(args).output().unwrap().status.success();
    assert!(!exists(&["container", "inspect", &app]));
    assert!(!exists(&["volume", "inspect", &app_vol]));
    assert!(!exists(&["volume", "inspect", &anonymous]), "the container's anonymous volume went with it");
    assert!(!exists(&["network", "inspect", &app_net]));
    assert!(!exists(&["image", "inspect", &format!("{app_img}:1")]));
    // ... the learner's half stays, and so does the image the lab declares.
    for args in [
        vec!["container", "inspect", keep.as_str()],
        vec!["container", "inspect", during.as_str()],
        vec!["volume", "inspect", keep_vol.as_str()],
        vec!["network", "inspect", keep_net.as_str()],
        vec!["image", "inspect", &format!("{keep_img}:1")],
        vec!["image", "inspect", IMAGE],
    ] {
        assert!(exists(&args), "{args:?} must stay");
    }
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &keep]), "true");
    // The lab starts again: step 1, a fresh work folder, saved.
    assert_eq!(restarted.current_step, 0);
    assert!(!restarted.work_dir.join("learner-notes.txt").exists());
    assert_eq!(store.load("resettable").unwrap().unwrap(), restarted);
    gantry_testkit::reliability::fault(
        "lab reset with the learner's objects made before and during the lab",
        "only the lab's container, anonymous volume, volume, network and image go",
        "5 lab objects removed; 6 of the learner's kept",
    );
    remove(&[&keep, &during], &[&keep_vol], &[&keep_net], &[&format!("{keep_img}:1")]);
}
