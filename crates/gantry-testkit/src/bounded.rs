//! Tests that cannot hang. A child process that does not finish within its bound is killed with
//! its whole process group and reported as an error naming the command; a [`Watchdog`] ends a test
//! that overruns its bound, saying at which [`step`] it stood and printing the diagnostics it was
//! given (the test harness would otherwise wait forever and print nothing).
//!
//! Bounds only keep a broken test from hanging: they are not performance claims.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

static STEP: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// Records the step a test is at (for a failure or a watchdog message) and prints it with how
/// long the previous step took.
pub fn step(name: &str) {
    let mut current = STEP.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((previous, since)) = current.take() {
        eprintln!("--- step done in {:.1} s: {previous}", since.elapsed().as_secs_f64());
    }
    if !name.is_empty() {
        eprintln!("--- step: {name}");
        *current = Some((name.to_owned(), Instant::now()));
    }
}

/// The step last recorded with [`step`] and how long it has run (empty before the first).
pub fn current_step() -> String {
    match &*STEP.lock().unwrap_or_else(PoisonError::into_inner) {
        Some((name, since)) => format!("{name} (for {:.0} s)", since.elapsed().as_secs_f64()),
        None => String::new(),
    }
}

/// `program arg arg…` as a person would type it (for messages).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` (stdin from `input`, or nothing) in its own process group and collects its output.
/// When it has not exited within `bound`, the group is killed and the error names the command,
/// the bound and what it printed so far. Processes that leave the group (daemons that call
/// `setsid` or set their own group) are not killed.
pub fn output(cmd: &mut Command, input: Option<&[u8]>, bound: Duration) -> Result<Output, String> {
    let what = describe(cmd);
    cmd.process_group(0)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("`{what}` could not start: {e}"))?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        let bytes = bytes.to_vec();
        // a child that does not read its input must not block this thread
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let deadline = Instant::now() + bound;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => break Err(kill_group(&mut child)),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(format!("waiting for it failed: {e}; {}", kill_group(&mut child))),
        }
    };
    let (stdout, stderr) = (stdout.finish(), stderr.finish());
    match status {
        Ok(status) => Ok(Output { status, stdout, stderr }),
        Err(why) => Err(format!(
            "`{what}` did not finish within {} s ({why}); it printed:\n{}{}",
            bound.as_secs(),
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

fn kill_group(child: &mut Child) -> String {
    let group = rustix::process::Pid::from_child(child);
    let result = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Ok(()) => "killed with its process group".to_owned(),
        Err(e) => format!("killing its process group failed: {e}"),
    }
}

/// A pipe read to its end on a thread; what arrived is kept even if the end never comes.
struct Collector {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Collector {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = std::sync::mpsc::channel();
    let sink = Arc::clone(&bytes);
    std::thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&buf[..n]);
            }
        }
        let _ = tx.send(());
    });
    Collector { bytes, done }
}

impl Collector {
    /// What was read; waits a little for the end (a grandchild outside the killed group may
    /// still hold the pipe open).
    fn finish(self) -> Vec<u8> {
        let _ = self.done.recv_timeout(Duration::from_secs(5));
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The last `lines` lines of a text file (a log), or a note that it cannot be read.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({} cannot be read: {e})", path.display()),
    }
}

/// Ends the test process when the test it guards runs longer than its bound: prints (on the real
/// stderr, which the harness does not capture) the test, the bound, the current [`step`] and what
/// `on_expiry` returns (it may also clean up, e.g. stop a VM), then exits with status 101 like a
/// failed test. Dropping the watchdog disarms it (a passing or panicking test).
pub struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Watchdog {
    /// Arms a watchdog for `test` with `bound`.
    pub fn arm(test: &str, bound: Duration, on_expiry: impl FnOnce() -> String + Send + 'static) -> Self {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = Arc::clone(&done);
        let test = test.to_owned();
        std::thread::spawn(move || {
            let (lock, cvar) = &*watched;
            let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let (guard, _) = cvar.wait_timeout_while(guard, bound, |d| !*d).unwrap_or_else(PoisonError::into_inner);
            if *guard {
                return;
            }
            drop(guard);
            let mut err = std::io::stderr();
            let _ = writeln!(
                err,
                "\n{test}: TIMED OUT after {} s at step: {}\n(the watchdog ends the test process)",
                bound.as_secs(),
                current_step()
            );
            let _ = writeln!(err, "{}", on_expiry());
            std::process::exit(101);
        });
        Self { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.done;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cvar.notify_all();
    }
}

/// Kills (SIGKILL) each process named by a pid file in `dir` that is still alive and carries
/// `env_marker` (`NAME=value`) in its environment, so a reused pid is never hit. Returns what
/// it killed, for the log.
pub fn kill_pid_files(dir: &Path, pid_files: &[&str], env_marker: &str) -> Vec<String> {
    let mut killed = Vec::new();
    for file in pid_files {
        let Some(pid) = std::fs::read_to_string(dir.join(file)).ok().and_then(|s| s.trim().parse::<i32>().ok()) else {
            continue;
        };
        let has_marker = std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == env_marker.as_bytes()));
        let Some(pid) = rustix::process::Pid::from_raw(pid).filter(|_| has_marker) else { continue };
        if rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok() {
            killed.push(format!("{file} ({})", pid.as_raw_nonzero()));
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_finishes_gives_its_output() {
        let out = output(Command::new("sh").args(["-c", "cat; echo err >&2"]), Some(b"in\n"), Duration::from_secs(30))
            .expect("sh runs");
        assert!(out.status.success());
        assert_eq!(out.stdout, b"in\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_command_that_hangs_is_killed_with_its_children_and_named() {
        // the grandchild `sleep` holds the pipes: without the group kill this would never end
        let t = Instant::now();
        let err = output(
            Command::new("sh").args(["-c", "echo started; sleep 600 & sleep 600"]),
            None,
            Duration::from_millis(300),
        )
        .expect_err("must time out");
        assert!(t.elapsed() < Duration::from_secs(60), "the kill must end the wait");
        assert!(err.contains("sh -c echo started") && err.contains("did not finish within"), "{err}");
        assert!(err.contains("started"), "what it printed so far: {err}");
    }

    #[test]
    fn a_child_that_does_not_read_its_input_does_not_block() {
        let big = vec![b'x'; 4 << 20];
        let out = output(&mut Command::new("true"), Some(&big), Duration::from_secs(30)).expect("true runs");
        assert!(out.status.success());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("gantry-testkit-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("log"), "a\nb\nc\n").expect("write");
        assert_eq!(tail(&dir.join("log"), 2), "b\nc");
        assert!(tail(&dir.join("missing"), 2).contains("cannot be read"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
