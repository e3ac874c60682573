//! The driver against a FAKE `wsl.exe` (the real one cannot run on Linux or under Wine): an
//! in-memory WSL that answers like wsl.exe does (UTF-16LE, German headers, exit codes, error
//! codes) and a guest that reads the start payload, says it is ready, and shuts down when its
//! input closes. What the fake cannot show (the real import, the localhost relay) is in
//! docs/windows.md's manual checklist.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::*;
use crate::wsl2::exe::RawOutput;
use crate::wsl2::output::encode_utf16le;
use crate::wsl2::payload;

#[derive(Default)]
pub(crate) struct State {
    /// name → (WSL version, running)
    pub(crate) distros: BTreeMap<String, (u8, bool)>,
    pub(crate) calls: Vec<String>,
    /// a failure every import answers with (exit code, output)
    import_fails: Option<String>,
    /// wsl.exe is not there at all
    missing: bool,
    /// what the engine guest received on its input
    pub(crate) payloads: Vec<Vec<(String, Vec<u8>)>>,
}

/// A fake `wsl.exe` (shared by the driver's tests in `driver/wsl2.rs`).
#[derive(Clone, Default)]
pub(crate) struct FakeWsl(Arc<Mutex<State>>);

impl FakeWsl {
    /// What the fake WSL holds and was told.
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
}

fn out(exit: i32, text: &str) -> RawOutput {
    RawOutput { exit: Some(exit), stdout: encode_utf16le(text), stderr: Vec::new() }
}

impl WslExe for FakeWsl {
    async fn run(&self, args: Vec<OsString>) -> std::io::Result<RawOutput> {
        let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let mut s = self.0.lock().unwrap();
        if s.missing {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        s.calls.push(words.join(" "));
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        Ok(match w.as_slice() {
            ["--list", "--verbose"] if s.distros.is_empty() => {
                out(-1, "Das Windows-Subsystem für Linux hat keine installierten Distributionen.\n")
            }
            ["--list", "--verbose"] => {
                let mut text = "  NAME            STATUS            VERSION\n".to_owned();
                for (name, (version, running)) in &s.distros {
                    let state = if *running { "Wird ausgeführt" } else { "Beendet" };
                    text.push_str(&format!("  {name:<15} {state:<17} {version}\n"));
                }
                out(0, &text)
            }
            ["--list", "--running", "--quiet"] => {
                let names: Vec<&str> = s.distros.iter().filter(|(_, (_, r))| *r).map(|(n, _)| n.as_str()).collect();
                if names.is_empty() {
                    out(-1, "Es werden keine Distributionen ausgeführt.\n")
                } else {
                    out(0, &(names.join("\n") + "\n"))
                }
            }
            ["--import", name, dir, tar, "--version", "2"] => {
                assert!(std::path::Path::new(dir).is_dir() && std::path::Path::new(tar).is_file());
                if let Some(failure) = &s.import_fails {
                    out(-1, failure)
                } else if s.distros.contains_key(*name) {
                    out(-1, "Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\n")
                } else {
                    s.distros.insert((*name).to_owned(), (2, false));
                    out(0, "Der Vorgang wurde erfolgreich beendet.\n")
                }
            }
            ["--terminate", name] => match s.distros.get_mut(*name) {
                Some(d) => {
                    d.1 = false;
                    out(0, "")
                }
                None => out(-1, "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n"),
            },
            ["--unregister", name] => match s.distros.remove(*name) {
                Some(_) => out(0, ""),
                None => out(-1, "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n"),
            },
            other => panic!("the driver ran an unexpected wsl.exe command: {other:?}"),
        })
    }

    async fn keep_alive(&self, args: Vec<OsString>, input: Vec<u8>) -> std::io::Result<KeepAlive> {
        let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let name = words[1].clone();
        {
            let mut s = self.0.lock().unwrap();
            s.calls.push(words.join(" "));
            s.distros.get_mut(&name).expect("keep-alive of a registered distribution").1 = true;
        }
        let is_engine = words.iter().any(|w| w == args::ENGINE_INIT);
        let (tx, lines) = mpsc::channel(8);
        let (host_end, mut guest_end) = tokio::io::duplex(64 * 1024);
        let state = self.0.clone();
        tokio::spawn(async move {
            let mut got = input;
            if is_engine {
                match payload::decode(&got) {
                    Ok(files) => {
                        state.lock().unwrap().payloads.push(files);
                        let _ = tx.send("gantry-init: dockerd: starting [1.2s]".into()).await;
                        let _ = tx.send(READY.into()).await;
                    }
                    Err(e) => {
                        let _ = tx.send(format!("{FAILED}tls: {e}")).await;
                        return;
                    }
                }
            }
            // the input stays open until the host closes it
            got.clear();
            let _ = guest_end.read_to_end(&mut got).await;
            if is_engine {
                let _ = tx.send(SHUT_DOWN.into()).await;
            }
        });
        Ok(KeepAlive::from_parts(lines, Box::new(host_end)))
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    fake: FakeWsl,
    wsl: Wsl<FakeWsl>,
    layout: Layout,
}

fn setup(version: &str, dir: Option<tempfile::TempDir>) -> Setup {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let engine = dir.path().join("wsl-rootfs.tar.gz");
    let data = dir.path().join("wsl-data.tar.gz");
    std::fs::write(&engine, b"engine").unwrap();
    std::fs::write(&data, b"data").unwrap();
    let layout = Layout::new(&dir.path().join("default"));
    let rootfs = Rootfs { engine, data, version: version.into() };
    let fake = FakeWsl::default();
    let wsl = Wsl::new(fake.clone(), Distros::for_instance("default").unwrap(), layout.clone(), rootfs);
    Setup { _dir: dir, fake, wsl, layout }
}

fn tls() -> Vec<u8> {
    payload::encode(&[("ca.pem", b"CA"), ("server-cert.pem", b"CERT"), ("server-key.pem", b"KEY")]).unwrap()
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn first_start_imports_both_then_stop_is_clean() {
    let mut s = setup("v1", None);
    s.fake.0.lock().unwrap().distros.insert("Ubuntu".into(), (2, true));
    let seen = Mutex::new(Vec::new());
    s.wsl.start(tls(), WAIT, &|step| seen.lock().unwrap().push(step.clone())).await.unwrap();
    use Step::*;
    assert_eq!(
        *seen.lock().unwrap(),
        [Import(Which::Data), Import(Which::Engine), KeepAlive(Which::Data), KeepAlive(Which::Engine), WaitEngineReady]
    );
    {
        let st = s.fake.0.lock().unwrap();
        assert_eq!(st.distros["gantry"], (2, true));
        assert_eq!(st.distros["gantry-data"], (2, true));
        // the TLS material went in on the engine's input, nowhere else
        assert_eq!(st.payloads[0][2], ("server-key.pem".to_owned(), b"KEY".to_vec()));
    }
    assert_eq!(std::fs::read_to_string(s.layout.image_record()).unwrap(), "v1");
    assert!(s.wsl.stop(WAIT).await.unwrap(), "the guest confirmed a clean shutdown");
    let st = s.fake.0.lock().unwrap();
    assert_eq!(st.distros["gantry"], (2, false));
    assert_eq!(st.distros["gantry-data"], (2, false));
    assert_eq!(st.distros["Ubuntu"], (2, true), "another distribution is left alone");
    assert!(st.calls.iter().any(|c| c == "--terminate gantry"));
}

#[tokio::test]
async fn an_upgrade_replaces_the_engine_and_keeps_the_data() {
    let first = setup("v1", None);
    let mut s1 = first;
    s1.wsl.start(tls(), WAIT, &|_| {}).await.unwrap();
    s1.wsl.stop(WAIT).await.unwrap();
    let state = std::mem::take(&mut *s1.fake.0.lock().unwrap());
    // the same instance directory, a new guest image
    let mut s2 = setup("v2", Some(s1._dir));
    *s2.fake.0.lock().unwrap() = State { distros: state.distros, ..State::default() };
    s2.wsl.start(tls(), WAIT, &|_| {}).await.unwrap();
    let calls = s2.fake.0.lock().unwrap().calls.clone();
    assert!(calls.iter().any(|c| c == "--unregister gantry"), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c.contains("--unregister gantry-data") || c.contains("--import gantry-data")),
        "{calls:?}"
    );
    assert_eq!(std::fs::read_to_string(s2.layout.image_record()).unwrap(), "v2");
    s2.wsl.stop(WAIT).await.unwrap();
    s2.wsl.delete(false).await.unwrap();
    let st = s2.fake.0.lock().unwrap();
    assert!(!st.distros.contains_key("gantry") && st.distros.contains_key("gantry-data"));
}

#[tokio::test]
async fn a_foreign_distribution_named_gantry_is_never_touched() {
    let mut s = setup("v1", None);
    s.fake.0.lock().unwrap().distros.insert("gantry".into(), (2, false));
    s.fake.0.lock().unwrap().distros.insert("gantry-data".into(), (2, false));
    std::fs::create_dir_all(s.layout.dir(Which::Data)).unwrap();
    std::fs::write(s.layout.marker(Which::Data), "gantry-data").unwrap();
    let e = s.wsl.start(tls(), WAIT, &|_| {}).await.unwrap_err();
    assert!(matches!(&e, WslError::NotOurs { name, .. } if name == "gantry"), "{e}");
    assert!(matches!(s.wsl.delete(true).await, Err(WslError::NotOurs { .. })));
    let st = s.fake.0.lock().unwrap();
    assert!(st.distros.contains_key("gantry"));
    assert!(!st.calls.iter().any(|c| c.starts_with("--unregister") || c.starts_with("--terminate")), "{:?}", st.calls);
}

#[tokio::test]
async fn wsl_failures_are_specific_errors() {
    let mut s = setup("v1", None);
    s.fake.0.lock().unwrap().import_fails = Some(
        "Aktivieren Sie die Komponente \"VM-Plattform\"...\nFehlercode: Wsl/Service/RegisterDistro/CreateVm/HCS/HCS_E_HYPERV_NOT_INSTALLED\n".into(),
    );
    let e = s.wsl.start(tls(), WAIT, &|_| {}).await.unwrap_err();
    assert!(matches!(e, WslError::VirtualizationDisabled { .. }), "{e}");
    s.fake.0.lock().unwrap().missing = true;
    assert!(matches!(s.wsl.start(tls(), WAIT, &|_| {}).await, Err(WslError::NotInstalled)));
    // a WSL 1 distribution of ours
    let mut s = setup("v1", None);
    s.wsl.start(tls(), WAIT, &|_| {}).await.unwrap();
    s.wsl.stop(WAIT).await.unwrap();
    s.fake.0.lock().unwrap().distros.get_mut("gantry").unwrap().0 = 1;
    assert!(matches!(s.wsl.start(tls(), WAIT, &|_| {}).await, Err(WslError::Wsl1Only { .. })));
}

#[tokio::test]
async fn a_guest_refusing_its_payload_is_an_error_with_its_line() {
    let mut s = setup("v1", None);
    let e = s.wsl.start(b"not a payload".to_vec(), WAIT, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&e, WslError::EngineExited { last_line, .. } if last_line.contains("gantry-init: error: tls")),
        "{e}"
    );
}

#[test]
fn the_tarballs_are_found_next_to_the_image_with_their_version() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join(ROOTFS_DIR);
    assert!(
        matches!(Rootfs::in_image(t.path()), Err(WslError::MissingRootfs { path }) if path.ends_with("wsl/VERSION"))
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(VERSION_FILE), "image=b440\nwsl_version=c503b71353c3c809\narch=amd64\n").unwrap();
    std::fs::write(dir.join(ENGINE_TARBALL), b"engine").unwrap();
    assert!(
        matches!(Rootfs::in_image(t.path()), Err(WslError::MissingRootfs { path }) if path.ends_with(DATA_TARBALL))
    );
    std::fs::write(dir.join(DATA_TARBALL), b"data").unwrap();
    let rootfs = Rootfs::in_image(t.path()).unwrap();
    assert_eq!(
        (rootfs.version.as_str(), rootfs.engine, rootfs.data),
        ("c503b71353c3c809", dir.join(ENGINE_TARBALL), dir.join(DATA_TARBALL))
    );
    // an installed `guest` folder without its VERSION: the image's are used
    let installed = t.path().join(INSTALLED_ROOTFS_DIR);
    std::fs::create_dir_all(&installed).unwrap();
    assert_eq!(Rootfs::locate_in(Some(&installed), t.path()).unwrap().engine, dir.join(ENGINE_TARBALL));
    // ... with it: the installed ones, never the image's
    std::fs::write(installed.join(VERSION_FILE), "wsl_version=d1\n").unwrap();
    assert!(
        matches!(Rootfs::locate_in(Some(&installed), t.path()), Err(WslError::MissingRootfs { path }) if path.starts_with(&installed))
    );
    for f in [ENGINE_TARBALL, DATA_TARBALL] {
        std::fs::write(installed.join(f), f).unwrap();
    }
    assert_eq!(Rootfs::locate_in(Some(&installed), t.path()).unwrap().version, "d1");
    // a version that is not one token is not a version
    std::fs::write(dir.join(VERSION_FILE), "wsl_version=../x\n").unwrap();
    assert!(matches!(Rootfs::in_image(t.path()), Err(WslError::MissingRootfs { .. })));
}
