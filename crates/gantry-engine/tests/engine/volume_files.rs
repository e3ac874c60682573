//! A volume's files: list, export, import through a never-started helper container; a damaged
//! archive changes nothing; a failed export leaves no file.

use gantry_engine::{EngineError, Existing, MountSpec};

use crate::common::setup;

/// Writes `script`'s files into a new volume; returns the volume's name.
async fn filled_volume(t: &crate::common::T, what: &str, script: &str) -> String {
    let v = t.volume(what).await;
    let mut writer = t.sh(&format!("{what}-writer"), script);
    writer.mounts = vec![MountSpec::parse(&format!("{}:/data", v.name)).unwrap()];
    let id = t.run(&writer).await;
    assert_eq!(t.wait_exit(&id).await, 0);
    v.name
}

fn paths(listing: &gantry_engine::VolumeListing) -> Vec<(String, String, u64)> {
    listing.entries.iter().map(|e| (e.path.clone(), e.kind.clone(), e.size)).collect()
}

#[tokio::test]
async fn list_export_import_round_trip() {
    let t = setup("volfiles-trip").await;
    let source =
        filled_volume(&t, "src", "mkdir -p /data/sub && echo hello > /data/sub/a.txt && ln -s sub/a.txt /data/link")
            .await;
    let listing = t.engine.list_volume_files(&source).await.unwrap();
    assert!(!listing.truncated);
    assert_eq!(
        paths(&listing),
        [("link".into(), "symlink".into(), 0), ("sub".into(), "dir".into(), 0), ("sub/a.txt".into(), "file".into(), 6)]
    );
    assert_eq!(listing.entries[0].link.as_deref(), Some("sub/a.txt"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.tar");
    let size = t.engine.export_volume(&source, &file, Existing::Keep).await.unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    assert!(!gantry_engine::partial_path(&file).exists());

    let copy = t.volume("copy").await;
    t.engine.import_volume(&copy.name, &file).await.unwrap();
    assert_eq!(paths(&t.engine.list_volume_files(&copy.name).await.unwrap()), paths(&listing));
    // No helper container is left behind.
    let all =
        t.engine.list_containers(&gantry_engine::ContainerFilter { all: true, ..Default::default() }).await.unwrap();
    assert!(all.iter().all(|c| !c.labels.contains_key(gantry_engine::volume_files::HELPER_LABEL)), "{all:?}");
}

#[tokio::test]
async fn a_damaged_archive_changes_nothing() {
    let t = setup("volfiles-damaged").await;
    let target = filled_volume(&t, "target", "echo original > /data/keep.txt").await;
    let before = paths(&t.engine.list_volume_files(&target).await.unwrap());

    // An archive whose second file is cut off in the middle (as a copy that stopped would be).
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in [("keep.txt", &b"replaced\n"[..]), ("big.bin", &[7u8; 100_000][..])] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        b.append_data(&mut h, name, body).unwrap();
    }
    let whole = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &whole[..50_000]).unwrap();
    let not_tar = dir.path().join("notes.txt");
    std::fs::write(&not_tar, "just some text, not an archive\n".repeat(40)).unwrap();
    let empty = dir.path().join("empty.tar");
    std::fs::write(&empty, [0u8; 1024]).unwrap();

    for bad in [&cut, &not_tar, &empty] {
        let err = t.engine.import_volume(&target, bad).await.unwrap_err();
        assert!(matches!(err, EngineError::InvalidArchive { .. }), "{}: {err:?}", bad.display());
        assert_eq!(err.code(), gantry_engine::EngineErrorCode::InvalidArchive);
    }
    let missing = t.engine.import_volume(&target, &dir.path().join("nope.tar")).await.unwrap_err();
    assert!(matches!(missing, EngineError::Io { .. }), "{missing:?}");
    assert_eq!(paths(&t.engine.list_volume_files(&target).await.unwrap()), before, "the volume is unchanged");
    gantry_testkit::reliability::bad_inputs("volume import (cut-off, non-tar, empty, missing archive)", 4);
    gantry_testkit::reliability::fault(
        "volume import of an archive cut off in the middle",
        "the volume is unchanged; the error names the archive and says it is cut off",
        "InvalidArchive before anything was sent; listing identical before and after",
    );
}

#[tokio::test]
async fn a_failed_export_leaves_no_file() {
    let t = setup("volfiles-export-fail").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.tar");
    let err = t.engine.export_volume(&t.name("missing"), &file, Existing::Keep).await.unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err:?}");
    let unwritable = dir.path().join("no-such-dir").join("out.tar");
    let source = filled_volume(&t, "src", "echo x > /data/x").await;
    let err = t.engine.export_volume(&source, &unwritable, Existing::Keep).await.unwrap_err();
    assert!(matches!(err, EngineError::Io { .. }), "{err:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// An export never replaces a file unless asked, and never writes through what lies at its
/// temporary name (a link planted there points elsewhere).
#[tokio::test]
async fn an_export_replaces_a_file_only_when_asked() {
    let t = setup("volfiles-existing").await;
    let source = filled_volume(&t, "src", "echo fresh > /data/x").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.tar");
    std::fs::write(&file, "keep me").unwrap();
    let err = t.engine.export_volume(&source, &file, Existing::Keep).await.unwrap_err();
    assert!(matches!(err, EngineError::FileExists { .. }), "{err:?}");
    assert_eq!(err.code(), gantry_engine::EngineErrorCode::FileExists);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me", "the file is untouched");

    #[cfg(unix)]
    {
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let fresh = dir.path().join("fresh.tar");
        std::os::unix::fs::symlink(&victim, gantry_engine::partial_path(&fresh)).unwrap();
        t.engine.export_volume(&source, &fresh, Existing::Keep).await.unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "written through the planted link");
        assert!(std::fs::metadata(&fresh).unwrap().len() > 0);
    }

    let size = t.engine.export_volume(&source, &file, Existing::Replace).await.unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size, "replaced when asked");
    assert!(!gantry_engine::partial_path(&file).exists());
}
