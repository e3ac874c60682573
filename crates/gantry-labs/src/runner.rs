//! `gantry lab test`: proves a lab works against a real engine. For each step, in order: its checks
//! must not all pass before its solution runs, and must all pass (reported by the live checker)
//! after it. Solutions run the docker CLI with the step's argument vector (no shell), in a
//! temporary work folder, with free host ports. Afterwards the lab is reset, which removes what it
//! created.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gantry_engine::{Endpoint, Engine, EngineStream};

use crate::checker::{LabEvent, watch};
use crate::error::{LabError, Result};
use crate::eval::{CheckResult, Context};
use crate::lab::{Lab, SolutionCommand};
use crate::placeholders::substitute;
use crate::reset::{ResetReport, apply_reset, plan_cleanup_side_by_side, plan_reset};
use crate::session::{PortChoice, context, fresh};
use crate::text::Lang;

/// How long one solution command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// How to run a lab test.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Where the lab's work folder is made (a temporary folder).
    pub work_root: PathBuf,
    /// The docker CLI.
    pub docker: PathBuf,
    /// How long a step may take to pass after its solution ran (a bound that fails the test, not a
    /// performance claim).
    pub step_timeout: Duration,
    /// Other labs are tested on the same engine at the same time: the cleanup removes only the
    /// objects the lab's checks and solutions name (see
    /// [`crate::reset::plan_cleanup_side_by_side`]).
    pub side_by_side: bool,
}

impl TestOptions {
    /// Defaults: `docker` from PATH, 60 s per step.
    pub fn new(work_root: impl Into<PathBuf>) -> Self {
        Self {
            work_root: work_root.into(),
            docker: PathBuf::from("docker"),
            step_timeout: Duration::from_secs(60),
            side_by_side: false,
        }
    }
}

/// How one step went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepOutcome {
    pub id: String,
    /// Time the solution commands took.
    pub solution_ms: u128,
    /// From the end of the solution to the checker's "step passed".
    pub passed_after_ms: u128,
}

/// How a lab test went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestReport {
    pub lab: String,
    pub steps: Vec<StepOutcome>,
    pub total_ms: u128,
    /// What the reset after the test removed.
    pub cleanup: ResetReport,
}

/// The `DOCKER_HOST` value that points the docker CLI at `endpoint` (`None` for TLS endpoints:
/// the caller's environment must already say so).
pub fn docker_host(endpoint: &Endpoint) -> Option<String> {
    match endpoint {
        Endpoint::Unix(path) => Some(format!("unix://{}", path.display())),
        Endpoint::Tcp { address, tls: None } => Some(format!("tcp://{address}")),
        Endpoint::Tcp { tls: Some(_), .. } => None,
        Endpoint::NamedPipe(pipe) => Some(format!("npipe://{pipe}")),
        // The docker CLI dials SSH engines itself with the same URL.
        Endpoint::Ssh(target) => Some(target.to_string()),
    }
}

/// Runs one solution command in `work_dir` with placeholders filled in.
pub async fn run_solution_command(
    command: &SolutionCommand,
    lab_dir: &Path,
    ctx: &Context,
    docker: &Path,
    endpoint: &Endpoint,
) -> Result<()> {
    match command {
        SolutionCommand::Copy { from, to } => {
            let target = ctx.work_dir.join(to);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| LabError::io("create", parent, e))?;
            }
            crate::session::copy_file(&lab_dir.join(from), &target, &ctx.values)
        }
        SolutionCommand::Run { args } => {
            let args: Vec<String> = args.iter().skip(1).map(|a| substitute(a, &ctx.values)).collect();
            let shown = format!("docker {}", args.join(" "));
            let mut cmd = tokio::process::Command::new(docker);
            cmd.args(&args).current_dir(&ctx.work_dir).stdin(std::process::Stdio::null()).kill_on_drop(true);
            if let Some(host) = docker_host(endpoint) {
                cmd.env("DOCKER_HOST", host);
            }
            let output = match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
                Ok(Ok(output)) => output,
                Ok(Err(e)) => {
                    return Err(LabError::Command {
                        command: shown,
                        message: format!("cannot run {}: {e}", docker.display()),
                    });
                }
                Err(_) => {
                    return Err(LabError::Command {
                        command: shown,
                        message: format!("still running after {} s", COMMAND_TIMEOUT.as_secs()),
                    });
                }
            };
            if output.status.success() {
                Ok(())
            } else {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
                Err(LabError::Command {
                    command: shown,
                    message: format!("{}: {}", output.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n")),
                })
            }
        }
    }
}

/// The failing checks of `step` as lines for a message.
fn failing(lab: &Lab, step: usize, results: &[CheckResult], ctx: &Context) -> String {
    let checks = &lab.steps[step].checks;
    results
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.passed())
        .map(|(i, r)| {
            let label = checks.get(i).map(|c| c.label(Lang::En, &ctx.values)).unwrap_or_default();
            let why = r.detail.as_ref().map(|d| d.get(Lang::En).to_string()).unwrap_or_else(|| "not evaluated".into());
            format!("\n  ✗ {label}: {why}")
        })
        .collect()
}

/// Reads checker events for `step` until `until` matches; results are kept up to date.
async fn until(
    stream: &mut EngineStream<LabEvent>,
    step: usize,
    results: &mut [CheckResult],
    until: impl Fn(&LabEvent) -> bool,
) -> Result<bool> {
    while let Some(event) = stream.next().await {
        let event = event?;
        if let LabEvent::Check { step: s, check, result } = &event
            && *s == step
            && let Some(slot) = results.get_mut(*check)
        {
            *slot = result.clone();
        }
        if until(&event) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Tests `lab` against `engine` (see the module docs); `on_step` hears about each step passed.
pub async fn test_lab(
    engine: &Engine,
    lab: Arc<Lab>,
    options: &TestOptions,
    mut on_step: impl FnMut(&StepOutcome),
) -> Result<TestReport> {
    let started = Instant::now();
    let work_dir = options.work_root.join(&lab.id);
    let progress = fresh(engine, &lab, None, work_dir.clone(), PortChoice::AnyFree).await?;
    let ctx = context(&progress, engine.endpoint());
    let result = run_steps(engine, &lab, &progress, &ctx, options, &mut on_step).await;
    let plan = if options.side_by_side {
        plan_cleanup_side_by_side(engine, &lab, &progress, &ctx).await
    } else {
        plan_reset(engine, &lab, &progress, &ctx).await
    };
    let cleanup = match plan {
        Ok(plan) => apply_reset(engine, &plan).await,
        Err(e) => ResetReport { removed: Vec::new(), failed: vec![e.to_string()] },
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    let steps = result?;
    Ok(TestReport { lab: lab.id.clone(), steps, total_ms: started.elapsed().as_millis(), cleanup })
}

async fn run_steps(
    engine: &Engine,
    lab: &Arc<Lab>,
    progress: &crate::progress::Progress,
    ctx: &Context,
    options: &TestOptions,
    on_step: &mut impl FnMut(&StepOutcome),
) -> Result<Vec<StepOutcome>> {
    let mut stream = watch(engine.clone(), lab.clone(), progress.clone(), ctx.clone(), None);
    let mut outcomes = Vec::new();
    for (index, step) in lab.steps.iter().enumerate() {
        let mut results =
            vec![CheckResult { status: crate::eval::CheckStatus::Pending, detail: None }; step.checks.len()];
        let evaluated = until(
            &mut stream,
            index,
            &mut results,
            |e| matches!(e, LabEvent::StepEvaluated { step } if *step == index),
        )
        .await?;
        if !evaluated {
            return Err(LabError::TestFailed { message: format!("the checker stopped before step {:?}", step.id) });
        }
        if results.iter().all(CheckResult::passed) {
            return Err(LabError::TestFailed {
                message: format!(
                    "lab {}: step {:?} passes before its solution runs (its checks do not test what the step asks)",
                    lab.id, step.id
                ),
            });
        }
        let solution_start = Instant::now();
        for command in &step.solution {
            run_solution_command(command, &lab.dir, ctx, &options.docker, engine.endpoint()).await?;
        }
        let solved = Instant::now();
        let wait = until(
            &mut stream,
            index,
            &mut results,
            |e| matches!(e, LabEvent::StepPassed { step, .. } if *step == index),
        );
        match tokio::time::timeout(options.step_timeout, wait).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                return Err(LabError::TestFailed {
                    message: format!("lab {}: the checker stopped during step {:?}", lab.id, step.id),
                });
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(LabError::TestFailed {
                    message: format!(
                        "lab {}: step {:?} does not pass {} s after its solution ran:{}",
                        lab.id,
                        step.id,
                        options.step_timeout.as_secs(),
                        failing(lab, index, &results, ctx)
                    ),
                });
            }
        }
        let outcome = StepOutcome {
            id: step.id.clone(),
            solution_ms: (solved - solution_start).as_millis(),
            passed_after_ms: solved.elapsed().as_millis(),
        };
        on_step(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
