//! The WSL 2 guest's init contract, for real on Linux: the tarballs vm-images/wsl-rootfs.sh
//! writes are extracted, the data distribution's `wsl-data` and the engine's `wsl-init` run in
//! them as WSL 2 would run them (tests/wsl_guest/harness.sh: own mount and process namespaces,
//! one network, a shared /mnt/wsl), the engine gets the start payload from the driver's own
//! encoder on its input, the docker CLI reaches it over mutual TLS on the port the payload's
//! config names and runs a container, and closing the input stops the engine cleanly. Then the WSL 2 driver itself
//! (`Wsl2Driver` over `SystemWsl`) starts, stops, restarts and deletes that guest through a
//! stand-in for `wsl.exe` (tests/wsl_guest/wsl.exe.sh). Only `wsl.exe`, WSL's VM and the Windows
//! side are missing.
//!
//! Runs with the VM tests (`GANTRY_VM_TESTS=1`, which ./scripts/test sets after building the
//! image and its WSL tarballs); needs root, `unshare`, `nsenter`, `tar` and the docker CLI.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gantry_machine::driver::{MachineConfig, guest_config};
use gantry_machine::instance::Instance;
use gantry_machine::wsl2::args::{Distros, ENGINE_INIT};
use gantry_machine::wsl2::{Rootfs, payload};

const TEST: &str = "wsl_guest";
/// Bounds against a hang (never timing assertions): the engine's start, then its stop.
const READY_BOUND: Duration = Duration::from_secs(180);
const STOP_BOUND: Duration = Duration::from_secs(120);

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn extract(tarball: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let o = run(Command::new("tar").arg("-xzf").arg(tarball).arg("-C").arg(into));
    assert!(o.status.success(), "tar -xzf {}: {}", tarball.display(), text(&o));
}

/// Lines of the harness's output until one is `done` (true), the output ends, or `bound`; a
/// guest error line on the way fails the test.
fn wait_line(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, bound: Duration, done: &str) -> bool {
    wait_line_past_errors(lines, seen, bound, done, false)
}

/// [`wait_line`], with guest error lines allowed when `errors_expected`.
fn wait_line_past_errors(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    bound: Duration,
    done: &str,
    errors_expected: bool,
) -> bool {
    let deadline = std::time::Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                eprintln!("  guest| {line}");
                // a line as it is, or with the guest's uptime after it (" [12.3s]")
                let hit = line.trim().strip_prefix(done).is_some_and(|rest| rest.is_empty() || rest.starts_with(" ["));
                let failed = line.contains("gantry-init: error: ");
                seen.push(line);
                if hit {
                    return true;
                }
                assert!(errors_expected || !failed, "{TEST}: the guest reported an error:\n{}", seen.join("\n"));
            }
            Err(_) => return false,
        }
    }
}

/// The harness's `unshare` process: killed when the test ends early (its `--kill-child` then
/// kills the namespaces' first process, and with it every process in them).
struct Guest(std::process::Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The harness (tests/wsl_guest/harness.sh) in new namespaces, its input piped, and its output lines.
fn start_guest(engine_root: &Path, data_root: &Path, data_mount: &str, work: &Path) -> (Guest, mpsc::Receiver<String>) {
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wsl_guest/harness.sh");
    let mut guest = Command::new("unshare")
        .args(["--mount", "--pid", "--net", "--fork", "--kill-child", "--propagation", "private", "bash", harness])
        .args([engine_root, data_root, Path::new(data_mount), work])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("unshare");
    let (tx, lines) = mpsc::channel();
    let out = guest.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Guest(guest), lines)
}

/// The child's exit status, or `None` (after killing it) when it has not ended within `bound`.
fn wait_child(child: &mut std::process::Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + bound;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The image directory and its WSL tarballs, or `None` after saying why the test is skipped.
fn prerequisites() -> Option<(std::path::PathBuf, Rootfs)> {
    if std::env::var("GANTRY_VM_TESTS").ok().as_deref() != Some("1") {
        gantry_testkit::skip::skipped(
            TEST,
            "runs with the VM tests (GANTRY_VM_TESTS=1; ./scripts/test's \"WSL root filesystems\" stage writes the \
             tarballs with vm-images/wsl-rootfs.sh)",
        );
        return None;
    }
    let uid = run(Command::new("id").arg("-u"));
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        gantry_testkit::skip::skipped(TEST, "needs root (namespaces, chroot, mounts)");
        return None;
    }
    let image_dir = gantry_machine::image::default_dir();
    match Rootfs::in_image(&image_dir) {
        Ok(rootfs) => Some((image_dir, rootfs)),
        Err(e) => {
            gantry_testkit::skip::skipped_unless_ci(TEST, &format!("{e}: run vm-images/wsl-rootfs.sh"));
            None
        }
    }
}

/// This computer's process id of the dockerd the harness `guest` (the `unshare` process) runs:
/// the one dockerd among its descendants (found by parent links: a process's root or mount
/// namespace reads differently from a chroot, as in scripts/fresh-root).
fn dockerd_of(guest: u32) -> u32 {
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    let descends = |mut pid: u32| {
        while let Some(up) = parent(pid).filter(|&p| p > 1) {
            if up == guest {
                return true;
            }
            pid = up;
        }
        false
    };
    let found: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "dockerd") && descends(pid)
        })
        .collect();
    assert_eq!(found.len(), 1, "one dockerd under the harness (pid {guest}): {found:?}");
    found[0]
}

/// `docker ARGS` with the instance's client certificate against `127.0.0.1:port` in the network
/// namespace of process `pid` (the guest's, as WSL's VM network is not this computer's).
fn docker_in(pid: u32, instance: &Instance, port: u16, args: &[&str], config: &Path) -> std::process::Output {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/proc/{pid}/ns/net")).arg("docker").arg("--tlsverify");
    c.arg("--tlscacert").arg(instance.tls_ca());
    c.arg("--tlscert").arg(instance.tls_client_cert()).arg("--tlskey").arg(instance.tls_client_key());
    c.args(["-H", &format!("tcp://127.0.0.1:{port}")]).args(args);
    for v in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
        c.env_remove(v);
    }
    c.env("DOCKER_CONFIG", config);
    gantry_testkit::bounded::output(&mut c, None, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
}

/// The WSL 2 driver itself (`Wsl2Driver` over `SystemWsl`: its process handling, plans, import,
/// readiness and stop) against the real guest, with a stand-in for `wsl.exe`
/// (tests/wsl_guest/wsl.exe.sh: the import extracts the real tarballs; the engine's keep-alive
/// runs the same harness as above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wsl2_driver_starts_and_stops_the_real_guest() {
    use gantry_machine::driver::{Driver, MachineStatus, StopMode, StopOutcome, Wsl2Driver};
    use gantry_machine::wsl2::exe::SystemWsl;

    let Some((_, rootfs)) = prerequisites() else { return };
    let t = tempfile::Builder::new().prefix("gantry-wsl-driver.").tempdir_in("/var/tmp").unwrap();
    let standin = t.path().join("wsl.exe");
    std::os::unix::fs::symlink(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wsl_guest/wsl.exe.sh"), &standin).unwrap();
    let instance = Instance::at(t.path().join("instance"));
    let d = Wsl2Driver::new(instance.clone(), SystemWsl::program(&standin), rootfs).unwrap();
    let cfg = MachineConfig::default();
    assert!(d.validate(&cfg).unwrap().is_empty());
    d.create(&cfg).await.unwrap();
    let state = d.start(&cfg, &|_| {}).await.unwrap_or_else(|e| {
        let console = std::fs::read_to_string(instance.console_log()).unwrap_or_default();
        panic!("{TEST}: the driver's start: {e}\nconsole log:\n{console}")
    });
    assert!(matches!(d.status(), MachineStatus::Running(_)));
    let distros = Distros::for_instance(instance.name()).unwrap();
    let (engine_dir, data_dir) =
        (t.path().join("distros").join(&distros.engine), t.path().join("distros").join(&distros.data));
    assert!(engine_dir.join("usr/lib/gantry/wsl-init").is_file(), "the engine tarball is not imported");
    let version =
        docker_in(state.pid, &instance, state.engine_port, &["version", "--format", "{{.Server.Version}}"], t.path());
    assert!(version.status.success(), "docker version through the driver's port: {}", text(&version));

    assert_eq!(
        d.stop(STOP_BOUND, StopMode::SaveIfAsked).await.unwrap(),
        StopOutcome::PoweredOff,
        "the guest confirmed a clean stop"
    );
    assert_eq!(d.status(), MachineStatus::Stopped);
    let console = std::fs::read_to_string(instance.console_log()).unwrap();
    for line in
        ["gantry-init: engine ready", "gantry-init: shutdown: dockerd stopped", "gantry-init: shutdown complete"]
    {
        assert!(console.lines().any(|l| l.starts_with(line)), "no {line:?} in the console log:\n{console}");
    }
    // a second start imports nothing (same image) and serves again
    let again = d.start(&cfg, &|_| {}).await.unwrap();
    let info = docker_in(again.pid, &instance, again.engine_port, &["info", "--format", "{{.ID}}"], t.path());
    assert!(info.status.success(), "docker info after a restart: {}", text(&info));
    assert_eq!(d.stop(STOP_BOUND, StopMode::SaveIfAsked).await.unwrap(), StopOutcome::PoweredOff);
    // delete: the engine distribution goes, the data distribution stays
    d.delete(false).await.unwrap();
    assert!(!engine_dir.exists(), "the engine distribution is still registered");
    assert!(data_dir.join("var/lib/docker").is_dir(), "the data distribution (and the engine's data) is gone");
}

#[test]
fn wsl_init_serves_the_engine_over_mutual_tls_and_stops_when_its_input_closes() {
    let Some((image_dir, rootfs)) = prerequisites() else { return };
    let image_version = std::fs::read_to_string(image_dir.join("VERSION")).unwrap();
    let docker_package = image_version.lines().find_map(|l| l.strip_prefix("docker=")).unwrap().to_owned();

    let t = tempfile::Builder::new().prefix("gantry-wsl-guest.").tempdir_in("/var/tmp").unwrap();
    let (engine_root, data_root) = (t.path().join("engine"), t.path().join("data"));
    eprintln!("{TEST}: extracting {} and {}", rootfs.engine.display(), rootfs.data.display());
    extract(&rootfs.engine, &engine_root);
    extract(&rootfs.data, &data_root);
    assert!(engine_root.join(ENGINE_INIT.trim_start_matches('/')).is_file(), "wsl-init in the engine tarball");

    // the instance's TLS material and the config the WSL 2 driver sends (a port of its choice)
    let instance = Instance::at(t.path().join("instance"));
    instance.ensure().unwrap();
    gantry_machine::tls::ensure(&instance).unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;
    let cfg = MachineConfig {
        shared_folders: vec![gantry_machine::shares::SharedFolder::writable("/home/me")],
        ..MachineConfig::default()
    };
    let config = guest_config(&cfg, port);
    let read = |p: std::path::PathBuf| std::fs::read(p).unwrap();
    let (ca, cert, key) = (read(instance.tls_ca()), read(instance.tls_server_cert()), read(instance.tls_server_key()));
    let start_payload = payload::encode(&[
        ("ca.pem", &ca),
        ("server-cert.pem", &cert),
        ("server-key.pem", &key),
        ("config", config.as_bytes()),
    ])
    .unwrap();

    let distros = Distros::for_instance("default").unwrap();
    let guest_in = |input: &[u8]| {
        let (mut guest, lines) = start_guest(&engine_root, &data_root, &distros.data_mount(), t.path());
        let mut stdin = guest.0.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        stdin.flush().unwrap();
        (guest, lines, stdin)
    };

    // a payload that is not Gantry's: refused with a line the driver reports, nothing started
    let (mut refused, lines, _input) = guest_in(b"hello\n");
    let status = wait_child(&mut refused.0, STOP_BOUND);
    let said: Vec<String> = std::iter::from_fn(|| lines.recv_timeout(Duration::from_secs(10)).ok()).collect();
    assert!(status.is_some_and(|s| !s.success()), "a bad payload was accepted: {said:?}");
    assert!(said.iter().any(|l| l == "gantry-init: error: tls: the input is not a Gantry start payload"), "{said:?}");
    assert!(!said.iter().any(|l| l.contains("containerd: up")), "{said:?}");

    let (mut guest, lines, input) = guest_in(&start_payload);
    // unshare itself is in the new network namespace (only its child changes process namespace)
    let netns = format!("--net=/proc/{}/ns/net", guest.0.id());
    let mut seen = Vec::new();
    if !wait_line(&lines, &mut seen, READY_BOUND, "gantry-init: engine ready") {
        panic!("{TEST}: no \"engine ready\" within {READY_BOUND:?}:\n{}", seen.join("\n"));
    }
    assert!(seen.iter().any(|l| l.contains("share: shared folders are not mounted under WSL 2 yet")), "{seen:?}");
    // QEMU's emulators were registered (in the harness's stand-in for binfmt_misc: see harness.sh)
    let registered = std::fs::read_to_string(engine_root.join("run/test-binfmt/register")).unwrap();
    assert!(registered.starts_with(":qemu-") && registered.contains(":/usr/"), "register got {registered:?}");
    assert!(seen.iter().any(|l| l.starts_with("gantry-init: binfmt: 0 emulators registered")), "{seen:?}");

    // the docker CLI, in the distributions' network, with the client's certificate
    let docker = |with_client_cert: bool, args: &[&str]| {
        let mut c = Command::new("nsenter");
        c.arg(&netns).arg("docker").arg("--tlsverify").arg("--tlscacert").arg(instance.tls_ca());
        if with_client_cert {
            c.arg("--tlscert").arg(instance.tls_client_cert()).arg("--tlskey").arg(instance.tls_client_key());
        }
        c.args(["-H", &format!("tcp://127.0.0.1:{port}")]).args(args);
        for v in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
            c.env_remove(v);
        }
        c.env("DOCKER_CONFIG", t.path().join("docker-config"));
        gantry_testkit::bounded::output(&mut c, None, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
    };
    let version = docker(true, &["version", "--format", "{{.Server.Version}}"]);
    assert!(version.status.success(), "docker version over mutual TLS: {}", text(&version));
    let server = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    assert!(
        !server.is_empty() && docker_package.starts_with(&server),
        "the engine is the image's Docker ({docker_package}), not {server:?}"
    );
    let anonymous = docker(false, &["version", "--format", "{{.Server.Version}}"]);
    assert!(!anonymous.status.success(), "a client without Gantry's certificate was served: {}", text(&anonymous));
    // the engine's data lands on the data distribution's root
    let volume = docker(true, &["volume", "create", "gantry-wsl-guest"]);
    assert!(volume.status.success(), "docker volume create: {}", text(&volume));
    assert!(data_root.join("var/lib/docker/volumes/gantry-wsl-guest").is_dir(), "the volume is not on the data root");
    assert!(!engine_root.join("var/lib/docker/volumes/gantry-wsl-guest").exists(), "the volume is on the engine root");

    // a container runs (runc, the containerd store on the data root, the bridge network): an
    // image imported from the guest's own static busybox (no registry here)
    let tar = gantry_testkit::images::busybox_rootfs_tar(t.path(), "wslbox", &data_root.join("bin/busybox")).unwrap();
    let imported = docker(true, &["import", tar.to_str().unwrap(), "gantry-wsl/box:1"]);
    assert!(imported.status.success(), "docker import: {}", text(&imported));
    let ran = docker(true, &["run", "--rm", "gantry-wsl/box:1", "/bin/busybox", "echo", "hello from the WSL guest"]);
    assert!(ran.status.success(), "docker run: {}", text(&ran));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "hello from the WSL guest");

    // dockerd killed inside the distribution: the console says how it ended, and it is started
    // again (engine.sh's supervisor, as in the QEMU guest); the engine answers again
    let dockerd = dockerd_of(guest.0.id());
    eprintln!("{TEST}: killing dockerd (pid {dockerd} here) with SIGKILL");
    assert!(run(Command::new("kill").args(["-KILL", &dockerd.to_string()])).status.success());
    let again = "gantry-init: dockerd: answers on /var/run/docker.sock again";
    if !wait_line_past_errors(&lines, &mut seen, READY_BOUND, again, true) {
        panic!("{TEST}: dockerd was not started again within {READY_BOUND:?}:\n{}", seen.join("\n"));
    }
    for said in ["gantry-init: error: dockerd: exited on its own (status 137)", "restart 1 of 3"] {
        assert!(seen.iter().any(|l| l.contains(said)), "no {said:?}:\n{}", seen.join("\n"));
    }
    let after = docker(true, &["run", "--rm", "gantry-wsl/box:1", "/bin/busybox", "echo", "back"]);
    assert!(after.status.success(), "docker run after the restart: {}", text(&after));

    // while the input stays open, the engine stays (wsl-init looks at its input every second)
    std::thread::sleep(Duration::from_secs(3));
    while let Ok(line) = lines.try_recv() {
        eprintln!("  guest| {line}");
        seen.push(line);
    }
    assert!(!seen.iter().any(|l| l.contains("shutdown")), "stopped with its input open:\n{}", seen.join("\n"));
    let again = docker(true, &["info", "--format", "{{.DockerRootDir}} {{.Driver}}"]);
    assert!(again.status.success(), "docker info: {}", text(&again));
    eprintln!("{TEST}: docker info: {}", String::from_utf8_lossy(&again.stdout).trim());

    // closing the input (the agent stopped or ended) stops the engine cleanly
    drop(input);
    if !wait_line(&lines, &mut seen, STOP_BOUND, "gantry-init: shutdown complete") {
        panic!("{TEST}: no \"shutdown complete\" within {STOP_BOUND:?} of closing the input:\n{}", seen.join("\n"));
    }
    let status = wait_child(&mut guest.0, STOP_BOUND);
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        eprintln!("  guest| {line}");
        seen.push(line);
    }
    assert!(status.is_some_and(|s| s.success()), "the harness ended with {status:?}:\n{}", seen.join("\n"));
    for wanted in ["gantry-init: shutdown: dockerd stopped", "gantry-init: shutdown: containerd stopped"] {
        assert!(seen.iter().any(|l| l.starts_with(wanted)), "no {wanted:?}:\n{}", seen.join("\n"));
    }
    assert!(seen.iter().any(|l| l == "gantry-init: data: unmounted"), "{}", seen.join("\n"));
    let dockerd_log = std::fs::read_to_string(engine_root.join("var/log/dockerd.log")).unwrap();
    assert!(dockerd_log.contains("Daemon shutdown complete"), "dockerd did not shut down cleanly:\n{dockerd_log}");
    // the TLS material was on the guest's tmpfs only, never on its disk
    let on_disk = engine_root.join("run/gantry/tls/server-key.pem");
    assert!(!on_disk.exists(), "{} was written to the distribution's disk", on_disk.display());
    // the data survives the engine: the volume is still on the data root
    assert!(data_root.join("var/lib/docker/volumes/gantry-wsl-guest").is_dir());
}
