//! VM benchmark (issue 3, item 5): ratios measured in the same run, printed and written to
//! docs/benchmarks.md (section "Gantry VM").
//!
//! - launch → `docker version` answered through Gantry's socket, vs starting a native dockerd;
//! - API round trip (list containers x100) through Gantry's socket vs the guest's TLS endpoint;
//! - HTTP throughput to a published port vs native `-p` on the host, and vs a container fetching
//!   the same file from another container in the same VM (issue 13, item 5); a small request's
//!   latency the same two ways;
//! - idle RSS of QEMU + agent, and how much of 1 GiB a container used comes back after it exits.
//!
//! Run: `cargo build -p gantry-cli && cargo bench -p gantry-core --bench vm`
//! (needs the guest image, QEMU, the docker CLI, dockerd for the baselines, /bin/busybox;
//! `GANTRY_BIN` names the gantry binary, default target/{release,debug}/gantry).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{docker, gantry_bin};
use gantry_engine::{ContainerFilter, Endpoint, Engine};

mod common;

struct Ctx {
    bin: PathBuf,
    home: PathBuf,
    docker_config: PathBuf,
}

impl Ctx {
    fn gantry(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap()
    }
    fn sock(&self) -> PathBuf {
        self.home.join("default/docker.sock")
    }
}

fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    common::busybox_root(&root, &["sh", "httpd", "cat", "sleep", "dd", "wget", "true", "seq"]);
    std::fs::create_dir_all(root.join("www")).unwrap();
    // 4 MiB payload
    let payload: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("www/blob"), payload).unwrap();
    std::fs::write(root.join("www/small"), [b'x'; 100]).unwrap();
    let tar = dir.join("bb.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    tar
}

fn http_mb_per_s(port: u16, rounds: usize) -> f64 {
    let t = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /blob HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        assert!(v.starts_with(b"HTTP/1.0 200") || v.starts_with(b"HTTP/1.1 200"), "bad response");
        bytes += v.len();
    }
    bytes as f64 / (1024.0 * 1024.0) / t.elapsed().as_secs_f64()
}

/// Mean time of one small request (`/small`, 100 bytes) through a published port: connect,
/// GET, read to the end.
fn http_small_latency(port: u16, rounds: u32) -> Duration {
    let t = Instant::now();
    for _ in 0..rounds {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /small HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        assert!(v.ends_with(&[b'x'; 100]), "bad small response");
    }
    t.elapsed() / rounds
}

/// How long `docker exec <container> sh -c <script>` takes, seen from the host.
fn exec_time(host: &str, container: &str, script: &str) -> Duration {
    let t = Instant::now();
    docker(host, &["exec", container, "sh", "-c", script]);
    t.elapsed()
}

/// The same transfers inside the VM, container to container over the engine's bridge (the
/// baseline the issue names for a published port): `wget` in a client container fetches
/// `/blob` `rounds` times and `/small` `small_rounds` times from `web_ip`; each loop's time less
/// the same loop running `true` (the exec and the process starts, measured in the same run).
/// Returns (MiB/s, mean small-request time).
fn in_vm_baseline(host: &str, web_ip: &str, rounds: u32, small_rounds: u32) -> (f64, Duration) {
    let loop_of = |n: u32, cmd: &str| format!("for i in $(seq {n}); do {cmd} || exit 1; done");
    let empty = |n: u32| (0..3).map(|_| exec_time(host, "client", &loop_of(n, "/bin/true"))).min().unwrap_or_default();
    let bulk = exec_time(host, "client", &loop_of(rounds, &format!("wget -q -O /dev/null http://{web_ip}/blob")));
    let bulk = bulk.saturating_sub(empty(rounds));
    let small =
        exec_time(host, "client", &loop_of(small_rounds, &format!("wget -q -O /dev/null http://{web_ip}/small")));
    let small = small.saturating_sub(empty(small_rounds)) / small_rounds;
    (f64::from(rounds) * 4.0 / bulk.as_secs_f64().max(1e-3), small)
}

fn wait_http(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() || http_probe(port).is_none() {
        assert!(t.elapsed() < Duration::from_secs(60), "port {port} never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn http_probe(port: u16) -> Option<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /blob HTTP/1.0\r\n\r\n").ok()?;
    let mut b = [0u8; 12];
    s.read_exact(&mut b).ok()?;
    b.ends_with(b"200").then_some(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct NativeDockerd {
    child: Child,
    dir: PathBuf,
}

impl NativeDockerd {
    fn host(&self) -> String {
        format!("unix://{}/d.sock", self.dir.display())
    }
}

impl Drop for NativeDockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn start_native(dir: &Path) -> Option<(NativeDockerd, Duration)> {
    let t = Instant::now();
    let child = Command::new("dockerd")
        .arg("-H")
        .arg(format!("unix://{}/d.sock", dir.display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("d.pid"))
        .arg("--bridge=none")
        .arg("--iptables=false")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("dockerd.log")).ok()?)
        .spawn()
        .ok()?;
    let d = NativeDockerd { child, dir: dir.to_owned() };
    let rt = tokio::runtime::Runtime::new().ok()?;
    let ep = Endpoint::Unix(dir.join("d.sock"));
    loop {
        if t.elapsed() > Duration::from_secs(60) {
            return None;
        }
        if dir.join("d.sock").exists() && rt.block_on(async { Engine::connect(&ep).await?.version().await }).is_ok() {
            return Some((d, t.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn api_round_trips(engine: &Engine, n: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        engine.list_containers(&ContainerFilter::default()).await.unwrap();
    }
    t.elapsed()
}

fn main() {
    let bin = gantry_bin();
    let tmp = tempfile::Builder::new().prefix("gbench").tempdir_in("/tmp").unwrap();
    let ctx = Ctx { bin, home: tmp.path().join("h"), docker_config: tmp.path().join("dc") };
    std::fs::create_dir_all(ctx.home.join("default")).unwrap();
    std::fs::write(
        ctx.home.join("default/settings.json"),
        r#"{"vm":{"cpus":2,"memory_mib":2048,"disk_gib":8,"shared_folders":[]}}"#,
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rows: Vec<(String, String, String, String)> = Vec::new();

    // 1. launch → docker version through Gantry's socket
    let t = Instant::now();
    let out = ctx.gantry(&["start", "--timings"]);
    assert!(out.status.success(), "gantry start: {}", String::from_utf8_lossy(&out.stderr));
    // where the start-up went, phase by phase (the accelerator is named in its heading)
    let printed = String::from_utf8_lossy(&out.stdout);
    let phases = printed.split_once("Start-up timings").map(|(_, t)| t.split("\n\n").next().unwrap_or(t));
    println!("Start-up timings{}", phases.unwrap_or(": none printed"));
    let engine = rt.block_on(Engine::connect(&Endpoint::Unix(ctx.sock()))).unwrap();
    let v = rt.block_on(engine.version()).unwrap();
    let gantry_start = t.elapsed();
    let status: serde_json::Value =
        serde_json::from_slice(&ctx.gantry(&["vm-status", "--json"]).stdout).unwrap_or_default();
    let accel = status["accel"].as_str().unwrap_or("?").to_owned();
    println!("gantry start → docker version {} answered: {:.2} s ({accel})", v.version, gantry_start.as_secs_f64());

    let native_dir = tmp.path().join("native");
    std::fs::create_dir_all(&native_dir).unwrap();
    let native = start_native(&native_dir);
    match &native {
        Some((_, d)) => {
            println!("native dockerd → version answered: {:.2} s", d.as_secs_f64());
            rows.push((
                "launch → `docker version` answered".into(),
                format!("{:.1} s ({accel})", gantry_start.as_secs_f64()),
                format!("{:.2} s (native dockerd)", d.as_secs_f64()),
                format!("{:.1}×", gantry_start.as_secs_f64() / d.as_secs_f64()),
            ));
        }
        None => println!("native dockerd baseline unavailable"),
    }

    // 2. API round trips: Gantry's socket vs the guest's TLS endpoint directly
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.home.join("default/state.json")).unwrap()).unwrap();
    let inst = gantry_machine::instance::Instance::at(ctx.home.join("default"));
    let tls_ep = Endpoint::Tcp {
        address: format!("127.0.0.1:{}", state["engine_port"]),
        tls: Some(gantry_engine::TlsFiles {
            ca: inst.tls_ca(),
            cert: inst.tls_client_cert(),
            key: inst.tls_client_key(),
        }),
    };
    let direct = rt.block_on(Engine::connect(&tls_ep)).unwrap();
    rt.block_on(api_round_trips(&engine, 5));
    rt.block_on(api_round_trips(&direct, 5));
    let via_sock = rt.block_on(api_round_trips(&engine, 100));
    let via_tls = rt.block_on(api_round_trips(&direct, 100));
    println!(
        "100 × list containers: Gantry socket {:.0} ms, guest TLS endpoint {:.0} ms",
        via_sock.as_secs_f64() * 1e3,
        via_tls.as_secs_f64() * 1e3
    );
    rows.push((
        "API round trip (list containers ×100)".into(),
        format!("{:.1} ms each (socket → TLS)", via_sock.as_secs_f64() * 10.0),
        format!("{:.1} ms each (TLS direct)", via_tls.as_secs_f64() * 10.0),
        format!("{:.2}×", via_sock.as_secs_f64() / via_tls.as_secs_f64()),
    ));

    // 3. HTTP throughput to a published port
    let tar = busybox_tar(tmp.path());
    let ghost = format!("unix://{}", ctx.sock().display());
    docker(&ghost, &["import", tar.to_str().unwrap(), "bench/bb:1"]);
    let gport = free_port();
    docker(
        &ghost,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("{gport}:80"),
            "bench/bb:1",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    wait_http(gport);
    let g_mbs = http_mb_per_s(gport, 20);
    println!("HTTP via Gantry's forward: {g_mbs:.1} MiB/s");
    http_small_latency(gport, 5);
    let g_small = http_small_latency(gport, 50);
    println!("small request via Gantry's forward: {:.1} ms", g_small.as_secs_f64() * 1e3);
    // the issue's baseline: the same fetches from another container in the same VM
    docker(&ghost, &["run", "-d", "--name", "client", "bench/bb:1", "sleep", "3600"]);
    let web_ip = docker(&ghost, &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    let (c_mbs, c_small) = in_vm_baseline(&ghost, &web_ip, 20, 50);
    println!(
        "HTTP container → container in the VM: {c_mbs:.1} MiB/s; small request {:.1} ms",
        c_small.as_secs_f64() * 1e3
    );
    rows.push((
        "HTTP throughput to a published port (4 MiB ×20)".into(),
        format!("{g_mbs:.1} MiB/s"),
        format!("{c_mbs:.1} MiB/s (container → container in the VM)"),
        format!("{:.2}×", g_mbs / c_mbs),
    ));
    rows.push((
        "small request (100 bytes) through a published port, mean of 50".into(),
        format!("{:.1} ms", g_small.as_secs_f64() * 1e3),
        format!("{:.1} ms (container → container in the VM)", c_small.as_secs_f64() * 1e3),
        format!("{:.2}×", g_small.as_secs_f64() / c_small.as_secs_f64().max(1e-6)),
    ));
    docker(&ghost, &["rm", "-f", "client"]);
    if let Some((nd, _)) = &native {
        // the baseline dockerd runs without bridge/iptables: use host networking + a host port
        let nport = free_port();
        docker(&nd.host(), &["import", tar.to_str().unwrap(), "bench/bb:1"]);
        docker(
            &nd.host(),
            &[
                "run",
                "-d",
                "--name",
                "web",
                "--net",
                "host",
                "bench/bb:1",
                "httpd",
                "-f",
                "-p",
                &nport.to_string(),
                "-h",
                "/www",
            ],
        );
        wait_http(nport);
        let n_mbs = http_mb_per_s(nport, 20);
        println!("HTTP native: {n_mbs:.1} MiB/s");
        rows.push((
            "HTTP throughput to a published port vs the host (4 MiB ×20)".into(),
            format!("{g_mbs:.1} MiB/s"),
            format!("{n_mbs:.1} MiB/s (native, host network)"),
            format!("{:.3}×", g_mbs / n_mbs),
        ));
        docker(&nd.host(), &["rm", "-f", "web"]);
    }
    docker(&ghost, &["rm", "-f", "web"]);

    // 4. idle RSS
    std::thread::sleep(Duration::from_secs(5));
    let qemu_pid = status["qemu_pid"].as_u64().unwrap_or(0) as u32;
    let agent_pid = status["agent_pid"].as_u64().unwrap_or(0) as u32;
    let (q, a) = (rss_kib(qemu_pid), rss_kib(agent_pid));
    println!("idle RSS: QEMU {} MiB, agent {} MiB", q / 1024, a / 1024);
    rows.push(("idle RSS".into(), format!("QEMU {} MiB + agent {} MiB", q / 1024, a / 1024), "—".into(), "—".into()));

    // 5. memory given back: a container fills 1 GiB (tmpfs), exits; QEMU's RSS should fall back
    // (virtio-balloon free page reporting) instead of keeping the high-water mark.
    docker(
        &ghost,
        &[
            "run",
            "-d",
            "--name",
            "hog",
            "--tmpfs",
            "/t:size=1100m",
            "bench/bb:1",
            "sh",
            "-c",
            "dd if=/dev/zero of=/t/f bs=1M count=1024 2>/dev/null; echo filled; sleep 600",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    while !docker(&ghost, &["logs", "hog"]).contains("filled") {
        assert!(Instant::now() < deadline, "the 1 GiB container did not fill its tmpfs");
        std::thread::sleep(Duration::from_millis(500));
    }
    let peak = rss_kib(qemu_pid);
    docker(&ghost, &["rm", "-f", "hog"]);
    // page reporting runs every ~2 s; let it settle (RSS stops falling)
    let mut after = rss_kib(qemu_pid);
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(2));
        let now = rss_kib(qemu_pid);
        if after.saturating_sub(now) < 4 * 1024 {
            after = now;
            break;
        }
        after = now;
    }
    println!("QEMU RSS: idle {} MiB, 1 GiB in use {} MiB, after it exits {} MiB", q / 1024, peak / 1024, after / 1024);
    rows.push((
        "QEMU RSS after a container that used 1 GiB exits".into(),
        format!("{} MiB after (idle before: {} MiB)", after / 1024, q / 1024),
        format!("{} MiB while in use", peak / 1024),
        format!("{:.2}× (after / in use)", after as f64 / peak.max(1) as f64),
    ));

    let t = Instant::now();
    let out = ctx.gantry(&["stop"]);
    assert!(out.status.success());
    println!("gantry stop: {:.1} s", t.elapsed().as_secs_f64());
    rows.push(("clean stop (power-off)".into(), format!("{:.1} s", t.elapsed().as_secs_f64()), "—".into(), "—".into()));
    drop(native);

    // docs/benchmarks.md
    let mut section = String::from("<!-- gantry-vm-bench:start -->\n## Gantry VM\n\n");
    section.push_str(&format!(
        "Measured by `cargo bench -p gantry-core --bench vm` (accelerator: {accel}; 2 CPUs, 2048 MiB guest).\n\n"
    ));
    section.push_str("| measure | Gantry | baseline | ratio |\n|---|---|---|---|\n");
    for (m, g, b, r) in &rows {
        section.push_str(&format!("| {m} | {g} | {b} | {r} |\n"));
    }
    if accel == "tcg" {
        section.push_str(
            "\nThis run used TCG (software emulation: no usable KVM here), so the guest's CPU is \
             emulated: boot, API latency inside the guest and slirp throughput are all far slower \
             than with KVM/HVF/WHPX, where the aim is the engine ready in under 2 s. The \
             socket → TLS path reuses one forwarded connection per client connection; the \
             direct TLS client pays more per request.\n",
        );
    }
    section.push_str("<!-- gantry-vm-bench:end -->\n");
    println!("\n{section}");
    common::write_docs_section("vm", &section);
}
