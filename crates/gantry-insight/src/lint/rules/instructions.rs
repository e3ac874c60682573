//! Instruction forms: exec form for CMD/ENTRYPOINT (DL3025 / JSONArgsRecommended), MAINTAINER
//! (DL4000), repeated CMD/ENTRYPOINT/HEALTHCHECK (DL4003, DL4004, DL3012), WORKDIR (DL3000 /
//! WorkdirRelativePath), ADD and COPY (DL3020–DL3023, DL3045, CopyIgnoredFile), EXPOSE (DL3011,
//! ExposeInvalidFormat, ExposeProtoCasing), ENV/LABEL/ARG (LegacyKeyValueFormat,
//! SecretsUsedInArgOrEnv, UndefinedVar).

use gantry_engine::dockerignore::DockerIgnore;

use super::{Analysis, Hit};
use crate::dockerfile::words::{self, expand, is_legacy_key_value, split_words, unquote};
use crate::dockerfile::{Args, Instruction, Keyword};
use crate::lint::analysis::edit_distance;
use crate::lint::{Dockerignore, TextEdit};

const ARCHIVE_EXTENSIONS: [&str; 15] = [
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tbz2",
    ".tb2",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tar.lzma",
    ".tlz",
    ".tar.zst",
    ".tzst",
    ".tar.Z",
];
const SECRET_WORDS: [&str; 10] =
    ["apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token"];
/// Instructions whose arguments the builder substitutes variables in.
const SUBSTITUTED: [Keyword; 9] = [
    Keyword::Env,
    Keyword::Add,
    Keyword::Copy,
    Keyword::Workdir,
    Keyword::User,
    Keyword::Expose,
    Keyword::Label,
    Keyword::Stopsignal,
    Keyword::Volume,
];

pub(super) fn check(a: &Analysis<'_>, hits: &mut Vec<Hit>) {
    for index in 0..a.stages.len() {
        exec_form_and_repeats(a, index, hits);
        workdir_and_copy(a, index, hits);
    }
    for (index, instruction) in a.df.instructions.iter().enumerate() {
        match instruction.keyword {
            Keyword::Maintainer => maintainer(a, instruction, hits),
            Keyword::Expose => expose(a, instruction, hits),
            Keyword::Env | Keyword::Label => legacy_key_value(a, instruction, hits),
            _ => {}
        }
        if matches!(instruction.keyword, Keyword::Env | Keyword::Arg) {
            secrets(a, instruction, hits);
        }
        if let Some(stage) = a.stage_of[index] {
            undefined_vars(a, stage, index, instruction, hits);
        }
    }
}

fn exec_form_and_repeats(a: &Analysis<'_>, stage: usize, hits: &mut Vec<Hit>) {
    let mut shell_set = false;
    for keyword in [Keyword::Cmd, Keyword::Entrypoint, Keyword::Healthcheck] {
        let all: Vec<&Instruction> = a.stage_body(stage).map(|(_, i)| i).filter(|i| i.keyword == keyword).collect();
        let rule = match keyword {
            Keyword::Cmd => "DL4003",
            Keyword::Entrypoint => "DL4004",
            _ => "DL3012",
        };
        for earlier in all.iter().take(all.len().saturating_sub(1)) {
            let delete = TextEdit::delete_lines(earlier.line, earlier.end_line);
            hits.push(Hit::new(rule, earlier).arg("keyword", keyword.as_str()).fix(Some(vec![delete])));
        }
    }
    for (_, instruction) in a.stage_body(stage) {
        if instruction.keyword == Keyword::Shell {
            shell_set = true;
        }
        if !matches!(instruction.keyword, Keyword::Cmd | Keyword::Entrypoint) {
            continue;
        }
        let Args::Shell(text) = &instruction.args else { continue };
        let json = exec_form(text, a.escape);
        let fix = json.as_ref().map(|json| {
            vec![TextEdit::replace_lines(
                instruction.line,
                instruction.end_line,
                vec![format!("{} {json}", instruction.written)],
            )]
        });
        let mut hit = Hit::new("DL3025", instruction)
            .arg("keyword", instruction.keyword.as_str())
            .arg("json", json.unwrap_or_default())
            .fix(fix);
        if shell_set {
            // BuildKit accepts shell form once the stage chose its SHELL deliberately.
            hit = hit.also(&[]);
        }
        hits.push(hit);
    }
}

/// The exec form of a simple shell-form command (plain words, quotes allowed, no shell syntax).
fn exec_form(text: &str, escape: char) -> Option<String> {
    if text.contains(['$', '|', '&', ';', '<', '>', '(', ')', '*', '?', '`', '~', '{', '}', '[', ']', '#'])
        || text.contains(escape)
    {
        return None;
    }
    let parts: Vec<String> = split_words(text, escape).iter().map(|w| unquote(w, escape)).collect();
    if parts.is_empty() {
        return None;
    }
    serde_json::to_string(&parts).ok().map(|json| json.replace("\",\"", "\", \""))
}

fn maintainer(a: &Analysis<'_>, instruction: &Instruction, hits: &mut Vec<Hit>) {
    let author = unquote(instruction.rest.trim(), a.escape);
    let label = format!("LABEL org.opencontainers.image.authors={}", serde_json::Value::String(author));
    let fix = TextEdit::replace_lines(instruction.line, instruction.end_line, vec![label]);
    hits.push(Hit::new("DL4000", instruction).fix(Some(vec![fix])));
}

/// WORKDIR paths, and the sources and destinations of COPY and ADD, stage by stage.
fn workdir_and_copy(a: &Analysis<'_>, stage: usize, hits: &mut Vec<Hit>) {
    let mut workdir: Option<String> = inherited_workdir(a, stage);
    let stage_name = a.stages[stage].name.as_deref().map(str::to_ascii_lowercase);
    let earlier_names: Vec<String> =
        a.stages[..stage].iter().filter_map(|s| s.name.as_deref()).map(str::to_ascii_lowercase).collect();
    let ignore = match &a.context.dockerignore {
        // A malformed .dockerignore fails the build itself; the lint then checks no COPY against it.
        Dockerignore::Present(text) => DockerIgnore::parse(text).ok(),
        _ => None,
    };
    let mut absolute_seen = workdir.is_some();
    for (index, instruction) in a.stage_body(stage) {
        let scope = a.scope(stage, index);
        let lookup = |name: &str| scope.get(name).cloned().flatten();
        match instruction.keyword {
            Keyword::Workdir => {
                let path = expand(instruction.rest.trim(), a.escape, &lookup, true);
                if !path.missing.is_empty() || path.text.is_empty() || is_windows_path(&path.text) {
                    workdir = Some(path.text);
                    continue;
                }
                if path.text.starts_with('/') {
                    absolute_seen = true;
                    workdir = Some(normalize(&path.text));
                    continue;
                }
                let absolute = normalize(&format!("{}/{}", workdir.as_deref().unwrap_or("/"), path.text));
                let fix = TextEdit::replace_lines(
                    instruction.line,
                    instruction.end_line,
                    vec![format!("{} {absolute}", instruction.written)],
                );
                let mut hit = Hit::new("DL3000", instruction).arg("path", &absolute).fix(Some(vec![fix]));
                if absolute_seen {
                    hit = hit.also(&[]);
                }
                hits.push(hit);
                workdir = Some(absolute);
            }
            Keyword::Copy | Keyword::Add => {
                let parts: Vec<String> = match &instruction.args {
                    Args::Json(parts) => parts.clone(),
                    Args::Shell(text) => split_words(text, a.escape)
                        .iter()
                        .filter(|w| !w.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with("<<"))
                        .map(|w| expand(w, a.escape, &lookup, true).text)
                        .collect(),
                };
                let Some((dest, sources)) = parts.split_last() else { continue };
                let source_count = sources.len() + instruction.heredocs.len();
                if source_count >= 2 && !dest.ends_with('/') && !dest.contains('$') {
                    let raw_dest = match &instruction.args {
                        Args::Json(_) => format!("\"{dest}\""),
                        Args::Shell(_) => dest.clone(),
                    };
                    let new_dest = match &instruction.args {
                        Args::Json(_) => format!("\"{dest}/\""),
                        Args::Shell(_) => format!("{dest}/"),
                    };
                    let fix = a.replace_word(instruction, &raw_dest, &new_dest);
                    hits.push(Hit::new("DL3021", instruction).arg("dest", dest).fix(fix.map(|e| vec![e])));
                }
                if workdir.is_none() && !dest.starts_with('/') && !dest.contains('$') && !is_windows_path(dest) {
                    hits.push(Hit::new("DL3045", instruction));
                }
                let from = instruction.flag("from");
                if let Some(from) = from {
                    copy_from(from, stage, stage_name.as_deref(), &earlier_names, instruction, hits);
                }
                if instruction.keyword == Keyword::Add {
                    add_instead_of_copy(a, instruction, sources, hits);
                }
                if let (Some(ignore), None) = (&ignore, from) {
                    for source in sources {
                        let path = source.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                        if path.is_empty() || path == "." || path.contains(['*', '?', '[', '$']) || path.contains("://")
                        {
                            continue;
                        }
                        if ignore.is_excluded(path) {
                            hits.push(Hit::new("CopyIgnoredFile", instruction).arg("source", source));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The WORKDIR a stage starts with when it is built FROM an earlier stage that set one.
fn inherited_workdir(a: &Analysis<'_>, stage: usize) -> Option<String> {
    let parent = a.parent[stage]?;
    let own = a
        .stage_body(parent)
        .filter(|(_, i)| i.keyword == Keyword::Workdir)
        .last()
        .map(|(_, i)| unquote(i.rest.trim(), a.escape));
    own.or_else(|| inherited_workdir(a, parent))
}

fn copy_from(
    from: &str,
    stage: usize,
    own_name: Option<&str>,
    earlier_names: &[String],
    instruction: &Instruction,
    hits: &mut Vec<Hit>,
) {
    if from.contains([':', '/', '.', '$', '@']) {
        return; // an image reference or a variable
    }
    if let Ok(number) = from.parse::<usize>() {
        if number >= stage {
            hits.push(Hit::new(if number == stage { "DL3023" } else { "DL3022" }, instruction).arg("name", from));
        }
        return;
    }
    let lower = from.to_ascii_lowercase();
    if own_name == Some(lower.as_str()) {
        hits.push(Hit::new("DL3023", instruction).arg("name", from));
    } else if !earlier_names.contains(&lower) {
        hits.push(Hit::new("DL3022", instruction).arg("name", from));
    }
}

fn add_instead_of_copy(a: &Analysis<'_>, instruction: &Instruction, sources: &[String], hits: &mut Vec<Hit>) {
    if instruction.flag("checksum").is_some() || instruction.flag("keep-git-dir").is_some() {
        return;
    }
    let special = sources.iter().any(|s| {
        s.contains("://")
            || s.starts_with("git@")
            || ARCHIVE_EXTENSIONS.iter().any(|ext| s.ends_with(ext))
            || s.contains('$')
    });
    if special {
        return;
    }
    let replacement = if instruction.is_upper() { "COPY" } else { "copy" };
    let fix = a.replace_word(instruction, &instruction.written, replacement);
    hits.push(Hit::new("DL3020", instruction).fix(fix.map(|e| vec![e])));
}

fn expose(a: &Analysis<'_>, instruction: &Instruction, hits: &mut Vec<Hit>) {
    let rewrite = |rule: &'static str, word: &str, port: &str, fixed: String| {
        let fix = a.replace_word(instruction, word, &fixed);
        Hit::new(rule, instruction).arg("port", port).arg("fixed", fixed).fix(fix.map(|e| vec![e]))
    };
    for word in split_words(&instruction.rest, a.escape) {
        let port = unquote(&word, a.escape);
        if port.contains('$') {
            continue;
        }
        let (number_part, protocol) = match port.split_once('/') {
            Some((n, p)) => (n, Some(p)),
            None => (port.as_str(), None),
        };
        if number_part.contains(':') {
            let container = number_part.rsplit(':').next().unwrap_or(number_part);
            let fixed = match protocol {
                Some(p) => format!("{container}/{}", p.to_ascii_lowercase()),
                None => container.to_string(),
            };
            hits.push(rewrite("ExposeInvalidFormat", &word, &port, fixed));
            continue;
        }
        if let Some(protocol) = protocol.filter(|p| *p != p.to_ascii_lowercase()) {
            let fixed = format!("{number_part}/{}", protocol.to_ascii_lowercase());
            hits.push(rewrite("ExposeProtoCasing", &word, &port, fixed));
        }
        let valid = number_part.split('-').all(|n| n.parse::<u32>().is_ok_and(|n| n <= 65_535));
        if !valid {
            hits.push(Hit::new("DL3011", instruction).arg("port", &port));
        }
    }
}

fn legacy_key_value(a: &Analysis<'_>, instruction: &Instruction, hits: &mut Vec<Hit>) {
    if !is_legacy_key_value(&instruction.rest, a.escape) {
        return;
    }
    let pairs = words::key_values(&instruction.rest, a.escape, true);
    let Some((key, Some(value))) = pairs.first() else { return };
    let quoted = if value.is_empty() || value.contains(|c: char| c.is_whitespace() || "\"'$\\`".contains(c)) {
        serde_json::Value::String(value.clone()).to_string()
    } else {
        value.clone()
    };
    let fixed = format!("{} {key}={quoted}", instruction.written);
    // Values with variables are rewritten only when quoting keeps them literal-free of `$`.
    let fix = (!value.contains('$'))
        .then(|| vec![TextEdit::replace_lines(instruction.line, instruction.end_line, vec![fixed.clone()])]);
    hits.push(
        Hit::new("LegacyKeyValueFormat", instruction)
            .arg("keyword", instruction.keyword.as_str())
            .arg("fixed", fixed)
            .fix(fix),
    );
}

fn secrets(a: &Analysis<'_>, instruction: &Instruction, hits: &mut Vec<Hit>) {
    let legacy = instruction.keyword == Keyword::Env;
    for (key, _) in words::key_values(&instruction.rest, a.escape, legacy) {
        let tokens: Vec<String> = key.split(['_', '-', '.']).map(str::to_ascii_lowercase).collect();
        let secret = tokens.iter().any(|t| SECRET_WORDS.contains(&t.as_str()));
        let public = tokens.iter().any(|t| t == "public");
        if secret && !public {
            hits.push(
                Hit::new("SecretsUsedInArgOrEnv", instruction)
                    .arg("keyword", instruction.keyword.as_str())
                    .arg("name", key),
            );
        }
    }
}

/// BuildKit's UndefinedVar, limited to names that look like a typo of a variable that is
/// defined: variables the base image sets are unknown here, and a check without them would
/// cry wolf on every `$PATH`.
fn undefined_vars(a: &Analysis<'_>, stage: usize, index: usize, instruction: &Instruction, hits: &mut Vec<Hit>) {
    if !SUBSTITUTED.contains(&instruction.keyword) {
        return;
    }
    let scope = a.scope(stage, index);
    let lookup = |name: &str| scope.get(name).cloned().flatten().or_else(|| scope.contains_key(name).then(String::new));
    let expanded = expand(&instruction.rest, a.escape, &lookup, true);
    for name in expanded.missing {
        let suggestion = scope
            .keys()
            .filter(|known| **known != name)
            .map(|known| (edit_distance(&name, known), known))
            .filter(|(d, known)| *d <= 2.min(known.len() / 3 + 1) || known.eq_ignore_ascii_case(&name))
            .min()
            .map(|(_, known)| known.clone());
        let Some(suggestion) = suggestion else { continue };
        let mut edits = Vec::new();
        for n in instruction.line..=instruction.text_end_line {
            let line = a.df.line(n);
            let fixed = line.replace(&format!("${{{name}}}"), &format!("${{{suggestion}}}"));
            let fixed = replace_plain_var(&fixed, &name, &suggestion);
            if fixed != line {
                edits.push(TextEdit::replace_line(n, fixed));
            }
        }
        hits.push(
            Hit::new("UndefinedVar", instruction).arg("name", &name).arg("suggestion", &suggestion).fix(Some(edits)),
        );
    }
}

/// Replaces `$name` (not followed by more name characters) with `$new`.
fn replace_plain_var(line: &str, name: &str, new: &str) -> String {
    let needle = format!("${name}");
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(&needle);
        } else {
            out.push('$');
            out.push_str(new);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_windows_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Resolves `.` and `..` in an absolute path.
fn normalize(path: &str) -> String {
    format!("/{}", crate::image::archive::clean_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_forms() {
        assert_eq!(exec_form("nginx -g 'daemon off;'", '\\'), None);
        assert_eq!(
            exec_form("python app.py --port 80", '\\').as_deref(),
            Some(r#"["python", "app.py", "--port", "80"]"#)
        );
        assert_eq!(exec_form(r#"echo "hello world""#, '\\').as_deref(), Some(r#"["echo", "hello world"]"#));
        assert_eq!(exec_form("echo $HOME", '\\'), None);
    }

    #[test]
    fn paths_and_vars() {
        assert_eq!(normalize("/app/../srv/./x/"), "/srv/x");
        assert_eq!(replace_plain_var("$APP_HOM/x $APP_HOME", "APP_HOM", "APP_HOME"), "$APP_HOME/x $APP_HOME");
    }
}
