//! VM integration test: boots the real guest image under QEMU (TCG on machines without working
//! KVM) and drives it through Gantry's socket with the plain docker CLI and gantry-engine.
//!
//! Runs only with `GANTRY_VM_TESTS=1`. Prerequisites: the guest image (vm-images/build.sh, or
//! `GANTRY_IMAGE_DIR`), `qemu-system-x86_64`, `qemu-img`, the `docker` CLI, Debian's
//! `busybox-static` (`/bin/busybox`), and the `gantry` binary (`cargo build -p gantry-cli`;
//! found next to this test's executable or at `GANTRY_BIN`).
//!
//! The scenarios run in sequence in one test to boot as few times as possible.
#![cfg(unix)] // the VM tests drive QEMU and the agent on Linux
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gantry_engine::{ContainerFilter, Endpoint, Engine};
use gantry_testkit::bounded::{self, step};

// Bounds that only keep a broken run from hanging (not timing claims): a command that overruns
// its bound is killed and fails the test naming the step and the command, with the logs.
/// `gantry start` gives up by itself after 600 s.
const START_BOUND: Duration = Duration::from_secs(720);
const GANTRY_BOUND: Duration = Duration::from_secs(60);
const DOCKER_BOUND: Duration = Duration::from_secs(300);
/// The whole test (a watchdog ends the process after it, printing the step and the logs); more
/// with the slow scenarios.
const TEST_BOUND: Duration = Duration::from_secs(25 * 60);
const SLOW_TEST_BOUND: Duration = Duration::from_secs(40 * 60);

struct Env {
    /// Gantry's directory on a small tmpfs, when it could be mounted (unmounted before `_tmp`
    /// is removed, after the VM stopped).
    small_disk: Option<gantry_testkit::tmpfs::SmallTmpfs>,
    _tmp: tempfile::TempDir,
    home: PathBuf,
    docker_config: PathBuf,
    share: PathBuf,
    /// Shared read-only.
    ro_share: PathBuf,
    bin: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "failed at step: {}\n{}",
                bounded::current_step(),
                gantry_testkit::vm::diagnostics(&self.instance_dir())
            );
        }
        // also when a scenario failed: never leave a VM running
        gantry_testkit::vm::stop(&self.bin, &self.home, &self.docker_config);
    }
}

impl Env {
    fn instance_dir(&self) -> PathBuf {
        self.home.join("default")
    }
    fn socket(&self) -> PathBuf {
        self.instance_dir().join("docker.sock")
    }
    /// Runs `cmd` within `bound` (stdin from `input`); a command that overruns fails the test
    /// with the step, the command and the logs.
    fn run(&self, cmd: &mut Command, input: Option<&[u8]>, bound: Duration) -> Output {
        let out = self.run_quiet(cmd, input, bound);
        eprintln!(
            "$ {} ({:.1} s, {})\n{}{}",
            bounded::describe(cmd),
            out.1.as_secs_f64(),
            out.0.status,
            String::from_utf8_lossy(&out.0.stdout),
            String::from_utf8_lossy(&out.0.stderr)
        );
        out.0
    }
    /// [`Env::run`] without printing; the output and how long it took.
    fn run_quiet(&self, cmd: &mut Command, input: Option<&[u8]>, bound: Duration) -> (Output, Duration) {
        let t = Instant::now();
        match bounded::output(cmd, input, bound) {
            Ok(out) => (out, t.elapsed()),
            Err(e) => panic!("step «{}»: {e}", bounded::current_step()),
        }
    }
    fn gantry_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("GANTRY_ENGINE");
        c
    }
    fn gantry(&self, args: &[&str]) -> Output {
        self.gantry_with(args, &[])
    }
    fn gantry_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.gantry_command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let bound = match args.first() {
            Some(&"start") => START_BOUND,
            Some(&"stop") => gantry_testkit::vm::STOP_BOUND,
            _ => GANTRY_BOUND,
        };
        self.run(&mut c, None, bound)
    }
    fn docker_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", &self.docker_config);
        c
    }
    fn docker(&self, args: &[&str]) -> Output {
        self.run(&mut self.docker_command(args), None, DOCKER_BOUND)
    }
    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
    /// `docker ARGS` with `input` on its stdin; its stdout.
    fn docker_piped(&self, args: &[&str], input: &str) -> String {
        let out = self.run(&mut self.docker_command(args), Some(input.as_bytes()), DOCKER_BOUND);
        assert!(out.status.success(), "docker {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
    /// `gantry vm-status --json` (printed in one line: tests poll it).
    fn vm_status(&self) -> serde_json::Value {
        let (out, _) = self.run_quiet(&mut self.gantry_command(&["vm-status", "--json"]), None, GANTRY_BOUND);
        let st: serde_json::Value = serde_json::from_slice(&out.stdout).expect("vm-status json");
        eprintln!("vm-status: {} {}", st["kind"], st["reasons"]);
        st
    }
    /// `docker run -d --name NAME -p PUBLISH` of busybox's httpd serving /www on port 80.
    fn run_httpd(&self, name: &str, publish: &str) {
        let args = [
            "run",
            "-d",
            "--name",
            name,
            "-p",
            publish,
            "gantry-test/busybox:1",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ];
        self.docker_ok(&args);
    }
    /// Waits until the status is degraded with a reason `matches` accepts; returns the status.
    fn wait_degraded(&self, what: &str, bound: Duration, matches: impl Fn(&str) -> bool) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        wait_until(what, bound, || {
            last = self.vm_status();
            last["kind"] == "degraded"
                && last["reasons"].as_array().is_some_and(|r| r.iter().any(|x| x.as_str().is_some_and(&matches)))
        });
        last
    }
    fn write_settings(&self, memory_mib: u64) {
        // the temp directory is shared too (as by default): Gantry's own directory (GANTRY_HOME,
        // under it here) must stay hidden; ports bind to every address unless a container asks
        let s = serde_json::json!({
            "engine": {"kind": "gantry_vm"},
            "vm": {
                "cpus": 2, "memory_mib": memory_mib, "disk_gib": 8,
                "shared_folders": [self.share, {"path": self.ro_share, "read_only": true}, "/tmp"],
                "port_bind_address": "0.0.0.0"
            }
        });
        std::fs::create_dir_all(self.instance_dir()).unwrap();
        std::fs::write(self.instance_dir().join("settings.json"), s.to_string()).unwrap();
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn gantry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GANTRY_BIN") {
        return PathBuf::from(p);
    }
    // target/debug/deps/vm_integration-xxxx → target/debug/gantry
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().join("gantry")
}

/// One HTTP GET on 127.0.0.1:PORT: status and body, or None when nothing answered.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    gantry_testkit::net::http_get_once(port, path).ok().filter(|a| a.status != 0).map(|a| (a.status, a.body))
}

fn wait_until(what: &str, timeout: Duration, f: impl FnMut() -> bool) {
    let t = Instant::now();
    if let Err(e) = gantry_testkit::wait::until(what, timeout, f) {
        panic!("step «{}»: {e}", bounded::current_step());
    }
    eprintln!("ok: {what} after {:.1} s", t.elapsed().as_secs_f64());
}

/// Runs `fut` on `rt` within `bound` (a connection to the VM's engine that never answers must
/// not hang the test).
fn block_on<T>(
    rt: &tokio::runtime::Runtime,
    what: &str,
    bound: Duration,
    fut: impl std::future::Future<Output = T>,
) -> T {
    match rt.block_on(async { tokio::time::timeout(bound, fut).await }) {
        Ok(v) => v,
        Err(_) => panic!("step «{}»: {what} did not finish within {} s", bounded::current_step(), bound.as_secs()),
    }
}

/// An address of this computer that is not loopback, if any (to prove a port is not on it).
fn lan_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn free_port() -> u16 {
    gantry_testkit::net::free_port().unwrap()
}

/// A busybox image tarball: /bin/busybox + applet symlinks + /www/index.html.
fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let st = Command::new(root.join("bin/busybox")).args(["--install", "-s"]).arg(root.join("bin")).status().unwrap();
    assert!(st.success());
    // --install -s links to the host path of busybox; make them relative to the image
    for e in std::fs::read_dir(root.join("bin")).unwrap().flatten() {
        if e.file_type().unwrap().is_symlink() {
            std::fs::remove_file(e.path()).unwrap();
            std::os::unix::fs::symlink("busybox", e.path()).unwrap();
        }
    }
    std::fs::write(root.join("www/index.html"), "hello from gantry\n").unwrap();
    let tar = dir.join("busybox.tar");
    let st = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(st.success());
    tar
}

/// A workshop room on this computer serving one image (a Docker Hub name found nowhere else) as
/// a registry, for the guest's engine to use as its mirror: reached at 10.0.2.2, QEMU's address
/// for this computer's loopback, which is not an insecure-registry range, so the engine trusts
/// the room only through the certificate Gantry pins in the guest's certs.d.
struct MirrorRoom {
    rt: tokio::runtime::Runtime,
    room: gantry_workshop::room::ServingRoom,
    image: String,
    url: String,
    ca_pem: String,
}

/// Packs the test engine's fixture (`DOCKER_HOST`) under a Docker Hub name and opens a room with
/// it; `Err` says why it cannot (no docker-registry, no test engine).
fn open_mirror_room(dir: &Path) -> Result<MirrorRoom, String> {
    use gantry_workshop::room::registry::REGISTRY_PROGRAM;
    if Command::new(REGISTRY_PROGRAM).arg("--version").output().is_err() {
        return Err("docker-registry is not installed (Debian: apt install docker-registry)".into());
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let image = format!("gantry-vm-mirror-{}:1", std::process::id());
    let opened = rt.block_on(async {
        let engine = Engine::from_env().await.map_err(|e| format!("no test engine at DOCKER_HOST: {e}"))?;
        engine.tag_image(gantry_testkit::images::FIXTURE, &image).await.map_err(|e| e.to_string())?;
        let spec = gantry_workshop::PackSpec {
            title: "VM mirror".into(),
            images: vec![gantry_workshop::ImageRequest::parse(&image).map_err(|e| e.to_string())?],
            output: dir.join("mirror.gantry-workshop"),
            ..Default::default()
        };
        let packed =
            gantry_workshop::pack(&engine, &spec, None, &|_| {}, &gantry_engine::CancellationToken::new()).await;
        let _ = engine.remove_image(&image, false).await;
        let packed = packed.map_err(|e| e.to_string())?;
        let options = gantry_workshop::room::ServeOptions {
            bundle: packed.path,
            dir: dir.join("room"),
            listen: "127.0.0.1:0".parse().map_err(|e: std::net::AddrParseError| e.to_string())?,
            advertise: Some([10, 0, 2, 2].into()),
            upstream: None,
            no_registry: false,
        };
        let room = gantry_workshop::room::serve(&options, &|_| {}).await.map_err(|e| e.to_string())?;
        let ca_pem = std::fs::read_to_string(options.dir.join(gantry_workshop::room::tls::CERT_FILE))
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((room, ca_pem))
    })?;
    let (room, ca_pem) = opened;
    let url = format!("https://{}", room.code.addr);
    Ok(MirrorRoom { rt, room, image, url, ca_pem })
}

fn slow_scenarios_on() -> bool {
    std::env::var("GANTRY_VM_SLOW_TESTS").ok().as_deref() == Some("1")
}

/// Scenarios that cost another boot or minutes of guest I/O under software emulation run only
/// with `GANTRY_VM_SLOW_TESTS=1` (scripts/test's header), or those whose name contains the
/// variable's other value (`GANTRY_VM_SLOW_TESTS='kill -9 of QEMU'`); otherwise they say SKIPPED.
fn slow_scenario(name: &str) -> bool {
    let chosen = std::env::var("GANTRY_VM_SLOW_TESTS").unwrap_or_default();
    if slow_scenarios_on() || (chosen.len() > 1 && name.contains(&chosen)) {
        return true;
    }
    gantry_testkit::skip::skipped(
        &format!("vm_end_to_end: {name}"),
        "slow under emulation: set GANTRY_VM_SLOW_TESTS=1",
    );
    false
}

#[test]
fn vm_end_to_end() {
    if std::env::var("GANTRY_VM_TESTS").ok().as_deref() != Some("1") {
        gantry_testkit::skip::skipped(
            "vm_end_to_end",
            "set GANTRY_VM_TESTS=1 (needs the guest image from vm-images/build.sh, QEMU, docker CLI)",
        );
        return;
    }
    let bin = gantry_bin();
    assert!(bin.is_file(), "{} missing: run `cargo build -p gantry-cli` first (or set GANTRY_BIN)", bin.display());
    let tmp = tempfile::Builder::new().prefix("gvm").tempdir_in("/tmp").unwrap();
    let home_dir = PathBuf::from(std::env::var_os("HOME").unwrap());
    let share = tempfile::Builder::new().prefix("gantry-share-").tempdir_in(&home_dir).unwrap();
    let ro_share = tempfile::Builder::new().prefix("gantry-ro-").tempdir_in(&home_dir).unwrap();
    let mut env = Env {
        small_disk: None,
        home: tmp.path().join("h"),
        docker_config: tmp.path().join("docker-config"),
        share: share.path().to_owned(),
        ro_share: ro_share.path().to_owned(),
        bin,
        _tmp: tmp,
    };
    let _watchdog = gantry_testkit::vm::watchdog(
        "vm_end_to_end",
        if slow_scenarios_on() { SLOW_TEST_BOUND } else { TEST_BOUND },
        &env.bin,
        &env.home,
        &env.docker_config,
    );
    let total = Instant::now();
    // Gantry's whole directory on a tmpfs (its size is a limit: memory holds only what is
    // written), so that shrinking it later fills "this computer's disk" under the running VM.
    if slow_scenarios_on() {
        match gantry_testkit::tmpfs::SmallTmpfs::mount(&env.home, 10 << 30) {
            Ok(fs) => env.small_disk = Some(fs),
            Err(why) => gantry_testkit::skip::skipped(
                "vm_end_to_end: disk full under the VM",
                &format!("cannot mount a tmpfs ({why})"),
            ),
        }
    }

    step("bad inputs (no boot)");
    let host_mem = gantry_core::settings::HostFacts::detect(Path::new("/tmp")).memory_mib;
    env.write_settings(host_mem * 2);
    let out = env.gantry(&["start"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("more than this computer has"), "memory error expected");
    env.write_settings(2048);

    let out = env.gantry_with(&["start"], &[("GANTRY_IMAGE_DIR", "/nonexistent/gantry-image")]);
    assert!(!out.status.success());
    assert!(text(&out).contains("guest image is missing"), "missing image error expected");
    assert!(text(&out).contains("vm-images/build.sh"), "hint expected");

    let out = env.gantry_with(&["doctor"], &[("GANTRY_KVM_DEVICE", "/nonexistent/kvm")]);
    assert!(text(&out).contains("/nonexistent/kvm does not exist"), "no-KVM warning expected");
    assert!(text(&out).contains("software emulation"));

    step("a workshop room as the VM engine's registry mirror (settings, as `workshop join` sets it)");
    let mirror_room = match open_mirror_room(env.home.parent().unwrap()) {
        Ok(room) => {
            let path = env.instance_dir().join("settings.json");
            let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            s["vm"]["registry_mirrors"] = serde_json::json!([{ "url": room.url, "ca_pem": room.ca_pem }]);
            std::fs::write(&path, s.to_string()).unwrap();
            Some(room)
        }
        Err(why) => {
            gantry_testkit::skip::skipped_unless_ci("vm_end_to_end: registry mirror", &why);
            None
        }
    };

    step("first boot: two `gantry start` at once (the app and a terminal) make one agent");
    let (out, second) = std::thread::scope(|s| {
        let second = s.spawn(|| env.gantry(&["start"]));
        let out = env.gantry(&["start"]);
        (out, second.join().expect("the concurrent start's thread"))
    });
    assert!(out.status.success(), "gantry start failed");
    assert!(second.status.success(), "the concurrent gantry start failed");
    let agent_log = std::fs::read_to_string(env.instance_dir().join("agent.log")).unwrap_or_default();
    assert!(!agent_log.contains("another agent is already running"), "two agents were launched:\n{agent_log}");
    gantry_testkit::reliability::fault(
        "two `gantry start` at once",
        "one agent; both starts follow it to running",
        "both succeeded, one agent",
    );
    let t = format!("{}{}", text(&out), text(&second));
    assert!(t.contains("[5/9] boot VM"), "named steps expected");
    assert!(t.contains("docker context use gantry"));
    assert!(t.contains(&format!("export DOCKER_HOST=unix://{}", env.socket().display())));
    let st = env.vm_status();
    assert_eq!(st["kind"], "running", "{st}");
    eprintln!("accelerator: {}", st["accel"]);

    // socket mode 0600
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "docker.sock must be 0600");

    step("the docker context; a local image through the socket");
    let mut ctx = Command::new("docker");
    ctx.args(["--context", "gantry", "version", "--format", "{{.Server.Version}}"])
        .env("DOCKER_CONFIG", &env.docker_config)
        .env_remove("DOCKER_HOST");
    let ctx = env.run(&mut ctx, None, DOCKER_BOUND);
    assert!(ctx.status.success(), "docker --context gantry: {}", text(&ctx));
    if let Some(room) = mirror_room {
        step("the room's registry is the engine's mirror: docker info lists it, a pull comes through it");
        let mirrors = env.docker_ok(&["info", "--format", "{{json .RegistryConfig.Mirrors}}"]);
        let mirrors: Vec<String> = serde_json::from_str(&mirrors).unwrap();
        assert_eq!(mirrors, [format!("{}/", room.url)], "the guest engine's mirrors");
        // a name no other registry has: only the room (trusted through the pinned certificate)
        // can serve it
        env.docker_ok(&["pull", &room.image]);
        env.docker_ok(&["image", "inspect", &room.image]);
        env.docker_ok(&["rmi", &room.image]);
        room.rt.block_on(room.room.stop());
    }
    let tar = busybox_rootfs_tar(env.home.parent().unwrap());
    env.docker_ok(&["import", tar.to_str().unwrap(), "gantry-test/busybox:1"]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine_bound = Duration::from_secs(60);
    let engine =
        block_on(&rt, "connecting gantry-engine", engine_bound, Engine::connect(&Endpoint::Unix(env.socket())))
            .unwrap();
    let images = block_on(&rt, "listing images", engine_bound, engine.list_images(false)).unwrap();
    assert!(images.iter().any(|i| i.tags.iter().any(|t| t == "gantry-test/busybox:1")), "gantry-engine sees the image");

    step("a published port: HTTP 200 on the host, gone when the container stops");
    let port = free_port();
    let publish = format!("{port}:80");
    env.run_httpd("web", &publish);
    wait_until("HTTP 200 through the forwarded port", Duration::from_secs(60), || {
        http_get(port, "/index.html").is_some_and(|(c, body)| c == 200 && body.contains("hello from gantry"))
    });
    let cs =
        block_on(&rt, "listing containers", engine_bound, engine.list_containers(&ContainerFilter::default())).unwrap();
    assert!(cs.iter().any(|c| c.ports.iter().any(|p| p.host_port == Some(port))), "gantry-engine sees the port");
    let st = env.vm_status();
    assert!(st["forwarded_ports"].as_array().unwrap().iter().any(|p| p["port"] == port), "{st}");
    env.docker_ok(&["stop", "-t", "1", "web"]);
    wait_until("the forward to be removed", Duration::from_secs(30), || {
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
    });
    env.docker_ok(&["rm", "web"]);

    step("a host port already taken: a clear problem on the status stream");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let publish = format!("{taken_port}:80");
    env.run_httpd("clash", &publish);
    env.wait_degraded("a port conflict on the status stream", Duration::from_secs(30), |s| {
        s.contains(&taken_port.to_string()) && s.contains("already in use")
    });
    env.docker_ok(&["rm", "-f", "clash"]);
    drop(taken);
    wait_until("status back to running", Duration::from_secs(30), || env.vm_status()["kind"] == "running");

    step("what the VM can reach: shares, unshared sources, Gantry's directory, read-only shares");
    // one container sees a shared host file, a read-only share, and an empty directory where
    // Gantry's own directory (disk, keys) is on the host
    std::fs::write(env.share.join("hello.txt"), "from the host\n").unwrap();
    std::fs::write(env.ro_share.join("ref.txt"), "reference\n").unwrap();
    let mount = format!("{}:/data", env.share.display());
    let ro = format!("{}:/r:ro", env.ro_share.display());
    let t_mount = format!("{}:/t", env.home.parent().unwrap().display());
    let script = "cat /data/hello.txt; cat /r/ref.txt; echo \"gantry dir: [$(ls -A /t/h)]\"";
    let got = env.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &mount,
        "-v",
        &ro,
        "-v",
        &t_mount,
        "gantry-test/busybox:1",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(got, "from the host\nreference\ngantry dir: []", "the guest must not see Gantry's directory");
    // a bind source outside every share: refused with the path and how to share it
    let out = env.docker(&["run", "--rm", "-v", "/opt/gantry-not-shared:/x", "gantry-test/busybox:1", "true"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("Mounts denied") && t.contains("/opt/gantry-not-shared") && t.contains("Shared folders"), "{t}");
    let mount = "type=bind,source=/opt,target=/o";
    let out = env.docker(&["run", "--rm", "--mount", mount, "gantry-test/busybox:1", "true"]);
    assert!(text(&out).contains("Mounts denied"), "--mount too");
    // Gantry's own directory: hidden in the guest, refused as a source
    let inside = env.instance_dir().display().to_string();
    let out = env.docker(&["run", "--rm", "-v", &format!("{inside}:/k"), "gantry-test/busybox:1", "ls", "/k"]);
    assert!(text(&out).contains("Gantry's own directory"), "the instance directory must be refused");
    // a read-only share: writable binds are refused
    let rw = format!("{}:/r", env.ro_share.display());
    let out = env.docker(&["run", "--rm", "-v", &rw, "gantry-test/busybox:1", "true"]);
    assert!(text(&out).contains("read-only share"), "a writable bind of a read-only share is refused");
    gantry_testkit::reliability::fault(
        "docker run -v with an unshared source, Gantry's directory, a read-only share",
        "refused with the path and how to share it; Gantry's directory invisible in the guest",
        "refused as expected; the guest saw an empty directory",
    );

    step("a port the container published on loopback stays on loopback (setting 0.0.0.0)");
    let lo_port = free_port();
    let lo_publish = format!("127.0.0.1:{lo_port}:80");
    env.run_httpd("lo", &lo_publish);
    wait_until("HTTP 200 on the loopback-published port", Duration::from_secs(60), || {
        http_get(lo_port, "/index.html").is_some_and(|(c, _)| c == 200)
    });
    let st = env.vm_status();
    let rule = st["forwarded_ports"].as_array().unwrap().iter().find(|p| p["port"] == lo_port).cloned().unwrap();
    assert_eq!(rule["bind"], "127.0.0.1", "never wider than the container asked: {st}");
    if let Some(lan) = lan_address() {
        let reached = TcpStream::connect_timeout(&(lan, lo_port).into(), Duration::from_secs(2)).is_ok();
        assert!(!reached, "a port published on 127.0.0.1 answered on {lan}");
    }
    env.docker_ok(&["rm", "-f", "lo"]);

    step("a named volume; hijacked streams (run -i, exec, exec -i); gantry shell");
    let run_i = ["run", "--rm", "-i", "gantry-test/busybox:1", "cat"];
    assert_eq!(env.docker_piped(&run_i, "through stdin\n"), "through stdin");
    env.docker_ok(&["run", "-d", "--name", "idle", "-v", "gvol:/v", "gantry-test/busybox:1", "sleep", "600"]);
    assert_eq!(env.docker_ok(&["exec", "idle", "sh", "-c", "echo persisted > /v/f; echo exec works"]), "exec works");
    assert_eq!(env.docker_piped(&["exec", "-i", "idle", "cat"], "exec stdin\n"), "exec stdin");
    env.docker_ok(&["rm", "-f", "idle"]);
    // a shell in the VM's namespaces (PID 1 is the guest's init)
    let mut shell = env.gantry_command(&["shell", "--image", "gantry-test/busybox:1"]);
    let out = env.run(&mut shell, Some(b"echo in-vm; cat /proc/1/comm; ls /var/lib/docker\n"), DOCKER_BOUND);
    let shell_out = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && shell_out.contains("in-vm") && shell_out.contains("volumes"), "gantry shell");

    step("the engine's TCP port refuses clients without the certificate");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.instance_dir().join("state.json")).unwrap()).unwrap();
    let engine_port = u16::try_from(state["engine_port"].as_u64().unwrap()).unwrap();
    let inst = gantry_machine::instance::Instance::at(env.instance_dir());
    let no_cert = gantry_machine::tls::client_config_from(&inst.tls_ca(), None).unwrap();
    let refused = block_on(&rt, "a TLS handshake without a client certificate", engine_bound, async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", engine_port)).await?;
        let mut s = tokio_rustls::TlsConnector::from(no_cert).connect(gantry_machine::tls::server_name(), tcp).await?;
        s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").await?;
        let mut v = Vec::new();
        s.read_to_end(&mut v).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&v).into_owned())
    });
    assert!(
        !refused.as_ref().is_ok_and(|b| b.contains("200 OK")),
        "engine answered without a client certificate: {refused:?}"
    );
    // nor plain HTTP
    assert!(http_get(engine_port, "/_ping").is_none_or(|(c, _)| c != 200));
    drop(engine);

    step(
        "dockerd dies in the guest: the init says why and starts it again; the socket and a new published port answer",
    );
    // a container in the guest's PID namespace kills the engine that runs it (SIGKILL: no clean-up)
    env.docker_ok(&[
        "run",
        "-d",
        "--name",
        "engine-killer",
        "--privileged",
        "--pid=host",
        "gantry-test/busybox:1",
        "sh",
        "-c",
        "sleep 1; kill -9 $(pidof dockerd)",
    ]);
    let console_path = env.instance_dir().join("console.log");
    let console = || std::fs::read_to_string(&console_path).unwrap_or_default();
    wait_until("the guest to start dockerd again", Duration::from_secs(240), || {
        console().contains("dockerd: answers on /var/run/docker.sock again")
    });
    let log = console();
    assert!(log.contains("gantry-init: error: dockerd: exited on its own (status 137)"), "console:\n{log}");
    assert!(log.contains("restart 1 of 3"), "console:\n{log}");
    wait_until("docker version through Gantry's socket", Duration::from_secs(60), || {
        env.docker(&["version"]).status.success()
    });
    env.docker_ok(&["rm", "-f", "engine-killer"]);
    let port = free_port();
    env.run_httpd("after-restart", &format!("{port}:80"));
    wait_until("HTTP 200 through a port published after the restart", Duration::from_secs(60), || {
        http_get(port, "/index.html").is_some_and(|(c, _)| c == 200)
    });
    env.docker_ok(&["rm", "-f", "after-restart"]);

    saved_state_scenarios(&env);

    // (the desktop e2e test stops and boots the VM again too; this one checks the data)
    if slow_scenario("stop, then start (another boot): the volume survives") {
        step("stop, start: the volume survives");
        let out = env.gantry(&["stop"]);
        assert!(out.status.success());
        assert_eq!(env.vm_status()["kind"], "stopped");
        assert!(!env.socket().exists());
        let out = env.gantry(&["start"]);
        assert!(out.status.success());
        let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
        assert_eq!(got, "persisted");
    }

    if slow_scenario("kill -9 of QEMU mid-run, then start (another boot)") {
        step("kill -9 QEMU mid-run; start again: nothing lost");
        env.docker_ok(&[
            "run",
            "--rm",
            "-v",
            "gvol:/v",
            "gantry-test/busybox:1",
            "sh",
            "-c",
            "echo second > /v/g; sync",
        ]);
        let pid: i32 = std::fs::read_to_string(env.instance_dir().join("qemu.pid")).unwrap().trim().parse().unwrap();
        let st = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(st.success());
        wait_until("the agent to notice", Duration::from_secs(30), || env.vm_status()["kind"] != "running");
        let out = env.gantry(&["start"]);
        assert!(out.status.success(), "start after kill -9 failed");
        let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f", "/v/g"]);
        assert_eq!(got, "persisted\nsecond");
    }

    step(
        "kill -9 of the agent with two published ports, one container stopped and the settings made invalid meanwhile: start reattaches without a reboot",
    );
    let (keep_port, gone_port) = (free_port(), free_port());
    for (name, port) in [("keep", keep_port), ("gone", gone_port)] {
        let p = format!("{port}:80");
        env.run_httpd(name, &p);
    }
    wait_until("both forwards", Duration::from_secs(60), || {
        http_get(keep_port, "/index.html").is_some() && http_get(gone_port, "/index.html").is_some()
    });
    let agent: i32 = std::fs::read_to_string(env.instance_dir().join("agent.pid")).unwrap().trim().parse().unwrap();
    let qemu_before = std::fs::read_to_string(env.instance_dir().join("qemu.pid")).unwrap();
    let tls_before = std::fs::read(env.instance_dir().join("tls/ca.pem")).unwrap();
    assert!(Command::new("kill").args(["-9", &agent.to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(500));
    env.write_settings(host_mem * 2);
    let out = env.gantry(&["start"]);
    assert!(out.status.success(), "start after killing the agent failed");
    let qemu_after = std::fs::read_to_string(env.instance_dir().join("qemu.pid")).unwrap();
    assert_eq!(qemu_after, qemu_before, "reattach keeps the running VM instead of rebooting it");
    assert_eq!(std::fs::read(env.instance_dir().join("tls/ca.pem")).unwrap(), tls_before, "TLS kept on reattach");
    let st = env.vm_status();
    assert_eq!(st["kind"], "degraded", "invalid settings on reattach are reported: {st}");
    let reasons = st["reasons"].to_string();
    assert!(reasons.contains("settings became invalid") && !reasons.contains("already in use"), "{reasons}");
    env.write_settings(2048);
    env.docker_ok(&["stop", "-t", "1", "gone"]);
    wait_until("the stopped container's forward to go", Duration::from_secs(30), || {
        TcpStream::connect_timeout(&([127, 0, 0, 1], gone_port).into(), Duration::from_secs(1)).is_err()
    });
    assert!(http_get(keep_port, "/index.html").is_some_and(|(c, _)| c == 200), "the running container's forward stays");
    let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
    assert_eq!(got, "persisted");
    env.docker_ok(&["rm", "-f", "keep", "gone"]);
    gantry_testkit::reliability::fault(
        "kill -9 of the agent with published ports; a container stopped and settings made invalid meanwhile",
        "the VM keeps running; reattach without reboot or new TLS; no false port-in-use; stale forward removed",
        "reattached (same QEMU pid), degraded with the settings reason only, stale forward gone",
    );

    // this computer's disk fills up while the guest writes: QEMU pauses the VM, the status says
    // why, and the VM resumes by itself once space is free; nothing is lost
    if let Some(small) = env.small_disk.as_ref().filter(|_| slow_scenario("this computer's disk fills under the VM")) {
        step("this computer's disk fills while the guest writes: paused, reported, resumed");
        let (used, _) = small.usage().unwrap();
        small.resize(used + (24 << 20)).unwrap(); // less than the agent waits for before resuming
        env.docker_ok(&[
            "run",
            "-d",
            "--name",
            "filler",
            "gantry-test/busybox:1",
            "sh",
            "-c",
            "dd if=/dev/zero of=/big bs=1M count=256 conv=fsync && echo written",
        ]);
        let last = env.wait_degraded("the VM to be reported paused (disk full)", Duration::from_secs(300), |s| {
            s.contains("paused") && s.contains("is full")
        });
        eprintln!("status while paused: {last}");
        small.resize(10 << 30).unwrap();
        wait_until("the VM to resume once space is free", Duration::from_secs(120), || {
            env.vm_status()["kind"] == "running"
        });
        assert_eq!(env.docker_ok(&["wait", "filler"]), "0", "the write that hit the full disk completes");
        assert!(env.docker_ok(&["logs", "filler"]).contains("written"));
        env.docker_ok(&["rm", "filler"]);
        let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
        assert_eq!(got, "persisted");
        gantry_testkit::reliability::fault(
            "this computer's disk fills while the guest writes (Gantry's directory on a tmpfs shrunk under the VM)",
            "QEMU pauses the VM instead of corrupting it; status says paused and why; it resumes by itself when space returns; nothing lost",
            "reported paused (disk full) from QEMU's events, resumed after the space came back, the write completed",
        );
    }

    step("SIGTERM to the agent (log-out) while a container uses a share: no saved state, a clean power-off");
    let mount = format!("{}:/data", env.share.display());
    env.docker_ok(&["run", "-d", "--name", "uses-share", "-v", &mount, "gantry-test/busybox:1", "sleep", "600"]);
    let agent: i32 = std::fs::read_to_string(env.instance_dir().join("agent.pid")).unwrap().trim().parse().unwrap();
    assert!(Command::new("kill").args(["-TERM", &agent.to_string()]).status().unwrap().success());
    wait_until("the VM to stop after SIGTERM", Duration::from_secs(120), || env.vm_status()["kind"] == "stopped");
    let console = std::fs::read_to_string(env.instance_dir().join("console.log")).unwrap_or_default();
    assert!(console.contains("gantry-init: shutdown complete"), "SIGTERM must stop the guest cleanly");
    assert!(!env.instance_dir().join("vm-state.bin").exists(), "a share in use: nothing saved");
    let agent_log = std::fs::read_to_string(env.instance_dir().join("agent.log")).unwrap_or_default();
    assert!(agent_log.contains("is in use"), "the log says why the VM was not saved:\n{agent_log}");
    gantry_testkit::reliability::fault(
        "SIGTERM to the agent while a container bind-mounts a shared folder",
        "the guest cannot let go of the share, so nothing is saved: it shuts down cleanly (dockerd stopped, disks synced)",
        "clean power-off, no saved state, the reason in the agent's log",
    );
    step("");
    eprintln!("vm_end_to_end: all scenarios passed in {:.0} s", total.elapsed().as_secs_f64());
}

/// Stop saves the VM and start resumes it (what runs keeps running, the clock is set, the
/// shares are mounted again); a damaged saved state and QEMU killed during a save or a restore
/// end in a boot with nothing lost.
fn saved_state_scenarios(env: &Env) {
    let inst = env.instance_dir();
    let saved = inst.join("vm-state.bin");
    step("stop saves the VM; start resumes it: a running container and its port, the clock, a share");
    let port = free_port();
    env.run_httpd("kept", &format!("{port}:80"));
    wait_until("HTTP 200 before the stop", Duration::from_secs(60), || {
        http_get(port, "/index.html").is_some_and(|(c, _)| c == 200)
    });
    let started_at = env.docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", "kept"]);
    let out = env.gantry(&["stop"]);
    assert!(out.status.success(), "gantry stop: {}", text(&out));
    let agent_log = || std::fs::read_to_string(inst.join("agent.log")).unwrap_or_default();
    assert!(
        saved.is_file() && inst.join("vm-state.json").is_file(),
        "a stop saves the VM; agent log:\n{}",
        agent_log()
    );
    let console = std::fs::read_to_string(inst.join("console.log")).unwrap_or_default();
    assert!(!console.contains("gantry-init: power button"), "a saved VM is not powered off:\n{console}");
    // while it is stopped a file appears in the share, and time passes that the guest's clock
    // must catch up with
    std::fs::write(env.share.join("while-stopped.txt"), "written while stopped\n").unwrap();
    std::thread::sleep(Duration::from_secs(15));
    let out = env.gantry(&["start", "--timings"]);
    assert!(out.status.success(), "gantry start after a save: {}", text(&out));
    eprintln!("{}", text(&out));
    assert!(text(&out).contains("saved state restored"), "the start resumed the saved VM: {}", text(&out));
    assert!(!saved.exists(), "a saved state is used once");
    assert_eq!(env.docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", "kept"]), started_at, "still the same run");
    wait_until("HTTP 200 through the port after the resume", Duration::from_secs(60), || {
        http_get(port, "/index.html").is_some_and(|(c, _)| c == 200)
    });
    // the guest reads its clock between two readings of this computer's (±2 s of rounding)
    let host_secs = || i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_secs()).unwrap();
    let before = host_secs();
    let guest: i64 = env.docker_ok(&["run", "--rm", "gantry-test/busybox:1", "date", "+%s"]).parse().unwrap();
    let after = host_secs();
    assert!(
        (before - 2..=after + 2).contains(&guest),
        "the guest's clock after the resume: {guest}, this computer's: {before}..{after}"
    );
    let mount = format!("{}:/data", env.share.display());
    let got = env.docker_ok(&["run", "--rm", "-v", &mount, "gantry-test/busybox:1", "cat", "/data/while-stopped.txt"]);
    assert_eq!(got, "written while stopped", "the share is mounted again after the resume");
    env.docker_ok(&["rm", "-f", "kept"]);

    step("a damaged saved state (truncated): the start boots instead; nothing lost");
    let out = env.gantry(&["stop"]);
    assert!(out.status.success() && saved.is_file(), "gantry stop saves: {}\n{}", text(&out), agent_log());
    let len = std::fs::metadata(&saved).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&saved).unwrap().set_len(len / 2).unwrap();
    let out = env.gantry(&["start"]);
    assert!(out.status.success(), "gantry start with a damaged saved state: {}", text(&out));
    assert!(text(&out).contains("not resumed") && text(&out).contains("damaged"), "{}", text(&out));
    let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
    assert_eq!(got, "persisted");
    gantry_testkit::reliability::fault(
        "the saved VM state truncated while stopped",
        "the start says why it does not resume and boots; the engine's data is intact",
        "booted with the reason shown, volume intact",
    );

    step("a stop while the balloon is inflated (the start-up squeeze): the resumed guest has all its memory");
    // QMP to the VM, one command per connection (the agent uses the monitor too)
    let rt = tokio::runtime::Runtime::new().unwrap();
    let qmp = |command: &str, args: Option<serde_json::Value>| -> serde_json::Value {
        rt.block_on(async {
            let mut q = gantry_machine::qmp::Qmp::connect(&inst.join("qmp.sock")).await.unwrap();
            q.execute(command, args).await.unwrap()
        })
    };
    let full = qmp("query-memory-size-summary", None)["base-memory"].as_u64().unwrap();
    let guest_size = || qmp("query-balloon", None)["actual"].as_u64().unwrap();
    qmp("balloon", Some(serde_json::json!({ "value": full / 4 })));
    wait_until("the balloon to take some of the guest's memory", Duration::from_secs(120), || {
        guest_size() < full - 128 * 1024 * 1024
    });
    let out = env.gantry(&["stop"]);
    assert!(out.status.success() && saved.is_file(), "gantry stop saves: {}\n{}", text(&out), agent_log());
    let out = env.gantry(&["start"]);
    assert!(out.status.success() && text(&out).contains("resumed"), "gantry start resumes: {}", text(&out));
    wait_until("the resumed guest to have all its memory", Duration::from_secs(120), || guest_size() == full);
    drop(rt);

    let qemu_pid = || std::fs::read_to_string(inst.join("qemu.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok());
    let kill_qemu_when = |what: &str, ready: &dyn Fn() -> bool| {
        wait_until(what, Duration::from_secs(120), ready);
        let pid = qemu_pid().unwrap();
        assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    };
    if slow_scenario("kill -9 of QEMU while it saves the VM, then start (another boot)") {
        step("kill -9 QEMU during the save: the stop powers off, the start boots; nothing lost");
        std::thread::scope(|s| {
            let stop = s.spawn(|| env.gantry(&["stop"]));
            kill_qemu_when("the save to begin", &|| inst.join("vm-state.bin.partial").exists());
            let out = stop.join().unwrap();
            assert!(out.status.success(), "gantry stop: {}", text(&out));
        });
        assert!(!saved.exists() && !inst.join("vm-state.json").exists(), "no saved state from an interrupted save");
        let out = env.gantry(&["start"]);
        assert!(out.status.success(), "gantry start after an interrupted save: {}", text(&out));
        assert!(!inst.join("vm-state.bin.partial").exists(), "the interrupted save's file is removed");
        let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
        assert_eq!(got, "persisted");
        gantry_testkit::reliability::fault(
            "kill -9 of QEMU while it saves the VM's state",
            "no saved state is kept; the next start boots; the engine's data is intact",
            "booted, the partial file removed, volume intact",
        );
    }
    if slow_scenario("kill -9 of QEMU while it restores the VM (another boot)") {
        step("kill -9 QEMU during the restore: the same start boots instead; nothing lost");
        let out = env.gantry(&["stop"]);
        assert!(out.status.success() && saved.is_file(), "gantry stop saves: {}", text(&out));
        std::thread::scope(|s| {
            let start = s.spawn(|| env.gantry(&["start"]));
            kill_qemu_when("the restore's QEMU", &|| {
                inst.join("vm-state.bin.restoring").exists() && qemu_pid().is_some()
            });
            let out = start.join().unwrap();
            assert!(out.status.success(), "gantry start: {}", text(&out));
            assert!(text(&out).contains("not resumed"), "{}", text(&out));
        });
        assert!(!inst.join("vm-state.bin.restoring").exists(), "a state is never restored twice");
        let got = env.docker_ok(&["run", "--rm", "-v", "gvol:/v", "gantry-test/busybox:1", "cat", "/v/f"]);
        assert_eq!(got, "persisted");
        gantry_testkit::reliability::fault(
            "kill -9 of QEMU while it restores the VM's saved state",
            "the start boots instead (the state is used once); the engine's data is intact",
            "the same start booted, volume intact",
        );
    }
}
