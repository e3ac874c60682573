//! `gantry status | head -1`: every command whose reader goes away ends quietly (no panic
//! message, exit status 0), like other command-line tools. Runs the real `gantry` binary with
//! stdout on a pipe whose reading end is already closed, against the engine at `DOCKER_HOST`
//! when there is one (the commands then have something to print) and an empty home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

fn run_with_closed_stdout(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("temporary home");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.args(args)
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("COLUMNS", "80")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    if std::env::var_os("DOCKER_HOST").is_none() {
        cmd.env("DOCKER_HOST", format!("unix://{}/no-engine.sock", home.path().display()));
    }
    cmd.output().expect("run gantry")
}

#[test]
fn every_command_exits_quietly_on_a_closed_pipe() {
    let commands: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["ps", "--all"],
        &["images"],
        &["volumes"],
        &["images", "--json"],
        &["doctor"],
        &["--help"],
        &["--version"],
    ];
    for args in commands {
        let out = run_with_closed_stdout(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "gantry {args:?} panicked on a closed pipe:\n{stderr}");
        assert_ne!(out.status.code(), Some(101), "gantry {args:?}: {stderr}");
    }
    gantry_testkit::reliability::bad_inputs("gantry CLI: stdout closed by its reader", commands.len() as u64);
}
