//! A step's text: one Markdown file per language, `steps/<step-id>.<lang>.md`, whose first line is
//! the step's title (`# Run a web server`).

use std::path::PathBuf;

use serde::Serialize;

/// Largest step file read (a step is a page of text, not a book).
pub const MAX_STEP_BYTES: usize = 256 * 1024;

/// A step's title and body in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepText {
    /// The Markdown file it came from.
    pub file: PathBuf,
    pub title: String,
    /// The Markdown after the title line; placeholders unfilled.
    pub body: String,
    /// Line of the file where `body` starts (for messages about the body).
    pub body_line: usize,
}

/// Splits a step file into its `# Title` and the rest. Err says what is wrong, with the line.
pub fn parse_step_markdown(text: &str) -> Result<(String, String, usize), (usize, String)> {
    if text.len() > MAX_STEP_BYTES {
        return Err((0, format!("the file is larger than {} KiB", MAX_STEP_BYTES / 1024)));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n').enumerate();
    for (index, line) in lines.by_ref() {
        if line.trim().is_empty() {
            continue;
        }
        let Some(title) = line.trim_end().strip_prefix("# ") else {
            return Err((index + 1, "a step file starts with its title: `# Title`".into()));
        };
        let title = title.trim();
        if title.is_empty() {
            return Err((index + 1, "the title after `# ` is empty".into()));
        }
        let body_line = index + 2;
        let body: String = lines.map(|(_, l)| l).collect();
        return Ok((title.to_string(), body.trim_start_matches(['\r', '\n']).trim_end().to_string(), body_line));
    }
    Err((1, "the file is empty; a step file starts with `# Title`".into()))
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The contents of fenced code blocks and inline code spans, each with its line (for lint).
pub fn code_lines(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            } else {
                out.push((index + 1, line.to_string()));
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            if end > 0 {
                out.push((index + 1, after[..end].to_string()));
            }
            rest = &after[end + 1..];
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn title_and_body() {
        let (title, body, line) = parse_step_markdown("\n# Run it\n\nType this:\n").unwrap();
        assert_eq!((title.as_str(), body.as_str(), line), ("Run it", "Type this:", 3));
        assert_eq!(parse_step_markdown("Run it\n").unwrap_err().0, 1);
        assert_eq!(parse_step_markdown("\n\n#   \n").unwrap_err().0, 3);
        assert!(parse_step_markdown("").is_err());
    }

    #[test]
    fn code_is_found_in_fences_and_spans() {
        let md = "Run `docker ps` now.\n```sh\ndocker run -d web\n```\ntext `a` and `b`\n";
        let found = code_lines(md);
        assert_eq!(
            found,
            vec![
                (1, "docker ps".to_string()),
                (3, "docker run -d web".to_string()),
                (5, "a".to_string()),
                (5, "b".to_string())
            ]
        );
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
