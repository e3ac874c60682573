//! End-to-end test of the desktop app driving Gantry's own VM: the app starts with a private
//! GANTRY_HOME and no DOCKER_HOST, so its engine is the VM; Start on the Dashboard boots it
//! (the app runs the `gantry` next to it as the agent), a container runs from the Run dialog
//! with a published port that answers on the host, and Stop powers the VM off. Every step
//! checks what the window shows and what really happened (QEMU's pid, the socket, the port).
//!
//! Runs when the e2e prerequisites are there (see e2e.rs; missing ones fail with
//! `GANTRY_E2E_REQUIRED=1`) and `GANTRY_VM_TESTS=1` (the guest image from vm-images/build.sh,
//! QEMU, and the `gantry` binary from `cargo build --workspace --bins`, or `GANTRY_BIN`).
//! `gantry stop` from a terminal shows on the Dashboard without a click, and Start boots it again.
//! The VM is stopped (`gantry stop`, then by pid) even when the test fails.
#![cfg(unix)] // the VM tests drive QEMU and the agent on Linux

#[allow(dead_code)] // shared with e2e.rs; this test uses part of it
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gantry_engine::{Endpoint, Engine, EngineError};
use gantry_testkit::bounded::{self, step};
use harness::{App, Result};
use serde_json::Value;

const IMAGE: &str = "gantry-test/busybox:latest";
/// Bound on a boot under software emulation on a loaded machine.
const BOOT: Duration = Duration::from_secs(600);
const NAME: &str = "e2e-vm-web";
/// Bound on the whole scenario (two boots): past it the test fails with the step it was at.
const SCENARIO: Duration = Duration::from_secs(15 * 60);
/// `gantry start` gives up by itself after 600 s.
const START_BOUND: Duration = Duration::from_secs(720);
const GANTRY_BOUND: Duration = Duration::from_secs(60);

/// The private instance the app's VM lives in, seen through the `gantry` CLI and its files.
struct Vm {
    home: PathBuf,
    docker_config: PathBuf,
    gantry: PathBuf,
}

impl Vm {
    fn dir(&self) -> PathBuf {
        self.home.join("default")
    }

    fn socket(&self) -> PathBuf {
        self.dir().join("docker.sock")
    }

    /// `gantry ARGS` within a bound (killed and an error past it).
    fn gantry(&self, args: &[&str]) -> Result<Output> {
        let mut c = Command::new(&self.gantry);
        c.args(args)
            .env("GANTRY_HOME", &self.home)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("GANTRY_ENGINE");
        let bound = match args.first() {
            Some(&"start") => START_BOUND,
            Some(&"stop") => gantry_testkit::vm::STOP_BOUND,
            _ => GANTRY_BOUND,
        };
        Ok(bounded::output(&mut c, None, bound)?)
    }

    /// `gantry vm-status --json`.
    fn status(&self) -> Result<Value> {
        let out = self.gantry(&["vm-status", "--json"])?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("vm-status --json: {e}: {}", String::from_utf8_lossy(&out.stdout)).into())
    }

    fn forwarded(&self, port: u16) -> Result<bool> {
        let st = self.status()?;
        Ok(st["forwarded_ports"].as_array().is_some_and(|ps| ps.iter().any(|p| p["port"] == port)))
    }

    /// The pid in `file` of the instance directory, when that process is alive.
    fn live_pid(&self, file: &str) -> Option<u32> {
        let pid = std::fs::read_to_string(self.dir().join(file)).ok()?.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }

    /// The settings a first start needs: Gantry's VM, 2 CPUs, 2 GiB.
    fn write_settings(&self) -> Result<()> {
        let settings = serde_json::json!({
            "engine": {"kind": "gantry_vm"},
            "vm": {"cpus": 2, "memory_mib": 2048, "disk_gib": 8, "port_bind_address": "127.0.0.1"}
        });
        std::fs::create_dir_all(self.dir())?;
        std::fs::write(self.dir().join("settings.json"), settings.to_string())?;
        Ok(())
    }

    /// Stops the VM and kills what is left of it, by pid (only processes of this instance).
    fn clean_up(&self) {
        gantry_testkit::vm::stop(&self.gantry, &self.home, &self.docker_config);
    }
}

/// Stops the VM when the test ends, also on a panic.
struct CleanUp<'a>(&'a Vm);

impl Drop for CleanUp<'_> {
    fn drop(&mut self) {
        self.0.clean_up();
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|s| s != "Z" && s != "X")
    })
}

/// The `gantry` CLI the app runs as its agent: `GANTRY_BIN`, else the one next to the app.
fn gantry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GANTRY_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_BIN_EXE_gantry-desktop")).with_file_name("gantry")
}

/// Polls `f` until it holds, for up to `timeout`.
async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<bool>) -> Result<()> {
    let t = Instant::now();
    while !f()? {
        if t.elapsed() > timeout {
            return Err(format!("timed out after {} s waiting for {what}", timeout.as_secs()).into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("e2e-vm: {what} after {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Records every (state, start-up steps) pair the engine card shows from now on, so a short
/// state (Stopping…) is seen however fast it passes.
async fn record_engine_card(app: &App) -> Result<()> {
    app.execute(
        r#"window.__seen = [];
        const snap = () => {
          const text = (css) => (document.querySelector(css)?.textContent ?? '').replace(/\s+/g, ' ').trim();
          const s = `${text('[data-testid=engine-state]')} | ${text('[data-testid=start-steps]')}`;
          if (window.__seen[window.__seen.length - 1] !== s) window.__seen.push(s);
        };
        window.__seenObserver?.disconnect();
        window.__seenObserver = new MutationObserver(snap);
        window.__seenObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
        snap();"#,
    )
    .await?;
    Ok(())
}

async fn seen(app: &App) -> Result<Vec<String>> {
    let v = app.execute("return window.__seen;").await?;
    Ok(v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_with_the_vm() -> Result<()> {
    let Some(env) = harness::require_env_for(false)? else { return Ok(()) };
    if std::env::var("GANTRY_VM_TESTS").as_deref() != Ok("1") {
        gantry_testkit::skip::skipped(
            "desktop_with_the_vm",
            "set GANTRY_VM_TESTS=1 (needs the guest image from vm-images/build.sh and QEMU)",
        );
        return Ok(());
    }
    let vm =
        Vm { home: env.home.path().to_owned(), docker_config: env.home.path().join("docker"), gantry: gantry_bin() };
    if !vm.gantry.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --workspace --bins` first (or set GANTRY_BIN)",
            vm.gantry.display()
        )
        .into());
    }
    vm.write_settings()?;
    let _clean_up = CleanUp(&vm);
    let config = env.home.path().join("config");
    let docker_config = vm.docker_config.display().to_string();
    let config = config.display().to_string();
    let vars = [("DOCKER_CONFIG", docker_config.as_str()), ("XDG_CONFIG_HOME", config.as_str())];
    let app = App::launch_env(&env, &vars, &["DOCKER_HOST", "GANTRY_ENGINE"]).await?;
    // the last resort when something blocks the runtime itself: the process ends with the logs
    let _watchdog = gantry_testkit::vm::watchdog(
        "desktop_with_the_vm",
        SCENARIO + Duration::from_secs(300),
        &vm.gantry,
        &vm.home,
        &vm.docker_config,
    );
    let t = Instant::now();
    let result = match tokio::time::timeout(SCENARIO, scenario(&app, &vm)).await {
        Ok(result) => result,
        Err(_) => Err(format!("not done after {} s, at step: {}", SCENARIO.as_secs(), bounded::current_step()).into()),
    };
    if let Err(e) = &result {
        eprintln!("e2e-vm failed at step {}: {e}", bounded::current_step());
        let _ = tokio::time::timeout(Duration::from_secs(30), app.screenshot("failure")).await;
        eprintln!("{}", gantry_testkit::vm::diagnostics(&vm.dir()));
    } else {
        eprintln!("e2e-vm: all steps passed in {:.0} s", t.elapsed().as_secs_f64());
    }
    vm.clean_up();
    app.quit().await;
    result
}

async fn scenario(app: &App, vm: &Vm) -> Result<()> {
    step("Start on the Dashboard boots the VM");
    start_from_dashboard(app, vm).await?;
    step("the fixture image in the VM's engine");
    let socket = vm.socket();
    let engine = Engine::connect(&Endpoint::Unix(socket)).await?;
    harness::ensure_fixture_image(&engine, IMAGE).await?;
    step("a container from the Run dialog with a published port");
    run_with_published_port(app, vm, &engine).await?;
    drop(engine);
    step("`gantry stop` in a terminal shows on the Dashboard; Start boots again");
    stop_from_cli(app, vm).await?;
    step("Stop on the Dashboard");
    stop_from_dashboard(app, vm).await?;
    step("");
    Ok(())
}

/// `gantry stop` in a terminal while the app shows Running: the Dashboard and the sidebar follow
/// without a click (Not running / stopped, Start enabled); Start then boots it again.
async fn stop_from_cli(app: &App, vm: &Vm) -> Result<()> {
    app.click("[data-testid=nav-dashboard]").await?;
    app.wait_text("[data-testid=engine-state]", "Running").await?;
    app.wait_text("[data-testid=engine-pill]", "Engine running").await?;
    record_engine_card(app).await?;
    let out = vm.gantry(&["stop"])?;
    assert!(out.status.success(), "gantry stop: {}", text(&out));
    app.wait_text_for("[data-testid=engine-state]", "Not running", Duration::from_secs(180)).await?;
    app.wait_text("[data-testid=vm-state]", "stopped").await?;
    app.wait_text("[data-testid=engine-pill]", "Engine not running").await?;
    app.wait_present("[data-testid=engine-start]:not([disabled])").await?;
    eprintln!("e2e-vm: the Dashboard followed `gantry stop`: {:?}", seen(app).await?);
    assert_eq!(vm.status()?["kind"], "stopped");

    app.click("[data-testid=engine-start]").await?;
    let t = Instant::now();
    app.wait_text_for("[data-testid=engine-state]", "Running", BOOT).await?;
    eprintln!("e2e-vm: running again after {:.0} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Stopped with a Start button; Start shows the steps as they happen, then Running with the
/// accelerator (and its warning under emulation); QEMU really runs and the socket answers.
async fn start_from_dashboard(app: &App, vm: &Vm) -> Result<()> {
    app.click("[data-testid=nav-dashboard]").await?;
    app.wait_text("[data-testid=engine-state]", "Not running").await?;
    app.wait_text("[data-testid=vm-state]", "stopped").await?;
    app.wait_text("[data-testid=engine-card]", "start it").await?;
    app.wait_present("[data-testid=engine-start]:not([disabled])").await?;
    assert!(vm.live_pid("qemu.pid").is_none(), "a QEMU runs before Start");
    record_engine_card(app).await?;
    app.click("[data-testid=engine-start]").await?;
    app.wait_text_for("[data-testid=start-steps]", "boot VM", Duration::from_secs(120)).await?;
    app.screenshot("dashboard-vm-starting").await?;
    wait_for("QEMU to run", Duration::from_secs(120), || Ok(vm.live_pid("qemu.pid").is_some())).await?;
    // Running, or the error the UI shows.
    let t = Instant::now();
    loop {
        let state = app.text_of("[data-testid=engine-state]").await?.unwrap_or_default();
        if state == "Running" {
            break;
        }
        if state == "Not running" {
            let shown = app.text_of("[data-testid=engine-card]").await?.unwrap_or_default();
            return Err(format!("the start failed; the card shows: {shown}").into());
        }
        if t.elapsed() > BOOT {
            return Err(format!("not running after {} s; the card shows {state:?}", BOOT.as_secs()).into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("e2e-vm: running after {:.0} s", t.elapsed().as_secs_f64());
    let seen = seen(app).await?;
    assert!(
        seen.iter().any(|s| s.starts_with("Starting") && s.contains("[5/9] boot VM")),
        "the boot step was never shown while starting: {seen:#?}"
    );
    assert!(seen.iter().any(|s| s.contains("wait for engine")), "the engine step was never shown: {seen:#?}");

    // What really runs: the agent's status, QEMU, the socket; the card says the same.
    let st = vm.status()?;
    assert_eq!(st["kind"], "running", "{st}");
    let accel = st["accel"].as_str().ok_or("no accelerator in vm-status")?.to_owned();
    app.wait_text("[data-testid=vm-state]", &format!("running ({accel}")).await?;
    if accel == "tcg" {
        app.wait_text("[data-testid=vm-warnings]", "software emulation").await?;
    }
    let socket = vm.socket();
    app.wait_text("[data-testid=engine-card]", &format!("unix://{}", socket.display())).await?;
    app.wait_text("[data-testid=engine-card]", "Gantry VM").await?;
    assert!(socket.exists(), "{} missing while running", socket.display());
    let qemu = vm.live_pid("qemu.pid").ok_or("QEMU is not running")?;
    assert_eq!(st["qemu_pid"], qemu, "{st}");
    let agent = vm.live_pid("agent.pid").ok_or("the agent is not running")?;
    let exe = std::fs::read_link(format!("/proc/{agent}/exe"))?;
    assert_eq!(exe.file_name(), vm.gantry.file_name(), "the agent is {}", exe.display());
    app.screenshot("dashboard-vm").await
}

/// The fixture's httpd from the Run dialog with `PORT:80`: listed with its link, and HTTP 200
/// on 127.0.0.1:PORT through the agent's forward; stop and remove it: the forward is gone.
async fn run_with_published_port(app: &App, vm: &Vm, engine: &Engine) -> Result<()> {
    let port = gantry_testkit::net::free_port()?;
    app.click("[data-testid=nav-containers]").await?;
    app.click("[data-testid=run-open]").await?;
    app.type_into("[data-testid=run-image]", IMAGE).await?;
    app.type_into("[data-testid=run-name]", NAME).await?;
    app.type_into("[data-testid=run-command]", "httpd -f -p 80 -h /var/www").await?;
    app.type_into("[data-testid=run-ports-0]", &format!("{port}:80")).await?;
    app.wait_text("[data-testid=run-preview]", &format!("-p {port}:80")).await?;
    app.click("[data-testid=run-submit]").await?;
    let row = format!("[data-testid=container-{NAME}]");
    app.wait_text_for(&row, "running", Duration::from_secs(120)).await?;
    app.wait_text(&row, &format!("localhost:{port}")).await?;
    let details = engine.inspect_container(NAME).await?;
    assert!(details.running, "the VM's engine says {NAME} is not running");
    assert!(details.ports.iter().any(|p| p.host_port == Some(port) && p.container_port == 80), "{:?}", details.ports);
    let mut reply = None;
    wait_for("HTTP 200 from the container through the forward", Duration::from_secs(120), || {
        reply = gantry_testkit::net::http_get_once(port, "/").ok();
        Ok(reply.as_ref().is_some_and(|r| r.status == 200))
    })
    .await?;
    let body = reply.map(|r| r.body).unwrap_or_default();
    assert!(body.contains("hello from gantry e2e"), "port {port} answered {body:?}");
    assert!(vm.forwarded(port)?, "vm-status does not list the forward of {port}");

    app.click(&format!("{row} [data-testid=stop]")).await?;
    app.wait_text_for(&row, "exited", Duration::from_secs(120)).await?;
    assert!(!engine.inspect_container(NAME).await?.running, "the engine still runs {NAME}");
    wait_for("the forward to go", Duration::from_secs(60), || {
        Ok(std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err()
            && !vm.forwarded(port)?)
    })
    .await?;
    app.click(&format!("{row} [data-testid=remove]")).await?;
    app.click("[data-testid=confirm]").await?;
    app.wait_gone(&row).await?;
    match engine.inspect_container(NAME).await {
        Err(EngineError::NotFound { .. }) => Ok(()),
        other => Err(format!("the engine still holds {NAME}: {other:?}").into()),
    }
}

/// Stop shows Stopping… then Not running / stopped; QEMU has exited, its pid file and the
/// socket are gone.
async fn stop_from_dashboard(app: &App, vm: &Vm) -> Result<()> {
    let qemu = vm.live_pid("qemu.pid").ok_or("QEMU is not running before Stop")?;
    app.click("[data-testid=nav-dashboard]").await?;
    app.wait_text("[data-testid=engine-state]", "Running").await?;
    record_engine_card(app).await?;
    app.click("[data-testid=engine-stop]").await?;
    app.wait_text_for("[data-testid=engine-state]", "Not running", Duration::from_secs(180)).await?;
    app.wait_text("[data-testid=vm-state]", "stopped").await?;
    app.wait_present("[data-testid=engine-start]:not([disabled])").await?;
    let seen = seen(app).await?;
    assert!(seen.iter().any(|s| s.starts_with("Stopping")), "Stopping… was never shown: {seen:#?}");
    wait_for("QEMU to exit", Duration::from_secs(60), || Ok(!alive(qemu))).await?;
    assert!(!vm.dir().join("qemu.pid").exists(), "qemu.pid is left behind");
    assert!(!vm.socket().exists(), "docker.sock is left behind");
    assert_eq!(vm.status()?["kind"], "stopped");
    Ok(())
}
