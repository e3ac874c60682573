//! The e2e harness: a private X display, tauri-driver, the app under WebDriver, engine fixtures.
//! Every process it starts is stopped by PID when the harness is dropped, even on failure.

use std::future::Future;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::StreamExt;
use gantry_engine::{Engine, MountSpec, RemoveOptions, RunSpec};
use serde_json::{Value, json};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

const WAIT: Duration = Duration::from_secs(20);

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where screenshots go: `GANTRY_SCREENSHOT_DIR` (`docs/screenshots` refreshes the committed
/// ones), else a folder in the temporary directory: a test run never writes into docs/ unasked.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("GANTRY_SCREENSHOT_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| std::env::temp_dir().join("gantry-screenshots"), PathBuf::from)
}

/// What a run needs; `home` is a private GANTRY_HOME (settings, sockets) deleted at the end.
pub struct Env {
    pub home: tempfile::TempDir,
    pub bin: PathBuf,
    pub tauri_driver: PathBuf,
}

fn which(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Checks the tools and an engine in DOCKER_HOST; `None` (with the reason printed) when
/// something is missing and the e2e run is not required.
pub fn require_env() -> Result<Option<Env>> {
    require_env_for(true)
}

/// Like [`require_env`]; `engine`: whether the test needs an existing engine in DOCKER_HOST
/// (a test that starts Gantry's VM does not).
pub fn require_env_for(engine: bool) -> Result<Option<Env>> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gantry-desktop"));
    let mut missing = Vec::new();
    if engine && std::env::var("DOCKER_HOST").map_or(true, |v| v.is_empty()) {
        missing.push("DOCKER_HOST (a running engine)".to_string());
    }
    for tool in ["Xvfb", "WebKitWebDriver", "xdotool"] {
        if which(tool).is_none() {
            missing.push(tool.to_string());
        }
    }
    let tauri_driver = which("tauri-driver");
    if tauri_driver.is_none() {
        missing.push("tauri-driver (cargo install tauri-driver --version '^2' --locked)".into());
    }
    let index = repo().join("ui/dist/index.html");
    if !std::fs::read_to_string(&index).is_ok_and(|t| t.contains("<script")) {
        missing.push(format!("a built UI at {} (npm run build in ui/, then rebuild)", index.display()));
    }
    if !missing.is_empty() {
        let msg = format!("e2e needs: {}", missing.join(", "));
        if std::env::var("GANTRY_E2E_REQUIRED").as_deref() == Ok("1") {
            return Err(msg.into());
        }
        gantry_testkit::skip::skipped("desktop e2e", &msg);
        return Ok(None);
    }
    let home = tempfile::Builder::new().prefix("gantry-e2e-").tempdir()?;
    Ok(Some(Env { home, bin, tauri_driver: tauri_driver.ok_or("tauri-driver")? }))
}

/// Processes to stop: our children, and everything that inherited our private GANTRY_HOME
/// (WebKitWebDriver, the app, its WebKit helpers).
struct Procs {
    children: Vec<Child>,
    marker: String,
}

impl Procs {
    fn stop(&mut self) {
        // The app and WebKit processes first (found by the private GANTRY_HOME they inherited).
        for pid in pids_with_env(&self.marker) {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        std::thread::sleep(Duration::from_millis(300));
        for pid in pids_with_env(&self.marker) {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
        }
        // Our children (tauri-driver, Xvfb) get SIGTERM first so Xvfb removes its lock file.
        for child in self.children.iter().rev() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for child in self.children.iter_mut().rev() {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pids_with_env(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
        })
        .collect()
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`): the X server skips displays in
/// use and reclaims the lock files that killed servers left behind, which a scan of /tmp cannot
/// tell apart from live ones.
fn start_xvfb() -> Result<(Child, String)> {
    let (reader, writer) = std::io::pipe()?;
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()?;
    // The Command (and our copy of the pipe's write end) is gone: EOF now means Xvfb closed it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut line).map(|_| line);
        let _ = tx.send(read);
    });
    let display = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(line)) if line.trim().parse::<u32>().is_ok() => format!(":{}", line.trim()),
        outcome => {
            let _ = child.kill();
            let status = child.wait()?;
            return Err(match outcome {
                Err(_) => "Xvfb did not report a display within 10 s".to_string(),
                Ok(Err(e)) => format!("reading Xvfb's display number: {e}"),
                Ok(Ok(line)) => format!("Xvfb exited ({status}) without a display number (it printed {line:?})"),
            }
            .into());
        }
    };
    Ok((child, display))
}

/// The app, started through tauri-driver, and the WebDriver session driving it.
pub struct App {
    client: Client,
    procs: std::sync::Mutex<Procs>,
    /// The app's X display (`:N`, on the harness's own Xvfb).
    display: String,
}

impl App {
    pub async fn launch(env: &Env) -> Result<Self> {
        Self::launch_with(env, &[]).await
    }

    /// Launches with extra environment for the app (e.g. another DOCKER_HOST).
    pub async fn launch_with(env: &Env, vars: &[(&str, &str)]) -> Result<Self> {
        Self::launch_env(env, vars, &[]).await
    }

    /// Launches with extra environment for the app and without the variables in `unset`
    /// (e.g. DOCKER_HOST, so the app uses the engine its settings name).
    pub async fn launch_env(env: &Env, vars: &[(&str, &str)], unset: &[&str]) -> Result<Self> {
        let marker = format!("GANTRY_HOME={}", env.home.path().display());
        let mut procs = Procs { children: Vec::new(), marker };
        let (xvfb, display) = start_xvfb()?;
        procs.children.push(xvfb);
        let port = gantry_testkit::net::free_port()?;
        let native = gantry_testkit::net::free_port()?;
        let log = std::fs::File::create(env.home.path().join("tauri-driver.log"))?;
        let mut driver = Command::new(&env.tauri_driver);
        for name in unset {
            driver.env_remove(name);
        }
        let driver = driver
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &display)
            .env("GANTRY_HOME", env.home.path())
            // The UI follows the system's language: English unless a test asks for another.
            .env("LANG", "en_US.UTF-8")
            .env("LANGUAGE", "en")
            .env_remove("LC_ALL")
            .env_remove("WAYLAND_DISPLAY")
            .envs(vars.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        procs.children.push(driver);
        let deadline = Instant::now() + Duration::from_secs(15);
        // tauri-driver listens first, then starts WebKitWebDriver on the native port; a session
        // asked for before both answer fails with an incomplete reply.
        while TcpStream::connect(("127.0.0.1", port)).is_err() || TcpStream::connect(("127.0.0.1", native)).is_err() {
            if Instant::now() > deadline {
                return Err("tauri-driver and WebKitWebDriver did not listen within 15 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({ "browserName": "wry", "tauri:options": { "application": env.bin } });
        let caps = caps.as_object().cloned().ok_or("capabilities")?;
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::native().capabilities(caps).connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .map_err(|_| "no WebDriver session within 60 s")??;
        let app = Self { client, procs: std::sync::Mutex::new(procs), display };
        app.wait_present(".shell").await?;
        Ok(app)
    }

    /// Ends the session and stops every process (also done on drop).
    pub async fn quit(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.clone().close()).await;
        if let Ok(mut procs) = self.procs.lock() {
            procs.stop();
        }
    }

    async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        Ok(self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await.map_err(|e| format!("{css}: {e}"))?)
    }

    pub async fn set_window_rect(&self, x: u32, y: u32, width: u32, height: u32) -> Result<()> {
        Ok(self.client.set_window_rect(x, y, width, height).await?)
    }

    /// (x, y, width, height) of the window.
    pub async fn window_rect(&self) -> Result<(u64, u64, u64, u64)> {
        Ok(self.client.get_window_rect().await?)
    }

    /// The element, once present.
    pub async fn find_element(&self, css: &str) -> Result<fantoccini::elements::Element> {
        self.find(css).await
    }

    pub async fn wait_present(&self, css: &str) -> Result<()> {
        self.find(css).await.map(|_| ())
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let el = self.find(css).await?;
            match el.click().await {
                Ok(()) => return Ok(()),
                // Re-rendered between find and click, or covered for a moment.
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("click {css}: {e}").into()),
            }
        }
    }

    /// Clicks `css` until `shown` is present. WebKit's driver scrolls an element into view and
    /// then clicks where it is: when the page moves in between (a lab's checks arriving above
    /// the button), the click lands elsewhere and reports no error. For idempotent clicks only
    /// (navigation): a click that worked but shows slowly may be repeated.
    pub async fn click_until(&self, css: &str, shown: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.present_now(shown).await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("clicked {css}, but {shown} never appeared").into());
            }
            if let Some(el) = self.client.find_all(Locator::Css(css)).await?.into_iter().next() {
                // a stale or covered element: the next round finds it again
                let _ = el.click().await;
            }
            for _ in 0..20 {
                if self.present_now(shown).await? {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Whether `css` matches an element now (no waiting).
    async fn present_now(&self, css: &str) -> Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let el = self.find(css).await?;
        el.send_keys(text).await.map_err(|e| format!("type into {css}: {e}"))?;
        Ok(())
    }

    pub async fn clear_and_type(&self, css: &str, text: &str) -> Result<()> {
        let el = self.find(css).await?;
        el.clear().await?;
        el.send_keys(text).await.map_err(|e| format!("type into {css}: {e}"))?;
        Ok(())
    }

    /// Waits until the element's text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> Result<()> {
        self.wait_text_for(css, text, WAIT).await
    }

    /// [`Self::wait_text`] with another bound (a VM boot under emulation takes minutes).
    pub async fn wait_text_for(&self, css: &str, text: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(t) = self.text_of(css).await? {
                if t.contains(text) {
                    return Ok(());
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{css} never showed {text:?}; last text: {:?}", last.chars().take(600).collect::<String>()).into())
    }

    /// The element's text content (WebDriver's visible-text rule misses absolutely positioned
    /// rows of the virtual lists).
    pub async fn text_of(&self, css: &str) -> Result<Option<String>> {
        let v = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .await?;
        Ok(v.as_str().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    pub async fn wait_gone(&self, css: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if !self.present_now(css).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{css} is still shown").into())
    }

    pub async fn wait_gone_text(&self, css: &str, text: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if !self.text_of(css).await?.unwrap_or_default().contains(text) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{css} still shows {text:?}").into())
    }

    pub async fn execute(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Saves a PNG of the window as NAME.png in [`screenshot_dir`], after two animation frames
    /// so the last DOM update is painted.
    pub async fn screenshot(&self, name: &str) -> Result<()> {
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1]; window.__gantry.toasts.items = []; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                Vec::new(),
            )
            .await?;
        let png = self.window_png().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// WebDriver's screenshot of the window. With WebKitGTK's shared-memory renderer (what the app
    /// picks without a GPU, as here) the screenshot can wait for a frame the window draws only on
    /// its next input event: seen after Settings changed the engine connection, while the window
    /// itself showed the page. If it has not come in 5 s, the pointer moves onto an empty spot of
    /// the sidebar (no hover style there), which gives the window that event.
    async fn window_png(&self) -> Result<Vec<u8>> {
        let (x, y, _, height) = self.window_rect().await?;
        let (px, py) = (x + 100, (y + height).saturating_sub(140));
        let mut shot = std::pin::pin!(self.client.screenshot());
        for attempt in 1..=3 {
            match tokio::time::timeout(Duration::from_secs(5), &mut shot).await {
                Ok(png) => return Ok(png?),
                Err(_) => {
                    eprintln!(
                        "e2e: the screenshot waits for a frame; moving the pointer to {px},{} ({attempt})",
                        py + attempt
                    );
                    let status = Command::new("xdotool")
                        .env("DISPLAY", &self.display)
                        .args(["mousemove", &px.to_string(), &(py + attempt).to_string()])
                        .status()?;
                    if !status.success() {
                        return Err(format!("xdotool mousemove failed ({status})").into());
                    }
                }
            }
        }
        Err("WebDriver's screenshot did not come within 5 s of each of three pointer moves".into())
    }

    /// Back to a known state between scenarios: no dialog, no detail view, the Dashboard.
    pub async fn reset(&self) -> Result<()> {
        self.execute(
            "window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
             const g = window.__gantry; g.nav.closeRun(); g.nav.detailId = null; g.imageInside.close(); g.nav.go('dashboard');",
        )
        .await?;
        self.wait_gone("[role=dialog]").await
    }

    /// (ms from asking for the list (empty table) to `rows` rows painted, ms of that spent in
    /// the command call: engine + IPC + JSON).
    pub async fn bench_container_list(&self, rows: usize) -> Result<(f64, f64)> {
        let v = self
            .client
            .execute_async(
                r#"const [want, done] = arguments;
                const g = window.__gantry;
                const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
                (async () => {
                  g.resources.containers = { ...g.resources.containers, items: [] };
                  await frame(); await frame();
                  const t0 = performance.now();
                  await g.resources.loadContainers();
                  await frame();
                  const list = document.querySelector('[data-testid=container-table]');
                  const n = document.querySelectorAll('[data-row]').length > 0 ? Number(list?.dataset.total ?? 0) : 0;
                  await frame();
                  done({ ms: performance.now() - t0, fetch: g.perf.containersFetched, rows: n });
                })();"#,
                vec![json!(rows)],
            )
            .await?;
        let n = v["rows"].as_u64().unwrap_or(0) as usize;
        if n < rows {
            return Err(format!("only {n} rows rendered, wanted {rows}").into());
        }
        Ok((v["ms"].as_f64().ok_or("no timing")?, v["fetch"].as_f64().ok_or("no fetch timing")?))
    }

    /// Opens a container's logs and waits for `lines` rendered. Returns the ms from opening to
    /// all lines shown, and scrolling costs: mean frame while jumping through the whole log,
    /// mean frame of a plain full repaint of the same view (the window's paint cost, the
    /// baseline), and the JS + layout time of one jump.
    pub async fn bench_logs(&self, id: &str, lines: u64) -> Result<LogBench> {
        self.execute("window.__gantry.nav.detailId = null; delete window.__gantry.perf.logsLines;").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.client.execute("window.__gantry.nav.openContainer(arguments[0]);", vec![json!(id)]).await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let ms = loop {
            let v = self.execute("return window.__gantry.perf;").await?;
            if v["logsLines"].as_u64() == Some(lines) {
                break v["logsRendered"].as_f64().ok_or("no logsRendered")?;
            }
            if Instant::now() > deadline {
                return Err(format!("log view never reached {lines} lines: {v}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.wait_text("[data-testid=log-count]", &format!("{} lines", fmt_thousands(lines))).await?;
        let frames = |mode: &str| {
            self.client.execute_async(
                r#"const [mode, done] = arguments;
                const el = document.querySelector('[data-testid=log-view]');
                const steps = 60; let i = 0; let last = performance.now(); let sum = 0;
                const step = () => {
                  const now = performance.now();
                  if (i > 0) sum += now - last;
                  last = now;
                  if (i++ >= steps) { el.style.color = ''; done(sum / steps); return; }
                  if (mode === 'jump') el.scrollTop = (el.scrollHeight - el.clientHeight) * (i / steps);
                  else el.style.color = i % 2 ? 'red' : 'blue';
                  requestAnimationFrame(step);
                };
                requestAnimationFrame(step);"#,
                vec![json!(mode)],
            )
        };
        let jump_frame = frames("jump").await?.as_f64().unwrap_or(f64::NAN);
        let repaint_frame = frames("repaint").await?.as_f64().unwrap_or(f64::NAN);
        let jump_js = self
            .execute(
                "const el = document.querySelector('[data-testid=log-view]'); const t = performance.now();
                 for (let k = 0; k < 20; k++) { el.scrollTop = (k * 4999) * 18; el.dispatchEvent(new Event('scroll')); document.body.offsetHeight; }
                 return (performance.now() - t) / 20;",
            )
            .await?
            .as_f64()
            .unwrap_or(f64::NAN);
        Ok(LogBench { ms, jump_frame, repaint_frame, jump_js })
    }
}

/// Timings of the log view (see [`App::bench_logs`]).
#[derive(Debug, Clone, Copy)]
pub struct LogBench {
    pub ms: f64,
    pub jump_frame: f64,
    pub repaint_frame: f64,
    pub jump_js: f64,
}

fn fmt_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Median wall time of `n` runs of `f`, in ms.
pub async fn median_ms<F, Fut>(n: usize, f: F) -> Result<f64>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::result::Result<(), gantry_engine::EngineError>>,
{
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// A busybox-static root filesystem tar (`/bin/busybox` and its applet links), like the test
/// script's fixture.
pub fn write_busybox_rootfs(path: &Path) -> Result<()> {
    let busybox = Path::new("/bin/busybox");
    let list = Command::new(busybox).arg("--list").output()?;
    if !list.status.success() {
        return Err("/bin/busybox --list failed (install busybox-static)".into());
    }
    let mut tar = tar::Builder::new(std::fs::File::create(path)?);
    for dir in ["bin", "etc", "tmp", "root", "proc", "sys", "dev", "var", "var/www"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        tar.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
    }
    let mut h = tar::Header::new_gnu();
    let bytes = std::fs::read(busybox)?;
    h.set_mode(0o755);
    h.set_size(bytes.len() as u64);
    tar.append_data(&mut h, "bin/busybox", bytes.as_slice())?;
    for applet in
        String::from_utf8_lossy(&list.stdout).lines().map(str::trim).filter(|a| !a.is_empty() && *a != "busybox")
    {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, format!("bin/{applet}"), "/bin/busybox")?;
    }
    for (name, text) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("var/www/index.html", "<h1>hello from gantry e2e</h1>\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(text.len() as u64);
        tar.append_data(&mut h, name, text.as_bytes())?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// Makes the fixture image with `docker import` when the engine does not have it.
pub async fn ensure_fixture_image(engine: &Engine, reference: &str) -> Result<()> {
    if engine.inspect_image(reference).await.is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let tar = dir.path().join("rootfs.tar");
    write_busybox_rootfs(&tar)?;
    engine.import_rootfs(&tar, reference, &["CMD [\"/bin/sh\"]".into(), "ENV PATH=/bin".into()]).await?;
    Ok(())
}

/// Containers, a volume and a network so the screenshots show a lived-in engine.
pub struct Scenery {
    containers: Vec<String>,
}

impl Scenery {
    pub async fn create(engine: &Engine, image: &str) -> Result<Self> {
        let mut s = Self { containers: Vec::new() };
        s.remove(engine).await;
        let _ =
            engine.create_network(&gantry_engine::NetworkSpec { name: "e2e-net".into(), ..Default::default() }).await?;
        engine.create_volume("e2e-data", &[]).await?;
        let compose = |service: &str| {
            vec![
                ("com.docker.compose.project".to_string(), "e2e-shop".to_string()),
                ("com.docker.compose.service".to_string(), service.to_string()),
            ]
        };
        let mut web = RunSpec::new(image);
        web.name = Some("e2e-shop-web-1".into());
        web.command = vec!["sleep".into(), "100000".into()];
        web.labels = compose("web");
        web.network = Some("e2e-net".into());
        let mut db = RunSpec::new(image);
        db.name = Some("e2e-shop-db-1".into());
        db.command = vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p /data/pages && echo hello-from-volume > /data/hello.txt && echo '<h1>hi</h1>' > /data/pages/index.html; echo ready; sleep 100000".into(),
        ];
        db.labels = compose("db");
        db.network = Some("e2e-net".into());
        db.mounts = vec![MountSpec { source: "e2e-data".into(), target: "/data".into(), read_only: false }];
        let mut chatty = RunSpec::new(image);
        chatty.name = Some("e2e-chatty".into());
        chatty.command = vec![
            "sh".into(),
            "-c".into(),
            "i=0; while true; do i=$((i+1)); echo \"GET /api/items?page=$i 200\"; [ $((i % 5)) = 0 ] && echo \"warning: slow request $i\" >&2; sleep 0.5; done".into(),
        ];
        let mut done = RunSpec::new(image);
        done.name = Some("e2e-job".into());
        done.command = vec!["sh".into(), "-c".into(), "echo job finished".into()];
        for spec in [web, db, chatty, done] {
            s.containers.push(spec.name.clone().unwrap_or_default());
            engine.run_container(&spec).await?;
        }
        Ok(s)
    }

    pub async fn remove(&self, engine: &Engine) {
        for name in ["e2e-shop-web-1", "e2e-shop-db-1", "e2e-chatty", "e2e-job", "e2e-web", "e2e-outside"] {
            let _ = engine.remove_container(name, RemoveOptions { force: true, volumes: true }).await;
        }
        let _ = engine.remove_volume("e2e-data", true).await;
        let _ = engine.remove_volume("e2e-vol", true).await;
        let _ = engine.remove_network("e2e-net").await;
        let _ = &self.containers;
    }
}

/// Creates `n` stopped containers, eight at a time; returns their IDs.
pub async fn create_many(engine: &Engine, image: &str, n: usize) -> Result<Vec<String>> {
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|i| {
            let engine = engine.clone();
            let mut spec = RunSpec::new(image);
            spec.name = Some(format!("bench-{i:04}"));
            spec.command = vec!["true".into()];
            async move {
                let _ = engine
                    .remove_container(&format!("bench-{i:04}"), RemoveOptions { force: true, volumes: false })
                    .await;
                engine.create_container(&spec).await
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    results.into_iter().map(|r| r.map_err(Error::from)).collect()
}

pub async fn remove_many(engine: &Engine, ids: &[String]) {
    futures_util::stream::iter(ids)
        .map(|id| {
            let engine = engine.clone();
            async move { engine.remove_container(id, RemoveOptions { force: true, volumes: false }).await }
        })
        .buffer_unordered(8)
        .for_each(|_| async {})
        .await;
}

/// Waits (without blocking the runtime's other tasks) until `check` holds; `Err` naming `what`
/// after 20 s. The bound keeps a broken test from hanging; it is not a performance claim.
pub async fn wait_for(what: &str, check: impl FnMut() -> bool + Send + 'static) -> Result<()> {
    let what = what.to_string();
    tokio::task::spawn_blocking(move || gantry_testkit::wait::until(&what, WAIT, check)).await??;
    Ok(())
}

/// `GET /` on 127.0.0.1:`port`, once (no retry): the answer's status line.
pub async fn http_status(port: u16) -> Result<String> {
    let answer = tokio::task::spawn_blocking(move || gantry_testkit::net::http_get_once(port, "/")).await??;
    Ok(answer.status_line)
}

/// Reads a file from a volume with a throwaway container.
pub async fn read_from_volume(engine: &Engine, image: &str, volume: &str, file: &str) -> Result<String> {
    let mut spec = RunSpec::new(image);
    spec.command = vec!["cat".into(), format!("/v/{file}")];
    spec.mounts = vec![MountSpec { source: volume.into(), target: "/v".into(), read_only: true }];
    let id = engine.run_container(&spec).await?;
    engine.wait_container(&id).await?;
    let lines = engine.read_logs(&id, &gantry_engine::LogOptions::default()).await;
    let _ = engine.remove_container(&id, RemoveOptions { force: true, volumes: false }).await;
    Ok(lines?.into_iter().map(|l| l.text).collect::<Vec<_>>().join("\n"))
}

/// Polls an async condition for up to 20 s.
pub async fn wait_for_async<F, Fut>(f: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !f().await {
        if Instant::now() > deadline {
            return Err("condition not met within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
