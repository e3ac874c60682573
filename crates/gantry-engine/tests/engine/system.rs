//! System: info, version (negotiated), disk usage, prune.

use gantry_engine::RunSpec;

use crate::common::{IMAGE, setup, setup_exclusive};

#[tokio::test]
async fn info_describes_the_engine() {
    let t = setup("sys-info").await;
    let id = t.sleeper("i").await;
    let info = t.engine.info().await.unwrap();
    assert!(!info.server_version.is_empty() && info.cpus >= 1 && info.memory_bytes > 0, "{info:?}");
    assert!(info.containers >= 1 && info.containers_running >= 1 && info.images >= 1, "{info:?}");
    assert!(!info.os.is_empty());
    assert!(!info.docker_root_dir.is_empty());
    let cli = crate::common::docker(&["info", "--format", "{{.DockerRootDir}}"]);
    assert_eq!(String::from_utf8_lossy(&cli.stdout).trim(), info.docker_root_dir, "same engine as the CLI");
    assert!(t.inspect(&id).await.running);
}

#[tokio::test]
async fn version_is_negotiated() {
    let t = setup("sys-version").await;
    let v = t.engine.version().await.unwrap();
    assert!(!v.version.is_empty() && !v.api_version.is_empty() && !v.go_version.is_empty(), "{v:?}");
    assert_eq!(v.os, "linux");
    let parse = |s: &str| s.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(parse(&v.negotiated_api_version) <= parse(&v.api_version), "{v:?}");
    assert!(parse(&v.negotiated_api_version) >= parse(&v.min_api_version), "{v:?}");
}

#[tokio::test]
async fn disk_usage_counts_images_containers_volumes() {
    let t = setup("sys-df").await;
    let v = t.volume("df").await;
    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some(t.name("df"));
    spec.mounts = vec![gantry_engine::MountSpec::parse(&format!("{}:/d", v.name)).unwrap()];
    t.create(&spec).await;
    let df = t.engine.disk_usage().await.unwrap();
    assert!(df.images.total >= 1 && df.images.size > 1_000_000 && df.images.active >= 1, "{df:?}");
    assert!(df.containers.total >= 1, "{df:?}");
    assert!(df.volumes.total >= 1 && df.volumes.active >= 1, "{df:?}");
    assert!(df.volume_sizes.contains_key(&v.name), "{df:?}");
}

#[tokio::test]
async fn prune_removes_stopped_containers_and_unused_networks() {
    let Some(t) = setup_exclusive("sys-prune").await else { return };
    let stopped = t.run(&t.sh("stopped", "true")).await;
    t.wait_exit(&stopped).await;
    let running = t.sleeper("running").await;
    let net = t.network(Default::default()).await;
    let report = t.engine.prune_system(false, false).await.unwrap();
    assert!(report.containers.contains(&stopped), "{report:?}");
    assert!(!report.containers.contains(&running), "{report:?}");
    assert!(report.networks.contains(&net), "{report:?}");
    assert!(t.engine.inspect_container(&stopped).await.is_err());
    assert!(t.engine.inspect_container(&running).await.is_ok());
    assert!(t.engine.inspect_image(IMAGE).await.is_ok(), "a tagged image is not dangling");
}
