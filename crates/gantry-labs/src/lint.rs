//! `gantry lab lint`: what the loader refuses (unknown check kinds, bad fields, with file and line),
//! plus what a lab should not do: use images it does not declare, teach commands Docker no longer
//! has, publish fixed host ports Gantry cannot move, miss a translation, carry raw HTML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::LabError;
use crate::eval::same_reference;
use crate::lab::{Lab, SolutionCommand};
use crate::load::load_lab;
use crate::step::code_lines;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding, at a file and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based; 0 for the file as a whole.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line > 0 {
            write!(f, "{}:{}: {level}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {level}: {}", self.file.display(), self.message)
        }
    }
}

/// Commands Docker no longer has, and what to write instead.
const RETIRED: [(&str, &str); 5] = [
    ("docker scan", "`docker scan` was removed from Docker; use `docker scout cves IMAGE`"),
    ("docker-compose", "Compose v1 (`docker-compose`) is retired; write `docker compose` (v2)"),
    ("docker-machine", "Docker Machine is discontinued"),
    ("docker app", "`docker app` was removed from Docker"),
    ("docker engine", "`docker engine` was removed from Docker"),
];

/// Lints the lab in `dir`.
pub fn lint(dir: &Path) -> Vec<Finding> {
    let lab = match load_lab(dir) {
        Ok(lab) => lab,
        Err(LabError::Invalid { problems, .. }) => {
            return problems
                .into_iter()
                .map(|p| Finding { severity: Severity::Error, file: p.file, line: p.line, message: p.message })
                .collect();
        }
        Err(e) => {
            return vec![Finding {
                severity: Severity::Error,
                file: dir.join(crate::lab::MANIFEST),
                line: 0,
                message: e.to_string(),
            }];
        }
    };
    let mut findings = Vec::new();
    let manifest = dir.join(crate::lab::MANIFEST);
    let mut used: Vec<(PathBuf, usize, String)> = Vec::new();
    let mut made: BTreeSet<String> = BTreeSet::new();

    for step in &lab.steps {
        for command in &step.solution {
            let SolutionCommand::Run { args } = command else { continue };
            let text = args.join(" ");
            retired(&text, &manifest, step.line, &mut findings);
            let words: Vec<String> = args.clone();
            images_of_command(&words, &mut made, &mut |image| used.push((manifest.clone(), step.line, image)));
            fixed_host_port(&words, &manifest, step.line, &mut findings);
        }
        for check in &step.checks {
            for image in check.spec.images() {
                used.push((manifest.clone(), check.line, image.to_string()));
            }
        }
        for text in step.texts.values() {
            let offset = text.body_line.saturating_sub(1);
            for (line, code) in code_lines(&text.body) {
                retired(&code, &text.file, offset + line, &mut findings);
                for command in code.split("&&").flat_map(|c| c.split(';')).flat_map(|c| c.split('|')) {
                    let words = shell_words(command);
                    images_of_command(&words, &mut made, &mut |image| {
                        used.push((text.file.clone(), offset + line, image))
                    });
                }
            }
            raw_html(&text.body, &text.file, offset, &mut findings);
        }
    }
    for (file, line, image) in images_in_files(&lab) {
        used.push((file, line, image));
    }

    let is_made = |image: &str| {
        made.iter().any(|m| same_reference(m, image) || gantry_engine::images::split_tag(m).0 == image)
            || image.starts_with("localhost:")
            || image.starts_with("127.0.0.1:")
            || image.starts_with("{{lab.")
    };
    let is_declared = |image: &str| lab.images.iter().any(|d| same_reference(d, image));
    let mut reported = BTreeSet::new();
    for (file, line, image) in &used {
        if !is_declared(image) && !is_made(image) && reported.insert(image.clone()) {
            findings.push(Finding {
                severity: Severity::Error,
                file: file.clone(),
                line: *line,
                message: format!("image `{image}` is used but not declared: add it to `images` in lab.toml"),
            });
        }
    }
    for declared in &lab.images {
        if !used.iter().any(|(_, _, image)| same_reference(image, declared)) {
            findings.push(Finding {
                severity: Severity::Warning,
                file: manifest.clone(),
                line: 0,
                message: format!("image `{declared}` is declared but no step uses it"),
            });
        }
    }
    for (place, lang) in lab.missing_translations() {
        findings.push(Finding {
            severity: Severity::Warning,
            file: manifest.clone(),
            line: 0,
            message: format!("{place} has no {lang} text"),
        });
    }
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    findings
}

fn retired(text: &str, file: &Path, line: usize, findings: &mut Vec<Finding>) {
    for (command, message) in RETIRED {
        let mut from = 0;
        while let Some(at) = text[from..].find(command) {
            let start = from + at;
            let end = start + command.len();
            from = end;
            let before_ok =
                text[..start].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || "-_/.".contains(c)));
            // `docker-compose.yml` is a file name, `docker scanner` another word.
            let after_ok = text[end..].chars().next().is_none_or(|c| c.is_whitespace() || c == '`');
            if before_ok && after_ok {
                findings.push(Finding {
                    severity: Severity::Error,
                    file: file.to_path_buf(),
                    line,
                    message: message.to_string(),
                });
                break;
            }
        }
    }
}

/// Splits a command line into words as a POSIX shell would, for the simple commands lab texts hold.
pub fn shell_words(line: &str) -> Vec<String> {
    let line = line.trim().trim_start_matches("$ ").trim_start_matches("> ");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '#') if !in_word => break,
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Options of `docker run` / `create` that take no value.
const RUN_FLAGS: [&str; 14] = [
    "--detach",
    "--interactive",
    "--tty",
    "--rm",
    "--read-only",
    "--privileged",
    "--init",
    "--publish-all",
    "--no-healthcheck",
    "--oom-kill-disable",
    "--quiet",
    "--disable-content-trust",
    "--sig-proxy",
    "--all-tags",
];

fn is_flag(word: &str) -> bool {
    if word.contains('=') {
        return true;
    }
    if RUN_FLAGS.contains(&word) {
        return true;
    }
    // Combined short flags: -d, -it, -dit, -P, -q, -a.
    word.len() >= 2
        && word.starts_with('-')
        && !word.starts_with("--")
        && word[1..].chars().all(|c| "ditPqa".contains(c))
}

/// Finds the images a docker command uses (run, create, pull, FROM of build is elsewhere) and the
/// ones it makes (`build -t`, `tag`, `commit`, `load` is not known by name).
fn images_of_command(words: &[String], made: &mut BTreeSet<String>, used: &mut impl FnMut(String)) {
    let Some(start) = words.iter().position(|w| w == "docker") else { return };
    let mut rest = words[start + 1..].iter().map(String::as_str).peekable();
    let mut sub = rest.next().unwrap_or("");
    if matches!(sub, "container" | "image") {
        sub = rest.next().unwrap_or("");
    }
    let rest: Vec<&str> = rest.collect();
    match sub {
        "run" | "create" | "pull" => {
            let mut i = 0;
            while i < rest.len() {
                let w = rest[i];
                if w.starts_with('-') {
                    i += if is_flag(w) { 1 } else { 2 };
                    continue;
                }
                used(w.to_string());
                break;
            }
        }
        "build" | "buildx" => {
            for (i, w) in rest.iter().enumerate() {
                if (*w == "-t" || *w == "--tag") && i + 1 < rest.len() {
                    made.insert(rest[i + 1].to_string());
                } else if let Some(tag) = w.strip_prefix("--tag=") {
                    made.insert(tag.to_string());
                }
            }
        }
        "tag" => {
            let positional: Vec<&&str> = rest.iter().filter(|w| !w.starts_with('-')).collect();
            if let [source, target, ..] = positional.as_slice() {
                used(source.to_string());
                made.insert(target.to_string());
            }
        }
        "commit" => {
            let positional: Vec<&&str> = rest.iter().filter(|w| !w.starts_with('-')).collect();
            if let Some(target) = positional.get(1) {
                made.insert(target.to_string());
            }
        }
        _ => {}
    }
}

/// `-p 8080:80` with a literal host port: Gantry could not move it when 8080 is taken.
fn fixed_host_port(words: &[String], file: &Path, line: usize, findings: &mut Vec<Finding>) {
    for (i, w) in words.iter().enumerate() {
        let value = match w.as_str() {
            "-p" | "--publish" => words.get(i + 1).map(String::as_str),
            _ => w.strip_prefix("--publish=").or_else(|| w.strip_prefix("-p=")),
        };
        let Some(value) = value else { continue };
        let parts: Vec<&str> = value.split(':').collect();
        if parts.len() >= 2
            && parts[parts.len() - 2].chars().all(|c| c.is_ascii_digit())
            && !parts[parts.len() - 2].is_empty()
        {
            findings.push(Finding {
                severity: Severity::Warning,
                file: file.to_path_buf(),
                line,
                message: format!(
                    "`-p {value}` publishes a fixed host port: declare it in [ports] and write {{{{lab.port.NAME}}}} so Gantry can choose a free one"
                ),
            });
        }
    }
}

fn raw_html(body: &str, file: &Path, offset: usize, findings: &mut Vec<Finding>) {
    let mut in_fence = false;
    for (index, line) in body.lines().enumerate() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Outside code spans: `<b>`, `</div>`, `<img ...>` (autolinks like <http://...> are fine).
        let without_code: String = line.split('`').step_by(2).collect();
        let has_tag = without_code.match_indices('<').any(|(i, _)| {
            let next = without_code[i + 1..].chars().next();
            let rest = &without_code[i + 1..];
            next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
                && !rest.starts_with("http")
                && rest.split('>').next().is_some_and(|t| !t.contains(':') && !t.contains('@'))
        });
        if has_tag {
            findings.push(Finding {
                severity: Severity::Warning,
                file: file.to_path_buf(),
                line: offset + index + 1,
                message: "raw HTML is not rendered (Markdown only); write it in Markdown".into(),
            });
        }
    }
}

/// Images named by `FROM` lines of the lab's Dockerfiles and `image:` lines of its compose files.
fn images_in_files(lab: &Lab) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    crate::load::collect_files(&lab.dir, &mut files);
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let is_dockerfile = name.starts_with("dockerfile") || name.ends_with(".dockerfile");
        let is_compose = (name.starts_with("compose") || name.starts_with("docker-compose"))
            && (name.ends_with(".yml") || name.ends_with(".yaml"));
        if !is_dockerfile && !is_compose {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let mut stages: BTreeSet<String> = BTreeSet::new();
        for (index, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if is_dockerfile && words.first().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
                let image = words.iter().skip(1).find(|w| !w.starts_with("--")).copied().unwrap_or("");
                if let (Some(as_kw), Some(stage)) =
                    (words.iter().position(|w| w.eq_ignore_ascii_case("AS")), words.last())
                    && as_kw + 1 < words.len()
                {
                    stages.insert(stage.to_lowercase());
                }
                if !image.is_empty()
                    && image != "scratch"
                    && !image.contains('$')
                    && !stages.contains(&image.to_lowercase())
                {
                    out.push((file.clone(), index + 1, image.to_string()));
                }
            }
            if is_compose && let Some(image) = line.trim().strip_prefix("image:") {
                let image = image.trim().trim_matches(['"', '\'']);
                if !image.is_empty() && !image.contains('$') {
                    out.push((file.clone(), index + 1, image.to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_split_like_a_shell() {
        assert_eq!(
            shell_words("$ docker run -d --name 'my app' \"x y\" a\\ b # comment"),
            ["docker", "run", "-d", "--name", "my app", "x y", "a b"]
        );
    }

    #[test]
    fn images_of_commands() {
        let mut made = BTreeSet::new();
        let mut used = Vec::new();
        for line in [
            "docker run -it --rm -p 8080:80 -v data:/data --name web nginx:1.27-alpine sh",
            "docker container run --network=shop busybox:1.36",
            "docker pull --platform linux/arm64 alpine:3.20",
            "docker build -t greeter:2 .",
            "docker tag greeter:2 localhost:5000/greeter:2",
            "docker ps -a",
        ] {
            images_of_command(&shell_words(line), &mut made, &mut |i| used.push(i));
        }
        assert_eq!(used, ["nginx:1.27-alpine", "busybox:1.36", "alpine:3.20", "greeter:2"]);
        assert_eq!(made.into_iter().collect::<Vec<_>>(), ["greeter:2", "localhost:5000/greeter:2"]);
    }

    #[test]
    fn retired_commands_but_not_file_names() {
        let mut findings = Vec::new();
        let file = Path::new("x.md");
        retired("docker-compose up -d", file, 1, &mut findings);
        retired("docker scan myimage", file, 2, &mut findings);
        retired("cat docker-compose.yml", file, 3, &mut findings);
        retired("docker compose up", file, 4, &mut findings);
        retired("docker scanner", file, 5, &mut findings);
        assert_eq!(findings.iter().map(|f| f.line).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn html_outside_code_is_flagged() {
        let mut findings = Vec::new();
        raw_html(
            "Open <http://localhost:8080>.\nA <b>bold</b> claim.\n`<div>` in code\n```\n<p>\n```\n",
            Path::new("s.md"),
            2,
            &mut findings,
        );
        assert_eq!(findings.iter().map(|f| f.line).collect::<Vec<_>>(), [4]);
    }
}
