//! The Learn panel's host terminal against a real PTY and a real shell: typing, reading,
//! resizing, and that ending the terminal (cancel, the shell's own exit, a second terminal, the
//! setting turned off) leaves no program running. Linux only: processes are looked up in /proc
//! (the code under test is type-checked for macOS and Windows).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use gantry_core::api::{ApiError, Gantry, GantryErrorCode, HostTerminalRequest, StreamMsg, TerminalOutput};
use gantry_core::credentials::CredentialStore;
use gantry_testkit::wait;
use tokio::sync::mpsc;

/// Only keeps a broken test from hanging: not a performance claim.
const BOUND: Duration = Duration::from_secs(60);
const SIZE: HostTerminalRequest = HostTerminalRequest { rows: 24, cols: 80 };

/// An app with the host terminal turned on (or off) in its own settings file.
fn app(dir: &Path, on: bool) -> Gantry {
    std::fs::write(dir.join("settings.json"), format!(r#"{{"ui":{{"host_terminal":{on}}}}}"#)).unwrap();
    Gantry::with_paths(dir.join("settings.json"), CredentialStore::new(dir.join("docker")))
        .with_engine(Some("unix:///nonexistent/docker.sock"))
}

/// A host terminal's output as it arrives, and whether it ended.
struct Screen {
    id: u64,
    rx: mpsc::UnboundedReceiver<StreamMsg<TerminalOutput>>,
    text: String,
    ended: bool,
}

impl Screen {
    async fn open(api: &Gantry) -> Result<Self, ApiError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = api
            .host_terminal_open(SIZE, move |m| {
                let _ = tx.send(m);
            })
            .await?;
        Ok(Self { id, rx, text: String::new(), ended: false })
    }

    /// Takes the next message of the stream into the screen (bounded).
    async fn more(&mut self, waiting_for: &str) {
        match tokio::time::timeout(BOUND, self.rx.recv()).await {
            Ok(Some(StreamMsg::Items { items })) => self.text.extend(items.into_iter().map(|o| o.data)),
            Ok(Some(StreamMsg::End) | None) => self.ended = true,
            Ok(Some(StreamMsg::Error { error })) => panic!("terminal error: {error:?}\n{}", self.text),
            Ok(Some(StreamMsg::Started { .. })) => {}
            Err(_) => panic!("no {waiting_for} after {} s; the terminal showed:\n{}", BOUND.as_secs(), self.text),
        }
    }

    /// Reads until `pattern` is in the output after byte `from`.
    async fn read_until(&mut self, from: usize, pattern: &str) {
        while !self.text[from..].contains(pattern) {
            assert!(!self.ended, "the terminal ended before {pattern:?}; it showed:\n{}", self.text);
            self.more(pattern).await;
        }
    }

    /// Types `line` and returns the number it prints after `name-` (the echo of the typed line
    /// shows `name-$...`, not digits).
    async fn number(&mut self, api: &Gantry, line: &str, name: &str) -> u32 {
        let from = self.text.len();
        api.terminal_input(self.id, format!("{line}\n")).await.unwrap();
        let prefix = format!("{name}-");
        loop {
            if let Some(n) = number_after(&self.text[from..], &prefix) {
                return n;
            }
            assert!(!self.ended, "the terminal ended before {prefix}N; it showed:\n{}", self.text);
            self.more(&prefix).await;
        }
    }

    async fn wait_end(&mut self) {
        while !self.ended {
            self.more("the end").await;
        }
    }
}

/// The first `prefix<digits>` followed by something else in `text`.
fn number_after(text: &str, prefix: &str) -> Option<u32> {
    text.match_indices(prefix).find_map(|(at, _)| {
        let rest = &text[at + prefix.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty() && rest.len() > digits.len()).then(|| digits.parse().ok()).flatten()
    })
}

/// The commands typed here are POSIX shell: a learner's fish or nushell would not run them.
fn posix_shell(test: &str) -> bool {
    let shell = gantry_core::host_terminal::users_shell().path;
    let name = shell.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let posix = matches!(name.as_str(), "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "busybox");
    if !posix {
        gantry_testkit::skip::skipped(test, &format!("$SHELL is {}, not a POSIX shell", shell.display()));
    }
    posix
}

/// A process is gone when it does not exist or is a zombie (this machine's PID 1 reaps nothing).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

fn assert_gone(pids: &[u32], what: &str) {
    wait::until(what, BOUND, || pids.iter().all(|p| !running(*p))).unwrap();
}

#[tokio::test]
async fn types_reads_resizes_and_closing_ends_the_shell_and_its_jobs() {
    if !posix_shell("types_reads_resizes_and_closing_ends_the_shell_and_its_jobs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let api = app(dir.path(), true);
    let mut screen = Screen::open(&api).await.unwrap();
    api.terminal_input(screen.id, "echo hi-$((1+2))\n".into()).await.unwrap();
    screen.read_until(0, "hi-3").await;

    api.terminal_resize(screen.id, 30, 100).await.unwrap();
    let from = screen.text.len();
    api.terminal_input(screen.id, "echo size-$(stty size | tr ' ' x)\n".into()).await.unwrap();
    screen.read_until(from, "size-30x100").await;

    let from = screen.text.len();
    api.terminal_input(screen.id, "echo docker-$DOCKER_HOST\n".into()).await.unwrap();
    screen.read_until(from, "docker-unix:///nonexistent/docker.sock").await;

    let shell = screen.number(&api, "echo shell-$$", "shell").await;
    let job = screen.number(&api, "sleep 1000 & echo job-$!", "job").await;
    assert!(running(shell) && running(job), "shell {shell} and job {job} run");

    assert!(api.stream_cancel(screen.id).await.unwrap(), "the terminal was open");
    screen.wait_end().await;
    assert_gone(&[shell, job], "the shell and its background job to end");
    assert!(api.terminal_input(screen.id, "echo late\n".into()).await.is_err(), "input to an ended terminal");
}

#[tokio::test]
async fn a_shell_that_ignores_the_hang_up_is_killed() {
    if !posix_shell("a_shell_that_ignores_the_hang_up_is_killed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let api = app(dir.path(), true);
    let mut screen = Screen::open(&api).await.unwrap();
    let shell = screen.number(&api, "trap '' HUP; echo shell-$$", "shell").await;
    let job = screen.number(&api, "(trap '' HUP; exec sleep 1000) & echo job-$!", "job").await;
    api.stream_cancel(screen.id).await.unwrap();
    screen.wait_end().await;
    assert_gone(&[shell, job], "the shell and a job that ignore SIGHUP to be killed");
}

#[tokio::test]
async fn when_the_shell_exits_the_terminal_ends_and_its_jobs_go() {
    if !posix_shell("when_the_shell_exits_the_terminal_ends_and_its_jobs_go") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let api = app(dir.path(), true);
    let mut screen = Screen::open(&api).await.unwrap();
    let job = screen.number(&api, "(trap '' HUP; exec sleep 1000) & echo job-$!", "job").await;
    api.terminal_input(screen.id, "exit\n".into()).await.unwrap();
    screen.wait_end().await;
    assert_gone(&[job], "the job the shell left to end");
}

#[tokio::test]
async fn one_terminal_per_app_and_turning_the_setting_off_ends_it() {
    if !posix_shell("one_terminal_per_app_and_turning_the_setting_off_ends_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let api = app(dir.path(), true);
    let mut first = Screen::open(&api).await.unwrap();
    let first_shell = first.number(&api, "echo shell-$$", "shell").await;
    let mut second = Screen::open(&api).await.unwrap();
    first.wait_end().await;
    assert_gone(&[first_shell], "the first terminal's shell to end when a second opens");
    let second_shell = second.number(&api, "echo shell-$$", "shell").await;

    let mut form = api.settings_get().await.unwrap().form;
    form.host_terminal = false;
    api.settings_save(form).await.unwrap();
    second.wait_end().await;
    assert_gone(&[second_shell], "the terminal's shell to end when the setting is turned off");
}

#[tokio::test]
async fn off_by_default_and_refused_with_where_to_turn_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let api = Gantry::with_paths(dir.path().join("settings.json"), CredentialStore::new(dir.path().join("docker")));
    let err = Screen::open(&api).await.err().unwrap();
    assert_eq!(err.code, GantryErrorCode::HostTerminalOff);
    assert!(err.hint.contains("Settings → App"), "{}", err.hint);
    assert_eq!(api.streams().running(), 0, "nothing was started");
    let api = app(dir.path(), false);
    assert_eq!(Screen::open(&api).await.err().unwrap().code, GantryErrorCode::HostTerminalOff);
}

#[tokio::test]
async fn sizes_a_terminal_cannot_have_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let api = app(dir.path(), true);
    let (tx, _rx) = mpsc::unbounded_channel();
    let zero = HostTerminalRequest { rows: 0, cols: 80 };
    let err = api
        .host_terminal_open(zero, move |m| {
            let _ = tx.send(m);
        })
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, GantryErrorCode::Invalid);
    assert!(err.fields[0].message.contains("rows is 0"), "{err:?}");
    let mut screen = Screen::open(&api).await.unwrap();
    assert_eq!(api.terminal_resize(screen.id, 24, 5000).await.err().unwrap().code, GantryErrorCode::Invalid);
    api.stream_cancel(screen.id).await.unwrap();
    screen.wait_end().await;
}
