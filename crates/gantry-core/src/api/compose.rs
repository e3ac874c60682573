//! Compose projects: open a compose file or folder (or a project found on the engine), run
//! compose's verbs with their output live, follow the whole project's logs, and say what a down
//! deletes. Runs the user's `docker compose` (v2 CLI plugin) with an argument vector, pointed at
//! the engine Gantry uses; the arguments and parsers are in [`crate::compose`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gantry_engine::{CancellationToken, ContainerFilter, Endpoint, TlsFiles};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::{Gantry, StreamMsg};
use crate::compose::{
    self, COMPOSE_PACKAGE, ComposeAction, ComposeLogLine, ComposeTarget, DownPreview, FindError, ProjectConfig,
};

/// Largest batch of output lines sent to the UI at once.
const OUTPUT_BATCH: usize = 2_000;
/// How long compose gets to stop cleanly after an interrupt before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);
/// How many of compose's last stderr lines a failure keeps.
const STDERR_TAIL: usize = 20;

/// A project opened in the compose view.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ComposeProject {
    /// How compose is told about it (always with its name).
    pub target: ComposeTarget,
    /// What its files declare, or, without files, what the engine has of it.
    pub config: ProjectConfig,
}

/// One line compose printed while it worked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ComposeOutput {
    pub text: String,
}

/// The docker CLI's environment that points it at `endpoint`.
fn docker_env(endpoint: &Endpoint) -> ApiResult<Vec<(&'static str, String)>> {
    Ok(match endpoint {
        Endpoint::Unix(path) => vec![("DOCKER_HOST", format!("unix://{}", path.display()))],
        Endpoint::Tcp { address, tls: None } => vec![("DOCKER_HOST", format!("tcp://{address}"))],
        Endpoint::Tcp { address, tls: Some(tls) } => {
            let dir = tls.ca.parent().map(Path::to_path_buf).unwrap_or_default();
            if *tls != TlsFiles::in_dir(&dir) {
                return Err(ApiError::new(
                    GantryErrorCode::ComposeFailed,
                    "The docker CLI needs the engine's certificates as ca.pem, cert.pem and key.pem in one folder.",
                    "Put them in one folder and set DOCKER_CERT_PATH to it.",
                ));
            }
            vec![
                ("DOCKER_HOST", format!("tcp://{address}")),
                ("DOCKER_TLS_VERIFY", "1".into()),
                ("DOCKER_CERT_PATH", dir.display().to_string()),
            ]
        }
        Endpoint::NamedPipe(pipe) => vec![("DOCKER_HOST", format!("npipe://{pipe}"))],
        // The docker CLI dials SSH engines itself with the same URL.
        Endpoint::Ssh(target) => vec![("DOCKER_HOST", target.to_string())],
    })
}

fn plugin_missing_error() -> ApiError {
    ApiError::new(
        GantryErrorCode::ComposeMissing,
        "The docker compose (v2) plugin is not installed.",
        format!(
            "Install the `{COMPOSE_PACKAGE}` package (on Debian 12 ./scripts/setup-and-run installs it) or put \
             docker-compose in ~/.docker/cli-plugins; `gantry doctor` checks it."
        ),
    )
}

fn docker_missing_error(e: &std::io::Error) -> ApiError {
    ApiError::new(
        GantryErrorCode::ComposeMissing,
        format!("Cannot run the docker command: {e}."),
        format!(
            "Install the docker CLI and the `{COMPOSE_PACKAGE}` plugin package (./scripts/setup-and-run does); \
             `gantry doctor` checks both."
        ),
    )
}

fn find_error(e: FindError) -> ApiError {
    let hint = match e {
        FindError::NoComposeFile { .. } => "Open a folder that holds compose.yaml, or the compose file itself.",
        FindError::NotFound { .. } => "Check the path and try again.",
        FindError::NotAbsolute { .. } => "Give the full path, e.g. /home/you/app/compose.yaml.",
    };
    ApiError::new(GantryErrorCode::ComposeFileMissing, format!("{}.", e.to_string().trim_end_matches('.')), hint)
}

/// Checks what the UI sends before it reaches compose's command line.
fn check_target(target: &ComposeTarget) -> ApiResult<()> {
    let name_ok = target.name.as_deref().is_none_or(compose::valid_project_name);
    let paths_ok =
        target.files.iter().chain(&target.env_files).chain(&target.working_dir).all(|p| Path::new(p).is_absolute());
    if !target.profiles.iter().all(|p| compose::valid_compose_name(p)) {
        return Err(ApiError::new(
            GantryErrorCode::Invalid,
            "A profile name may hold only letters, digits, `_`, `.` and `-`, and starts with a letter or digit.",
            "Choose the profiles from the list the project's files give.",
        ));
    }
    if name_ok && paths_ok && (target.name.is_some() || !target.files.is_empty()) {
        return Ok(());
    }
    Err(ApiError::new(
        GantryErrorCode::Invalid,
        "This compose project is named with characters compose does not accept, or its files are not full paths.",
        "Open the project again from its folder.",
    ))
}

/// The word of `action` on compose's command line.
fn action_verb(action: ComposeAction) -> String {
    let verb = match action {
        ComposeAction::Up => "up",
        ComposeAction::Stop => "stop",
        ComposeAction::Restart => "restart",
        ComposeAction::Down { .. } => "down",
        ComposeAction::Config => "config",
    };
    verb.to_string()
}

/// The arguments of `action` on the whole project, or on `services` only.
fn run_args(target: &ComposeTarget, action: ComposeAction, services: &[String]) -> ApiResult<Vec<String>> {
    if services.is_empty() {
        return Ok(compose::compose_args(target, action));
    }
    if !services.iter().all(|s| compose::valid_compose_name(s)) {
        return Err(ApiError::new(
            GantryErrorCode::Invalid,
            "A service name may hold only letters, digits, `_`, `.` and `-`, and starts with a letter or digit.",
            "Choose the service from the project's list.",
        ));
    }
    compose::service_args(target, action, services).ok_or_else(|| {
        ApiError::new(
            GantryErrorCode::Invalid,
            format!("docker compose {} acts on the whole project, not on some of its services.", action_verb(action)),
            "Use the project's own button.",
        )
    })
}

/// A finished `docker` run.
struct Exit {
    success: bool,
    stderr_tail: VecDeque<String>,
}

impl Exit {
    fn stderr(&self) -> String {
        self.stderr_tail.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }

    /// The failure of `docker compose <verb>`, in compose's words.
    fn error(&self, verb: &str) -> ApiError {
        let stderr = self.stderr();
        if compose::plugin_missing(&stderr) {
            return plugin_missing_error();
        }
        let last = self.stderr_tail.iter().rev().find(|l| !l.trim().is_empty()).map_or("", |l| l.trim());
        let hint = compose::failure_hint(&stderr)
            .unwrap_or("The output shows each step compose took; fix the cause and try again.");
        ApiError::new(GantryErrorCode::ComposeFailed, format!("docker compose {verb} failed: {last}"), hint)
    }
}

/// Sends SIGINT (compose then stops what it started cleanly) where there are signals, else kills.
fn interrupt(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32))
        && rustix::process::kill_process(pid, rustix::process::Signal::INT).is_ok()
    {
        return;
    }
    let _ = child.start_kill();
}

fn read_lines(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
    stderr: bool,
    tx: tokio::sync::mpsc::UnboundedSender<(bool, String)>,
) {
    let Some(pipe) = pipe else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send((stderr, compose::strip_ansi(&line))).is_err() {
                break;
            }
        }
    });
}

impl Gantry {
    /// The docker command, pointed at the engine this app uses, run in `dir`.
    async fn docker_command(&self, args: &[String], dir: Option<&str>) -> ApiResult<Command> {
        // Connecting first gives the usual "start the VM" error when the engine is not there.
        self.engine().await?;
        let endpoint = self.resolve_engine()?.endpoint;
        let mut cmd = Command::new("docker");
        cmd.args(args)
            .envs(docker_env(&endpoint)?)
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(dir) = dir.filter(|d| Path::new(d).is_dir()) {
            cmd.current_dir(dir);
        }
        Ok(cmd)
    }

    /// Runs `cmd`, sending its output lines (stdout and stderr as they come, in batches) to
    /// `on_lines`; `None` when `token` was cancelled (compose is interrupted, then killed).
    async fn run_lines(
        mut cmd: Command,
        token: &CancellationToken,
        mut on_lines: impl FnMut(Vec<(bool, String)>),
    ) -> ApiResult<Option<Exit>> {
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| docker_missing_error(&e))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        read_lines(child.stdout.take(), false, tx.clone());
        read_lines(child.stderr.take(), true, tx);
        let mut stderr_tail = VecDeque::new();
        loop {
            let first = tokio::select! {
                line = rx.recv() => line,
                () = token.cancelled() => {
                    interrupt(&mut child);
                    if tokio::time::timeout(INTERRUPT_GRACE, child.wait()).await.is_err() {
                        let _ = child.kill().await;
                    }
                    return Ok(None);
                }
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < OUTPUT_BATCH {
                match rx.try_recv() {
                    Ok(line) => batch.push(line),
                    Err(_) => break,
                }
            }
            for (_, line) in batch.iter().filter(|(stderr, _)| *stderr) {
                stderr_tail.push_back(line.clone());
                if stderr_tail.len() > STDERR_TAIL {
                    stderr_tail.pop_front();
                }
            }
            on_lines(batch);
        }
        let status = child.wait().await.map_err(|e| docker_missing_error(&e))?;
        Ok(Some(Exit { success: status.success(), stderr_tail }))
    }

    /// `docker compose config` of `target`: what its files declare, or why compose rejects them.
    async fn compose_config(&self, target: &ComposeTarget) -> ApiResult<ProjectConfig> {
        let args = compose::compose_args(target, ComposeAction::Config);
        let mut stdout = String::new();
        let exit = Self::run_lines(
            self.docker_command(&args, target.working_dir.as_deref()).await?,
            &CancellationToken::new(),
            |lines| {
                for (is_err, line) in lines {
                    if !is_err {
                        stdout.push_str(&line);
                        stdout.push('\n');
                    }
                }
            },
        )
        .await?
        .ok_or_else(|| ApiError::from(gantry_engine::EngineError::Cancelled))?;
        if !exit.success {
            let stderr = exit.stderr();
            if compose::plugin_missing(&stderr) {
                return Err(plugin_missing_error());
            }
            let problem = compose::config_problem(&stderr);
            let file = target.files.first().map_or("the compose file", String::as_str);
            let hint = match problem.line {
                Some(line) => format!("Fix line {line} of {file}, then open it again."),
                None => format!("Fix {file}, then open it again."),
            };
            return Err(ApiError::new(GantryErrorCode::ComposeInvalid, problem.message, hint));
        }
        compose::parse_config(&stdout).map_err(|e| {
            ApiError::new(
                GantryErrorCode::ComposeFailed,
                format!("docker compose config printed something Gantry cannot read: {e}."),
                "Check `docker compose version` (Gantry needs compose v2); `gantry doctor` checks it.",
            )
        })
    }

    /// Opens the compose file at `path`, or the one in the folder `path`: checks it with
    /// `docker compose config` and says what it declares.
    pub async fn compose_open(&self, path: String) -> ApiResult<ComposeProject> {
        let file = compose::find_compose_file(&PathBuf::from(path.trim())).map_err(find_error)?;
        let mut target = ComposeTarget {
            name: None,
            working_dir: file.parent().map(|d| d.display().to_string()),
            files: vec![file.display().to_string()],
            ..Default::default()
        };
        let config = self.compose_config(&target).await?;
        target.name = Some(config.name.clone());
        Ok(ComposeProject { target, config })
    }

    /// Opens a project found on the engine (by its containers' labels), also one Gantry did not
    /// start: with its files when they are on this computer (and the profiles that made its
    /// containers chosen for Up), else by name.
    pub async fn compose_project_open(&self, name: String) -> ApiResult<ComposeProject> {
        let engine = self.engine().await?;
        let filter = ContainerFilter { all: true, compose_project: Some(name.clone()), ..Default::default() };
        let containers = engine.list_containers(&filter).await?;
        let mut target =
            containers.iter().find_map(|c| compose::target_from_labels(&c.labels, Path::is_file)).ok_or_else(|| {
                ApiError::new(
                    GantryErrorCode::ComposeProjectMissing,
                    format!("No container of the compose project {name} exists."),
                    "Open the project's folder instead.",
                )
            })?;
        if !target.files.is_empty() {
            let config = self.compose_config(&target).await?;
            let services = containers.iter().filter_map(|c| c.compose_service.as_deref());
            target.profiles = compose::profiles_in_use(&config.service_profiles, services);
            return Ok(ComposeProject { target, config });
        }
        let mut services: Vec<String> = containers.iter().filter_map(|c| c.compose_service.clone()).collect();
        services.sort();
        services.dedup();
        let found =
            compose::down_preview(&name, &[], &engine.list_networks().await?, &engine.list_volumes().await?, true);
        let config =
            ProjectConfig { name, services, volumes: found.volumes, networks: found.networks, ..Default::default() };
        Ok(ComposeProject { target, config })
    }

    /// What `compose_run` with `down` would delete: the project's containers and networks, and
    /// with `volumes` its volumes, as the engine has them now.
    pub async fn compose_down_preview(&self, name: String, volumes: bool) -> ApiResult<DownPreview> {
        let engine = self.engine().await?;
        let filter = ContainerFilter { all: true, compose_project: Some(name.clone()), ..Default::default() };
        let containers = engine.list_containers(&filter).await?;
        let volume_list = if volumes { engine.list_volumes().await? } else { Vec::new() };
        Ok(compose::down_preview(&name, &containers, &engine.list_networks().await?, &volume_list, volumes))
    }

    /// Runs `up`, `stop`, `restart` or `down` on a project, or `up`, `stop` or `restart` on the
    /// named `services` only; streams compose's output live and ends with an error when compose
    /// fails. Cancelling interrupts compose.
    pub async fn compose_run(
        &self,
        target: ComposeTarget,
        action: ComposeAction,
        services: Vec<String>,
        sink: impl Fn(StreamMsg<ComposeOutput>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        check_target(&target)?;
        if matches!(action, ComposeAction::Up) && target.files.is_empty() {
            return Err(ApiError::new(
                GantryErrorCode::ComposeFileMissing,
                "This project's compose files are not on this computer, so it cannot be started from here.",
                "Open the project's folder, then Up.",
            ));
        }
        let args = run_args(&target, action, &services)?;
        let verb = match services.as_slice() {
            [] => action_verb(action),
            _ => format!("{} {}", action_verb(action), services.join(" ")),
        };
        let cmd = self.docker_command(&args, target.working_dir.as_deref()).await?;
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let send = {
                let sink = Arc::clone(&sink);
                move |lines: Vec<(bool, String)>| {
                    sink(StreamMsg::Items {
                        items: lines.into_iter().map(|(_, text)| ComposeOutput { text }).collect(),
                    });
                }
            };
            match Self::run_lines(cmd, &token, send).await {
                Ok(Some(exit)) if !exit.success => sink(StreamMsg::Error { error: exit.error(&verb) }),
                Err(error) => sink(StreamMsg::Error { error }),
                _ => {}
            }
            sink(StreamMsg::End);
        }))
    }

    /// Follows the logs of every container of a project, interleaved as they come, each line
    /// with its service; starts with the last `tail` lines of each container.
    pub async fn compose_logs(
        &self,
        target: ComposeTarget,
        tail: u32,
        sink: impl Fn(StreamMsg<ComposeLogLine>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        check_target(&target)?;
        let cmd = self.docker_command(&compose::logs_args(&target, tail), target.working_dir.as_deref()).await?;
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let send = {
                let sink = Arc::clone(&sink);
                move |lines: Vec<(bool, String)>| {
                    let items: Vec<ComposeLogLine> =
                        lines.iter().filter_map(|(_, line)| compose::parse_log_line(line)).collect();
                    if !items.is_empty() {
                        sink(StreamMsg::Items { items });
                    }
                }
            };
            match Self::run_lines(cmd, &token, send).await {
                Ok(Some(exit)) if !exit.success => sink(StreamMsg::Error { error: exit.error("logs") }),
                Err(error) => sink(StreamMsg::Error { error }),
                _ => {}
            }
            sink(StreamMsg::End);
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_cli_is_pointed_at_the_same_engine() -> ApiResult<()> {
        let unix = docker_env(&Endpoint::Unix("/run/g/docker.sock".into()))?;
        assert_eq!(unix, [("DOCKER_HOST", "unix:///run/g/docker.sock".to_string())]);
        let tls = Endpoint::Tcp { address: "10.0.0.2:2376".into(), tls: Some(TlsFiles::in_dir(Path::new("/c"))) };
        let env = docker_env(&tls)?;
        assert!(env.contains(&("DOCKER_TLS_VERIFY", "1".into())));
        assert!(env.contains(&("DOCKER_CERT_PATH", "/c".into())));
        let odd = TlsFiles { ca: "/a/ca.pem".into(), cert: "/b/cert.pem".into(), key: "/a/key.pem".into() };
        assert!(docker_env(&Endpoint::Tcp { address: "h:1".into(), tls: Some(odd) }).is_err());
        Ok(())
    }

    #[test]
    fn targets_from_the_ui_are_checked() {
        let ok = ComposeTarget { name: Some("shop".into()), profiles: vec!["debug".into()], ..Default::default() };
        assert!(check_target(&ok).is_ok());
        assert!(check_target(&ComposeTarget { name: Some("--rm".into()), ..ok.clone() }).is_err());
        assert!(check_target(&ComposeTarget { files: vec!["compose.yaml".into()], ..ok.clone() }).is_err());
        assert!(check_target(&ComposeTarget { env_files: vec![".env".into()], ..ok.clone() }).is_err());
        assert!(check_target(&ComposeTarget::default()).is_err());
        assert!(check_target(&ComposeTarget { profiles: vec!["--rm".into()], ..ok.clone() }).is_err());
        assert!(check_target(&ComposeTarget { profiles: vec!["*".into()], ..ok.clone() }).is_err());
    }

    #[test]
    fn services_are_named_only_where_compose_takes_them() -> ApiResult<()> {
        let t = ComposeTarget { name: Some("shop".into()), ..Default::default() };
        let web = ["web".to_string()];
        assert_eq!(run_args(&t, ComposeAction::Restart, &web)?.last().map(String::as_str), Some("web"));
        assert_eq!(run_args(&t, ComposeAction::Stop, &[])?, compose::compose_args(&t, ComposeAction::Stop));
        let Err(down) = run_args(&t, ComposeAction::Down { volumes: true }, &web) else {
            panic!("a down of one service is refused");
        };
        assert_eq!(down.code, GantryErrorCode::Invalid);
        assert!(down.message.contains("down"), "{}", down.message);
        assert!(run_args(&t, ComposeAction::Stop, &["--all".to_string()]).is_err());
        Ok(())
    }

    #[test]
    fn a_missing_plugin_names_the_package_and_doctor() {
        let exit = Exit {
            success: false,
            stderr_tail: ["docker: 'compose' is not a docker command.".to_string()].into_iter().collect(),
        };
        let e = exit.error("up");
        assert_eq!(e.code, GantryErrorCode::ComposeMissing);
        assert!(e.hint.contains("docker-compose") && e.hint.contains("gantry doctor"), "{}", e.hint);
        let failed = Exit { success: false, stderr_tail: ["", "no such image: x", ""].map(String::from).into() };
        assert_eq!(failed.error("up").message, "docker compose up failed: no such image: x");
        let port = Exit {
            success: false,
            stderr_tail: ["Error response from daemon: Bind for 127.0.0.1:80 failed: port is already allocated"]
                .map(String::from)
                .into(),
        };
        assert!(port.error("up").hint.contains("ports:"), "{}", port.error("up").hint);
    }

    #[tokio::test]
    async fn no_docker_program_says_what_to_install() {
        let cmd = Command::new("/nonexistent/gantry-test/docker");
        let Err(e) = Gantry::run_lines(cmd, &CancellationToken::new(), |_| {}).await else {
            panic!("a missing program cannot run");
        };
        assert_eq!(e.code, GantryErrorCode::ComposeMissing);
        assert!(e.hint.contains("docker-compose") && e.hint.contains("gantry doctor"), "{}", e.hint);
    }

    /// Output arrives line by line from both pipes, and a cancel ends the program.
    #[cfg(unix)]
    #[tokio::test]
    async fn output_streams_and_cancel_interrupts() -> ApiResult<()> {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exec sleep 30"]).kill_on_drop(true);
        let token = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = token.clone();
        let watcher = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(batch) = rx.recv().await {
                seen.extend(batch);
                if seen.len() == 2 {
                    cancel.cancel();
                }
            }
            seen
        });
        let exit = Gantry::run_lines(cmd, &token, move |lines| {
            let _ = tx.send(lines);
        })
        .await?;
        assert!(exit.is_none(), "a cancelled run has no exit");
        let mut seen = watcher.await.map_err(|e| ApiError::io(e.to_string(), ""))?;
        seen.sort();
        assert_eq!(seen, [(false, "out".to_string()), (true, "err".to_string())]);
        Ok(())
    }
}
