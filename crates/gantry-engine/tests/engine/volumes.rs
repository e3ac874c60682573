//! Volumes: data outlives containers, list shows users, inspect, remove, prune.

use gantry_engine::{EngineError, MountSpec, RemoveOptions, ResourceKind};

use crate::common::{setup, setup_exclusive};

#[tokio::test]
async fn data_survives_container_removal() {
    let t = setup("vol-data").await;
    let v = t.volume("data").await;
    let mount = MountSpec::parse(&format!("{}:/data", v.name)).unwrap();
    let mut writer = t.sh("writer", "echo persisted-$((6*7)) > /data/file");
    writer.mounts = vec![mount.clone()];
    let w = t.run(&writer).await;
    assert_eq!(t.wait_exit(&w).await, 0);
    t.engine.remove_container(&w, RemoveOptions { force: true, volumes: true }).await.unwrap();
    let mut reader = t.sh("reader", "cat /data/file");
    reader.mounts = vec![mount];
    let r = t.run(&reader).await;
    t.wait_exit(&r).await;
    assert_eq!(t.log_text(&r).await.trim(), "persisted-42");
}

#[tokio::test]
async fn list_shows_which_containers_use_a_volume() {
    let t = setup("vol-list").await;
    let v = t.volume("used").await;
    let unused = t.volume("unused").await;
    let mut spec = t.sh("user", "sleep 60");
    spec.mounts = vec![MountSpec::parse(&format!("{}:/data:ro", v.name)).unwrap()];
    let user = spec.name.clone().unwrap();
    let id = t.create(&spec).await;
    let volumes = t.engine.list_volumes().await.unwrap();
    let row = volumes.iter().find(|x| x.name == v.name).expect("listed");
    assert_eq!(row.used_by, vec![user.clone()]);
    assert!(!row.anonymous);
    assert_eq!(row.driver, "local");
    assert!(volumes.iter().find(|x| x.name == unused.name).unwrap().used_by.is_empty());
    let mount = t.inspect(&id).await.mounts.into_iter().find(|m| m.target == "/data").unwrap();
    assert!(mount.read_only);
    assert_eq!(mount.kind, "volume");
}

#[tokio::test]
async fn create_inspect_remove() {
    let t = setup("vol-crud").await;
    let name = t.name("crud");
    let created = t.engine.create_volume(&name, &[("org.gantry.test".into(), "1".into())]).await.unwrap();
    t.track_volume(&name);
    let inspected = t.engine.inspect_volume(&name).await.unwrap();
    assert_eq!(inspected.name, created.name);
    assert_eq!(inspected.labels.get("org.gantry.test").map(String::as_str), Some("1"));
    assert!(inspected.mountpoint.ends_with(&format!("{name}/_data")), "{inspected:?}");
    t.engine.remove_volume(&name, false).await.unwrap();
    let err = t.engine.inspect_volume(&name).await.unwrap_err();
    assert!(matches!(err, EngineError::NotFound { kind: ResourceKind::Volume, .. }), "{err:?}");
}

#[tokio::test]
async fn a_volume_in_use_cannot_be_removed() {
    let t = setup("vol-inuse").await;
    let v = t.volume("busy").await;
    let mut spec = t.sh("user", "sleep 60");
    spec.mounts = vec![MountSpec::parse(&format!("{}:/data", v.name)).unwrap()];
    t.create(&spec).await;
    let err = t.engine.remove_volume(&v.name, false).await.unwrap_err();
    assert!(matches!(err, EngineError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn prune_removes_unused_volumes_only() {
    let Some(t) = setup_exclusive("vol-prune").await else { return };
    let unused = t.volume("unused").await;
    let used = t.volume("used").await;
    let mut spec = t.sh("user", "sleep 60");
    spec.mounts = vec![MountSpec::parse(&format!("{}:/data", used.name)).unwrap()];
    t.create(&spec).await;
    let report = t.engine.prune_volumes(false).await.unwrap();
    assert!(report.deleted.contains(&unused.name), "{report:?}");
    assert!(!report.deleted.contains(&used.name), "{report:?}");
    assert!(t.engine.inspect_volume(&used.name).await.is_ok());
}
