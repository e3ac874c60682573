//! From text to [`Dockerfile`]: directives, logical lines, flags, exec/shell form, heredocs.

use super::words::{split_words, unquote};
use super::{Args, Comment, DEFAULT_ESCAPE, Directives, Dockerfile, Flag, Heredoc, Instruction, Keyword, ParseProblem};

/// Parses Dockerfile text. Never fails: problems are listed in [`Dockerfile::problems`].
pub fn parse(source: &str) -> Dockerfile {
    let crlf = source.contains("\r\n");
    let mut lines: Vec<String> = source.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
    if source.ends_with('\n') || source.is_empty() {
        lines.pop();
    }
    let (directives, mut index) = read_directives(&lines);
    let escape = directives.escape;
    let mut instructions = Vec::new();
    let mut comments = Vec::new();
    let mut problems = Vec::new();
    while index < lines.len() {
        let trimmed = lines[index].trim_start();
        if trimmed.is_empty() {
            index += 1;
            continue;
        }
        if let Some(text) = trimmed.strip_prefix('#') {
            comments.push(Comment { line: index + 1, text: text.trim().to_string() });
            index += 1;
            continue;
        }
        let start = index;
        let mut logical = String::new();
        let mut text_end = index;
        loop {
            let line = &lines[index];
            if index > start {
                if line.trim().is_empty() {
                    problems.push(ParseProblem::EmptyContinuation { line: index + 1 });
                    index += 1;
                    if index >= lines.len() {
                        break;
                    }
                    continue;
                }
                if let Some(text) = line.trim_start().strip_prefix('#') {
                    comments.push(Comment { line: index + 1, text: text.trim().to_string() });
                    index += 1;
                    if index >= lines.len() {
                        break;
                    }
                    continue;
                }
            }
            text_end = index;
            index += 1;
            match strip_continuation(line, escape) {
                Some(joined) => {
                    logical.push_str(joined);
                    if index >= lines.len() {
                        break;
                    }
                }
                None => {
                    logical.push_str(line);
                    break;
                }
            }
        }
        // Blank lines that ended the file inside a continuation are not part of the text.
        problems.retain(|p| !matches!(p, ParseProblem::EmptyContinuation { line } if *line > text_end + 1));
        let logical = logical.trim();
        let word_end = logical.find(char::is_whitespace).unwrap_or(logical.len());
        let (word, after) = logical.split_at(word_end);
        let Some(keyword) = Keyword::parse(word) else {
            problems.push(ParseProblem::UnknownInstruction { line: start + 1, word: word.to_string() });
            continue;
        };
        let (flags, rest) = if keyword.takes_flags() { split_flags(after) } else { (Vec::new(), after.trim()) };
        let args = if keyword.takes_json() { parse_json(rest) } else { None }
            .map_or_else(|| Args::Shell(rest.to_string()), Args::Json);
        let mut heredocs = Vec::new();
        if keyword.takes_heredocs() && matches!(args, Args::Shell(_)) {
            for (delimiter, strip_tabs, quoted) in heredoc_markers(rest, escape) {
                let first_line = index + 1;
                let mut body = String::new();
                let mut terminated = false;
                while index < lines.len() {
                    let line = &lines[index];
                    index += 1;
                    let content = if strip_tabs { line.trim_start_matches('\t') } else { line.as_str() };
                    if content.trim_end() == delimiter {
                        terminated = true;
                        break;
                    }
                    body.push_str(content);
                    body.push('\n');
                }
                if !terminated {
                    problems.push(ParseProblem::UnterminatedHeredoc { line: start + 1, delimiter: delimiter.clone() });
                }
                heredocs.push(Heredoc { delimiter, strip_tabs, quoted, body, first_line });
            }
        }
        if rest.is_empty() && heredocs.is_empty() {
            problems.push(ParseProblem::MissingArguments { line: start + 1, keyword: keyword.as_str().to_string() });
        }
        instructions.push(Instruction {
            keyword,
            written: word.to_string(),
            line: start + 1,
            text_end_line: text_end + 1,
            end_line: index.max(text_end + 1),
            flags,
            rest: rest.to_string(),
            args,
            heredocs,
        });
    }
    problems.sort_by_key(ParseProblem::line);
    Dockerfile { directives, instructions, comments, problems, lines, crlf }
}

/// Reads parser directives from the top; returns them and the index of the first other line.
fn read_directives(lines: &[String]) -> (Directives, usize) {
    let mut directives = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        let Some((name, value)) = directive(line) else { break };
        if seen.contains(&name) {
            break;
        }
        match name.as_str() {
            "syntax" => directives.syntax = Some(value),
            "check" => directives.check = Some(value),
            "escape" => match value.as_str() {
                "\\" => directives.escape = DEFAULT_ESCAPE,
                "`" => directives.escape = '`',
                // An invalid escape is a build error; the file is read with the default.
                _ => {}
            },
            _ => break,
        }
        seen.push(name);
        index += 1;
    }
    (directives, index)
}

/// `# name=value` with a directive name (letters only), lower-cased.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim_start().strip_prefix('#')?;
    let (name, value) = body.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.trim().to_string()))
}

/// The line without its trailing escape character (and blanks after it), if it continues.
fn strip_continuation(line: &str, escape: char) -> Option<&str> {
    line.trim_end_matches([' ', '\t']).strip_suffix(escape)
}

/// Leading `--name[=value]` words and the text after them.
fn split_flags(text: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = text.trim_start();
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[2..end];
        let flag = match word.split_once('=') {
            Some((name, value)) => Flag { name: name.to_string(), value: Some(value.to_string()) },
            None => Flag { name: word.to_string(), value: None },
        };
        flags.push(flag);
        rest = rest[end..].trim_start();
    }
    (flags, rest.trim_end())
}

/// A JSON array of strings, as the exec form requires.
fn parse_json(text: &str) -> Option<Vec<String>> {
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) among the words of `text`, in order:
/// (delimiter, strip tabs, quoted).
fn heredoc_markers(text: &str, escape: char) -> Vec<(String, bool, bool)> {
    split_words(text, escape)
        .iter()
        .filter_map(|word| {
            let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
            let marker = after_fd.strip_prefix("<<")?;
            let (strip_tabs, marker) = match marker.strip_prefix('-') {
                Some(m) => (true, m),
                None => (false, marker),
            };
            if marker.is_empty() || marker.contains('<') {
                return None;
            }
            let quoted = marker.contains(['"', '\'']);
            let delimiter = unquote(marker, escape);
            (!delimiter.is_empty()).then_some((delimiter, strip_tabs, quoted))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_empty_lines() {
        let df = parse("FROM busybox\nRUN echo a \\\n# inside\n\n    && echo b\nCMD [\"sh\"]\n");
        assert_eq!(df.instructions.len(), 3);
        let run = &df.instructions[1];
        assert_eq!((run.line, run.end_line), (2, 5));
        assert_eq!(run.rest, "echo a     && echo b");
        assert_eq!(df.comments, vec![Comment { line: 3, text: "inside".into() }]);
        assert_eq!(df.problems, vec![ParseProblem::EmptyContinuation { line: 4 }]);
        assert_eq!(df.instructions[2].args, Args::Json(vec!["sh".into()]));
    }

    #[test]
    fn escape_directive_switches_the_continuation_character() {
        let df = parse("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir c:\\ `\n  /b\n");
        assert_eq!(df.directives.escape, '`');
        assert_eq!(df.instructions[1].rest, "dir c:\\   /b");
        // A directive after another line is just a comment.
        let df = parse("FROM a\n# escape=`\n");
        assert_eq!(df.directives.escape, '\\');
        assert_eq!(df.comments.len(), 1);
    }

    #[test]
    fn heredocs() {
        let text = "FROM a\nRUN <<EOF bash\nset -e\necho hi\nEOF\nCOPY <<-'A' <<B /dest/\n\t$x\n\tA\nb\nB\nCMD x\n";
        let df = parse(text);
        let run = &df.instructions[1];
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].body, "set -e\necho hi\n");
        assert_eq!((run.line, run.end_line), (2, 5));
        let copy = &df.instructions[2];
        assert_eq!(copy.heredocs.len(), 2);
        assert!(copy.heredocs[0].strip_tabs && copy.heredocs[0].quoted);
        assert_eq!(copy.heredocs[0].body, "$x\n");
        assert_eq!(copy.heredocs[1].body, "b\n");
        assert_eq!(df.instructions[3].line, 11);
        let df = parse("FROM a\nRUN <<EOF\necho\n");
        assert!(matches!(df.problems[0], ParseProblem::UnterminatedHeredoc { line: 2, .. }));
    }

    #[test]
    fn flags_json_and_problems() {
        let df = parse(
            "from --platform=$BUILDPLATFORM golang:1.22 as build\nCOPY --from=build --link /a /b\nFOO bar\nRUN\nCMD [\"bad\n",
        );
        let from = &df.instructions[0];
        assert_eq!(from.written, "from");
        assert_eq!(from.flag("platform"), Some("$BUILDPLATFORM"));
        assert_eq!(from.rest, "golang:1.22 as build");
        assert_eq!(df.instructions[1].flag("link"), Some(""));
        assert_eq!(df.instructions[3].args, Args::Shell("[\"bad".into()));
        assert_eq!(
            df.problems,
            vec![
                ParseProblem::UnknownInstruction { line: 3, word: "FOO".into() },
                ParseProblem::MissingArguments { line: 4, keyword: "RUN".into() },
            ]
        );
        let stages = df.stages();
        assert_eq!(stages[0].name.as_deref(), Some("build"));
        assert_eq!(stages[0].as_written.as_deref(), Some("as"));
    }

    #[test]
    fn crlf_lines() {
        let df = parse("FROM a\r\nRUN b \\\r\n c\r\n");
        assert!(df.crlf);
        assert_eq!(df.instructions[1].rest, "b  c");
        assert_eq!(df.lines, vec!["FROM a", "RUN b \\", " c"]);
    }
}
