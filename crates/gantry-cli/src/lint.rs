//! `gantry lint [Dockerfile]`: advice on a Dockerfile, with fixes (`--fix`, `--fix --dry-run`).

use std::io::Read;
use std::path::{Path, PathBuf};

use gantry_insight::Lang;
use gantry_insight::lint::{DockerfileOnDisk, Finding, LintContext, Severity, fix_all, lint};

use crate::CliError;

/// How many lint-and-fix rounds `--fix` runs (a fix that overlapped another applies next round).
const FIX_ROUNDS: usize = 6;

/// What `gantry lint` was asked to do.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The Dockerfile to check, or its folder (`-` reads it from stdin).
    #[arg(default_value = "Dockerfile")]
    dockerfile: PathBuf,
    /// Apply every fix (the file is replaced only when complete; a .dockerignore may be created).
    #[arg(long)]
    fix: bool,
    /// With --fix: show the changes as a diff and write nothing.
    #[arg(long, requires = "fix")]
    dry_run: bool,
    /// Do not report this rule (repeat it; hadolint, BuildKit or Gantry ids).
    #[arg(long = "ignore", value_name = "RULE")]
    ignore: Vec<String>,
    /// Language of the advice: en or ru (default: from GANTRY_LANG or the locale).
    #[arg(long)]
    lang: Option<String>,
}

/// `gantry lint`.
pub fn run(args: LintArgs, as_json: bool) -> Result<(), CliError> {
    let lang = match &args.lang {
        Some(code) => Lang::parse(code)
            .ok_or_else(|| CliError::new(format!("unknown language {code:?}"), "use --lang en or --lang ru"))?,
        None => Lang::from_env(),
    };
    let from_stdin = args.dockerfile == Path::new("-");
    if from_stdin && args.fix {
        return Err(CliError::new(
            "--fix needs a Dockerfile path, not stdin",
            "give the file: gantry lint --fix path/to/Dockerfile",
        ));
    }
    if from_stdin {
        let text = read_stdin()?;
        let context = LintContext { lang, ignore: args.ignore, ..LintContext::default() };
        return report("<stdin>", &text, &context, as_json);
    }
    // `gantry lint some/folder` means the Dockerfile in that folder.
    let file = DockerfileOnDisk::open(&args.dockerfile, lang, args.ignore).map_err(|e| {
        CliError::new(e.to_string(), "give the Dockerfile's path or its folder: gantry lint path/to/Dockerfile")
    })?;
    let name = file.path.display().to_string();
    if args.fix {
        return fix(&file, &name, args.dry_run, as_json);
    }
    report(&name, &file.text, &file.context, as_json)
}

/// Lints and prints the findings; fails when errors or warnings remain.
fn report(name: &str, text: &str, context: &LintContext, as_json: bool) -> Result<(), CliError> {
    let lang = context.lang;
    let findings = lint(text, context);
    if as_json {
        crate::engine_cmds::print_json(&findings)?;
    } else {
        print_findings(name, &findings, lang);
    }
    verdict(&findings, lang)
}

fn read_stdin() -> Result<String, CliError> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
        CliError::new(format!("cannot read stdin: {e}"), "give the Dockerfile's path: gantry lint path/to/Dockerfile")
    })?;
    String::from_utf8(bytes)
        .map_err(|_| CliError::new("stdin is not UTF-8 text", "is this really a Dockerfile? Save it as UTF-8"))
}

fn severity_word(severity: Severity, lang: Lang) -> &'static str {
    match severity {
        Severity::Error => lang.pick("error", "ошибка"),
        Severity::Warning => lang.pick("warning", "предупреждение"),
        Severity::Info => lang.pick("info", "совет"),
        Severity::Style => lang.pick("style", "стиль"),
    }
}

fn print_findings(name: &str, findings: &[Finding], lang: Lang) {
    if findings.is_empty() {
        println!(
            "{}",
            lang.pick(
                "No advice: this Dockerfile follows every rule Gantry checks.",
                "Замечаний нет: этот Dockerfile соблюдает все правила, которые проверяет Gantry."
            )
        );
        return;
    }
    for finding in findings {
        println!(
            "{name}:{}  {}  {}  {}",
            finding.line,
            severity_word(finding.severity, lang),
            finding.rule,
            finding.message
        );
        println!("    {}", finding.why);
        if let Some(fix) = &finding.fix {
            println!("    {}: {}", lang.pick("fix", "исправление"), fix.title);
        }
    }
    let fixable = findings.iter().filter(|f| f.fix.is_some()).count();
    println!();
    println!(
        "{} {}; {} {}",
        findings.len(),
        lang.pick("findings", "замечаний"),
        fixable,
        lang.pick(
            "can be fixed: `gantry lint --fix --dry-run` shows how, `gantry lint --fix` applies it",
            "можно исправить: `gantry lint --fix --dry-run` покажет как, `gantry lint --fix` применит",
        )
    );
}

/// Fails (exit status 1) when errors or warnings remain; info and style advice do not fail.
fn verdict(findings: &[Finding], lang: Lang) -> Result<(), CliError> {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
    if errors + warnings == 0 {
        return Ok(());
    }
    Err(CliError::new(
        match lang {
            Lang::En => format!("{errors} errors and {warnings} warnings in the Dockerfile"),
            Lang::Ru => format!("в Dockerfile ошибок: {errors}, предупреждений: {warnings}"),
        },
        lang.pick(
            "fix them (`gantry lint --fix` does what it can), or skip a rule with --ignore RULE or a `# hadolint ignore=RULE` comment",
            "исправьте их (`gantry lint --fix` сделает что сможет) или отключите правило: --ignore ПРАВИЛО или комментарий `# hadolint ignore=ПРАВИЛО`",
        ),
    ))
}

fn fix(file: &DockerfileOnDisk, name: &str, dry_run: bool, as_json: bool) -> Result<(), CliError> {
    let fixed = fix_all(&file.text, &file.context, FIX_ROUNDS);
    let lang = file.context.lang;
    if as_json && dry_run {
        return crate::engine_cmds::print_json(&fixed);
    }
    if dry_run {
        for diff in file.diffs(&fixed) {
            print!("{}", diff.diff);
        }
        if fixed.applied.is_empty() {
            println!("{}", lang.pick("Nothing to fix.", "Исправлять нечего."));
        }
        return Ok(());
    }
    file.write(&fixed).map_err(|e| CliError::new(e.to_string(), e.hint()))?;
    let remaining = lint(&fixed.text, &file.context_after(&fixed));
    if as_json {
        crate::engine_cmds::print_json(&serde_json::json!({ "applied": fixed.applied, "remaining": remaining }))?;
    } else {
        println!(
            "{} {} ({})",
            lang.pick("Applied", "Применено исправлений:"),
            fixed.applied.len(),
            fixed.applied.join(", ")
        );
        print_findings(name, &remaining, lang);
    }
    verdict(&remaining, lang)
}
