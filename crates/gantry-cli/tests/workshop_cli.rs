//! `gantry workshop` as a trainer and a participant run it, against the engine at `DOCKER_HOST`:
//! make a key, pack a signed bundle, import it in a network namespace without interfaces
//! (`unshare -n`: the import opens no network connection), kill -9 the import while an image is
//! being loaded and run it again (nothing half-imported; finished parts not redone).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use gantry_testkit::images;

fn gantry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.env("GANTRY_LANG", "en");
    cmd
}

/// The room address a join code carries.
fn code_addr(code: &str) -> std::net::SocketAddr {
    gantry_workshop::room::code::JoinCode::parse(code).unwrap().addr
}

fn ok(output: Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    text
}

/// `unshare -n PROGRAM`: the program runs with no network interface up. `None` where unshare
/// cannot make a network namespace (not root); said and counted as skipped.
fn offline(test: &str) -> Option<Command> {
    let works = Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success());
    if !works {
        gantry_testkit::skip::skipped(test, "`unshare -n` cannot make a network namespace here (needs root)");
        return None;
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", env!("CARGO_BIN_EXE_gantry")]).env("GANTRY_LANG", "en");
    Some(cmd)
}

/// The engine as a unix socket (reachable from any network namespace), or `None` (said).
fn unix_engine(test: &str) -> Option<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => Some(host),
        _ => {
            gantry_testkit::skip::skipped(test, "DOCKER_HOST is not a unix socket (run through ./scripts/test)");
            None
        }
    }
}

fn lab(dir: &Path, id: &str) -> String {
    gantry_testkit::labs::write_lab(dir, id, &["one"], images::FIXTURE).display().to_string()
}

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn signed_bundle_imports_offline_and_resumes_after_kill_9() {
    let test = "workshop_cli::signed_bundle_imports_offline_and_resumes_after_kill_9";
    let Some(engine) = unix_engine(test) else { return };
    let Some(_) = offline(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let small = images::unique_tag("ws-cli-small");
    let big = images::unique_tag("ws-cli-big");
    images::build(&small, "FROM gantry-test/busybox:latest\nCMD [\"echo\", \"small image here\"]\n").unwrap();
    images::build(
        &big,
        "FROM gantry-test/busybox:latest\nRUN dd if=/dev/urandom of=/big bs=1048576 count=96 2>/dev/null\n",
    )
    .unwrap();
    let _cleanup = Cleanup(vec![small.clone(), big.clone()]);

    let key = dir.path().join("trainer");
    let made = ok(gantry().arg("workshop").arg("key").arg(&key).output().unwrap());
    assert!(made.contains("Fingerprint  SHA256:"), "{made}");
    let bundle = dir.path().join("room.gantry-workshop");
    let packed = ok(gantry()
        .args(["--engine", &engine, "workshop", "pack", "--title", "Room 1", "--image", &small, "--image", &big])
        .args(["--lab", &lab(dir.path(), "first-lab"), "--sign"])
        .arg(&key)
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    assert!(packed.contains("Signed  SHA256:"), "{packed}");
    let inspected = ok(gantry().args(["workshop", "inspect", "--verify"]).arg(&bundle).output().unwrap());
    assert!(inspected.contains("Verified  every part matches its digest"), "{inspected}");
    images::remove(&[&small, &big]);

    // Import offline; kill -9 as soon as the big image is on its way to the engine.
    let workshops = dir.path().join("workshops");
    let public = format!("{}.pub", key.display());
    let import = |cmd: &mut Command| {
        cmd.args(["--engine", &engine, "--json", "workshop", "import", "--trusted-key", &public])
            .arg(&bundle)
            .env("GANTRY_WORKSHOPS_DIR", &workshops);
    };
    let mut first = offline(test).unwrap();
    import(&mut first);
    let mut child = first.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["event"] == "loading" && event["image"] == big.as_str() {
            child.kill().unwrap(); // SIGKILL
            killed = true;
            break;
        }
        seen.push(event);
    }
    let status = child.wait().unwrap();
    assert!(killed && !status.success(), "the import was killed while loading {big}: {seen:?}");
    assert!(images::image_id(&small).is_ok(), "the image loaded before the kill stays");
    assert!(images::image_id(&big).is_err(), "no half-loaded image after kill -9");
    assert!(gantry_workshop::imported(&workshops).is_empty(), "not recorded as imported");

    // Again: every digest was checked by the first run, the small image is there already.
    let mut second = offline(test).unwrap();
    import(&mut second);
    let text = ok(second.output().unwrap());
    let events = events(&text);
    let verified = events.iter().find(|e| e["event"] == "verified").unwrap();
    assert_eq!(verified["resumed"], verified["parts"], "{text}");
    let loaded = |name: &str| events.iter().find(|e| e["event"] == "loaded" && e["image"] == name).cloned().unwrap();
    assert_eq!(loaded(&small)["already_present"], true);
    assert_eq!(loaded(&big)["already_present"], false);
    let done = events.iter().find(|e| e["event"] == "imported").unwrap();
    assert_eq!(done["report"]["verified_now"], 0);
    assert!(done["report"]["signed_by"].as_str().unwrap().starts_with("SHA256:"));
    assert!(images::image_id(&big).is_ok());
    assert_eq!(images::docker(&["run", "--rm", &small]).unwrap().trim(), "small image here");
    let listed = ok(gantry().args(["workshop", "list"]).env("GANTRY_WORKSHOPS_DIR", &workshops).output().unwrap());
    assert!(listed.contains("Room 1"), "{listed}");
    gantry_testkit::reliability::fault(
        "kill -9 of `gantry workshop import` (offline, unshare -n) while a 96 MiB image is being loaded",
        "no half-loaded image; images loaded before stay; the next run checks no digest again and loads the rest",
        "the big image absent after the kill, the small one present; the second run verified 0 parts again and loaded only the big one",
    );
}

#[test]
fn a_bundle_signed_by_another_key_or_damaged_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    ok(gantry().args(["workshop", "key"]).arg(&other).output().unwrap());
    let not_a_bundle = dir.path().join("notes.gantry-workshop");
    std::fs::write(&not_a_bundle, "not a bundle at all\n").unwrap();
    let out = gantry().args(["workshop", "inspect"]).arg(&not_a_bundle).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("is not a usable workshop bundle"), "{text}");
    assert!(text.contains("hint: Choose the .gantry-workshop file"), "{text}");
    let out = gantry().args(["workshop", "key"]).arg(&other).output().unwrap();
    assert!(!out.status.success(), "never overwrites a key");
    gantry_testkit::reliability::bad_inputs("gantry workshop inspect / key", 2);
}

struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let refs: Vec<&str> = self.0.iter().map(String::as_str).collect();
        images::remove(&refs);
    }
}

/// A `gantry --json workshop serve` of a bundle (room folder `DIR/room`) and its "open" event.
/// Dropping it (also when a test fails) ends the room with Ctrl-C, as a trainer does — the room
/// stops its registry process too, which a kill -9 would leave running — then kills what is left.
struct ServedRoom {
    process: std::process::Child,
    /// The serve's output, kept open so that its later lines never meet a closed pipe.
    _output: std::io::Lines<BufReader<std::process::ChildStdout>>,
    open: Option<serde_json::Value>,
}

impl ServedRoom {
    fn serve(bundle: &Path, dir: &Path, options: &[&str]) -> Self {
        let mut process = gantry()
            .args(["--json", "workshop", "serve", "--listen", "127.0.0.1:0"])
            .args(options)
            .arg("--dir")
            .arg(dir.join("room"))
            .arg(bundle)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut output = BufReader::new(process.stdout.take().unwrap()).lines();
        let open = output
            .by_ref()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|e| e["event"] == "open");
        Self { process, _output: output, open }
    }

    /// The "open" event (the join code, whether the room has a registry).
    fn open(&self) -> &serde_json::Value {
        self.open.as_ref().expect("the room opened")
    }
}

impl Drop for ServedRoom {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.process.id().to_string()]).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.process.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A lab folder in gantry-labs' format with two steps.
fn lab_with_steps(dir: &Path, id: &str) -> String {
    gantry_testkit::labs::write_lab(dir, id, &["run", "stop"], images::FIXTURE).display().to_string()
}

#[test]
fn a_participant_joins_the_room_and_reports_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("labs.gantry-workshop");
    ok(gantry()
        .args(["workshop", "pack", "--title", "Room 2", "--lab", &lab_with_steps(dir.path(), "first")])
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let room = ServedRoom::serve(&bundle, dir.path(), &["--no-registry"]);
    let open = room.open();
    assert_eq!(open["event"], "open", "{open}");
    let code = open["code"].as_str().unwrap().to_string();
    let me = dir.path().join("participant");
    let home = dir.path().join("home");
    let joined = ok(gantry()
        .args(["workshop", "join", &code, "--name", "Ada"])
        .env("GANTRY_WORKSHOPS_DIR", &me)
        .env("GANTRY_HOME", &home)
        .output()
        .unwrap());
    assert!(joined.contains("Joined Room 2 as Ada"), "{joined}");
    assert!(me.join("room-ca.crt").is_file());
    // The room has no registry (`--no-registry`): nothing to add as a mirror, and it says so.
    assert!(joined.contains("This room has no registry"), "{joined}");
    let settings = std::fs::read(home.join("default/settings.json")).unwrap_or_default();
    let settings: serde_json::Value = serde_json::from_slice(&settings).unwrap_or_default();
    assert!(
        settings["vm"]["registry_mirrors"].as_array().is_none_or(|m| m.is_empty()),
        "a room without a registry added a mirror: {settings}"
    );
    // Joining again (the room opened again) works the same.
    let again = ok(gantry()
        .args(["workshop", "join", &code, "--name", "Ada"])
        .env("GANTRY_WORKSHOPS_DIR", &me)
        .env("GANTRY_HOME", &home)
        .output()
        .unwrap());
    assert!(again.contains("Joined Room 2 as Ada"), "{again}");
    ok(gantry().args(["workshop", "progress", "first", "run"]).env("GANTRY_WORKSHOPS_DIR", &me).output().unwrap());
    let bad =
        gantry().args(["workshop", "progress", "first", "fly"]).env("GANTRY_WORKSHOPS_DIR", &me).output().unwrap();
    let text = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(!bad.status.success() && text.contains("not a step of this workshop"), "{text}");
    let last = code.chars().last().unwrap();
    let typo = format!("{}{}", &code[..code.len() - 1], if last == 'A' { 'B' } else { 'A' });
    let typo = gantry().args(["workshop", "join", &typo, "--name", "Eve"]).output().unwrap();
    assert!(!typo.status.success(), "a mistyped code is refused");
    gantry_testkit::reliability::bad_inputs("gantry workshop join / progress", 2);
}

/// A room WITH a registry (a bundle holding an image): joining adds it to Gantry's VM as a
/// registry mirror trusted with the certificate the code pinned; joining again replaces it.
#[test]
fn joining_a_room_with_a_registry_adds_it_as_a_mirror() {
    let test = "workshop_cli::joining_a_room_with_a_registry_adds_it_as_a_mirror";
    let Some(engine) = unix_engine(test) else { return };
    if !Path::new("/usr/bin/docker-registry").exists() {
        gantry_testkit::skip::skipped(test, "docker-registry is not installed (./scripts/test installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = images::unique_tag("ws-cli-mirror");
    images::build(&app, "FROM gantry-test/busybox:latest\nCMD [\"echo\", \"from the room\"]\n").unwrap();
    let _cleanup = Cleanup(vec![app.clone()]);
    let bundle = dir.path().join("room.gantry-workshop");
    ok(gantry()
        .args(["--engine", &engine, "workshop", "pack", "--title", "Room 3", "--image", &app])
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let room = ServedRoom::serve(&bundle, dir.path(), &["--upstream", "https://127.0.0.1:1"]);
    let me = dir.path().join("participant");
    let home = dir.path().join("home");
    let open = room.open();
    assert_eq!(open["registry"], true, "{open}");
    let code = open["code"].as_str().unwrap().to_string();
    let join = || {
        ok(gantry()
            .args(["workshop", "join", &code, "--name", "Ada"])
            .env("GANTRY_WORKSHOPS_DIR", &me)
            .env("GANTRY_HOME", &home)
            .output()
            .unwrap())
    };
    let joined = join();
    let addr = code_addr(&code);
    assert!(joined.contains(&format!("Registry mirror   https://{addr}")), "{joined}");
    assert!(joined.contains("Settings → Registry mirrors"), "{joined}");
    let mirrors = || {
        let settings: serde_json::Value =
            serde_json::from_slice(&std::fs::read(home.join("default/settings.json")).unwrap()).unwrap();
        settings["vm"]["registry_mirrors"].as_array().cloned().unwrap_or_default()
    };
    let listed = mirrors();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["url"], format!("https://{addr}"));
    assert_eq!(listed[0]["ca_pem"].as_str().unwrap(), std::fs::read_to_string(me.join("room-ca.crt")).unwrap());
    // Joining again (the room opened again) replaces the mirror, never lists it twice.
    join();
    assert_eq!(mirrors().len(), 1);
}

#[test]
fn doctor_workshop_says_what_is_missing_then_ready() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_with_steps(dir.path(), "ports-lab");
    let port = gantry_testkit::net::free_port().unwrap();
    let toml = Path::new(&lab).join("lab.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}[ports]\nweb = {port}\n")).unwrap();
    let bundle = dir.path().join("b.gantry-workshop");
    ok(gantry()
        .args(["workshop", "pack", "--title", "Preflight", "--cpus", "1", "--memory-mib", "1024", "--lab", &lab])
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let workshops = dir.path().join("workshops");
    let doctor = || {
        gantry()
            .args(["--json", "doctor", "--workshop"])
            .arg(&bundle)
            .env("GANTRY_WORKSHOPS_DIR", &workshops)
            .output()
            .unwrap()
    };
    let busy = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = doctor();
    assert!(!out.status.success(), "not imported yet");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let level = |report: &serde_json::Value, name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["level"].as_str().unwrap().to_string())
    };
    assert_eq!(level(&report, "bundle").as_deref(), Some("ok"), "{report}");
    assert_eq!(level(&report, "ports").as_deref(), Some("warn"), "{report}");
    assert_eq!(level(&report, "imported").as_deref(), Some("fail"), "{report}");
    drop(busy);
    let home = dir.path().join("gantry-home");
    let imported = ok(gantry()
        .args(["workshop", "import", "--apply-settings"])
        .arg(&bundle)
        .env("GANTRY_WORKSHOPS_DIR", &workshops)
        .env("GANTRY_HOME", &home)
        .output()
        .unwrap());
    assert!(imported.contains("VM settings: 1 CPUs 1024 MiB"), "{imported}");
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("default/settings.json")).unwrap()).unwrap();
    assert_eq!(
        (settings["vm"]["cpus"].as_u64(), settings["vm"]["memory_mib"].as_u64()),
        (Some(1), Some(1024)),
        "{settings}"
    );
    let out = doctor();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&report, "imported").as_deref(), Some("ok"), "{report}");
    assert_eq!(level(&report, "ports").as_deref(), Some("ok"), "{report}");
    assert!(report["summary"].as_str().unwrap().starts_with("Gantry preflight for Preflight"), "{report}");
}

/// A one-step lab in gantry-labs' format: container `name` (from the fixture image) runs.
fn running_lab(root: &Path, id: &str, name: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("steps")).unwrap();
    let toml = format!(
        r#"format = 1
id = "{id}"
level = "beginner"
duration_minutes = 5
images = ["{image}"]
[title]
en = "Room lab"
[summary]
en = "A step the room sees"
[[steps]]
id = "run"
  [[steps.checks]]
  kind = "container_running"
  container = "{name}"
  [[steps.solution]]
  run = ["docker", "run", "-d", "--name", "{name}", "{image}", "sleep", "300"]
"#,
        image = images::FIXTURE
    );
    std::fs::write(dir.join("lab.toml"), toml).unwrap();
    std::fs::write(dir.join("steps/run.en.md"), format!("# Run {name}\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_participant_reports_steps_and_follows_the_trainers_reset() {
    const TEST: &str = "workshop_cli::a_joined_participant_reports_steps_and_follows_the_trainers_reset";
    if !gantry_testkit::engine::destructive_or_skip(TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (labs, me) = (dir.path().join("labs"), dir.path().join("participant"));
    let container = format!("gw-room-lab-{}", std::process::id());
    running_lab(&labs, "room-lab", &container);
    let bundle = dir.path().join("room.gantry-workshop");
    ok(gantry()
        .args(["workshop", "pack", "--title", "Room 3", "--lab"])
        .arg(labs.join("room-lab"))
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap());
    let options = gantry_workshop::room::ServeOptions {
        bundle,
        dir: dir.path().join("room"),
        listen: "127.0.0.1:0".parse().unwrap(),
        advertise: None,
        upstream: None,
        no_registry: true,
    };
    let room = gantry_workshop::room::serve(&options, &|_| {}).await.unwrap();
    // The participant's Gantry: its own data folder, workshops folder, labs and lab work folder.
    // (`timeout`: a checker that never sees the step pass fails the test instead of hanging it)
    let command = |args: &[&str]| {
        let mut cmd = Command::new("timeout");
        cmd.arg("120")
            .arg(env!("CARGO_BIN_EXE_gantry"))
            .args(args)
            .env("GANTRY_LANG", "en")
            .env("GANTRY_HOME", dir.path().join("home"))
            .env("GANTRY_WORKSHOPS_DIR", &me)
            .env("GANTRY_LABS_DIR", &labs)
            .env("GANTRY_LABS_WORK", dir.path().join("work"));
        cmd
    };
    let participant = |args: &[&str]| command(args).output().unwrap();
    let code = room.code.to_string();
    // (AssertUnwindSafe: after a panic the room is only read and stopped)
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ok(participant(&["workshop", "join", &code, "--name", "Ada"]));
        ok(participant(&["lab", "start", "room-lab"]));
        images::docker(&["run", "-d", "--name", &container, images::FIXTURE, "sleep", "300"]).unwrap();
        let checked = ok(participant(&["lab", "check", "room-lab"]));
        assert!(checked.contains("Lab complete"), "{checked}");

        // The trainer resets the lab for everyone; the participant's follow --apply carries it out.
        let mut follow = command(&["--json", "workshop", "follow", "--apply"]).stdout(Stdio::piped()).spawn().unwrap();
        let reset = gantry_workshop::room::state::RoomCommand::ResetLab { lab: "room-lab".into() };
        gantry_testkit::wait::until("the participant following the room", std::time::Duration::from_secs(60), || {
            room.room.command(reset.clone()).unwrap() > 0
        })
        .unwrap();
        let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
        let applied = lines.by_ref().map_while(Result::ok).find(|l| l.contains("\"applied\"")).unwrap_or_default();
        let _ = follow.kill();
        let _ = follow.wait();
        let applied: serde_json::Value = serde_json::from_str(&applied).unwrap();
        assert_eq!(applied["result"]["applied"], "reset", "{applied}");
        assert!(applied["result"]["removed"].to_string().contains(&container), "{applied}");
        assert!(images::docker(&["inspect", &container]).is_err(), "the lab's container is gone");
    }));
    let snapshot = room.room.snapshot();
    let _ = images::docker(&["rm", "-f", &container]);
    room.stop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    let ada = snapshot.participants.iter().find(|p| p.name == "Ada").expect("Ada joined");
    assert_eq!(
        ada.steps.get("room-lab/run"),
        Some(&gantry_workshop::room::state::StepStatus::Passed),
        "the room saw the step pass: {snapshot:?}"
    );
}
