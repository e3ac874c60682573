//! End-to-end tests of the real desktop binary: Xvfb + tauri-driver (WebKitWebDriver) driven
//! with fantoccini, against the engine in `DOCKER_HOST`. One test per scenario, all against one
//! app launch (a custom test harness): each scenario makes what it needs, checks what the window
//! shows and what the engine then holds, and a failing one does not hide the others (it leaves a
//! `failure-<scenario>.png` and the next starts from the Dashboard again).
//!
//! Needs: `Xvfb`, `tauri-driver` (cargo install tauri-driver --version '^2' --locked),
//! `WebKitWebDriver` (Debian webkit2gtk-driver), `ui/dist` built (npm run build), DOCKER_HOST.
//! Without them the scenarios are reported as ignored, with the reason, unless
//! `GANTRY_E2E_REQUIRED=1` (then they fail). Screenshots go to `GANTRY_SCREENSHOT_DIR`
//! (`docs/screenshots` refreshes the committed ones), else to a temporary folder.
//! Run one: `cargo test -p gantry-desktop --test e2e -- logs`.

mod e2e_insight;
mod e2e_workshop;
#[allow(dead_code)] // shared with the other desktop tests; this one uses part of it
mod harness;
mod learn;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use e2e_insight::{
    dockerfile_advice_with_fixes, events_explained, image_layers_and_files, image_packages_and_vulnerabilities,
    live_picture,
};
use e2e_workshop::workshop_import_in_progress;
use futures_util::{FutureExt, StreamExt};
use gantry_engine::{Engine, EngineError, ExecSpec, RemoveOptions, RunSpec};
use harness::{App, Env, Result};
use learn::{learn_a_step_turns_green_then_reset, learn_in_the_app_terminal};
use libtest_mimic::{Arguments, Failed, Trial};

const IMAGE: &str = "gantry-test/busybox:latest";

/// What every scenario shares: the app (launched once), its private home, the engine.
struct Ctx {
    rt: tokio::runtime::Runtime,
    env: Env,
    engine: Engine,
    app: App,
    scenery: harness::Scenery,
    /// Containers the scenarios made, removed at the end even when a scenario failed.
    made: Mutex<Vec<String>>,
}

impl Ctx {
    fn home(&self) -> PathBuf {
        self.env.home.path().to_path_buf()
    }

    /// Runs a busybox container named `name` with `cmd` (an old one of that name goes first).
    async fn run(&self, name: &str, cmd: &str, edit: impl FnOnce(&mut RunSpec)) -> Result<String> {
        let _ = self.engine.remove_container(name, RemoveOptions { force: true, volumes: true }).await;
        let mut spec = RunSpec::new(IMAGE);
        spec.name = Some(name.into());
        spec.command = vec!["sh".into(), "-c".into(), cmd.into()];
        edit(&mut spec);
        if let Ok(mut made) = self.made.lock() {
            made.push(name.into());
        }
        Ok(self.engine.run_container(&spec).await?)
    }

    async fn remove(&self, name: &str) {
        let _ = self.engine.remove_container(name, RemoveOptions { force: true, volumes: true }).await;
    }
}

type Scenario = fn(&'static Ctx) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), |ctx| Box::pin($name(ctx)))),*]
    };
}

/// Every scenario, in the order they run (the last one resizes the window).
const SCENARIOS: &[(&str, Scenario)] = scenarios![
    dashboard,
    single_instance,
    run_dialog_starts_a_container_that_answers,
    logs_search_and_download,
    detail_tabs,
    events_show_a_start,
    stop_and_remove_from_the_list,
    markup_shows_as_text,
    only_gantrys_commands_are_callable,
    import_save_and_load_an_image,
    workshop_bundle_imports_from_the_app,
    workshop_bundle_opened_with_the_app,
    workshop_import_in_progress,
    pull_with_progress,
    volumes_browse_export_import_remove,
    networks_connect_disconnect,
    build_from_folder,
    image_layers_and_files,
    image_packages_and_vulnerabilities,
    dockerfile_advice_with_fixes,
    events_explained,
    live_picture,
    compose_folder_up_and_down,
    list_follows_engine_events,
    invalid_settings_are_not_saved,
    registry_login,
    prune_says_what_it_deletes,
    learn_a_step_turns_green_then_reset,
    learn_in_the_app_terminal,
    keyboard,
    dark_theme,
    russian,
    window_restored_and_engine_unreachable,
];

static CTX: OnceLock<std::result::Result<Ctx, String>> = OnceLock::new();

/// The shared context, made on first use (so listing or filtering out every scenario starts
/// nothing).
fn ctx(env: &Mutex<Option<Env>>) -> std::result::Result<&'static Ctx, String> {
    CTX.get_or_init(|| {
        let env = env.lock().ok().and_then(|mut e| e.take()).ok_or("no test environment")?;
        start(env).map_err(|e| format!("cannot start the app: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn start(env: Env) -> Result<Ctx> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (engine, scenery, app) = rt.block_on(async {
        let engine = Engine::from_env().await?;
        harness::ensure_fixture_image(&engine, IMAGE).await?;
        let scenery = harness::Scenery::create(&engine, IMAGE).await?;
        let home = env.home.path();
        let (downloads, config, docker) = (home.join("downloads"), home.join("config"), home.join("docker"));
        let labs_work = home.join("labs-work");
        let vars = [
            ("XDG_DOWNLOAD_DIR", downloads.to_string_lossy()),
            ("XDG_CONFIG_HOME", config.to_string_lossy()),
            ("DOCKER_CONFIG", docker.to_string_lossy()),
            ("GANTRY_LABS_WORK", labs_work.to_string_lossy()),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        let app = App::launch_with(&env, &vars).await?;
        Ok::<_, harness::Error>((engine, scenery, app))
    })?;
    Ok(Ctx { rt, env, engine, app, scenery, made: Mutex::default() })
}

fn run(env: &Mutex<Option<Env>>, name: &str, scenario: Scenario) -> std::result::Result<(), Failed> {
    let ctx = ctx(env)?;
    let t = Instant::now();
    let result = ctx.rt.block_on(async {
        // an assert! that fails is this scenario's failure, not the end of the run
        let result = std::panic::AssertUnwindSafe(scenario(ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(panic_text(&*panic).into()));
        if result.is_err() {
            let _ = ctx.app.screenshot(&format!("failure-{name}")).await;
        }
        // the next scenario starts from the Dashboard, whatever this one left open
        let reset = ctx.app.reset().await;
        result.and(reset)
    });
    eprintln!("e2e: {name}: {:.1} s", t.elapsed().as_secs_f64());
    result.map_err(|e| Failed::from(e.to_string()))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).into()));
    format!("panicked: {}", text.unwrap_or_default())
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // one window: the scenarios take turns
    args.test_threads = Some(1);
    let (env, skip) = match harness::require_env() {
        Ok(Some(env)) => (Some(env), None),
        Ok(None) => (None, Some("the e2e prerequisites are missing (see above)".to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    let required = std::env::var("GANTRY_E2E_REQUIRED").as_deref() == Ok("1");
    let env: &'static Mutex<Option<Env>> = Box::leak(Box::new(Mutex::new(env)));
    let trials = SCENARIOS
        .iter()
        .map(|&(name, scenario)| match &skip {
            Some(why) if required => {
                let why = why.clone();
                Trial::test(name, move || Err(Failed::from(why)))
            }
            Some(_) => Trial::test(name, || Ok(())).with_ignored_flag(true),
            None => Trial::test(name, move || run(env, name, scenario)),
        })
        .collect();
    if let Some(why) = &skip {
        eprintln!("e2e skipped: {why}");
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(ctx)) = CTX.get() {
        ctx.rt.block_on(async {
            ctx.app.quit().await;
            let made = ctx.made.lock().map(|m| m.clone()).unwrap_or_default();
            for name in made {
                ctx.remove(&name).await;
            }
            ctx.scenery.remove(&ctx.engine).await;
        });
    }
    conclusion.exit_code()
}

// ---- scenarios --------------------------------------------------------------------------

async fn dashboard(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    app.click("[data-testid=nav-dashboard]").await?;
    app.wait_text("[data-testid=engine-card]", "Running").await?;
    app.wait_text("[data-testid=disk-card]", "Images").await?;
    app.wait_text("[data-testid=host-card]", "%").await?;
    app.screenshot("dashboard").await
}

/// A second launch with the same instance hands over to the running app and exits at once.
async fn single_instance(ctx: &Ctx) -> Result<()> {
    let mut second = std::process::Command::new(&ctx.env.bin)
        .env("GANTRY_HOME", ctx.home())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = second.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            return Err("a second launch did not exit: single instance is broken".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "second launch exited with {status}");
    ctx.app.wait_text("[data-testid=engine-card]", "Running").await
}

/// Runs an httpd from the Run dialog with a published port; the list shows it running, the
/// engine holds it with the port, and the port answers HTTP.
async fn run_dialog_starts_a_container_that_answers(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    ctx.remove("e2e-web").await;
    if let Ok(mut made) = ctx.made.lock() {
        made.push("e2e-web".into());
    }
    let port = gantry_testkit::net::free_port()?;
    app.click("[data-testid=nav-containers]").await?;
    app.click("[data-testid=run-open]").await?;
    app.type_into("[data-testid=run-image]", IMAGE).await?;
    app.type_into("[data-testid=run-name]", "e2e-web").await?;
    app.type_into("[data-testid=run-command]", "sh -c 'echo gantry-e2e-hello; exec httpd -f -v -p 80 -h /var/www'")
        .await?;
    app.type_into("[data-testid=run-ports-0]", &format!("{port}:80")).await?;
    app.wait_text("[data-testid=run-preview]", &format!("-p {port}:80")).await?;
    app.screenshot("run-dialog").await?;
    app.click("[data-testid=run-submit]").await?;
    let row = "[data-testid=container-e2e-web]";
    app.wait_text(row, "running").await?;
    app.wait_text(row, &format!("localhost:{port}")).await?;
    // The engine holds it, running, with the port published.
    let details = engine.inspect_container("e2e-web").await?;
    assert!(details.running, "engine says e2e-web is not running");
    assert!(details.ports.iter().any(|p| p.host_port == Some(port) && p.container_port == 80), "{:?}", details.ports);
    // And the port answers.
    let reply = harness::http_status(port).await?;
    assert!(reply.starts_with("HTTP/1."), "port {port} answered {reply:?}");
    app.screenshot("containers").await?;
    ctx.remove("e2e-web").await;
    Ok(())
}

/// A container's log: a known line shows, search finds it, Download saves the whole log; a line
/// too long to keep whole is marked as cut.
async fn logs_search_and_download(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let id = ctx.run("e2e-logs", "echo gantry-e2e-hello; echo second line; sleep 100000", |_| {}).await?;
    app.execute(&format!("window.__gantry.nav.openContainer('{id}')")).await?;
    app.wait_text("[data-testid=detail-name]", "e2e-logs").await?;
    app.wait_text("[data-testid=log-view]", "gantry-e2e-hello").await?;
    app.type_into("[data-testid=log-search]", "e2e-hello").await?;
    app.wait_text("[data-testid=log-matches]", "1 match").await?;
    app.screenshot("container-logs").await?;
    app.click("[data-testid=log-download]").await?;
    let saved = ctx.home().join("downloads/e2e-logs.log");
    let check = saved.clone();
    harness::wait_for("the downloaded log", move || check.exists()).await?;
    let text = std::fs::read_to_string(&saved)?;
    assert!(text.contains("gantry-e2e-hello") && text.contains("second line"), "downloaded log: {text:?}");
    ctx.remove("e2e-logs").await;

    // A line longer than the engine keeps whole is marked as cut, on screen and in the download.
    let id =
        ctx.run("e2e-longline", "head -c 70000 /dev/zero | tr '\\0' x; echo; echo after; sleep 100000", |_| {}).await?;
    app.execute(&format!("window.__gantry.nav.openContainer('{id}')")).await?;
    app.wait_text("[data-testid=detail-name]", "e2e-longline").await?;
    app.wait_text("[data-testid=log-view]", "after").await?;
    app.wait_text("[data-testid=log-cut]", "line cut").await?;
    app.click("[data-testid=log-download]").await?;
    let saved = ctx.home().join("downloads/e2e-longline.log");
    let check = saved.clone();
    harness::wait_for("the downloaded log", move || check.exists()).await?;
    let text = std::fs::read_to_string(&saved)?;
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("xxxx") && first.ends_with(" […]") && first.len() < 70_000,
        "cut line: {} bytes",
        first.len()
    );
    ctx.remove("e2e-longline").await;
    Ok(())
}

/// Inspect, stats, a terminal that runs a typed command, files changed.
async fn detail_tabs(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let id = ctx.run("e2e-detail", "exec httpd -f -v -p 80 -h /var/www", |_| {}).await?;
    app.execute(&format!("window.__gantry.nav.openContainer('{id}')")).await?;
    app.wait_text("[data-testid=detail-name]", "e2e-detail").await?;
    app.click("[data-testid=tab-inspect]").await?;
    app.wait_text("[data-testid=inspect]", "httpd").await?;
    app.screenshot("container-inspect").await?;
    app.click("[data-testid=tab-stats]").await?;
    app.wait_text("[data-testid=stats]", " of ").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.screenshot("container-stats").await?;
    app.click("[data-testid=tab-terminal]").await?;
    app.wait_present("[data-testid=terminal] .xterm").await?;
    // The shell's prompt shows once the session is attached.
    app.wait_text("[data-testid=terminal] .xterm-rows", "#").await?;
    // Type a command into the real terminal and see its output.
    app.type_into("[data-testid=terminal] textarea", "echo term-$((40+2))\n").await?;
    app.wait_text("[data-testid=terminal] .xterm-rows", "term-42").await?;
    app.screenshot("container-terminal").await?;
    app.click("[data-testid=tab-files]").await?;
    app.wait_present("[data-testid=tab-files].active").await?;
    app.click("[data-testid=back]").await?;
    ctx.remove("e2e-detail").await;
    Ok(())
}

async fn events_show_a_start(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    ctx.run("e2e-evented", "sleep 100000", |_| {}).await?;
    app.click("[data-testid=nav-events]").await?;
    app.wait_text("[data-testid=timeline]", "Container e2e-evented started").await?;
    app.screenshot("events").await?;
    ctx.remove("e2e-evented").await;
    Ok(())
}

/// Stop in the list: the engine stops it and its port closes; Remove (confirmed) deletes it.
async fn stop_and_remove_from_the_list(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let port = gantry_testkit::net::free_port()?;
    // a shell that ends on TERM (an httpd as PID 1 would wait out the 10 s stop timeout)
    ctx.run("e2e-stopme", "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait", |s| {
        if let Ok(p) = gantry_engine::PortSpec::parse(&format!("{port}:80")) {
            s.ports.push(p);
        }
    })
    .await?;
    app.click("[data-testid=nav-containers]").await?;
    let row = "[data-testid=container-e2e-stopme]";
    app.wait_text(row, "running").await?;
    app.click(&format!("{row} [data-testid=stop]")).await?;
    app.wait_text(row, "exited").await?;
    assert!(!engine.inspect_container("e2e-stopme").await?.running, "engine still runs e2e-stopme");
    assert!(harness::http_status(port).await.is_err(), "port {port} still answers after stop");
    app.click(&format!("{row} [data-testid=remove]")).await?;
    app.click("[data-testid=confirm]").await?;
    app.wait_gone(row).await?;
    match engine.inspect_container("e2e-stopme").await {
        Err(EngineError::NotFound { .. }) => Ok(()),
        other => Err(format!("engine still holds e2e-stopme: {other:?}").into()),
    }
}

/// Markup in a compose project name (a label), a label value, a log line and an event (a command
/// run in the container) shows as text: nothing of it becomes an element, no script runs.
async fn markup_shows_as_text(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    const MARK: &str = "<b class=e2e-markup>bold</b><img src=x onerror=window.__pwned=1>";
    let id = ctx
        .run("e2e-markup", &format!("echo '{MARK}'; sleep 100000"), |s| {
            s.labels = vec![
                ("com.docker.compose.project".into(), MARK.into()),
                ("com.docker.compose.service".into(), "svc".into()),
                ("e2e.note".into(), MARK.into()),
            ];
        })
        .await?;
    let exec = ExecSpec { cmd: vec!["echo".into(), MARK.into()], ..Default::default() };
    let session = engine.exec(&id, &exec).await?;
    let _ = session.output.collect::<Vec<_>>().await;
    app.click("[data-testid=nav-containers]").await?;
    app.wait_text("[data-testid=container-table]", "<b class=e2e-markup>").await?;
    app.click("[data-testid=nav-events]").await?;
    app.wait_text("[data-testid=timeline]", &format!("runs in container e2e-markup: echo {MARK}")).await?;
    app.execute(&format!("window.__gantry.nav.openContainer('{id}')")).await?;
    app.wait_text("[data-testid=log-view]", "<b class=e2e-markup>").await?;
    app.click("[data-testid=tab-inspect]").await?;
    app.wait_text("[data-testid=inspect]", "e2e.note=<b class=e2e-markup>").await?;
    let verdict = app
        .execute("return { elements: document.querySelectorAll('.e2e-markup, img[src=x]').length, ran: window.__pwned === 1 };")
        .await?;
    assert_eq!(verdict["elements"], 0, "markup became elements: {verdict}");
    assert_eq!(verdict["ran"], false, "a script in the markup ran: {verdict}");
    app.click("[data-testid=back]").await?;
    ctx.remove("e2e-markup").await;
    Ok(())
}

/// The webview may call the command table's commands and nothing else: Tauri's own plugins
/// (here the harmless app version and path lookups) are refused by the window's capability.
async fn only_gantrys_commands_are_callable(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    app.execute(
        "const call = (cmd, args) => window.__TAURI_INTERNALS__.invoke(cmd, args || {}).then(() => 'ok', (e) => String(e));
         window.__e2eCalls = null;
         Promise.all([call('plugin:app|version'), call('plugin:path|resolve_directory', { directory: 11 }), call('engine_status')])
           .then((answers) => { window.__e2eCalls = answers; });",
    )
    .await?;
    let mut answers = serde_json::Value::Null;
    for _ in 0..100 {
        answers = app.execute("return window.__e2eCalls;").await?;
        if !answers.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = |i: usize| answers[i].as_str().unwrap_or_default().to_string();
    assert!(text(0).contains("not allowed"), "plugin:app|version was not refused: {answers}");
    assert!(text(1).contains("not allowed"), "plugin:path|resolve_directory was not refused: {answers}");
    assert_eq!(text(2), "ok", "a Gantry command failed: {answers}");
    Ok(())
}

async fn import_save_and_load_an_image(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let tar = ctx.home().join("rootfs.tar");
    harness::write_busybox_rootfs(&tar)?;
    let reference = "gantry-e2e/imported:1";
    let _ = engine.remove_image(reference, true).await;
    app.click("[data-testid=nav-images]").await?;
    app.click("[data-testid=import-open]").await?;
    app.type_into("[data-testid=tool-path]", &tar.display().to_string()).await?;
    app.type_into("[data-testid=tool-ref]", reference).await?;
    app.click("[data-testid=tool-submit]").await?;
    app.wait_text("[data-testid=image-table]", "gantry-e2e/imported:1").await?;
    let image = engine.inspect_image(reference).await?;
    assert!(image.tags.iter().any(|t| t == reference), "{:?}", image.tags);
    // Save it to a file from the panel, drop it, and load it back.
    let saved = ctx.home().join("imported.tar");
    app.click(&format!("[data-tags~='{reference}'] [data-testid=image-save]")).await?;
    app.type_into("[data-testid=tool-path]", &saved.display().to_string()).await?;
    app.click("[data-testid=tool-submit]").await?;
    let check = saved.clone();
    harness::wait_for("the saved image file", move || check.exists()).await?;
    engine.remove_image(reference, true).await?;
    app.wait_gone_text("[data-testid=image-table]", reference).await?;
    app.click("[data-testid=load-open]").await?;
    app.type_into("[data-testid=tool-path]", &saved.display().to_string()).await?;
    app.click("[data-testid=tool-submit]").await?;
    app.wait_text("[data-testid=image-table]", reference).await?;
    engine.inspect_image(reference).await?;
    app.click(&format!("[data-tags~='{IMAGE}'] button.name")).await?;
    app.wait_text("[data-testid=image-detail]", "Layers").await?;
    app.screenshot("images").await?;
    engine.remove_image(reference, true).await?;
    app.wait_gone_text("[data-testid=image-table]", reference).await
}

/// A trainer's bundle (a repository lab and an image that is then removed from the engine) opened
/// in the Workshops panel: what it holds, then the import with its progress, the image back in the
/// engine and the workshop listed as imported; then the trainer's room for it, with a
/// participant's progress on the live grid.
async fn workshop_bundle_imports_from_the_app(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let reference = "gantry-e2e/workshop:1";
    let bundle = ctx.home().join("docker-101.gantry-workshop");
    let _ = std::fs::remove_file(&bundle);
    engine.tag_image(IMAGE, reference).await?;
    let spec = gantry_workshop::PackSpec {
        title: "Docker 101 (e2e)".into(),
        labs: vec![harness::repo().join("labs/first-container")],
        images: vec![gantry_workshop::ImageRequest::parse(reference)?],
        output: bundle.clone(),
        ..Default::default()
    };
    gantry_workshop::pack(engine, &spec, None, &|_| {}, &gantry_engine::CancellationToken::new()).await?;
    engine.remove_image(reference, false).await?;
    app.click("[data-testid=nav-workshops]").await?;
    app.type_into("[data-testid=workshop-path]", &bundle.display().to_string()).await?;
    app.click("[data-testid=workshop-inspect]").await?;
    app.wait_text("[data-testid=workshop-bundle]", "Docker 101 (e2e)").await?;
    app.wait_text("[data-testid=workshop-bundle]", "not signed").await?;
    app.click("[data-testid=workshop-import]").await?;
    app.wait_present("[data-testid=workshop-progress][data-phase=done]").await?;
    app.wait_text("[data-testid=workshop-progress]", "first-container").await?;
    app.wait_text("[data-testid=workshop-table]", "Docker 101 (e2e)").await?;
    app.screenshot("workshop-import").await?;
    let image = engine.inspect_image(reference).await?;
    assert!(image.tags.iter().any(|t| t == reference), "{:?}", image.tags);
    engine.remove_image(reference, false).await?;

    // The trainer's room for the same bundle (any free port, only the grid): a participant joins
    // with the code and passes a step; the grid shows it, the name as text.
    app.type_into("[data-testid=room-port]", "0").await?;
    app.click("[data-testid=room-no-registry]").await?;
    app.click("[data-testid=room-open]").await?;
    app.wait_text("[data-testid=room-grid]", "hello").await?;
    let code = app.text_of("[data-testid=room-code]").await?.unwrap_or_default();
    let code = gantry_workshop::room::code::JoinCode::parse(code.trim())?;
    let mut participant = gantry_workshop::room::participant::RoomClient::new(&code)?;
    participant.join("<b>Ada</b>").await?;
    let passed = gantry_workshop::room::state::Progress {
        lab: "first-container".into(),
        step: "hello".into(),
        status: gantry_workshop::room::state::StepStatus::Passed,
    };
    participant.report(&passed).await?;
    app.wait_text("[data-testid=room-grid]", "<b>Ada</b>").await?;
    app.wait_text("[data-testid=room-grid]", "✓").await?;
    app.screenshot("workshop-room-app").await?;
    app.click("[data-testid=room-go]").await?;
    app.wait_text("[data-testid=toast]", "Sent to").await?;
    app.click("[data-testid=room-close]").await?;
    app.wait_present("[data-testid=room-open]").await
}

/// "Open with": a second launch given a bundle hands it to the running app, which opens the
/// Workshops panel and imports it with progress (the path a file dropped on the window takes
/// too: both go to `Gantry::workshop_open_file`; WebDriver cannot drop a file from outside the
/// window). A file that is not a bundle is refused with a toast. The image is large enough for
/// the loading phase to be seen; the screenshot (`workshop-opened`) is taken once it is done (a
/// screenshot while loading raced the import's end on this machine; `workshop_import_in_progress`
/// holds an import part way for its screenshot).
async fn workshop_bundle_opened_with_the_app(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let reference = "gantry-e2e/opened:1";
    let bundle = ctx.home().join("opened.gantry-workshop");
    let _ = std::fs::remove_file(&bundle);
    // three layers of 32 MiB each that do not compress: the import verifies and loads for a while
    let dockerfile = format!(
        "FROM {IMAGE}\n{}",
        (0..3).map(|n| format!("RUN head -c 33554432 /dev/urandom > /payload{n}\n")).collect::<String>()
    );
    gantry_testkit::images::build(reference, &dockerfile)?;
    let spec = gantry_workshop::PackSpec {
        title: "Opened with Gantry (e2e)".into(),
        images: vec![gantry_workshop::ImageRequest::parse(reference)?],
        output: bundle.clone(),
        ..Default::default()
    };
    let packed = gantry_workshop::pack(engine, &spec, None, &|_| {}, &gantry_engine::CancellationToken::new()).await;
    engine.remove_image(reference, true).await?;
    packed?;
    let open_with = |file: &std::path::Path| -> Result<()> {
        let status = std::process::Command::new(&ctx.env.bin)
            .arg(file)
            .env("GANTRY_HOME", ctx.home())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if status.success() { Ok(()) } else { Err(format!("the second launch exited with {status}").into()) }
    };
    app.click("[data-testid=nav-dashboard]").await?;
    let notes = ctx.home().join("notes.txt");
    std::fs::write(&notes, "not a bundle")?;
    open_with(&notes)?;
    app.wait_text("[data-testid=toast]", "not a workshop bundle").await?;

    open_with(&bundle)?;
    app.wait_text("[data-testid=workshop-bundle]", "Opened with Gantry (e2e)").await?;
    app.wait_present("[data-testid=workshop-progress][data-phase=loading]").await?;
    // (the table lists it once the import is done: loading takes long on a busy machine)
    app.wait_text_for("[data-testid=workshop-table]", "Opened with Gantry (e2e)", Duration::from_secs(180)).await?;
    app.wait_present("[data-testid=workshop-progress][data-phase=done]").await?;
    app.screenshot("workshop-opened").await?;
    let image = engine.inspect_image(reference).await?;
    assert!(image.tags.iter().any(|t| t == reference), "{:?}", image.tags);
    engine.remove_image(reference, true).await?;
    Ok(())
}

/// With a private registry (GANTRY_TEST_REGISTRY=127.0.0.1:PORT, started by scripts/test): push
/// the fixture there, drop it locally, pull it from the Images panel with per-layer progress.
async fn pull_with_progress(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let Ok(registry) = std::env::var("GANTRY_TEST_REGISTRY") else {
        eprintln!("SKIPPED: pull_with_progress: no GANTRY_TEST_REGISTRY");
        return Ok(());
    };
    let reference = format!("{registry}/gantry-e2e/pulled:1");
    let _ = engine.remove_image(&reference, false).await;
    engine.tag_image(IMAGE, &reference).await?;
    let mut push = engine.push_image(&reference, None);
    while let Some(p) = push.next().await {
        p?;
    }
    engine.remove_image(&reference, false).await?;
    app.click("[data-testid=nav-images]").await?;
    app.click("[data-testid=pull-open]").await?;
    app.type_into("[data-testid=tool-ref]", &reference).await?;
    app.click("[data-testid=tool-submit]").await?;
    app.wait_text("[data-testid=image-tool]", "Downloaded newer image").await?;
    app.wait_text("[data-testid=image-table]", "gantry-e2e/pulled:1").await?;
    engine.inspect_image(&reference).await?;
    app.screenshot("images-pull").await?;
    engine.remove_image(&reference, false).await?;
    app.click("[data-testid=image-tool] button[aria-label=Close]").await
}

async fn volumes_browse_export_import_remove(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let _ = engine.remove_volume("e2e-vol", true).await;
    app.click("[data-testid=nav-volumes]").await?;
    app.type_into("[data-testid=volume-name]", "e2e-vol").await?;
    app.click("[data-testid=volume-create]").await?;
    let row = "[data-testid=volume-e2e-vol]";
    app.wait_text(row, "unused").await?;
    engine.inspect_volume("e2e-vol").await?;
    // Browse a volume a container wrote to (the scenery's), export it, import it into the new one.
    app.click("[data-testid=volume-e2e-data] [data-testid=volume-browse]").await?;
    app.wait_text("[data-testid=volume-files]", "hello.txt").await?;
    app.wait_text("[data-testid=volume-files]", "index.html").await?;
    app.screenshot("volumes").await?;
    let tar = ctx.home().join("e2e-data.tar");
    app.clear_and_type("[data-testid=volume-tar-path]", &tar.display().to_string()).await?;
    app.click("[data-testid=volume-export]").await?;
    let check = tar.clone();
    harness::wait_for("the exported volume", move || check.exists()).await?;
    // The file is there before the export's helper container is gone: wait for the button.
    app.wait_text("[data-testid=volume-export]", "Export to tar").await?;
    // Exporting again to the same file asks before replacing it.
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let before = modified(&tar);
    app.click("[data-testid=volume-export]").await?;
    app.wait_text("[role=dialog]", "already exists").await?;
    assert_eq!(modified(&tar), before, "the file was replaced before the person confirmed");
    app.click("[data-testid=confirm]").await?;
    let check = tar.clone();
    harness::wait_for("the export to replace the file", move || modified(&check) != before).await?;
    app.click(&format!("{row} [data-testid=volume-browse]")).await?;
    app.wait_text("[data-testid=volume-files]", "This volume is empty").await?;
    app.clear_and_type("[data-testid=volume-tar-path]", &tar.display().to_string()).await?;
    app.click("[data-testid=volume-import]").await?;
    app.wait_text("[data-testid=volume-files]", "hello.txt").await?;
    let copied = harness::read_from_volume(engine, IMAGE, "e2e-vol", "hello.txt").await?;
    assert_eq!(copied.trim(), "hello-from-volume");
    // Remove it.
    app.click(&format!("{row} [data-testid=volume-remove]")).await?;
    app.click("[data-testid=confirm]").await?;
    app.wait_gone(row).await?;
    match engine.inspect_volume("e2e-vol").await {
        Err(EngineError::NotFound { .. }) => Ok(()),
        other => Err(format!("engine still holds volume e2e-vol: {other:?}").into()),
    }
}

async fn networks_connect_disconnect(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    app.click("[data-testid=nav-networks]").await?;
    let row = "[data-testid=network-e2e-net]";
    app.wait_text(row, "e2e-shop-web-1").await?;
    // Connect e2e-chatty to e2e-net from the panel, then disconnect it.
    let select = app.find_element(&format!("{row} [data-testid=network-attach]")).await?;
    select.select_by_value("e2e-chatty").await?;
    app.click(&format!("{row} [data-testid=network-connect]")).await?;
    app.wait_present(&format!("{row} [data-testid=disconnect-e2e-chatty]")).await?;
    let details = engine.inspect_container("e2e-chatty").await?;
    assert!(details.networks.contains_key("e2e-net"), "{:?}", details.networks);
    app.screenshot("networks").await?;
    app.click(&format!("{row} [data-testid=disconnect-e2e-chatty]")).await?;
    app.wait_gone(&format!("{row} [data-testid=disconnect-e2e-chatty]")).await?;
    assert!(!engine.inspect_container("e2e-chatty").await?.networks.contains_key("e2e-net"));
    Ok(())
}

/// Builds an image from a folder with a Dockerfile; the output streams and the image is listed.
async fn build_from_folder(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let dir = ctx.home().join("build-ctx");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo built-by-gantry > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n"),
    )?;
    let reference = "gantry-e2e/built:1";
    let _ = engine.remove_image(reference, true).await;
    app.click("[data-testid=nav-images]").await?;
    app.click("[data-testid=build-open]").await?;
    app.type_into("[data-testid=tool-path]", &dir.display().to_string()).await?;
    app.type_into("[data-testid=tool-ref]", reference).await?;
    app.click("[data-testid=tool-submit]").await?;
    app.wait_text("[data-testid=image-tool]", "Step 2/3").await?;
    app.wait_text("[data-testid=image-tool]", "Built ").await?;
    app.wait_text("[data-testid=image-table]", reference).await?;
    let image = engine.inspect_image(reference).await?;
    assert_eq!(image.cmd, ["cat", "/built.txt"]);
    app.screenshot("images-build").await?;
    engine.remove_image(reference, true).await?;
    app.click("[data-testid=image-tool] button[aria-label=Close]").await
}

/// Opens a compose folder, brings its two services up (live output, both services running,
/// their logs interleaved with service names; the service of an unticked profile left out),
/// hides and shows one service's log lines, ticks the profile and brings its service up too,
/// stops and starts one service alone, then takes it all down with its volume after a confirmation that lists what is deleted.
async fn compose_folder_up_and_down(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let project = "gantry-e2e-shop";
    let dir = ctx.home().join("shop");
    std::fs::create_dir_all(&dir)?;
    let service = |name: &str, says: &str| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    pull_policy: never\n    stop_signal: SIGKILL\n    \
             command: [\"sh\", \"-c\", \"echo {says}; while true; do sleep 2; echo {name} tick; done\"]\n"
        )
    };
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "name: {project}\nservices:\n{}{}    volumes: [data:/data]\n{}    profiles: [debug]\nvolumes:\n  data: {{}}\n",
            service("api", "api listening on 8080"),
            service("web", "web ready"),
            service("probe", "probe on"),
        ),
    )?;
    let mine = || async {
        let filter =
            gantry_engine::ContainerFilter { all: true, compose_project: Some(project.into()), ..Default::default() };
        engine.list_containers(&filter).await.map(|l| l.len())
    };
    app.click("[data-testid=nav-compose]").await?;
    app.clear_and_type("[data-testid=compose-path]", &dir.display().to_string()).await?;
    app.click("[data-testid=compose-open]").await?;
    app.wait_text("[data-testid=compose-name]", project).await?;
    app.click("[data-testid=compose-up]").await?;
    app.wait_text("[data-testid=compose-output]", "Started").await?;
    app.wait_text("[data-testid=compose-service-api]", "1/1 running").await?;
    app.wait_text("[data-testid=compose-service-web]", "1/1 running").await?;
    app.wait_text("[data-testid=compose-logs]", "api listening on 8080").await?;
    app.wait_text("[data-testid=compose-logs]", "web tick").await?;
    app.wait_text("[data-testid=compose-service-probe]", "profile is not ticked").await?;
    assert_eq!(mine().await?, 2, "the service of an unticked profile is not started");
    // The web service's lines hidden, then shown again.
    app.click("[data-testid=compose-logs-toggle-web]").await?;
    app.wait_text("[data-testid=compose-logs-hidden]", "web").await?;
    app.wait_gone_text("[data-testid=compose-logs]", "web ready").await?;
    app.click("[data-testid=compose-logs-toggle-web]").await?;
    app.wait_text("[data-testid=compose-logs]", "web ready").await?;
    // Up with the debug profile ticked starts its service too.
    app.click("[data-testid=compose-profile-debug]").await?;
    app.click("[data-testid=compose-up]").await?;
    app.wait_text("[data-testid=compose-service-probe]", "1/1 running").await?;
    app.wait_text("[data-testid=compose-logs]", "probe on").await?;
    assert_eq!(mine().await?, 3);
    app.screenshot("compose").await?;
    // One service stopped and started alone.
    app.click("[data-testid=compose-service-stop-web]").await?;
    app.wait_text("[data-testid=compose-service-web]", "0/1 running").await?;
    app.wait_text("[data-testid=compose-service-api]", "1/1 running").await?;
    app.click("[data-testid=compose-service-start-web]").await?;
    app.wait_text("[data-testid=compose-service-web]", "1/1 running").await?;

    app.click("[data-testid=compose-down]").await?;
    app.wait_text("[data-testid=compose-down-list]", &format!("{project}-web-1")).await?;
    app.click("[data-testid=compose-down-volumes]").await?;
    app.wait_text("[data-testid=compose-down-list]", &format!("{project}_data")).await?;
    app.click("[data-testid=confirm]").await?;
    app.wait_text("[data-testid=compose-output]", "Removed").await?;
    // `down` removes the containers one after the other and its output shows the first "Removed"
    // at once: wait until every service's row (they follow the engine's events) has none left
    for service in ["web", "api", "probe"] {
        app.wait_text(&format!("[data-testid=compose-service-{service}]"), "not created").await?;
    }
    assert_eq!(mine().await?, 0, "down removed every profile's containers");
    assert!(engine.list_volumes().await?.iter().all(|v| v.name != format!("{project}_data")), "the volume is deleted");
    Ok(())
}

/// A container started outside the app (docker CLI, another tool) appears without a refresh.
async fn list_follows_engine_events(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    app.click("[data-testid=nav-containers]").await?;
    app.wait_present("[data-testid=container-table]").await?;
    ctx.run("e2e-outside", "sleep 300", |_| {}).await?;
    app.wait_text("[data-testid=container-e2e-outside]", "running").await?;
    ctx.remove("e2e-outside").await;
    app.wait_gone("[data-testid=container-e2e-outside]").await
}

/// Memory above the host's and a bad address: the specific messages show and nothing is saved.
async fn invalid_settings_are_not_saved(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let settings = ctx.home().join("default").join("settings.json");
    let _ = std::fs::remove_file(&settings);
    app.click("[data-testid=nav-settings]").await?;
    app.wait_present("[data-testid=vm-memory]").await?;
    app.clear_and_type("[data-testid=vm-memory]", "99999999").await?;
    app.clear_and_type("[data-testid=vm-bind]", "not-an-address").await?;
    app.click("[data-testid=settings-save]").await?;
    app.wait_text("[data-testid='error-vm.memory_mib']", "more than this computer has").await?;
    app.wait_text("[data-testid='error-vm.port_bind_address']", "not an IP address").await?;
    app.wait_text("[data-testid=settings-error]", "Nothing was saved").await?;
    assert!(!settings.exists(), "invalid settings were written to {}", settings.display());
    app.screenshot("settings-invalid").await?;
    // A valid change is saved (a small disk: the default may exceed the free space of a test machine).
    app.clear_and_type("[data-testid=vm-memory]", "2048").await?;
    app.clear_and_type("[data-testid=vm-disk]", "8").await?;
    app.clear_and_type("[data-testid=vm-bind]", "127.0.0.1").await?;
    app.click("[data-testid=start-at-login]").await?;
    app.click("[data-testid=allow-plaintext-tcp]").await?;
    app.click("[data-testid=vm-save-on-stop]").await?;
    app.click("[data-testid=settings-save]").await?;
    app.wait_present("[data-testid=settings-saved]").await?;
    assert!(settings.exists(), "valid settings were not saved");
    let saved = std::fs::read_to_string(&settings)?;
    assert!(saved.contains("\"memory_mib\": 2048") && saved.contains("\"start_at_login\": true"), "{saved}");
    assert!(saved.contains("\"allow_plaintext_tcp\": true"), "{saved}");
    assert!(saved.contains("\"save_on_stop\": false"), "{saved}");
    let autostart = ctx.home().join("config/autostart/dev.gantry.desktop.desktop");
    assert!(std::fs::read_to_string(&autostart)?.contains("Exec="), "no autostart entry at {}", autostart.display());
    // Plaintext to other computers is turned off again and saving the VM at stop on again (the
    // checkboxes, then Save).
    app.click("[data-testid=allow-plaintext-tcp]").await?;
    app.click("[data-testid=vm-save-on-stop]").await?;
    app.click("[data-testid=settings-save]").await?;
    let check = settings.clone();
    harness::wait_for("plaintext tcp off and save_on_stop on again in settings.json", move || {
        std::fs::read_to_string(&check)
            .is_ok_and(|s| s.contains("\"allow_plaintext_tcp\": false") && s.contains("\"save_on_stop\": true"))
    })
    .await?;
    Ok(())
}

/// Settings → Registries against the login registry (GANTRY_TEST_AUTH_REGISTRY, started by
/// scripts/test): a wrong password shows the specific error with its hint where the login was
/// typed; the right one lists the login and stores it where docker looks; Log out removes both.
async fn registry_login(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(server), Some(user), Some(password)) =
        (var("GANTRY_TEST_AUTH_REGISTRY"), var("GANTRY_TEST_AUTH_USER"), var("GANTRY_TEST_AUTH_PASSWORD"))
    else {
        eprintln!("SKIPPED: registry_login: no GANTRY_TEST_AUTH_REGISTRY");
        return Ok(());
    };
    app.click("[data-testid=nav-settings]").await?;
    app.clear_and_type("[data-testid=registry-server]", &server).await?;
    app.clear_and_type("[data-testid=registry-username]", &user).await?;
    app.clear_and_type("[data-testid=registry-password]", "not-the-password").await?;
    app.click("[data-testid=registry-login]").await?;
    app.wait_text("[data-testid=registry-login-error]", "refused the login").await?;
    app.wait_text("[data-testid=registry-login-error]", "user name and password").await?;
    let config = ctx.home().join("docker").join("config.json");
    assert!(!std::fs::read_to_string(&config).unwrap_or_default().contains(&server), "a refused login was stored");
    app.clear_and_type("[data-testid=registry-password]", &password).await?;
    app.click("[data-testid=registry-login]").await?;
    app.wait_text("[data-testid=registry-entry]", &user).await?;
    app.wait_gone("[data-testid=registry-login-error]").await?;
    assert!(std::fs::read_to_string(&config)?.contains(&server), "the login is not in {}", config.display());
    app.execute("document.querySelector('[data-testid=registry-entry]').scrollIntoView({block: 'center'})").await?;
    app.screenshot("settings-registries").await?;
    app.click("[data-testid=registry-logout]").await?;
    app.wait_gone("[data-testid=registry-entry]").await?;
    assert!(!std::fs::read_to_string(&config)?.contains(&server), "the login is still in {}", config.display());
    Ok(())
}

/// The clean-up lists what it will delete before it does; then the engine no longer has it.
async fn prune_says_what_it_deletes(ctx: &Ctx) -> Result<()> {
    let (app, engine) = (&ctx.app, &ctx.engine);
    let id = ctx.run("e2e-job", "echo job finished", |_| {}).await?;
    engine.wait_container(&id).await?;
    app.click("[data-testid=nav-dashboard]").await?;
    app.click("[data-testid=prune]").await?;
    app.wait_text("[role=dialog]", "stopped container").await?;
    app.wait_text("[role=dialog]", "e2e-job").await?;
    app.screenshot("dashboard-prune").await?;
    app.click("[data-testid=confirm]").await?;
    app.wait_gone("[role=dialog]").await?;
    harness::wait_for_async(|| async { engine.inspect_container("e2e-job").await.is_err() }).await?;
    assert!(engine.inspect_container("e2e-chatty").await?.running, "prune touched a running container");
    Ok(())
}

/// Ctrl+N opens the Run dialog, Esc closes it, Ctrl+4 switches to Images (Compose is the third
/// panel), Ctrl+, to Settings and Ctrl+0 to Learn (the tenth).
async fn keyboard(ctx: &Ctx) -> Result<()> {
    const CTRL: char = '\u{E009}';
    const ESC: char = '\u{E00C}';
    let app = &ctx.app;
    app.click("[data-testid=nav-containers]").await?;
    app.click("[data-testid=container-search]").await?;
    app.type_into("[data-testid=container-search]", &format!("{CTRL}n")).await?;
    app.wait_present("[data-testid=run-dialog]").await?;
    app.type_into("[data-testid=run-image]", &ESC.to_string()).await?;
    app.wait_gone("[data-testid=run-dialog]").await?;
    app.type_into("[data-testid=container-search]", &format!("{CTRL}4")).await?;
    app.wait_present("[data-testid=nav-images][aria-current=page]").await?;
    app.type_into("[data-search]", &format!("{CTRL},")).await?;
    app.wait_present("[data-testid=nav-settings][aria-current=page]").await?;
    app.click("[data-testid=nav-images]").await?;
    app.type_into("[data-search]", &format!("{CTRL}0")).await?;
    app.wait_present("[data-testid=nav-learn][aria-current=page]").await?;
    Ok(())
}

async fn dark_theme(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    app.execute("window.__gantry.prefs.theme = 'dark';").await?;
    let result = async {
        app.click("[data-testid=nav-containers]").await?;
        app.wait_present("[data-testid=container-table]").await?;
        app.screenshot("containers-dark").await?;
        app.click("[data-testid=nav-dashboard]").await?;
        app.wait_text("[data-testid=engine-card]", "Running").await?;
        app.screenshot("dashboard-dark").await
    }
    .await;
    app.execute("window.__gantry.prefs.theme = 'system';").await?;
    result
}

/// Settings → Language → Русский: the whole window speaks Russian (saved in settings.json), and
/// back to the system's language.
async fn russian(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let choose = |lang: &'static str| async move {
        app.click("[data-testid=nav-settings]").await?;
        app.clear_and_type("[data-testid=vm-disk]", "8").await?;
        app.find_element("[data-testid=language]").await?.select_by_value(lang).await?;
        app.click("[data-testid=settings-save]").await?;
        app.wait_present("[data-testid=settings-saved]").await
    };
    choose("ru").await?;
    let result = async {
        app.wait_text("[data-testid=nav-containers]", "Контейнеры").await?;
        let settings = std::fs::read_to_string(ctx.home().join("default/settings.json"))?;
        assert!(settings.contains("\"language\": \"ru\""), "{settings}");
        app.click("[data-testid=nav-dashboard]").await?;
        app.wait_text("[data-testid=engine-card]", "Работает").await?;
        app.screenshot("dashboard-ru").await?;
        app.click("[data-testid=nav-containers]").await?;
        app.wait_text("[data-testid=container-table]", "работает").await?;
        app.screenshot("containers-ru").await
    }
    .await;
    choose("system").await?;
    app.wait_text("[data-testid=nav-containers]", "Containers").await?;
    result
}

/// The window's size and place are saved when it is moved (window.json); a next launch, here
/// with no engine at DOCKER_HOST, restores them, and the Dashboard and the lists say the engine
/// does not answer, with what to do.
async fn window_restored_and_engine_unreachable(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    let (_, _, width, height) = app.window_rect().await?;
    app.set_window_rect(40, 30, 1000, 700).await?;
    let file = ctx.home().join("default/window.json");
    let check = file.clone();
    let saved = harness::wait_for("window.json with the new size", move || {
        std::fs::read_to_string(&check).is_ok_and(|t| t.contains("\"width\":1000"))
    })
    .await;
    // A second instance (its own home) that finds that window.json and no engine.
    let env = harness::require_env()?.ok_or("the e2e environment went away")?;
    std::fs::create_dir_all(env.home.path().join("default"))?;
    let copied = std::fs::copy(&file, env.home.path().join("default/window.json"));
    app.set_window_rect(0, 0, u32::try_from(width)?, u32::try_from(height)?).await?;
    saved?;
    copied?;
    let missing = env.home.path().join("no-engine.sock");
    let host = format!("unix://{}", missing.display());
    let other = App::launch_with(&env, &[("DOCKER_HOST", &host)]).await?;
    let result = async {
        let (_, _, width, height) = other.window_rect().await?;
        assert_eq!((width, height), (1000, 700), "the window size was not restored");
        other.wait_text("[data-testid=engine-card]", "Not running").await?;
        other.wait_text("[data-testid=engine-card]", "is not answering").await?;
        other.wait_text("[data-testid=engine-card]", "gantry start").await?;
        other.screenshot("dashboard-no-engine").await?;
        other.click("[data-testid=nav-containers]").await?;
        other.wait_text("[data-testid=error]", "is not answering").await?;
        other.wait_present("[data-testid=error] button").await
    }
    .await;
    other.quit().await;
    result
}
