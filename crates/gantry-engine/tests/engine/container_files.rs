//! Reading a file out of a stopped container: from its writable layer, its image and a volume.

use gantry_engine::{EngineError, MountSpec};

use crate::common::setup;

#[tokio::test]
async fn reads_files_from_layer_image_and_volume_of_a_stopped_container() {
    let t = setup("cfile").await;
    let v = t.volume("data").await;
    let mut spec = t.sh("writer", "echo written-by-the-container > /tmp/note; echo in-the-volume > /data/v.txt");
    spec.mounts = vec![MountSpec::parse(&format!("{}:/data", v.name)).unwrap()];
    let id = t.run(&spec).await;
    assert_eq!(t.wait_exit(&id).await, 0);

    let note = t.engine.read_container_file(&id, "/tmp/note", 1024).await.unwrap().expect("the file exists");
    assert_eq!(String::from_utf8_lossy(&note.bytes), "written-by-the-container\n");
    assert!(!note.truncated);

    let in_volume = t.engine.read_container_file(&id, "/data/v.txt", 1024).await.unwrap().expect("in the volume");
    assert_eq!(in_volume.bytes, b"in-the-volume\n");

    let cut = t.engine.read_container_file(&id, "/etc/passwd", 4).await.unwrap().expect("from the image");
    assert_eq!((cut.bytes.as_slice(), cut.truncated), (&b"root"[..], true));

    assert_eq!(t.engine.read_container_file(&id, "/tmp/absent", 1024).await.unwrap(), None);
    let dir = t.engine.read_container_file(&id, "/tmp", 1024).await.unwrap_err();
    assert!(matches!(dir, EngineError::InvalidRequest { .. }), "{dir:?}");
    let relative = t.engine.read_container_file(&id, "tmp/note", 1024).await.unwrap_err();
    assert!(matches!(relative, EngineError::InvalidRequest { .. }), "{relative:?}");
    let gone = t.engine.read_container_file("no-such-container-cfile", "/tmp/note", 10).await.unwrap_err();
    assert!(matches!(gone, EngineError::NotFound { .. }), "{gone:?}");
}

#[tokio::test]
async fn reads_a_file_of_a_volume_no_container_mounts() {
    let t = setup("vfile").await;
    let v = t.volume("data").await;
    let mut spec = t.sh("writer", "mkdir -p /data/notes && echo kept > /data/notes/a.txt");
    spec.mounts = vec![MountSpec::parse(&format!("{}:/data", v.name)).unwrap()];
    let id = t.run(&spec).await;
    assert_eq!(t.wait_exit(&id).await, 0);
    t.engine.remove_container(&id, gantry_engine::RemoveOptions::default()).await.unwrap();

    let file = t.engine.read_volume_file(&v.name, "notes/a.txt", 1024).await.unwrap().expect("the file");
    assert_eq!(file.bytes, b"kept\n");
    assert_eq!(t.engine.read_volume_file(&v.name, "notes/absent.txt", 1024).await.unwrap(), None);
    let missing = t.engine.read_volume_file("no-such-volume-vfile", "a.txt", 10).await.unwrap_err();
    assert!(matches!(missing, EngineError::NotFound { .. }), "{missing:?}");
    // The helpers that read it are gone.
    let all = gantry_engine::ContainerFilter { all: true, ..Default::default() };
    let left = t.engine.list_containers(&all).await.unwrap();
    assert!(!left.iter().any(|c| c.mounts.contains(&v.name)), "{left:?}");
}
