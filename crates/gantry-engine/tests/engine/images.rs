//! Images: list, inspect, history, tag, remove, prune, build (.dockerignore, streamed output,
//! layers), save/load round trip, import of a root-filesystem tar.

use std::path::Path;

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec, EngineError, RunSpec};

use crate::common::{self, IMAGE, T, setup, setup_exclusive, within};

/// Builds `dockerfile` (in an otherwise empty context) as `tag`, tracked for removal; returns
/// the tag.
pub async fn build_dockerfile(t: &T, tag: &str, dockerfile: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    build(t, dir.path(), tag).await;
    tag.to_string()
}

/// Builds the context at `dir` as `tag`; returns all events.
pub async fn build(t: &T, dir: &Path, tag: &str) -> Vec<BuildEvent> {
    let spec = BuildSpec { context: dir.to_path_buf(), tag: Some(tag.to_string()), ..Default::default() };
    t.track_image(tag);
    let mut stream = t.engine.build_image(&spec);
    let mut events = Vec::new();
    within(120, async {
        while let Some(e) = stream.next().await {
            events.push(e.unwrap_or_else(|e| panic!("build {tag}: {e}; so far {events:?}")));
        }
    })
    .await;
    events
}

fn unique_tag(t: &T, repo: &str) -> String {
    format!("gantry-test/{repo}:{}", t.name("tag"))
}

#[tokio::test]
async fn list_shows_the_fixture_with_tag_size_and_use() {
    let t = setup("img-list").await;
    let tag = unique_tag(&t, "listed");
    t.engine.tag_image(IMAGE, &tag).await.unwrap();
    t.track_image(&tag);
    let images = t.engine.list_images(false).await.unwrap();
    let row = images.iter().find(|i| i.tags.contains(&tag)).expect("tagged image listed");
    assert!(row.tags.contains(&IMAGE.to_string()), "same image, both tags: {row:?}");
    assert!(row.size > 1_000_000, "busybox is ~2 MB: {row:?}");
    assert!(!row.dangling);
    // A container makes it in use.
    let mut spec = RunSpec::new(&tag);
    spec.name = Some(t.name("user"));
    t.create(&spec).await;
    let images = t.engine.list_images(false).await.unwrap();
    let row = images.iter().find(|i| i.tags.contains(&tag)).unwrap();
    assert!(row.in_use && row.containers >= 1, "{row:?}");
}

#[tokio::test]
async fn inspect_shows_config() {
    let t = setup("img-inspect").await;
    let d = t.engine.inspect_image(IMAGE).await.unwrap();
    assert!(d.id.starts_with("sha256:"), "{d:?}");
    assert!(d.tags.contains(&IMAGE.to_string()));
    assert_eq!((d.os.as_str(), d.cmd.clone()), ("linux", vec!["/bin/sh".to_string()]));
    assert_eq!(d.layer_count, 1);
    assert!(d.env.iter().any(|e| e == "PATH=/bin"), "{:?}", d.env);
}

#[tokio::test]
async fn inspect_names_the_platform_and_whether_it_runs_emulated() {
    let t = setup("img-platform").await;
    let engine_arch = t.engine.version().await.unwrap().arch;
    let d = t.engine.inspect_image(IMAGE).await.unwrap();
    assert_eq!(d.platform, format!("linux/{}", d.architecture), "{d:?}");
    assert_eq!(d.architecture, engine_arch, "the fixture is this machine's busybox");
    assert!(!d.emulated);

    // An arm64 image (Debian's arm64 busybox-static; ./scripts/test fetches it): on an amd64
    // engine its containers would run emulated.
    let Some(arm64) = std::env::var_os("GANTRY_TEST_ARM64_BUSYBOX") else {
        assert!(std::env::var_os("CI").is_none(), "GANTRY_TEST_ARM64_BUSYBOX must be set in CI");
        eprintln!("skipped the arm64 half: GANTRY_TEST_ARM64_BUSYBOX is not set");
        return;
    };
    // `docker import --platform` is ignored by older engines (20.10 records its own CPU), so the
    // image is loaded from a hand-made `docker save` archive whose config says arm64/v8.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("root/bin")).unwrap();
    std::fs::copy(&arm64, d.join("root/bin/busybox")).unwrap();
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(std::process::Command::new("tar").arg("-C").arg(d.join("root")).arg("-cf").arg(d.join("layer.tar")).arg("."));
    let diff_id = run(std::process::Command::new("sha256sum").arg(d.join("layer.tar")));
    let diff_id = diff_id.split_whitespace().next().unwrap();
    let tag = unique_tag(&t, "arm64");
    let config = serde_json::json!({
        "architecture": "arm64", "variant": "v8", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]}
    });
    std::fs::write(d.join("config.json"), config.to_string()).unwrap();
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]);
    std::fs::write(d.join("manifest.json"), manifest.to_string()).unwrap();
    run(std::process::Command::new("tar").arg("-C").arg(d).arg("-cf").arg(d.join("image.tar")).args([
        "manifest.json",
        "config.json",
        "layer.tar",
    ]));
    run(std::process::Command::new("docker").arg("load").arg("-i").arg(d.join("image.tar")));
    let d = t.engine.inspect_image(&tag).await.unwrap();
    t.engine.remove_image(&tag, true).await.unwrap();
    assert_eq!((d.os.as_str(), d.architecture.as_str()), ("linux", "arm64"), "{d:?}");
    assert_eq!(d.platform, "linux/arm64/v8");
    assert_eq!(d.emulated, engine_arch != "arm64");
}

#[tokio::test]
async fn build_honours_dockerignore_streams_output_and_adds_layers() {
    let t = setup("img-build").await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("Dockerfile"),
        "FROM gantry-test/busybox:latest\nCOPY . /ctx/\nRUN echo built-at-build-time > /built.txt && echo run-step-output\nENV GREETING=hi\nCMD [\"cat\", \"/built.txt\"]\n",
    )
    .unwrap();
    std::fs::write(p.join(".dockerignore"), "secret.txt\nlogs/\n*.tmp\n!keep.tmp\n").unwrap();
    for f in ["app.txt", "secret.txt", "scratch.tmp", "keep.tmp"] {
        std::fs::write(p.join(f), f).unwrap();
    }
    std::fs::create_dir(p.join("logs")).unwrap();
    std::fs::write(p.join("logs/a.log"), "x").unwrap();
    let tag = unique_tag(&t, "built");
    let events = build(&t, p, &tag).await;

    assert!(matches!(events.first(), Some(BuildEvent::Context { .. })), "{events:?}");
    let output: String = events
        .iter()
        .filter_map(|e| if let BuildEvent::Output { text } = e { Some(text.as_str()) } else { None })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(output.contains("Step 1/5 : FROM gantry-test/busybox:latest"), "{output}");
    assert!(output.contains("run-step-output"), "RUN output streams: {output}");
    let Some(BuildEvent::Done { image_id }) = events.last() else { panic!("ends with Done: {events:?}") };
    assert_eq!(&t.engine.inspect_image(&tag).await.unwrap().id, image_id);

    // Layers: the base layer + COPY + RUN; history lists each instruction.
    let d = t.engine.inspect_image(&tag).await.unwrap();
    assert_eq!(d.layer_count, 3, "{d:?}");
    let history = t.engine.image_history(&tag).await.unwrap();
    let by: Vec<_> = history.iter().map(|l| l.created_by.as_str()).collect();
    assert!(by.iter().any(|c| c.contains("COPY")), "{by:?}");
    assert!(by.iter().any(|c| c.contains("echo built-at-build-time")), "{by:?}");
    assert!(by.iter().any(|c| c.contains("GREETING=hi")), "{by:?}");
    assert!(history.iter().any(|l| l.size > 0 && l.created_by.contains("COPY")));

    // The context honoured .dockerignore.
    let mut spec = RunSpec::new(&tag);
    spec.name = Some(t.name("ls"));
    spec.command = vec!["sh".into(), "-c".into(), "ls -A /ctx | sort | tr '\\n' ' '".into()];
    let id = t.run(&spec).await;
    t.wait_exit(&id).await;
    let logs = t.log_text(&id).await;
    assert!(logs.contains(".dockerignore Dockerfile app.txt keep.tmp"), "{logs}");
    let mut spec = RunSpec::new(&tag);
    spec.name = Some(t.name("cmd"));
    let id = t.run(&spec).await;
    t.wait_exit(&id).await;
    assert_eq!(t.log_text(&id).await.trim(), "built-at-build-time");
}

#[tokio::test]
async fn build_failure_is_a_build_error() {
    let t = setup("img-build-fail").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM gantry-test/busybox:latest\nRUN echo failing; exit 42\n")
        .unwrap();
    let spec = BuildSpec { context: dir.path().to_path_buf(), tag: Some(unique_tag(&t, "fail")), ..Default::default() };
    let mut stream = t.engine.build_image(&spec);
    let mut err = None;
    within(60, async {
        while let Some(e) = stream.next().await {
            if let Err(e) = e {
                err = Some(e);
                break;
            }
        }
    })
    .await;
    let err = err.expect("the build fails");
    assert!(matches!(err, EngineError::Build { ref message } if message.contains("42")), "{err:?}");
}

#[tokio::test]
async fn tag_and_remove() {
    let t = setup("img-tag").await;
    let tag = unique_tag(&t, "tagged");
    t.engine.tag_image(IMAGE, &tag).await.unwrap();
    t.track_image(&tag);
    assert_eq!(t.engine.inspect_image(&tag).await.unwrap().id, t.engine.inspect_image(IMAGE).await.unwrap().id);
    let removed = t.engine.remove_image(&tag, false).await.unwrap();
    assert!(removed.iter().any(|r| r.contains(&tag)), "untagged: {removed:?}");
    assert!(t.engine.inspect_image(&tag).await.is_err());
    assert!(t.engine.inspect_image(IMAGE).await.is_ok(), "the other tag keeps the image");
}

#[tokio::test]
async fn prune_removes_dangling_images() {
    let Some(t) = setup_exclusive("img-prune").await else { return };
    let tag = unique_tag(&t, "dangling");
    let first = build_dockerfile(&t, &tag, "FROM gantry-test/busybox:latest\nRUN echo one > /v\n").await;
    let old_id = t.engine.inspect_image(&first).await.unwrap().id;
    build_dockerfile(&t, &tag, "FROM gantry-test/busybox:latest\nRUN echo two > /v\n").await;
    let listed = t.engine.list_images(false).await.unwrap();
    let old = listed.iter().find(|i| i.id == old_id).expect("old image still there, untagged");
    assert!(old.dangling && old.tags.is_empty(), "{old:?}");
    let report = t.engine.prune_images(false).await.unwrap();
    assert!(report.deleted.iter().any(|d| d.contains(old_id.trim_start_matches("sha256:"))), "{report:?}");
    assert!(report.space_reclaimed > 0, "{report:?}");
    assert!(t.engine.inspect_image(&old_id).await.is_err());
    assert!(t.engine.inspect_image(&tag).await.is_ok(), "tagged image survives");
    assert!(t.engine.inspect_image(IMAGE).await.is_ok());
}

#[tokio::test]
async fn save_then_load_round_trips() {
    let t = setup("img-save").await;
    let tag = unique_tag(&t, "saved");
    build_dockerfile(&t, &tag, "FROM gantry-test/busybox:latest\nRUN echo saved-content > /saved.txt\n").await;
    let id = t.engine.inspect_image(&tag).await.unwrap().id;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("images.tar");
    let size = t.engine.save_images(std::slice::from_ref(&tag), &file, gantry_engine::Existing::Keep).await.unwrap();
    assert_eq!(size, std::fs::metadata(&file).unwrap().len());
    assert!(size > 1_000_000, "{size}");
    // The file is a docker-save tar with a manifest naming the tag.
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    let names: Vec<String> =
        archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");

    t.engine.remove_image(&tag, true).await.unwrap();
    assert!(t.engine.inspect_image(&tag).await.is_err());
    let loaded = t.engine.load_images(&file).await.unwrap();
    assert!(loaded.iter().any(|l| l.contains(&tag)), "{loaded:?}");
    assert_eq!(t.engine.inspect_image(&tag).await.unwrap().id, id, "same image ID after the round trip");
    let mut spec = RunSpec::new(&tag);
    spec.name = Some(t.name("run"));
    spec.command = vec!["cat".into(), "/saved.txt".into()];
    let c = t.run(&spec).await;
    t.wait_exit(&c).await;
    assert_eq!(t.log_text(&c).await.trim(), "saved-content");
}

#[tokio::test]
async fn export_streams_a_docker_save_tar() {
    let t = setup("img-export").await;
    let mut bytes = Vec::new();
    let mut stream = t.engine.export_image(IMAGE);
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    let mut archive = tar::Archive::new(bytes.as_slice());
    let names: Vec<String> =
        archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    assert!(bytes.len() > 1_000_000, "the busybox layer is in the stream: {} bytes", bytes.len());
    // Dropping the stream after the first chunk ends the export.
    let mut partial = t.engine.export_image(IMAGE);
    assert!(partial.next().await.unwrap().is_ok());
    drop(partial);
    let missing = t.engine.export_image("gantry-test/no-such-image:1").next().await.unwrap();
    assert!(matches!(missing, Err(EngineError::NotFound { .. })), "{missing:?}");
}

#[tokio::test]
async fn load_from_a_stream() {
    let t = setup("img-save-stream").await;
    let tag = unique_tag(&t, "streamed");
    build_dockerfile(&t, &tag, "FROM gantry-test/busybox:latest\nRUN echo streamed > /streamed.txt\n").await;
    let id = t.engine.inspect_image(&tag).await.unwrap().id;
    // The archive arrives in several chunks (not one buffer) and is a tar with manifest.json.
    let mut chunks = Vec::new();
    let mut stream = t.engine.export_image(&tag);
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    assert!(chunks.len() > 1, "{} chunk(s)", chunks.len());
    let archive: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    let mut tar = tar::Archive::new(archive.as_slice());
    let names: Vec<String> = tar.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");

    t.engine.remove_image(&tag, true).await.unwrap();
    let body = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let loaded = t.engine.load_images_from_stream(body, "the streamed archive").await.unwrap();
    assert!(loaded.iter().any(|l| l.contains(&tag)), "{loaded:?}");
    assert_eq!(t.engine.inspect_image(&tag).await.unwrap().id, id);

    // A stream that breaks half-way loads nothing and says why.
    t.engine.remove_image(&tag, true).await.unwrap();
    let half: Vec<std::io::Result<bytes::Bytes>> = vec![
        Ok(bytes::Bytes::copy_from_slice(&archive[..archive.len() / 2])),
        Err(std::io::Error::other("the bundle file ended early")),
    ];
    let err = t.engine.load_images_from_stream(futures_util::stream::iter(half), "a broken stream").await.unwrap_err();
    assert!(!matches!(err, gantry_engine::EngineError::NotFound { .. }), "{err:?}");
    assert!(t.engine.inspect_image(&tag).await.is_err(), "nothing loaded from a broken stream");
}

#[tokio::test]
async fn image_store_matches_docker_info() {
    let t = setup("img-store").await;
    let store = t.engine.image_store().await.unwrap();
    let info = t.engine.raw().info().await.unwrap();
    let driver_type = info
        .driver_status
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.first().is_some_and(|k| k == "driver-type"))
        .and_then(|p| p.get(1).cloned())
        .unwrap_or_default();
    let expected = if driver_type.starts_with("io.containerd.snapshotter") {
        gantry_engine::ImageStore::Containerd
    } else {
        gantry_engine::ImageStore::Classic
    };
    assert_eq!(store, expected, "driver-type {driver_type:?}");
}

#[tokio::test]
async fn import_a_root_filesystem_tar() {
    let t = setup("img-import").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rootfs.tar");
    common::busybox_rootfs_tar(&file);
    let tag = unique_tag(&t, "imported");
    t.track_image(&tag);
    let id = t
        .engine
        .import_rootfs(&file, &tag, &["CMD [\"echo\", \"imported-and-running\"]".into(), "ENV PATH=/bin".into()])
        .await
        .unwrap();
    let d = t.engine.inspect_image(&tag).await.unwrap();
    assert_eq!(d.id, id);
    assert_eq!(d.cmd, ["echo", "imported-and-running"]);
    let mut spec = RunSpec::new(&tag);
    spec.name = Some(t.name("run"));
    let c = t.run(&spec).await;
    t.wait_exit(&c).await;
    assert_eq!(t.log_text(&c).await.trim(), "imported-and-running");
}
