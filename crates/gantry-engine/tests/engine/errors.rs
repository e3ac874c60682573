//! Bad inputs give specific errors.

use std::net::TcpListener;

use gantry_engine::{Endpoint, Engine, EngineError, PortSpec, ResourceKind, RunSpec};

use crate::common::setup;

#[tokio::test]
async fn invalid_image_reference() {
    let t = setup("err-ref").await;
    let mut spec = RunSpec::new("Not A Valid//Reference:::");
    spec.name = Some(t.name("x"));
    let err = t.engine.run_container(&spec).await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidReference { .. }), "{err:?}");
    let err = t.engine.pull_image_to_end("UPPERCASE/image", None).await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidReference { .. }), "{err:?}");
    let err = t.engine.tag_image(crate::common::IMAGE, "bad tag!").await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidReference { .. }), "{err:?}");
}

#[tokio::test]
async fn host_port_already_in_use() {
    let t = setup("err-port").await;
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut spec = t.sh("web", "sleep 60");
    spec.ports = vec![PortSpec::parse(&format!("127.0.0.1:{port}:80")).unwrap()];
    let err = t.engine.run_container(&spec).await.unwrap_err();
    assert!(matches!(err, EngineError::PortInUse { port: ref p, .. } if *p == port.to_string()), "{err:?}");
    // The half-made container is gone: the same name works once the port is free.
    drop(taken);
    t.run(&spec).await;

    // Taken by another container: also PortInUse.
    let mut second = t.sh("web2", "sleep 60");
    second.ports = spec.ports.clone();
    let err = t.engine.run_container(&second).await.unwrap_err();
    assert!(matches!(err, EngineError::PortInUse { port: ref p, .. } if *p == port.to_string()), "{err:?}");
}

#[tokio::test]
async fn duplicate_container_name() {
    let t = setup("err-name").await;
    let spec = t.sh("dup", "sleep 60");
    t.create(&spec).await;
    let err = t.engine.create_container(&spec).await.unwrap_err();
    let name = spec.name.clone().unwrap();
    assert!(matches!(err, EngineError::NameInUse { name: ref n } if *n == name), "{err:?}");
}

#[tokio::test]
async fn missing_container() {
    let t = setup("err-missing").await;
    let ghost = t.name("ghost");
    for err in [
        t.engine.inspect_container(&ghost).await.unwrap_err(),
        t.engine.start_container(&ghost).await.unwrap_err(),
        t.engine.stop_container(&ghost, None).await.unwrap_err(),
        t.engine.remove_container(&ghost, Default::default()).await.unwrap_err(),
        t.engine.exec_output(&ghost, &["true"]).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, EngineError::NotFound { kind: ResourceKind::Container, ref id } if *id == ghost),
            "{err:?}"
        );
    }
    let err = t.engine.read_logs(&ghost, &Default::default()).await.unwrap_err();
    assert!(matches!(err, EngineError::NotFound { kind: ResourceKind::Container, .. }), "{err:?}");
}

#[tokio::test]
async fn missing_image() {
    let t = setup("err-image").await;
    let image = format!("gantry-test/{}:latest", t.name("absent"));
    let mut spec = RunSpec::new(&image);
    spec.name = Some(t.name("x"));
    let err = t.engine.run_container(&spec).await.unwrap_err();
    assert!(matches!(err, EngineError::ImageMissing { image: ref i } if i.contains("absent")), "{err:?}");
    let err = t.engine.inspect_image(&image).await.unwrap_err();
    assert!(
        matches!(err, EngineError::ImageMissing { .. } | EngineError::NotFound { kind: ResourceKind::Image, .. }),
        "{err:?}"
    );
    let err = t.engine.remove_image(&image, false).await.unwrap_err();
    assert!(
        matches!(err, EngineError::ImageMissing { .. } | EngineError::NotFound { kind: ResourceKind::Image, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_engine_names_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.sock");
    let err = Engine::connect(&Endpoint::Unix(path.clone())).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Unreachable { ref endpoint, .. } if endpoint.contains("nothing.sock")),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    // A socket file nobody listens on.
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(listener);
    let err = Engine::connect(&Endpoint::Unix(path)).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    let err = Endpoint::parse("ftp://x").unwrap_err();
    assert!(matches!(err, EngineError::InvalidEndpoint { .. }), "{err:?}");
}

#[tokio::test]
async fn pull_from_an_unreachable_registry_is_a_registry_error() {
    let t = setup("err-pull").await;
    let err = t.engine.pull_image_to_end("localhost:1/nope:latest", None).await.unwrap_err();
    assert!(matches!(err, EngineError::Registry { ref reference, .. } if reference.contains("localhost:1")), "{err:?}");
}
