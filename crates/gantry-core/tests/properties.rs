//! Property tests of the settings file (proptest; cases per target: `PROPTEST_CASES`, 256 by
//! default): any settings read back as written; a save succeeds exactly when the settings are
//! valid, and a refused save leaves the file as it was; any bytes in the file load or give a
//! specific error, never a panic. Each target is recorded with `gantry_testkit::reliability::fuzz`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use gantry_core::settings::{
    self, EngineSource, HostFacts, Language, RegistryLogin, Settings, SettingsFileError, Theme, UiSettings, VmSettings,
};
use gantry_machine::engine_config::RegistryMirror;
use gantry_machine::shares::SharedFolder;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// `crashers_fixed`: failures this target found (kept in proptest-regressions/properties.txt).
fn check<S: Strategy>(
    target: &str,
    crashers_fixed: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    gantry_testkit::prop::check(target, file!(), crashers_fixed, strategy, test);
}

const HOST: HostFacts = HostFacts { cpus: 4, memory_mib: 16384, free_disk_gib: 100 };

/// Settings of every kind, valid or not; shared folders drawn from `folders`.
fn any_settings(folders: Vec<PathBuf>) -> impl Strategy<Value = Settings> {
    let folder =
        (prop::sample::select(folders), any::<bool>()).prop_map(|(path, read_only)| SharedFolder { path, read_only });
    let address = prop::sample::select(vec!["127.0.0.1", "0.0.0.0", "::1", "::", "192.0.2.1"])
        .prop_map(|a| a.parse::<IpAddr>().unwrap());
    let mirror =
        prop::sample::select(vec!["https://10.0.2.2:5443", "https://mirror.example", "http://x", "https://a/b"])
            .prop_map(|url| RegistryMirror { url: url.into(), ca_pem: None });
    let vm = (
        0u32..8,
        0u64..40_000,
        0u64..3_000,
        prop::collection::vec(folder, 0..4),
        address,
        prop::collection::vec(mirror, 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(cpus, memory_mib, disk_gib, shared_folders, port_bind_address, registry_mirrors, save_on_stop)| {
                VmSettings {
                    cpus,
                    memory_mib,
                    disk_gib,
                    shared_folders,
                    port_bind_address,
                    registry_mirrors,
                    save_on_stop,
                }
            },
        );
    let engine = prop_oneof![
        Just(EngineSource::GantryVm),
        prop::sample::select(vec![
            "unix:///var/run/docker.sock",
            "tcp://10.1.2.3:2376",
            "npipe:////./pipe/x",
            "",
            "nope://x"
        ])
        .prop_map(|e| EngineSource::Existing { endpoint: e.into() }),
    ];
    let ui = (
        prop::sample::select(vec![Theme::System, Theme::Light, Theme::Dark]),
        prop::sample::select(vec![Language::System, Language::En, Language::Ru]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(theme, language, start_at_login, host_terminal)| UiSettings {
            theme,
            language,
            start_at_login,
            host_terminal,
        });
    let registries = prop::collection::vec(
        ("[a-z.:0-9 ]{0,12}", ".{0,8}").prop_map(|(server, username)| RegistryLogin { server, username }),
        0..3,
    );
    (engine, any::<bool>(), vm, ui, registries).prop_map(|(engine, allow_plaintext_tcp, vm, ui, registries)| Settings {
        engine,
        allow_plaintext_tcp,
        vm,
        ui,
        registries,
    })
}

/// Folders for shares: two real ones, one inside another, and ones the rules refuse.
fn folders(root: &Path) -> Vec<PathBuf> {
    for d in ["a", "b", "a/inner"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    vec![
        root.join("a"),
        root.join("b"),
        root.join("a/inner"),
        root.join("missing"),
        PathBuf::from("relative/dir"),
        PathBuf::from("/"),
        PathBuf::from("/etc"),
        root.join("line\nbreak"),
    ]
}

#[test]
fn settings_read_back_as_written() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("settings.json");
    check("settings file round trip", 0, any_settings(folders(t.path())), |s| {
        std::fs::write(&path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
        prop_assert_eq!(settings::load(&path).unwrap(), s);
        Ok(())
    });
}

#[test]
fn a_save_succeeds_exactly_when_the_settings_are_valid() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("settings.json");
    let mut baseline = Settings::default();
    baseline.vm.shared_folders = vec![SharedFolder::writable(t.path())];
    check("settings save = validate (refused saves change nothing)", 0, any_settings(folders(t.path())), |s| {
        settings::save(&path, &baseline, &HOST).unwrap();
        let before = std::fs::read(&path).unwrap();
        match (s.validate(&HOST), settings::save(&path, &s, &HOST)) {
            (Ok(()), Ok(())) => {
                let back = settings::load(&path).unwrap();
                prop_assert_eq!(&back, &s);
                prop_assert_eq!(back.validate(&HOST), Ok(()));
            }
            (Err(want), Err(SettingsFileError::Invalid { errors })) => {
                prop_assert_eq!(errors, want);
                prop_assert_eq!(std::fs::read(&path).unwrap(), before);
            }
            (v, r) => return Err(TestCaseError::fail(format!("validate {v:?} but save {r:?}"))),
        }
        Ok(())
    });
}

#[test]
fn any_file_loads_or_says_what_is_wrong() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("settings.json");
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // JSON of the right shape with wrong types or values
        (0i64..3, prop::sample::select(vec!["1", "\"x\"", "-1", "null", "[]", "{}", "1e99", "18446744073709551616"]))
            .prop_map(|(field, v)| {
                let key = ["cpus", "memory_mib", "port_bind_address"][usize::try_from(field).unwrap()];
                format!(r#"{{"vm": {{"{key}": {v}}}}}"#).into_bytes()
            }),
    ];
    // found: a file that is not UTF-8 was reported as unreadable ("check the permissions")
    // instead of damaged ("fix or delete it")
    check("settings file reader on arbitrary bytes", 1, bytes, |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        match settings::load(&path) {
            Ok(s) => {
                // whatever loads also saves back and loads the same
                std::fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
                prop_assert_eq!(settings::load(&path).unwrap(), s);
            }
            Err(e @ SettingsFileError::Corrupt { .. }) => {
                prop_assert!(e.to_string().contains("settings.json"));
                prop_assert_eq!(std::fs::read(&path).unwrap(), bytes, "a corrupt file is left untouched");
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
        }
        Ok(())
    });
}
