//! `gantry lab`: learn Docker by doing, each step checked live against your own engine.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use futures_util::StreamExt;
use gantry_core::engine_source;
use gantry_engine::Engine;
use gantry_labs::lint::{Severity, lint};
use gantry_labs::session::{self, PortChoice};
use gantry_labs::{
    CheckResult, CheckStatus, Lab, LabError, LabEvent, Lang, Library, Progress, ProgressStore, TestOptions, TestReport,
    evaluate_step, plan_reset, reset_lab, test_lab, watch,
};
use gantry_workshop::room::state::StepStatus;

use crate::CliError;
use crate::engine_cmds::print_json;
use crate::output::print_table;

/// `gantry lab ...`
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Language of the texts: en or ru (default: from the system locale).
    #[arg(long, global = true)]
    lang: Option<String>,
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// The labs, with your progress in each.
    List,
    /// A lab's steps, or one step's text (with --hints, --solution).
    Show {
        lab: String,
        /// Step id or number.
        step: Option<String>,
        #[arg(long)]
        hints: bool,
        #[arg(long)]
        solution: bool,
    },
    /// Start a lab (or resume it): your work folder, the ports it uses, its first step.
    Start { lab: String },
    /// Check the current step live while you work; moves on when it passes (Ctrl-C ends).
    Check {
        /// The lab (default: the one started last).
        lab: Option<String>,
        /// Evaluate the current step once and exit.
        #[arg(long)]
        once: bool,
    },
    /// Remove what the lab created (only that), restore its files, start it again.
    Reset {
        lab: String,
        /// Only show what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
    /// Check lab folders: format errors with file and line, undeclared images, retired commands.
    Lint {
        /// Lab folders, or folders of labs.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Prove labs work against the engine (e.g. DOCKER_HOST): no step passes before its solution
    /// runs, every step passes after it. What a lab creates is removed afterwards.
    Test {
        /// Lab folders, or folders of labs.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// How many labs to test at the same time on the engine.
        #[arg(short, long, default_value_t = 1)]
        jobs: usize,
    },
}

impl From<LabError> for CliError {
    fn from(e: LabError) -> Self {
        Self { message: e.to_string(), hint: Some(e.hint()) }
    }
}

fn lang_of(args: &LabArgs) -> Result<Lang, CliError> {
    match &args.lang {
        None => Ok(Lang::from_env()),
        Some(code) => Lang::parse(code)
            .ok_or_else(|| CliError::new(format!("unknown language {code:?}"), "use --lang en or --lang ru")),
    }
}

fn library() -> Library {
    let library = gantry_core::api::lab_library();
    for (dir, e) in library.broken() {
        eprintln!("warning: the lab in {} does not load: {e}", dir.display());
    }
    library
}

fn store() -> ProgressStore {
    gantry_core::api::lab_progress_store()
}

fn work_root() -> PathBuf {
    gantry_core::api::lab_work_root()
}

async fn connect(engine: Option<&str>) -> Result<Engine, CliError> {
    Ok(engine_source::connect(engine).await?.0)
}

/// Runs `gantry lab ...`.
pub async fn run(args: LabArgs, engine: Option<&str>, json: bool) -> Result<(), CliError> {
    let lang = lang_of(&args)?;
    match args.command {
        LabCommand::List => list(lang, json),
        LabCommand::Show { lab, step, hints, solution } => show(&lab, step.as_deref(), hints, solution, lang, json),
        LabCommand::Start { lab } => start(&lab, engine, lang).await,
        LabCommand::Check { lab, once } => check(lab.as_deref(), once, engine, lang, json).await,
        LabCommand::Reset { lab, dry_run, yes } => reset(&lab, dry_run, yes, engine).await,
        LabCommand::Lint { dirs } => lint_dirs(&dirs, json),
        LabCommand::Test { dirs, jobs } => test(&dirs, jobs, engine, json).await,
    }
}

fn list(lang: Lang, json: bool) -> Result<(), CliError> {
    let library = library();
    let store = store();
    let summaries = library.summaries(lang);
    if json {
        return print_json(&summaries);
    }
    let rows: Vec<Vec<String>> = library
        .labs()
        .iter()
        .zip(&summaries)
        .map(|(lab, s)| {
            let progress = match store.load(&lab.id) {
                Ok(Some(p)) if p.is_complete(lab) => "done".to_string(),
                Ok(Some(p)) => format!("step {}/{}", p.current_step + 1, lab.steps.len()),
                _ => String::new(),
            };
            vec![
                s.id.clone(),
                s.level.name(lang).to_string(),
                format!("{} min", s.duration_minutes),
                progress,
                s.title.clone(),
            ]
        })
        .collect();
    print_table(&["LAB", "LEVEL", "TIME", "PROGRESS", "TITLE"], &rows);
    Ok(())
}

/// Placeholder values for showing `lab`: the learner's once started, else the usual ones.
fn values_for(lab: &Lab, progress: Option<&Progress>) -> gantry_labs::placeholders::Values {
    gantry_labs::view::values(lab, progress, &work_root())
}

fn show(lab_id: &str, step: Option<&str>, hints: bool, solution: bool, lang: Lang, json: bool) -> Result<(), CliError> {
    let library = library();
    let lab = library.get(lab_id)?;
    let progress = store().load(&lab.id)?;
    let values = values_for(lab, progress.as_ref());
    let Some(step) = step else {
        let overview = gantry_labs::view::lab_view(lab, progress.as_ref(), lang);
        if json {
            return print_json(&overview);
        }
        println!("{}\n\n{}\n", overview.title, overview.summary);
        for (i, s) in overview.steps.iter().enumerate() {
            println!("{} {}. {}", if s.passed { "✓" } else { " " }, i + 1, s.title);
        }
        return Ok(());
    };
    let index =
        lab.find_step(step).ok_or_else(|| LabError::UnknownStep { lab: lab.id.clone(), step: step.to_string() })?;
    if json {
        return print_json(&gantry_labs::view::step_view(lab, index, &values, lang));
    }
    print_step(lab, index, &values, lang, hints, solution);
    Ok(())
}

fn print_step(
    lab: &Lab,
    index: usize,
    values: &gantry_labs::placeholders::Values,
    lang: Lang,
    hints: bool,
    solution: bool,
) {
    let Some(view) = gantry_labs::view::step_view(lab, index, values, lang) else { return };
    let (step_word, checks_word, hints_word, solution_word) = match lang {
        Lang::En => ("Step", "Checks", "Hints", "Solution"),
        Lang::Ru => ("Шаг", "Проверки", "Подсказки", "Решение"),
    };
    println!("{step_word} {}/{}: {}\n", view.index + 1, view.count, view.title);
    println!("{}\n", view.markdown);
    println!("{checks_word}:");
    for check in &view.checks {
        println!("  · {check}");
    }
    if hints && !view.hints.is_empty() {
        println!("\n{hints_word}:");
        for hint in &view.hints {
            println!("  - {hint}");
        }
    }
    if solution {
        println!("\n{solution_word}:");
        for command in &view.solution {
            println!("  {command}");
        }
    }
}

async fn start(lab_id: &str, engine: Option<&str>, lang: Lang) -> Result<(), CliError> {
    let library = library();
    let lab = library.get(lab_id)?;
    let engine = connect(engine).await?;
    let store = store();
    let resumed = store.load(&lab.id)?.is_some();
    let progress = session::start(&engine, lab, Some(&store), &work_root(), PortChoice::Usual).await?;
    let values = values_for(lab, Some(&progress));
    let missing = session::missing_images(&engine, lab).await?;
    if !missing.is_empty() {
        match lang {
            Lang::En => println!("The lab uses images your engine does not have yet; pull them first:"),
            Lang::Ru => println!("Лабораторной нужны образы, которых ещё нет в движке; сначала скачайте их:"),
        }
        for image in &missing {
            println!("  gantry pull {image}");
        }
        println!();
    }
    match lang {
        Lang::En => println!(
            "{} {}: {}\nYour files: {}\n",
            if resumed { "Resumed" } else { "Started" },
            lab.id,
            lab.title.get(lang),
            progress.work_dir.display()
        ),
        Lang::Ru => println!(
            "{} {}: {}\nВаши файлы: {}\n",
            if resumed { "Продолжаем" } else { "Начали" },
            lab.id,
            lab.title.get(lang),
            progress.work_dir.display()
        ),
    }
    for (name, port) in &progress.ports {
        if lab.ports.get(name) != Some(port) {
            match lang {
                Lang::En => println!("Port {} is taken: this lab uses {port} instead.", lab.ports[name]),
                Lang::Ru => println!("Порт {} занят: лабораторная использует {port}.", lab.ports[name]),
            }
        }
    }
    if progress.is_complete(lab) {
        println!("{}", if lang == Lang::Ru { "Все шаги пройдены." } else { "Every step has passed." });
        return Ok(());
    }
    print_step(lab, progress.current_step, &values, lang, false, false);
    println!(
        "\n{}",
        match lang {
            Lang::En => format!(
                "cd {} and work in a terminal; `gantry lab check {}` ticks the checks as you go.",
                progress.work_dir.display(),
                lab.id
            ),
            Lang::Ru => format!(
                "cd {} и работайте в терминале; `gantry lab check {}` отмечает проверки по ходу дела.",
                progress.work_dir.display(),
                lab.id
            ),
        }
    );
    Ok(())
}

/// The lab started last that is not finished.
fn current_lab<'a>(library: &'a Library, store: &ProgressStore) -> Result<&'a Lab, CliError> {
    let mut started: Vec<(i64, &Lab)> = library
        .labs()
        .iter()
        .filter_map(|lab| {
            store.load(&lab.id).ok().flatten().filter(|p| !p.is_complete(lab)).map(|p| (p.started_at, lab))
        })
        .collect();
    started.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    started.first().map(|(_, lab)| *lab).ok_or_else(|| {
        CliError::new("no lab is in progress", "start one: `gantry lab list`, then `gantry lab start LAB`")
    })
}

fn mark(result: &CheckResult) -> &'static str {
    match result.status {
        CheckStatus::Pass => "✓",
        CheckStatus::Fail => "✗",
        CheckStatus::Error => "!",
        CheckStatus::Pending => "·",
    }
}

async fn check(lab_id: Option<&str>, once: bool, engine: Option<&str>, lang: Lang, json: bool) -> Result<(), CliError> {
    let library = library();
    let store = store();
    let lab = match lab_id {
        Some(id) => library.get(id)?,
        None => current_lab(&library, &store)?,
    };
    let progress = store.load(&lab.id)?.ok_or_else(|| LabError::NotStarted { id: lab.id.clone() })?;
    let engine = connect(engine).await?;
    let ctx = session::context(&progress, engine.endpoint());
    if once {
        if progress.is_complete(lab) {
            println!("{}", if lang == Lang::Ru { "Все шаги пройдены." } else { "Every step has passed." });
            return Ok(());
        }
        let results = evaluate_step(&engine, lab, progress.current_step, &ctx).await;
        if json {
            return print_json(&results);
        }
        for (check, result) in lab.steps[progress.current_step].checks.iter().zip(&results) {
            print_result(&check.label(lang, &ctx.values), result, lang);
        }
        return Ok(());
    }
    let lab = Arc::new(lab.clone());
    // A participant who joined a workshop room reports each step there (only the step's progress).
    let room = crate::workshop_room::RoomReporter::joined(&crate::workshop::workshops_dir_default());
    let mut stream = watch(engine, lab.clone(), progress, ctx.clone(), Some(store));
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = &mut stop => None,
        };
        let Some(event) = event else {
            if let Some(room) = &room {
                room.finish().await;
            }
            return Ok(());
        };
        let event = event?;
        if let Some(room) = &room {
            match &event {
                LabEvent::StepStarted { id, .. } => room.send(&lab.id, id, StepStatus::Working),
                LabEvent::StepPassed { id, .. } => room.send(&lab.id, id, StepStatus::Passed),
                _ => {}
            }
        }
        if json {
            print_json(&event)?;
            continue;
        }
        match &event {
            LabEvent::StepStarted { step, .. } => {
                println!();
                print_step(&lab, *step, &ctx.values, lang, false, false);
                println!();
            }
            LabEvent::Check { step, check, result } => {
                let label = lab.steps[*step].checks[*check].label(lang, &ctx.values);
                print_result(&label, result, lang);
            }
            LabEvent::StepEvaluated { .. } => {}
            LabEvent::StepPassed { step, .. } => match lang {
                Lang::En => println!("\n✓ Step {} passed.", step + 1),
                Lang::Ru => println!("\n✓ Шаг {} пройден.", step + 1),
            },
            LabEvent::LabCompleted => {
                println!("\n{}", if lang == Lang::Ru { "Лабораторная пройдена!" } else { "Lab complete!" });
                if let Some(room) = &room {
                    room.finish().await;
                }
                return Ok(());
            }
            LabEvent::EngineLost { reason } => eprintln!("engine lost: {reason}; waiting for it"),
            LabEvent::EngineBack => eprintln!("engine back"),
        }
        let _ = std::io::stdout().flush();
    }
}

fn print_result(label: &str, result: &CheckResult, lang: Lang) {
    match &result.detail {
        Some(detail) if !result.passed() => println!("  {} {label} — {}", mark(result), detail.get(lang)),
        _ => println!("  {} {label}", mark(result)),
    }
}

async fn reset(lab_id: &str, dry_run: bool, yes: bool, engine: Option<&str>) -> Result<(), CliError> {
    let library = library();
    let lab = library.get(lab_id)?;
    let store = store();
    let progress = store.load(&lab.id)?.ok_or_else(|| LabError::NotStarted { id: lab.id.clone() })?;
    let engine = connect(engine).await?;
    let ctx = session::context(&progress, engine.endpoint());
    let plan = plan_reset(&engine, lab, &progress, &ctx).await?;
    let targets: Vec<&str> = plan
        .containers
        .iter()
        .chain(&plan.networks)
        .chain(&plan.volumes)
        .chain(&plan.images)
        .map(|t| t.name.as_str())
        .collect();
    if targets.is_empty() {
        println!("The lab created nothing that is still there.");
    } else {
        println!("Resetting {} removes what it created:", lab.id);
        for t in &targets {
            println!("  {t}");
        }
    }
    println!("and puts its starter files back in {}.", progress.work_dir.display());
    if dry_run {
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new("not resetting without confirmation", "add --yes (or --dry-run to look first)"));
        }
        print!("Reset? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(());
        }
    }
    let (report, _) = reset_lab(&engine, lab, &progress, &ctx, Some(&store)).await?;
    for failed in &report.failed {
        eprintln!("could not remove {failed}");
    }
    println!("Removed {} object(s); the lab starts again at step 1.", report.removed.len());
    if report.failed.is_empty() { Ok(()) } else { Err(CliError::new("some objects could not be removed", "see above")) }
}

/// Lab folders named by `dirs`: each one that is a lab, and the labs inside each that is not.
fn lab_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for dir in dirs {
        out.extend(gantry_labs::library::lab_dirs(dir)?);
    }
    if out.is_empty() {
        return Err(CliError::new(
            "no lab folder (with a lab.toml) found there",
            "name a lab folder or a folder of labs",
        ));
    }
    Ok(out)
}

fn lint_dirs(dirs: &[PathBuf], json: bool) -> Result<(), CliError> {
    let labs = lab_dirs(dirs)?;
    let mut errors = 0;
    let mut all = Vec::new();
    for dir in &labs {
        let findings = lint(dir);
        errors += findings.iter().filter(|f| f.severity == Severity::Error).count();
        if !json {
            for f in &findings {
                println!("{f}");
            }
        }
        all.extend(findings);
    }
    if json {
        print_json(&all)?;
    } else {
        println!("{} lab(s): {errors} error(s), {} warning(s)", labs.len(), all.len() - errors);
    }
    if errors == 0 {
        Ok(())
    } else {
        Err(CliError::new(format!("{errors} error(s) in the labs"), "fix the lines named above"))
    }
}

async fn test(dirs: &[PathBuf], jobs: usize, engine: Option<&str>, json: bool) -> Result<(), CliError> {
    let dirs = lab_dirs(dirs)?;
    let engine = connect(engine).await?;
    let work_root = std::env::temp_dir().join(format!("gantry-lab-test-{}", std::process::id()));
    let mut options = TestOptions::new(&work_root);
    options.side_by_side = jobs > 1;
    let started = std::time::Instant::now();
    let outcomes: Vec<Result<TestReport, String>> = futures_util::stream::iter(dirs.iter())
        .map(|dir| test_one(dir, &engine, &options, json))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    let _ = std::fs::remove_dir_all(&work_root);
    let mut failures: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(report) => {
                failures.extend(
                    report.cleanup.failed.iter().map(|f| format!("{}: reset could not remove {f}", report.lab)),
                );
                reports.push(report);
            }
            Err(e) => failures.push(e),
        }
    }
    if json {
        print_json(&serde_json::json!({ "reports": reports, "failures": failures }))?;
    } else {
        println!(
            "{} lab(s) tested in {:.1} s ({} at a time): {} passed, {} failed",
            dirs.len(),
            started.elapsed().as_secs_f64(),
            jobs.max(1),
            reports.len(),
            dirs.len() - reports.len()
        );
        for f in &failures {
            println!("  {f}");
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(CliError::new("some labs failed their test", "see above")) }
}

/// Tests the lab in `dir`, printing each step as it passes (prefixed with the lab: labs may run
/// side by side).
async fn test_one(dir: &Path, engine: &Engine, options: &TestOptions, json: bool) -> Result<TestReport, String> {
    let lab = Arc::new(gantry_labs::load_lab(dir).map_err(|e| format!("{}: {e}", dir.display()))?);
    if let Some(missing) = missing_images(engine, &lab).await {
        return Err(format!("{}: image {missing} is not on the engine (pull it, or build its stand-in)", lab.id));
    }
    let id = lab.id.clone();
    let result = test_lab(engine, lab.clone(), options, |step| {
        if !json {
            println!(
                "  ✓ {id}/{} (solution {} ms, passed {} ms after it)",
                step.id, step.solution_ms, step.passed_after_ms
            );
        }
    })
    .await;
    match result {
        Ok(report) => {
            if !json {
                println!(
                    "ok {} ({} steps) in {:.1} s; reset removed {} object(s)",
                    report.lab,
                    report.steps.len(),
                    report.total_ms as f64 / 1000.0,
                    report.cleanup.removed.len()
                );
            }
            Ok(report)
        }
        Err(e) => {
            if !json {
                println!("FAILED {id}: {e}");
            }
            Err(format!("{id}: {e}"))
        }
    }
}

/// The first image `lab` declares that the engine does not have.
async fn missing_images(engine: &Engine, lab: &Lab) -> Option<String> {
    for image in &lab.images {
        if engine.inspect_image(image).await.is_err() {
            return Some(image.clone());
        }
    }
    None
}
