//! `.dockerignore` matching, as the Docker CLI does it: patterns with `*`, `?`, `**`,
//! `!` exceptions (last match wins), paths relative to the context root.

/// Parsed `.dockerignore` rules.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<(Vec<String>, bool)>,
}

impl DockerIgnore {
    /// Parses the file's text; comments (`#`) and blank lines are skipped.
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|line| {
                let (pattern, exception) = match line.strip_prefix('!') {
                    Some(p) => (p.trim(), true),
                    None => (line, false),
                };
                let cleaned: Vec<String> = pattern
                    .trim_start_matches("./")
                    .trim_matches('/')
                    .split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .map(str::to_string)
                    .collect();
                (!cleaned.is_empty()).then_some((cleaned, exception))
            })
            .collect();
        Self { rules }
    }

    /// True when `path` (relative, `/`-separated) is excluded from the build context.
    /// A path is also excluded when one of its parent directories matches.
    pub fn is_excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut excluded = false;
        for (pattern, exception) in &self.rules {
            let hit = (1..=parts.len()).any(|n| match_components(pattern, &parts[..n]));
            if hit {
                excluded = !exception;
            }
        }
        excluded
    }
}

fn match_components(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| match_components(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((head, tail)) => glob(first.as_bytes(), head.as_bytes()) && match_components(rest, tail),
            None => false,
        },
    }
}

/// Matches one path component against a glob with `*`, `?` and `[...]` classes.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(b'['), Some(c)) => match pattern.iter().position(|b| *b == b']') {
            Some(end) if end > 1 => {
                let (negate, class) = match pattern[1] {
                    b'^' | b'!' => (true, &pattern[2..end]),
                    _ => (false, &pattern[1..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= (class[i]..=class[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && glob(&pattern[end + 1..], &text[1..])
            }
            _ => *c == b'[' && glob(&pattern[1..], &text[1..]),
        },
        (Some(b'\\'), Some(c)) if pattern.len() > 1 => pattern[1] == *c && glob(&pattern[2..], &text[1..]),
        (Some(p), Some(c)) => p == c && glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics() {
        let ig = DockerIgnore::parse(
            "# comment\nnode_modules\n*.log\n!keep.log\n**/secret.txt\n/build/\ndocs/*.md\n!docs/README.md\n",
        );
        assert!(ig.is_excluded("node_modules"));
        assert!(ig.is_excluded("node_modules/x/y.js"));
        assert!(ig.is_excluded("debug.log"));
        assert!(!ig.is_excluded("keep.log"));
        assert!(!ig.is_excluded("src/debug.log"), "*.log is anchored at the root, as in Docker");
        assert!(ig.is_excluded("secret.txt"));
        assert!(ig.is_excluded("a/b/secret.txt"));
        assert!(ig.is_excluded("build/out.bin"));
        assert!(ig.is_excluded("docs/guide.md"));
        assert!(!ig.is_excluded("docs/README.md"));
        assert!(!ig.is_excluded("Dockerfile"));
        assert!(!ig.is_excluded("src/main.rs"));
    }

    #[test]
    fn classes_and_question_marks() {
        let ig = DockerIgnore::parse("file[0-9].txt\nf?o");
        assert!(ig.is_excluded("file3.txt"));
        assert!(!ig.is_excluded("filex.txt"));
        assert!(ig.is_excluded("foo"));
        assert!(!ig.is_excluded("fooo"));
    }
}
