//! A workshop day, end to end, on real parts.
//!
//! **Before the day**, the trainer (the engine at `DOCKER_HOST`) packs one signed bundle with two
//! labs and the image they use for linux/amd64 and linux/arm64 (the arm64 platform is Debian's
//! arm64 busybox-static, the one way to hold an arm64 image on an amd64 classic engine).
//! A participant's laptop is a **fresh** Gantry: its own data folder and a second private engine
//! that has never seen the image. The participant imports the bundle in a network namespace
//! without interfaces (`unshare -n`: no network at all) and finds both labs in `gantry lab list`.
//!
//! **On the day**, the trainer opens the room (`gantry workshop serve`, only the grid: everybody
//! imported) and follows its live grid as the room page does (`/api/room/events`, with the
//! trainer's token from the link `serve` prints). The participant joins with the code, starts the
//! first lab and lets `gantry lab check` watch while typing each step's solution (as `gantry lab
//! show --json` gives it); the checker says each step passed, and the trainer's grid shows the
//! participant's steps passing, the other lab untouched.
//!
//! **After the day**, the trainer's CSV export has the participant's row.
//!
//! Each part can fail: the bundle must list both platforms, the fresh engine must lack the image
//! before and run it after, no step may pass before its solution, and the grid must show exactly
//! the passed steps. Prints how long each part took (it runs in every CI run).
// Needs root for a second private engine and `unshare -n`: Linux only.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_testkit::dockerd::PrivateEngine;
use gantry_testkit::images;
use gantry_workshop::room::code::JoinCode;
use gantry_workshop::room::participant::RoomClient;

const TEST: &str = "workshop_day::a_workshop_day_from_the_bundle_to_the_trainers_grid";
/// Bound on waits that only keeps a broken test from hanging (not a timing claim).
const BOUND: Duration = Duration::from_secs(120);
/// The labs' ids: the participant works through the first; the second only has to arrive.
const WEB_LAB: &str = "day-web";
const OTHER_LAB: &str = "day-images";
/// What the workshop's web image serves.
const PAGE: &str = "Hello from the workshop bundle";

fn ok(output: Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    text
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The first lab: run the web image with its port published (the page must answer), then stop it.
fn web_lab(root: &Path, image: &str) -> PathBuf {
    let dir = root.join(WEB_LAB);
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    let toml = format!(
        r#"format = 1
id = "{WEB_LAB}"
level = "beginner"
duration_minutes = 10
images = ["{image}"]
[ports]
web = 8080
[title]
en = "The workshop's web server"
[summary]
en = "Run the image the bundle brought, open its page, stop it."
[[steps]]
id = "run"
  [[steps.checks]]
  kind = "container_running"
  container = "web"
  [[steps.checks]]
  kind = "http"
  port = "web"
  status = 200
  contains = "{PAGE}"
  [[steps.solution]]
  run = ["docker", "run", "-d", "--name", "web", "-p", "{{{{lab.port.web}}}}:80", "{image}"]
[[steps]]
id = "stop"
  [[steps.checks]]
  kind = "container_exited"
  container = "web"
  [[steps.solution]]
  run = ["docker", "stop", "web"]
"#
    );
    std::fs::write(dir.join("lab.toml"), toml).unwrap();
    std::fs::write(dir.join("steps/run.en.md"), "# Run the web server\n").unwrap();
    std::fs::write(dir.join("steps/stop.en.md"), "# Stop it\n").unwrap();
    dir
}

/// The second lab: one step, never started in this story (its column stays empty).
fn other_lab(root: &Path, image: &str) -> PathBuf {
    let dir = root.join(OTHER_LAB);
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    let toml = format!(
        r#"format = 1
id = "{OTHER_LAB}"
level = "beginner"
duration_minutes = 5
images = ["{image}"]
[title]
en = "Images you have"
[summary]
en = "The bundle's image is on your engine."
[[steps]]
id = "present"
  [[steps.checks]]
  kind = "image_exists"
  image = "{image}"
  [[steps.solution]]
  run = ["docker", "image", "ls", "{image}"]
"#
    );
    std::fs::write(dir.join("lab.toml"), toml).unwrap();
    std::fs::write(dir.join("steps/present.en.md"), "# Your images\n").unwrap();
    dir
}

/// Removes the trainer's images when dropped (even when the test panics).
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let refs: Vec<&str> = self.0.iter().map(String::as_str).collect();
        images::remove(&refs);
    }
}

/// Kills a child process when dropped (the room server, a checker left running by a failure).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prints how long each part of the day took.
struct Clock {
    start: Instant,
    last: Instant,
}

impl Clock {
    fn new() -> Self {
        let now = Instant::now();
        Self { start: now, last: now }
    }

    fn lap(&mut self, part: &str) {
        let now = Instant::now();
        eprintln!("day: {part}: {:.1} s", (now - self.last).as_secs_f64());
        self.last = now;
    }
}

/// The trainer's grid as the room page builds it: the snapshot, then each update applied.
#[derive(Debug, Default)]
struct Grid {
    /// Participant id → (name, `lab/step` → status).
    rows: BTreeMap<u64, (String, BTreeMap<String, String>)>,
    columns: Vec<String>,
}

impl Grid {
    fn apply(&mut self, event: &str, data: &serde_json::Value) {
        let steps = |p: &serde_json::Value| -> BTreeMap<String, String> {
            p["steps"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default()
        };
        match (event, data["kind"].as_str()) {
            ("snapshot", _) => {
                self.columns = data["labs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|lab| {
                        let id = lab["id"].as_str().unwrap_or_default().to_string();
                        lab["steps"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(move |s| format!("{id}/{}", s.as_str().unwrap_or_default()))
                    })
                    .collect();
                self.rows = data["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (p["id"].as_u64().unwrap(), (p["name"].as_str().unwrap().to_string(), steps(p))))
                    .collect();
            }
            ("update", Some("joined")) => {
                let p = &data["participant"];
                self.rows.insert(p["id"].as_u64().unwrap(), (p["name"].as_str().unwrap().to_string(), steps(p)));
            }
            ("update", Some("progress")) => {
                if let Some((_, steps)) = self.rows.get_mut(&data["participant"].as_u64().unwrap()) {
                    let key = format!("{}/{}", data["lab"].as_str().unwrap(), data["step"].as_str().unwrap());
                    steps.insert(key, data["status"].as_str().unwrap().to_string());
                }
            }
            _ => {}
        }
    }

    /// The steps of the participant called `name`.
    fn of(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.rows.values().find(|(n, _)| n == name).map(|(_, steps)| steps.clone())
    }
}

/// The participant's laptop: a fresh Gantry data folder, workshops folder and lab work folder,
/// talking to its own engine.
struct Laptop {
    root: PathBuf,
    engine: PrivateEngine,
}

impl Laptop {
    fn gantry(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
        self.env(&mut cmd);
        cmd
    }

    /// `gantry ARGS` in a network namespace without interfaces.
    fn gantry_offline(&self) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["-n", env!("CARGO_BIN_EXE_gantry")]);
        self.env(&mut cmd);
        cmd
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("GANTRY_LANG", "en")
            .env("DOCKER_HOST", &self.engine.host)
            .env_remove("GANTRY_ENGINE")
            .env_remove("GANTRY_LABS_DIR")
            .env("GANTRY_HOME", self.root.join("gantry"))
            .env("GANTRY_WORKSHOPS_DIR", self.root.join("workshops"))
            .env("GANTRY_LABS_WORK", self.root.join("labs-work"));
    }

    fn run(&self, args: &[&str]) -> String {
        ok(self.gantry().args(args).output().unwrap())
    }

    /// `gantry --json ARGS`: what it printed on stdout, as JSON.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.gantry().arg("--json").args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        ok(out);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("gantry --json {args:?}: {e}: {stdout}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workshop_day_from_the_bundle_to_the_trainers_grid() {
    if rustix::process::geteuid().as_raw() != 0 {
        gantry_testkit::skip::skipped(TEST, "a second private engine and `unshare -n` need root");
        return;
    }
    if std::env::var("DOCKER_HOST").is_err() {
        gantry_testkit::skip::skipped(TEST, "DOCKER_HOST is not set (run through ./scripts/test)");
        return;
    }
    let mut clock = Clock::new();
    let dir = tempfile::tempdir().unwrap();
    let trainer = dir.path().join("trainer");
    std::fs::create_dir_all(&trainer).unwrap();
    let gantry = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
        cmd.env("GANTRY_LANG", "en").env("GANTRY_HOME", trainer.join("gantry"));
        cmd
    };

    // ---- Before the day: the trainer packs one signed bundle, two labs, two platforms ----
    let web = images::unique_tag("day-web");
    let arm = images::unique_tag("day-web-arm64");
    let _images = Images(vec![web.clone(), arm.clone()]);
    images::build(
        &web,
        &format!(
            "FROM {}\nRUN mkdir -p /www && echo '{PAGE}' > /www/index.html\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait\"]\n",
            images::FIXTURE
        ),
    )
    .unwrap();
    if !images::load_arm64_busybox(&arm).unwrap() {
        gantry_testkit::skip::skipped_unless_ci(
            TEST,
            &format!("{} is not set (./scripts/test fetches Debian's arm64 busybox-static)", images::ARM64_BUSYBOX_VAR),
        );
        return;
    }
    let labs = trainer.join("labs");
    let key = trainer.join("trainer");
    ok(gantry().arg("workshop").arg("key").arg(&key).output().unwrap());
    let bundle = trainer.join("day.gantry-workshop");
    let packed = ok(gantry()
        .args(["workshop", "pack", "--title", "Workshop day", "--platform", "linux/amd64,linux/arm64"])
        .args(["--image", &web, "--image", &format!("{web}={arm}")])
        .arg("--lab")
        .arg(web_lab(&labs, &web))
        .arg("--lab")
        .arg(other_lab(&labs, &web))
        .arg("--sign")
        .arg(&key)
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let inspected = ok(gantry().args(["--json", "workshop", "inspect"]).arg(&bundle).output().unwrap());
    let inspected: serde_json::Value = serde_json::from_str(inspected.trim()).unwrap();
    let manifest = &inspected["manifest"];
    let packed_labs: Vec<&str> = manifest["labs"].as_array().unwrap().iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(packed_labs, [WEB_LAB, OTHER_LAB], "{packed}");
    let image = manifest["images"].as_array().unwrap().iter().find(|i| i["name"] == web.as_str()).unwrap();
    assert_eq!(image["platforms"], serde_json::json!(["linux/amd64", "linux/arm64/v8"]), "{inspected}");
    assert!(manifest["missing_platforms"].as_array().is_none_or(Vec::is_empty), "{inspected}");
    assert!(inspected["signed_by"].as_str().unwrap().starts_with("SHA256:"), "{inspected}");
    clock.lap("trainer packs (2 labs, linux/amd64 + linux/arm64, signed)");

    // ---- The participant's fresh laptop imports it with no network ----
    let laptop = dir.path().join("laptop");
    let engine = PrivateEngine::start(&laptop.join("engine"), &[]).unwrap();
    let laptop = Laptop { root: laptop, engine };
    assert!(laptop.engine.docker(&["image", "inspect", &web]).is_err(), "a fresh engine has no workshop image");
    clock.lap("a fresh engine starts");
    let public = format!("{}.pub", key.display());
    let imported = ok(laptop
        .gantry_offline()
        .args(["--json", "workshop", "import", "--trusted-key", &public])
        .arg(&bundle)
        .output()
        .unwrap());
    let events = json_lines(&imported);
    let verified = events.iter().find(|e| e["event"] == "verified").unwrap_or_else(|| panic!("{imported}"));
    assert_eq!(verified["resumed"], 0, "nothing was checked before on a fresh laptop: {imported}");
    let loaded = events.iter().find(|e| e["event"] == "loaded" && e["image"] == web.as_str()).unwrap();
    assert_eq!(loaded["already_present"], false, "{imported}");
    let report = &events.iter().find(|e| e["event"] == "imported").unwrap()["report"];
    assert_eq!(report["labs"], serde_json::json!([WEB_LAB, OTHER_LAB]), "{imported}");
    // a classic engine gets its own platform of the two
    assert_eq!(report["images"][0]["platforms"], serde_json::json!(["linux/amd64"]), "{imported}");
    let arch = laptop.engine.docker(&["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", &web]).unwrap();
    assert_eq!(arch.trim(), "linux/amd64");
    let listed = laptop.json(&["lab", "list"]);
    for lab in [WEB_LAB, OTHER_LAB] {
        assert!(listed.as_array().unwrap().iter().any(|l| l["id"] == lab), "{lab} is not in lab list: {listed}");
    }
    clock.lap("offline import into the fresh engine (unshare -n)");

    // ---- On the day: the trainer opens the room and follows its grid ----
    let mut serve = gantry()
        .args(["--json", "workshop", "serve", "--listen", "127.0.0.1:0", "--no-registry", "--dir"])
        .arg(trainer.join("room"))
        .arg(&bundle)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut serve_out = BufReader::new(serve.stdout.take().unwrap()).lines();
    let _serve = Child(serve);
    let open = serve_out.next().unwrap().unwrap();
    // (what the room prints later is read and dropped: a closed pipe would end it)
    std::thread::spawn(move || serve_out.for_each(drop));
    let open: serde_json::Value = serde_json::from_str(&open).unwrap_or_else(|e| panic!("{e}: {open}"));
    assert_eq!(open["event"], "open", "{open}");
    let code = open["code"].as_str().unwrap().to_string();
    let trainer_url = open["trainer_url"].as_str().unwrap();
    let token = trainer_url.split_once("#t=").map(|(_, t)| t.to_string()).unwrap_or_else(|| panic!("{open}"));
    let room = RoomClient::new(&JoinCode::parse(&code).unwrap()).unwrap();
    let grid = Arc::new(Mutex::new(Grid::default()));
    let mut stream = Box::pin(room.events("/api/room/events", &token).await.unwrap());
    let follower = {
        let grid = grid.clone();
        tokio::spawn(async move {
            while let Some((event, data)) = stream.next().await {
                let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                grid.lock().unwrap().apply(&event, &data);
            }
        })
    };
    gantry_testkit::wait::until("the grid's first snapshot", BOUND, || !grid.lock().unwrap().columns.is_empty())
        .unwrap();
    assert_eq!(
        grid.lock().unwrap().columns,
        [format!("{WEB_LAB}/run"), format!("{WEB_LAB}/stop"), format!("{OTHER_LAB}/present")],
        "one column per step of both labs"
    );
    clock.lap("the trainer opens the room");

    // ---- The participant joins, starts the first lab and works through it ----
    let joined = laptop.run(&["workshop", "join", &code, "--name", "Ada"]);
    assert!(joined.contains("Joined Workshop day as Ada"), "{joined}");
    laptop.run(&["lab", "start", WEB_LAB]);
    let mut check = laptop.gantry().args(["--json", "lab", "check", WEB_LAB]).stdout(Stdio::piped()).spawn().unwrap();
    // (one JSON value per event, pretty-printed over several lines)
    let mut checker = serde_json::Deserializer::from_reader(BufReader::new(check.stdout.take().unwrap()))
        .into_iter::<serde_json::Value>();
    let _check = Child(check);
    let mut next_event = |what: &str| -> serde_json::Value {
        checker.next().unwrap_or_else(|| panic!("the checker ended before {what}")).unwrap()
    };
    for (index, step) in ["run", "stop"].iter().enumerate() {
        // The checker evaluates the step before its solution: it must not pass yet.
        let mut results = Vec::new();
        loop {
            let event = next_event("the step was evaluated");
            match event["kind"].as_str() {
                Some("check") if event["step"] == index => results.push(event["result"]["status"].clone()),
                Some("step_evaluated") if event["step"] == index => break,
                Some("step_passed" | "lab_completed") => panic!("step {step} passed before its solution: {event}"),
                _ => {}
            }
        }
        assert!(results.iter().any(|s| s != "pass"), "step {step} passes before its solution: {results:?}");
        // The learner types the step's solution as `gantry lab show` gives it.
        let view = laptop.json(&["lab", "show", WEB_LAB, step]);
        for command in view["solution"].as_array().unwrap() {
            let command = command.as_str().unwrap();
            let out =
                Command::new("sh").args(["-c", command]).env("DOCKER_HOST", &laptop.engine.host).output().unwrap();
            ok(out);
        }
        loop {
            let event = next_event("the step passed");
            if event["kind"] == "step_passed" {
                assert_eq!(event["id"], *step, "{event}");
                break;
            }
        }
        clock.lap(&format!("step {step} passes on the participant's laptop"));
    }
    assert_eq!(next_event("the lab was completed")["kind"], "lab_completed");
    assert!(laptop.engine.docker(&["ps", "-aq", "--filter", "name=^web$"]).unwrap().trim().len() > 1);

    // ---- The trainer's grid shows it ----
    let want: BTreeMap<String, String> =
        [(format!("{WEB_LAB}/run"), "passed".to_string()), (format!("{WEB_LAB}/stop"), "passed".to_string())].into();
    let seen = gantry_testkit::wait::until("the trainer's grid showing both steps passed", BOUND, || {
        grid.lock().unwrap().of("Ada").is_some_and(|steps| steps == want)
    });
    let live = grid.lock().unwrap().of("Ada");
    seen.unwrap_or_else(|e| panic!("{e}: Ada's row is {live:?}"));
    follower.abort();
    // A page opened now (a new snapshot) shows the same row.
    let mut fresh = Box::pin(room.events("/api/room/events", &token).await.unwrap());
    let (event, data) = fresh.next().await.unwrap();
    let mut again = Grid::default();
    again.apply(&event, &serde_json::from_str(&data).unwrap());
    assert_eq!(again.of("Ada"), Some(want), "{data}");
    clock.lap("the trainer's grid shows the participant's steps");

    // ---- After the day: the CSV export has the row ----
    let csv = room_csv(&JoinCode::parse(&code).unwrap(), &token).await;
    assert!(csv.contains(&format!("participant,{WEB_LAB}/run,{WEB_LAB}/stop,{OTHER_LAB}/present")), "{csv}");
    assert!(csv.contains("\r\nAda,passed,passed,\r\n"), "{csv}");
    clock.lap("CSV export");
    eprintln!("day: the whole day: {:.1} s", clock.start.elapsed().as_secs_f64());
}

/// The trainer's CSV export (`/api/room.csv` with the trainer's token), over TLS pinned by the code.
async fn room_csv(code: &JoinCode, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pinned = code.clone();
    let config = gantry_workshop::room::tls::pinned_client(move |d| pinned.pins(d)).unwrap();
    let tcp = tokio::net::TcpStream::connect(code.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::IpAddress(code.addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
    let request = format!("GET /api/room.csv?t={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}
