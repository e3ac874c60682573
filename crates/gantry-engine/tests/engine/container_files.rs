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
