//! Fault test: this computer's disk is full (a small tmpfs) when settings and registry logins
//! are saved. The save fails with the system's words and the file it names, the old file stays
//! whole, and nothing is left behind; once space is free, the same save works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gantry_core::credentials::{CredentialError, CredentialStore};
use gantry_core::settings::{self, HostFacts, Settings, SettingsFileError};
use gantry_engine::RegistryAuth;
use gantry_machine::shares::SharedFolder;
use gantry_testkit::tmpfs::SmallTmpfs;

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn settings_and_logins_on_a_full_disk() {
    let t = tempfile::tempdir().unwrap();
    let fs = match SmallTmpfs::mount(&t.path().join("small"), 1 << 20) {
        Ok(fs) => fs,
        Err(why) => {
            gantry_testkit::skip::skipped(
                "settings_and_logins_on_a_full_disk",
                &format!("cannot mount a small tmpfs ({why})"),
            );
            return;
        }
    };
    let dir = fs.dir().join("default");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("settings.json");
    let host = HostFacts { cpus: 4, memory_mib: 16384, free_disk_gib: 0 };
    let mut first = Settings::default();
    first.vm.shared_folders = vec![SharedFolder::writable(t.path())];
    settings::save(&path, &first, &host).unwrap();
    let before = std::fs::read(&path).unwrap();
    let store = CredentialStore::new(fs.dir().join("docker"));
    let login =
        |user: &str| RegistryAuth { server: "registry.example".into(), username: user.into(), password: "pw".into() };
    store.store_blocking(&login("first")).unwrap();
    let logins_before = std::fs::read(store.config_path()).unwrap();

    let filler = fs.fill().unwrap();
    let mut second = first.clone();
    second.vm.cpus = 3;
    match settings::save(&path, &second, &host) {
        Err(e @ SettingsFileError::Write { .. }) => {
            let text = e.to_string();
            assert!(text.contains("No space left on device") && text.contains("settings.json"), "{text}");
            assert!(e.hint().contains("free some space"), "{}", e.hint());
        }
        other => panic!("a save on a full disk must fail with a write error: {other:?}"),
    }
    let r = settings::update(&path, &host, |s| {
        s.vm.cpus = 1;
        Ok(())
    });
    assert!(matches!(r, Err(SettingsFileError::Write { .. })), "{r:?}");
    match store.store_blocking(&login("second")) {
        Err(e @ CredentialError::Write { .. }) => {
            assert!(e.to_string().contains("No space left on device"), "{e}");
        }
        other => panic!("a login on a full disk must fail with a write error: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "the settings file is kept whole");
    assert_eq!(std::fs::read(store.config_path()).unwrap(), logins_before, "the logins file is kept whole");
    assert_eq!(files_in(&dir), ["settings.json"], "no temporary file left");
    assert_eq!(files_in(&fs.dir().join("docker")), ["config.json"], "no temporary file left");

    std::fs::remove_file(filler).unwrap();
    settings::save(&path, &second, &host).unwrap();
    assert_eq!(settings::load(&path).unwrap().vm.cpus, 3);
    store.store_blocking(&login("second")).unwrap();
    assert_eq!(store.get_blocking("registry.example").unwrap().unwrap().username, "second");
    gantry_testkit::reliability::fault(
        "disk full (small tmpfs) while saving settings and a registry login",
        "the save fails naming the file and the cause; the old file stays whole; no temporary file; works once space is free",
        "No space left on device, settings.json and config.json unchanged, saved after freeing space",
    );
}
