//! `gantry lint [Dockerfile]`: advice on a Dockerfile, with fixes (`--fix`, `--fix --dry-run`).

use std::io::Read;
use std::path::{Path, PathBuf};

use gantry_insight::Lang;
use gantry_insight::lint::{Dockerignore, Finding, LintContext, Severity, fix_all, lint, unified_diff};

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
    let mut args = args;
    // `gantry lint some/folder` means the Dockerfile in that folder.
    if args.dockerfile.is_dir() {
        args.dockerfile = args.dockerfile.join("Dockerfile");
    }
    let from_stdin = args.dockerfile == Path::new("-");
    if from_stdin && args.fix {
        return Err(CliError::new(
            "--fix needs a Dockerfile path, not stdin",
            "give the file: gantry lint --fix path/to/Dockerfile",
        ));
    }
    let text = read_dockerfile(&args.dockerfile)?;
    let context = context_for(&args.dockerfile, from_stdin, lang, args.ignore)?;
    let name = if from_stdin { "<stdin>".to_string() } else { args.dockerfile.display().to_string() };
    if args.fix {
        return fix(&args.dockerfile, &name, &text, &context, args.dry_run, as_json);
    }
    let findings = lint(&text, &context);
    if as_json {
        crate::engine_cmds::print_json(&findings)?;
    } else {
        print_findings(&name, &findings, lang);
    }
    verdict(&findings, lang)
}

fn read_dockerfile(path: &Path) -> Result<String, CliError> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    read.map_err(|e| {
        CliError::new(
            format!("cannot read {}: {e}", path.display()),
            "give the Dockerfile's path: gantry lint path/to/Dockerfile",
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        CliError::new(format!("{} is not UTF-8 text", path.display()), "is this really a Dockerfile? Save it as UTF-8")
    })
}

/// The build context is the Dockerfile's folder: its `.dockerignore` (or BuildKit's
/// `<Dockerfile>.dockerignore` beside the Dockerfile, which wins) and its top-level names.
fn context_for(dockerfile: &Path, from_stdin: bool, lang: Lang, ignore: Vec<String>) -> Result<LintContext, CliError> {
    let mut context = LintContext { lang, ignore, ..LintContext::default() };
    if from_stdin {
        return Ok(context);
    }
    let dir = dockerfile.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let own = dockerfile.file_name().map(|n| dir.join(format!("{}.dockerignore", n.to_string_lossy())));
    let candidates = own.into_iter().chain(std::iter::once(dir.join(".dockerignore")));
    context.dockerignore = Dockerignore::Missing;
    for candidate in candidates {
        match std::fs::read_to_string(&candidate) {
            Ok(text) => {
                context.dockerignore = Dockerignore::Present(text);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::new(
                    format!("cannot read {}: {e}", candidate.display()),
                    "check its permissions",
                ));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        context.context_files =
            Some(entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect());
    }
    Ok(context)
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

fn fix(
    path: &Path,
    name: &str,
    text: &str,
    context: &LintContext,
    dry_run: bool,
    as_json: bool,
) -> Result<(), CliError> {
    let fixed = fix_all(text, context, FIX_ROUNDS);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if as_json && dry_run {
        return crate::engine_cmds::print_json(&fixed);
    }
    if dry_run {
        print!("{}", unified_diff(text, &fixed.text, &format!("a/{name}"), &format!("b/{name}")));
        for (other, content) in &fixed.other_files {
            let current = std::fs::read_to_string(dir.join(other)).unwrap_or_default();
            let old_name = if current.is_empty() { "/dev/null".to_string() } else { format!("a/{other}") };
            print!("{}", unified_diff(&current, content, &old_name, &format!("b/{other}")));
        }
        if fixed.applied.is_empty() {
            println!("{}", context.lang.pick("Nothing to fix.", "Исправлять нечего."));
        }
        return Ok(());
    }
    if fixed.text != text {
        write_replacing(path, &fixed.text)?;
    }
    for (other, content) in &fixed.other_files {
        write_replacing(&dir.join(other), content)?;
    }
    let remaining = lint(&fixed.text, &context_after(context, &fixed.other_files));
    if as_json {
        crate::engine_cmds::print_json(&serde_json::json!({ "applied": fixed.applied, "remaining": remaining }))?;
    } else {
        println!(
            "{} {} ({})",
            context.lang.pick("Applied", "Применено исправлений:"),
            fixed.applied.len(),
            fixed.applied.join(", ")
        );
        print_findings(name, &remaining, context.lang);
    }
    verdict(&remaining, context.lang)
}

fn context_after(context: &LintContext, other_files: &[(String, String)]) -> LintContext {
    let mut after = context.clone();
    if let Some((_, text)) = other_files.iter().find(|(p, _)| p == ".dockerignore") {
        after.dockerignore = Dockerignore::Present(text.clone());
    }
    after
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: an interrupted
/// write never leaves a half-written Dockerfile.
fn write_replacing(path: &Path, text: &str) -> Result<(), CliError> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Dockerfile".into());
    let temp = path.with_file_name(format!(".{file_name}.gantry-fix"));
    let failed = |e: std::io::Error| {
        CliError::new(format!("cannot write {}: {e}", path.display()), "check that the folder is writable")
    };
    std::fs::write(&temp, text).map_err(failed)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed(e)
    })
}
