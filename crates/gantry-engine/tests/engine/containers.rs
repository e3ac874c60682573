//! Container lifecycle: run spec, list (compose labels), inspect, stop/start/restart,
//! pause/unpause, kill, remove, rename, top, diff.

use std::time::Duration;

use gantry_engine::{
    ContainerFilter, ContainerState, FileChangeKind, MountSpec, RemoveOptions, Restart, RunSpec, containers,
};

use crate::common::{IMAGE, setup};

#[tokio::test]
async fn run_really_runs_and_logs_show_output() {
    let t = setup("run").await;
    let id = t.run(&t.sh("hello", "echo hello from gantry; exit 7")).await;
    assert_eq!(t.wait_exit(&id).await, 7);
    assert!(t.log_text(&id).await.contains("hello from gantry"));
    let d = t.inspect(&id).await;
    assert_eq!((d.state, d.running, d.exit_code), (ContainerState::Exited, false, Some(7)));
}

#[tokio::test]
async fn run_spec_env_workdir_labels_limits_restart_apply() {
    let t = setup("spec").await;
    let mut spec = t.sh("spec", "echo \"foo=$FOO pwd=$(pwd) user=$(id -u)\"; sleep 60");
    spec.env = vec!["FOO=bar baz".into()];
    spec.working_dir = Some("/tmp".into());
    spec.user = Some("65534".into());
    spec.labels = vec![("org.gantry.test".into(), "yes".into())];
    spec.memory_bytes = Some(64 * 1024 * 1024);
    spec.nano_cpus = Some(500_000_000);
    spec.restart = Restart::UnlessStopped;
    let id = t.run(&spec).await;
    t.wait_for_log(&id, "foo=bar baz pwd=/tmp user=65534", 10).await;
    let d = t.inspect(&id).await;
    assert!(d.running);
    assert_eq!(d.memory_limit, 64 * 1024 * 1024);
    assert_eq!(d.nano_cpus, 500_000_000);
    assert_eq!(d.restart_policy, "unless-stopped");
    assert_eq!(d.labels.get("org.gantry.test").map(String::as_str), Some("yes"));
    assert_eq!(d.working_dir, "/tmp");
    assert!(d.env.iter().any(|e| e == "FOO=bar baz"), "{:?}", d.env);
}

#[tokio::test]
async fn list_all_and_running_with_compose_project_and_service() {
    let t = setup("list").await;
    let project = t.name("proj");
    let mut running = t.sh("web", "sleep 60");
    running.labels = vec![
        (containers::COMPOSE_PROJECT_LABEL.into(), project.clone()),
        (containers::COMPOSE_SERVICE_LABEL.into(), "web".into()),
    ];
    let mut created = RunSpec::new(IMAGE);
    created.name = Some(t.name("db"));
    created.labels = vec![
        (containers::COMPOSE_PROJECT_LABEL.into(), project.clone()),
        (containers::COMPOSE_SERVICE_LABEL.into(), "db".into()),
    ];
    let web = t.run(&running).await;
    let db = t.create(&created).await;

    let filter = ContainerFilter { all: true, compose_project: Some(project.clone()), ..Default::default() };
    let all = t.engine.list_containers(&filter).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let web_row = all.iter().find(|c| c.id == web).expect("web listed");
    assert_eq!(web_row.compose_project.as_deref(), Some(project.as_str()));
    assert_eq!(web_row.compose_service.as_deref(), Some("web"));
    assert_eq!(web_row.state, ContainerState::Running);
    assert_eq!(web_row.name, running.name.clone().unwrap());
    let db_row = all.iter().find(|c| c.id == db).expect("created container listed with all");
    assert_eq!((db_row.state, db_row.compose_service.as_deref()), (ContainerState::Created, Some("db")));

    let only_running = ContainerFilter { all: false, ..filter };
    let ids: Vec<_> = t.engine.list_containers(&only_running).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![web]);
}

#[tokio::test]
async fn stop_start_restart() {
    let t = setup("lifecycle").await;
    let id = t.run_sh("life", "echo started; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done").await;
    t.wait_for_log(&id, "started", 10).await;
    t.engine.stop_container(&id, Some(5)).await.unwrap();
    let d = t.inspect(&id).await;
    assert_eq!((d.state, d.exit_code), (ContainerState::Exited, Some(0)));
    assert!(t.log_text(&id).await.contains("got-term"));
    t.engine.start_container(&id).await.unwrap();
    assert!(t.inspect(&id).await.running);
    let before = t.inspect(&id).await.started_at;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.engine.restart_container(&id, Some(5)).await.unwrap();
    let d = t.inspect(&id).await;
    assert!(d.running);
    assert_ne!(d.started_at, before, "restart gives a new start time");
    // The restarted process prints its line a moment after the restart returns (later on a
    // loaded machine): wait for it, boundedly, instead of reading once.
    let mut started = 0;
    for _ in 0..100 {
        started = t.log_text(&id).await.matches("started").count();
        if started >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(started, 3);
}

#[tokio::test]
async fn pause_and_unpause() {
    let t = setup("pause").await;
    let id = t.run_sh("p", "while true; do date +%s%N; sleep 0.1; done").await;
    t.engine.pause_container(&id).await.unwrap();
    assert_eq!(t.inspect(&id).await.state, ContainerState::Paused);
    let n1 = t.log_text(&id).await.lines().count();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let n2 = t.log_text(&id).await.lines().count();
    assert_eq!(n1, n2, "a paused container prints nothing");
    t.engine.unpause_container(&id).await.unwrap();
    assert_eq!(t.inspect(&id).await.state, ContainerState::Running);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(t.log_text(&id).await.lines().count() > n2);
}

#[tokio::test]
async fn kill_with_signal_and_default() {
    let t = setup("kill").await;
    let id = t.run_sh("k", "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done").await;
    t.wait_for_log(&id, "ready", 10).await;
    t.engine.kill_container(&id, Some("SIGUSR1")).await.unwrap();
    t.wait_for_log(&id, "got-usr1", 10).await;
    assert!(t.inspect(&id).await.running);
    t.engine.kill_container(&id, None).await.unwrap();
    assert_eq!(t.wait_exit(&id).await, 137);
}

#[tokio::test]
async fn remove_force_and_with_volumes() {
    let t = setup("remove").await;
    // A running container needs force.
    let id = t.run_sh("rm", "sleep 60").await;
    assert!(t.engine.remove_container(&id, RemoveOptions::default()).await.is_err());
    t.engine.remove_container(&id, RemoveOptions { force: true, volumes: false }).await.unwrap();
    assert!(t.engine.inspect_container(&id).await.is_err());

    // Anonymous volumes go with `volumes: true`; named ones stay.
    let tag = format!("gantry-test/with-volume:{}", t.name("img"));
    let image = crate::images::build_dockerfile(&t, &tag, "FROM gantry-test/busybox:latest\nVOLUME /anon\n").await;
    let named = t.volume("keep").await;
    let mut spec = RunSpec::new(image);
    spec.name = Some(t.name("rmv"));
    spec.mounts = vec![MountSpec::parse(&format!("{}:/named", named.name)).unwrap()];
    let id = t.create(&spec).await;
    assert!(t.inspect(&id).await.mounts.iter().any(|m| m.target == "/anon"), "the image's VOLUME is mounted");
    let name = spec.name.clone().unwrap();
    let volumes = t.engine.list_volumes().await.unwrap();
    let anon_name = volumes
        .iter()
        .find(|v| v.anonymous && v.used_by.contains(&name))
        .unwrap_or_else(|| panic!("anonymous volume used by {name} in {volumes:?}"))
        .name
        .clone();
    t.engine.remove_container(&id, RemoveOptions { force: true, volumes: true }).await.unwrap();
    assert!(t.engine.inspect_volume(&anon_name).await.is_err(), "anonymous volume removed");
    assert!(t.engine.inspect_volume(&named.name).await.is_ok(), "named volume kept");
}

#[tokio::test]
async fn rename() {
    let t = setup("rename").await;
    let spec = t.sh("old", "sleep 60");
    let old = spec.name.clone().unwrap();
    let id = t.create(&spec).await;
    let new = t.name("new");
    t.engine.rename_container(&old, &new).await.unwrap();
    assert_eq!(t.inspect(&id).await.name, new);
    assert!(t.engine.inspect_container(&old).await.is_err());
}

#[tokio::test]
async fn top_lists_processes() {
    let t = setup("top").await;
    let id = t.run_sh("top", "sleep 61").await;
    let table = t.engine.top_container(&id).await.unwrap();
    assert!(table.titles.iter().any(|h| h == "PID"), "{:?}", table.titles);
    let cmd = table.titles.iter().position(|h| h == "CMD" || h == "COMMAND").expect("a command column");
    assert!(table.processes.iter().any(|p| p[cmd].contains("sleep 61")), "{:?}", table.processes);
}

#[tokio::test]
async fn changes_show_added_modified_deleted() {
    let t = setup("diff").await;
    let id = t.run(&t.sh("diff", "echo x > /tmp/added.txt; rm /bin/wget; echo y >> /etc/passwd")).await;
    assert_eq!(t.wait_exit(&id).await, 0);
    let changes = t.engine.container_changes(&id).await.unwrap();
    let has = |path: &str, kind| changes.iter().any(|c| c.path == path && c.kind == kind);
    assert!(has("/tmp/added.txt", FileChangeKind::Added), "{changes:?}");
    assert!(has("/bin/wget", FileChangeKind::Deleted), "{changes:?}");
    assert!(has("/etc/passwd", FileChangeKind::Modified), "{changes:?}");
}

#[tokio::test]
async fn published_port_answers_http_from_the_host() {
    let t = setup("port").await;
    let port = gantry_testkit::net::free_port().unwrap();
    let mut spec = t.sh("web", "echo hello-from-httpd > /var/www/index.html; exec httpd -f -p 80 -h /var/www");
    spec.ports = vec![gantry_engine::PortSpec::parse(&format!("127.0.0.1:{port}:80")).unwrap()];
    let id = t.run(&spec).await;
    let answer = gantry_testkit::net::http_get(port, "/", Duration::from_secs(10)).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body.trim(), "hello-from-httpd");
    let d = t.inspect(&id).await;
    assert!(d.ports.iter().any(|p| p.container_port == 80 && p.host_port == Some(port)), "{:?}", d.ports);
    let listed = t.engine.list_containers(&ContainerFilter::default()).await.unwrap();
    let row = listed.iter().find(|c| c.id == id).unwrap();
    assert!(row.ports.iter().any(|p| p.host_port == Some(port) && p.host_ip.as_deref() == Some("127.0.0.1")));
}
