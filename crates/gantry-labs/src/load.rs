//! Reading a lab folder: `lab.toml` and `steps/<id>.<lang>.md`. Every problem is collected with its
//! file and line (unknown check kinds, misspelt fields, undeclared ports, missing texts), so an
//! author sees them all at once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::check::{Check, CheckSpec, relative_inside};
use crate::error::{LabError, Problem, Result};
use crate::lab::{FORMAT, Lab, Level, MANIFEST, STEPS_DIR, SolutionCommand, Step};
use crate::placeholders::{self, Placeholder, is_identifier};
use crate::step::{StepText, line_of, parse_step_markdown};
use crate::text::{Lang, Text};

/// Largest manifest read.
const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
struct FormatOnly {
    format: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[allow(dead_code)]
    format: u32,
    id: Spanned<String>,
    level: Level,
    duration_minutes: u32,
    #[serde(default)]
    images: Vec<Spanned<String>>,
    starter_files: Option<Spanned<String>>,
    #[serde(default)]
    ports: BTreeMap<String, Spanned<u16>>,
    title: Spanned<Text>,
    summary: Spanned<Text>,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    #[serde(default)]
    checks: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    hints: Vec<Spanned<Text>>,
    #[serde(default)]
    solution: Vec<Spanned<RawSolution>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSolution {
    run: Option<Vec<String>>,
    copy: Option<RawCopy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    from: String,
    to: String,
}

/// Collects problems against one file's text.
struct Sink<'a> {
    file: PathBuf,
    source: &'a str,
    problems: Vec<Problem>,
}

impl Sink<'_> {
    fn at(&mut self, offset: usize, message: impl Into<String>) {
        let line = line_of(self.source, offset);
        self.problems.push(Problem::new(&self.file, line, message));
    }

    fn line(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem::new(&self.file, line, message));
    }

    /// Placeholders in `text` (which starts at `offset` of the file) must be known and declared.
    fn placeholders(&mut self, text: &str, offset: usize, ports: &BTreeSet<String>) {
        for found in placeholders::scan(text) {
            match found {
                Ok((at, Placeholder::Port(name))) if !ports.contains(&name) => self.at(
                    offset + at.min(text.len()),
                    format!("`{{{{lab.port.{name}}}}}` names a port that [ports] does not declare"),
                ),
                Ok(_) => {}
                Err(bad) => self.at(offset + bad.offset.min(text.len()), bad.message),
            }
        }
    }
}

/// Loads the lab in `dir`. A lab in a newer format is [`LabError::NewerFormat`]; any other problem
/// makes it [`LabError::Invalid`] with every problem found.
pub fn load_lab(dir: &Path) -> Result<Lab> {
    let manifest_path = dir.join(MANIFEST);
    let source = read_text(&manifest_path, MAX_MANIFEST_BYTES)?;
    let invalid = |problems: Vec<Problem>| LabError::Invalid { dir: dir.to_path_buf(), problems };
    let mut sink = Sink { file: manifest_path.clone(), source: &source, problems: Vec::new() };

    let format = match toml::from_str::<FormatOnly>(&source) {
        Err(e) => {
            sink.at(e.span().map_or(0, |s| s.start), e.message().to_string());
            return Err(invalid(sink.problems));
        }
        Ok(FormatOnly { format: None }) => {
            sink.line(1, format!("the manifest must start with `format = {FORMAT}`"));
            return Err(invalid(sink.problems));
        }
        Ok(FormatOnly { format: Some(value) }) => {
            let span = value.span();
            match value.into_inner().as_integer().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if n > FORMAT => {
                    return Err(LabError::NewerFormat { file: manifest_path, found: n, supported: FORMAT });
                }
                Some(n) if n >= 1 => n,
                _ => {
                    sink.at(span.start, format!("`format` is a whole number from 1 to {FORMAT}"));
                    return Err(invalid(sink.problems));
                }
            }
        }
    };

    let raw: RawManifest = match toml::from_str(&source) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let line = refine_line(&source, &span, e.message());
            sink.line(line, e.message().trim().to_string());
            return Err(invalid(sink.problems));
        }
    };

    let id_span = raw.id.span();
    let id = raw.id.into_inner();
    if !is_identifier(&id) {
        sink.at(id_span.start, "`id` uses lowercase letters, digits, '-' and '_' (e.g. first-container)");
    }
    let mut ports = BTreeMap::new();
    for (name, port) in raw.ports {
        let span = port.span();
        if !is_identifier(&name) {
            sink.at(span.start, format!("port name {name:?} uses lowercase letters, digits, '-' and '_'"));
        }
        if *port.get_ref() == 0 {
            sink.at(span.start, format!("port {name}: 0 is not a port; use 1 to 65535"));
        }
        ports.insert(name, port.into_inner());
    }
    let port_names: BTreeSet<String> = ports.keys().cloned().collect();
    let declared_ports: Vec<String> = port_names.iter().cloned().collect();

    let mut images = Vec::new();
    for image in raw.images {
        let span = image.span();
        let image = image.into_inner();
        if let Err(e) = gantry_engine::images::validate_reference(&image) {
            sink.at(span.start, e.to_string());
        }
        images.push(image);
    }
    let starter_files = raw.starter_files.map(|s| {
        let span = s.span();
        let folder = s.into_inner();
        if !relative_inside(&folder) || !dir.join(&folder).is_dir() {
            sink.at(span.start, format!("starter_files {folder:?} is not a folder inside the lab"));
        }
        folder
    });
    if let Some(folder) = &starter_files {
        let mut files = Vec::new();
        collect_files(&dir.join(folder), &mut files);
        for file in files {
            // Text files may hold placeholders; they must be known and their ports declared.
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            if text.contains("{{lab.") {
                let mut file_sink = Sink { file: file.clone(), source: &text, problems: Vec::new() };
                file_sink.placeholders(&text, 0, &port_names);
                sink.problems.append(&mut file_sink.problems);
            }
        }
    }
    let title = english_text(&mut sink, raw.title, "title");
    let summary = english_text(&mut sink, raw.summary, "summary");
    if raw.steps.is_empty() {
        sink.line(0, "a lab has at least one [[steps]]");
    }

    let mut steps = Vec::new();
    let mut step_ids = BTreeSet::new();
    for raw_step in raw.steps {
        let span = raw_step.id.span();
        let step_id = raw_step.id.into_inner();
        let line = line_of(&source, span.start);
        if !is_identifier(&step_id) {
            sink.at(span.start, format!("step id {step_id:?} uses lowercase letters, digits, '-' and '_'"));
        }
        if !step_ids.insert(step_id.clone()) {
            sink.at(span.start, format!("two steps have the id {step_id:?}"));
        }
        let written = raw_step.checks.len();
        let mut checks = Vec::new();
        for raw_check in raw_step.checks {
            if let Some(check) = parse_check(&mut sink, raw_check, &declared_ports, &port_names) {
                checks.push(check);
            }
        }
        if written == 0 {
            sink.line(line, format!("step {step_id:?} has no [[steps.checks]]: how would Gantry know it is done?"));
        }
        let hints = raw_step.hints.into_iter().map(|h| english_text(&mut sink, h, "hint")).collect::<Vec<_>>();
        for hint in &hints {
            for (_, text) in hint.iter() {
                sink.placeholders(text, span.start, &port_names);
            }
        }
        let mut solution = Vec::new();
        for raw_solution in raw_step.solution {
            if let Some(command) = parse_solution(&mut sink, dir, raw_solution, &port_names) {
                solution.push(command);
            }
        }
        if solution.is_empty() {
            sink.line(line, format!("step {step_id:?} has no [[steps.solution]] (the lab test runs it)"));
        }
        let texts = step_texts(dir, &step_id, &port_names, &mut sink.problems, line, &manifest_path);
        steps.push(Step { id: step_id, line, checks, hints, solution, texts });
    }

    if sink.problems.is_empty() {
        Ok(Lab {
            dir: dir.to_path_buf(),
            id,
            format,
            level: raw.level,
            duration_minutes: raw.duration_minutes,
            images,
            starter_files,
            ports,
            title,
            summary,
            steps,
        })
    } else {
        Err(invalid(sink.problems))
    }
}

fn read_text(path: &Path, limit: usize) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| LabError::io("read", path, e))?;
    if bytes.len() > limit {
        return Err(LabError::Invalid {
            dir: path.parent().unwrap_or(path).to_path_buf(),
            problems: vec![Problem::new(path, 0, format!("larger than {} KiB", limit / 1024))],
        });
    }
    String::from_utf8(bytes).map_err(|e| LabError::Invalid {
        dir: path.parent().unwrap_or(path).to_path_buf(),
        problems: vec![Problem::new(path, 0, format!("not UTF-8 text: {e}"))],
    })
}

fn english_text(sink: &mut Sink<'_>, text: Spanned<Text>, what: &str) -> Text {
    let span = text.span();
    let text = text.into_inner();
    if !text.has(Lang::En) {
        sink.at(span.start, format!("the {what} needs English text (`en = \"...\"`)"));
    }
    text
}

fn parse_check(
    sink: &mut Sink<'_>,
    raw: Spanned<toml::Table>,
    declared_ports: &[String],
    port_names: &BTreeSet<String>,
) -> Option<Check> {
    let span = raw.span();
    let line = line_of(sink.source, span.start);
    let mut table = raw.into_inner();
    let label = match table.remove("label") {
        None => None,
        Some(value) => match Text::deserialize(value) {
            Ok(text) if text.has(Lang::En) => Some(text),
            _ => {
                let at = refine_line(sink.source, &span, "`label`");
                sink.line(at, "`label` is a text with English: label = { en = \"...\", ru = \"...\" }");
                None
            }
        },
    };
    match table.get("kind") {
        None => {
            sink.line(line, "a check needs `kind` (e.g. kind = \"container_running\"); docs/labs.md lists them");
            return None;
        }
        Some(toml::Value::String(_)) => {}
        Some(_) => {
            sink.line(refine_line(sink.source, &span, "`kind`"), "`kind` is a text such as \"container_running\"");
            return None;
        }
    }
    let mut strings = Vec::new();
    for value in table.values() {
        crate::check::collect_strings(value, &mut strings);
    }
    for text in &strings {
        let offset = sink.source[span.clone()].find(text.as_str()).map_or(span.start, |i| span.start + i);
        sink.placeholders(text, offset, port_names);
    }
    match CheckSpec::deserialize(toml::Value::Table(table.clone())) {
        Ok(spec) => {
            for problem in spec.validate(declared_ports) {
                sink.line(line, format!("{} check: {problem}", spec.kind()));
            }
            Some(Check::new(spec, label, line, table))
        }
        Err(e) => {
            let message = e.message().trim().to_string();
            let at = refine_line(sink.source, &span, &message);
            let kind = table.get("kind").and_then(toml::Value::as_str).unwrap_or("?");
            let message = if message.contains("unknown variant") {
                format!("unknown check kind {kind:?}; the kinds are listed in docs/labs.md")
            } else {
                format!("{kind} check: {message}")
            };
            sink.line(at, message);
            None
        }
    }
}

fn parse_solution(
    sink: &mut Sink<'_>,
    dir: &Path,
    raw: Spanned<RawSolution>,
    ports: &BTreeSet<String>,
) -> Option<SolutionCommand> {
    let span = raw.span();
    match raw.into_inner() {
        RawSolution { run: Some(args), copy: None } => {
            if args.first().map(String::as_str) != Some("docker") {
                sink.at(span.start, "a solution's `run` is the docker CLI: run = [\"docker\", ...]");
                return None;
            }
            for arg in &args {
                sink.placeholders(arg, span.start, ports);
            }
            Some(SolutionCommand::Run { args })
        }
        RawSolution { run: None, copy: Some(RawCopy { from, to }) } => {
            if !relative_inside(&from) || !dir.join(&from).is_file() {
                sink.at(span.start, format!("copy: {from:?} is not a file inside the lab folder"));
            } else if let Ok(text) = std::fs::read_to_string(dir.join(&from))
                && text.contains("{{lab.")
            {
                let mut file_sink = Sink { file: dir.join(&from), source: &text, problems: Vec::new() };
                file_sink.placeholders(&text, 0, ports);
                sink.problems.append(&mut file_sink.problems);
            }
            if !relative_inside(&to) {
                sink.at(span.start, format!("copy: {to:?} must be a relative path inside the work folder"));
            }
            Some(SolutionCommand::Copy { from, to })
        }
        _ => {
            sink.at(span.start, "a solution command has exactly one of `run = [...]` or `copy = { from, to }`");
            None
        }
    }
}

fn step_texts(
    dir: &Path,
    step_id: &str,
    ports: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
    manifest_line: usize,
    manifest: &Path,
) -> BTreeMap<Lang, StepText> {
    let mut texts = BTreeMap::new();
    for lang in Lang::ALL {
        let file = dir.join(STEPS_DIR).join(format!("{step_id}.{}.md", lang.code()));
        if !file.exists() {
            if lang == Lang::En {
                problems.push(Problem::new(
                    manifest,
                    manifest_line,
                    format!("step {step_id:?} has no English text: create {}", file.display()),
                ));
            }
            continue;
        }
        let source = match read_text(&file, crate::step::MAX_STEP_BYTES) {
            Ok(s) => s,
            Err(LabError::Invalid { problems: mut found, .. }) => {
                problems.append(&mut found);
                continue;
            }
            Err(e) => {
                problems.push(Problem::new(&file, 0, e.to_string()));
                continue;
            }
        };
        match parse_step_markdown(&source) {
            Ok((title, body, body_line)) => {
                let mut sink = Sink { file: file.clone(), source: &source, problems: Vec::new() };
                sink.placeholders(&source, 0, ports);
                problems.append(&mut sink.problems);
                texts.insert(lang, StepText { file, title, body, body_line });
            }
            Err((line, message)) => problems.push(Problem::new(&file, line, message)),
        }
    }
    texts
}

/// Every file below `dir` (links are not followed).
pub(crate) fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&entry.path(), out),
            Ok(t) if t.is_file() => out.push(entry.path()),
            _ => {}
        }
    }
}

/// The line a serde message is about: the line of the first backticked name in `message` found as
/// a key (or a quoted value) inside `span`, else the span's first line.
fn refine_line(source: &str, span: &Range<usize>, message: &str) -> usize {
    let start = span.start.min(source.len());
    let fallback = line_of(source, start);
    let Some(name) = message.split('`').nth(1).filter(|n| !n.is_empty()) else { return fallback };
    // A table's span may cover only its `[[header]]`: look on until the next header.
    let end = span.end.clamp(start, source.len());
    let region = &source[start..];
    let mut offset = start;
    for (index, line) in region.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if index > 0 && offset >= end && trimmed.starts_with('[') {
            break;
        }
        let is_key = trimmed.strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with('='));
        if is_key || line.contains(&format!("\"{name}\"")) {
            return line_of(source, offset);
        }
        offset += line.len();
    }
    fallback
}
