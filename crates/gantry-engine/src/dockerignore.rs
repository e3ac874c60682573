//! `.dockerignore` matching with Docker's semantics (moby's `ignorefile` + `patternmatcher`):
//! one pattern per line, `#` comments, `!` exceptions, the last matching pattern wins, and a
//! pattern that matches a parent directory matches everything below it. Patterns are cleaned
//! like Go's `filepath.Clean` (`./a/../b/` is `b`, a leading `/` is dropped).
//!
//! Wildcards: `*` (any run of characters except `/`), `?` (one character except `/`), `**`
//! (any number of directories, also none), `[...]` / `[^...]` classes with ranges, `\` escapes
//! the next character. A malformed pattern (unclosed `[`, a bad range, a trailing `\`, a lone
//! `!`) is an error, as `docker build` reports it.
//!
//! Matching runs a small automaton over the path (every pattern state advanced per character),
//! so time is linear in the path and the pattern, whatever the pattern: no backtracking, no
//! recursion.

use std::fmt;

/// Why a `.dockerignore` line cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based line number in the file.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} in pattern {:?}", self.line, self.reason, self.pattern)
    }
}

impl std::error::Error for PatternError {}

/// Parsed `.dockerignore` rules.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    exception: bool,
}

impl DockerIgnore {
    /// Parses the file's text; comments (`#` at the start of a line) and blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let error = |reason| PatternError { line: index + 1, pattern: line.to_string(), reason };
            let (body, exception) = match line.strip_prefix('!') {
                Some(rest) => (rest.trim(), true),
                None => (line, false),
            };
            if exception && body.is_empty() {
                return Err(error("a lone '!' excludes nothing"));
            }
            let mut cleaned = clean(body);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let pattern = Pattern::compile(&cleaned).map_err(error)?;
            rules.push(Rule { pattern, exception });
        }
        Ok(Self { rules })
    }

    /// True when `path` (relative to the context, `/`-separated) is excluded from the build
    /// context: the last pattern that matches it or one of its parent directories decides.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for rule in &self.rules {
            // An exclusion cannot change an excluded path, nor an exception an included one.
            if rule.exception != excluded {
                continue;
            }
            if rule.pattern.matches_path_or_parent(&path) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// True when an exception could re-include something below the directory `dir` (so an
    /// excluded directory must still be walked).
    pub fn may_include_below(&self, dir: &str) -> bool {
        let prefix = format!("{}/", clean(dir));
        self.rules.iter().any(|r| r.exception && r.pattern.may_match_below(&prefix))
    }
}

/// Go's `path.Clean`: no `.` components, `..` resolved where possible, no duplicate or trailing
/// slashes; an empty result is `.`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// One step of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Exactly this character.
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any run of characters other than `/` (loops on itself, may be skipped).
    Star,
    /// `**` at the end: anything at all (loops, may be skipped).
    Rest,
    /// `**` followed by more: nothing, or anything that ends with `/`. Two states: the entry
    /// (may be skipped) and the loop after it (must end with a `/`).
    DirsEntry,
    DirsLoop,
}

/// A compiled pattern: a list of nodes; being past the last node means "matched".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    nodes: Vec<Node>,
}

impl Pattern {
    fn compile(pattern: &str) -> Result<Self, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut nodes = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 2;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i >= chars.len() {
                        nodes.push(Node::Rest);
                    } else {
                        nodes.push(Node::DirsEntry);
                        nodes.push(Node::DirsLoop);
                    }
                    continue;
                }
                '*' => nodes.push(Node::Star),
                '?' => nodes.push(Node::One),
                '\\' => {
                    let escaped = chars.get(i + 1).ok_or("a trailing '\\' escapes nothing (syntax error)")?;
                    nodes.push(Node::Char(*escaped));
                    i += 1;
                }
                '[' => {
                    let (node, end) = class(&chars, i + 1)?;
                    nodes.push(node);
                    i = end;
                }
                c => nodes.push(Node::Char(c)),
            }
            i += 1;
        }
        Ok(Self { nodes })
    }

    /// The states reachable from `state` without reading a character (itself included).
    fn close(&self, states: &mut [bool], state: usize) {
        let mut s = state;
        while s < self.nodes.len() && !states[s] {
            states[s] = true;
            match self.nodes[s] {
                Node::Star | Node::Rest => s += 1,
                Node::DirsEntry => s += 2,
                _ => return,
            }
        }
        if s == self.nodes.len() {
            states[s] = true;
        }
    }

    /// Advances every live state over `c`.
    fn step(&self, states: &[bool], c: char) -> Vec<bool> {
        let mut next = vec![false; self.nodes.len() + 1];
        for (s, live) in states.iter().enumerate() {
            let Some(node) = self.nodes.get(s).filter(|_| *live) else { continue };
            match node {
                Node::Char(x) if *x == c => self.close(&mut next, s + 1),
                Node::One if c != '/' => self.close(&mut next, s + 1),
                Node::Class { negated, ranges }
                    if ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated =>
                {
                    self.close(&mut next, s + 1)
                }
                Node::Star if c != '/' => self.close(&mut next, s),
                Node::Rest => self.close(&mut next, s),
                Node::DirsEntry | Node::DirsLoop => {
                    let in_loop = if *node == Node::DirsEntry { s + 1 } else { s };
                    self.close(&mut next, in_loop);
                    if c == '/' {
                        self.close(&mut next, in_loop + 1);
                    }
                }
                _ => {}
            }
        }
        next
    }

    fn start(&self) -> Vec<bool> {
        let mut states = vec![false; self.nodes.len() + 1];
        self.close(&mut states, 0);
        states
    }

    /// True when the pattern matches `path` or one of its parent directories, read in one pass
    /// (a parent matches when the pattern is complete just before a `/`).
    fn matches_path_or_parent(&self, path: &str) -> bool {
        let accept = self.nodes.len();
        let mut states = self.start();
        for c in path.chars() {
            if c == '/' && states[accept] {
                return true;
            }
            states = self.step(&states, c);
            if !states.contains(&true) {
                return false;
            }
        }
        states[accept]
    }

    /// True when some path that starts with `prefix` could still match.
    fn may_match_below(&self, prefix: &str) -> bool {
        let mut states = self.start();
        for c in prefix.chars() {
            states = self.step(&states, c);
        }
        states.contains(&true)
    }
}

/// Parses a class starting after its `[`; returns the node and the index of its `]`. Follows Go's
/// `filepath.Match` syntax: optional `^`, then at least one character or range; `\` escapes; a
/// class that starts with `]` or `-`, a range that goes down, or no closing `]` is an error.
fn class(chars: &[char], mut i: usize) -> Result<(Node, usize), &'static str> {
    const BAD: &str = "syntax error ([...] class)";
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i).ok_or(BAD)?;
        if c == ']' && !ranges.is_empty() {
            return Ok((Node::Class { negated, ranges }, i));
        }
        let (lo, after) = class_char(chars, i)?;
        i = after;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, after) = class_char(chars, i + 1)?;
            if h < lo {
                return Err(BAD);
            }
            hi = h;
            i = after;
        }
        ranges.push((lo, hi));
    }
}

/// One (possibly escaped) character of a class; `-` and `]` must be escaped there.
fn class_char(chars: &[char], i: usize) -> Result<(char, usize), &'static str> {
    const BAD: &str = "syntax error ([...] class)";
    match chars.get(i) {
        None | Some('-' | ']') => Err(BAD),
        Some('\\') => chars.get(i + 1).map(|c| (*c, i + 2)).ok_or(BAD),
        Some(c) => Ok((*c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn docker_semantics() {
        let ig =
            ignore("# comment\nnode_modules\n*.log\n!keep.log\n**/secret.txt\n/build/\ndocs/*.md\n!docs/README.md\n");
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
        let ig = ignore("file[0-9].txt\nf?o\n[^a-c]x");
        assert!(ig.is_excluded("file3.txt"));
        assert!(!ig.is_excluded("filex.txt"));
        assert!(ig.is_excluded("foo"));
        assert!(!ig.is_excluded("fooo"));
        assert!(!ig.is_excluded("f/o"), "? does not match /");
        assert!(ig.is_excluded("dx") && !ig.is_excluded("bx"));
    }

    #[test]
    fn double_stars() {
        let ig = ignore("**/cache\na/**/z\nlogs/**");
        assert!(ig.is_excluded("cache") && ig.is_excluded("x/y/cache") && ig.is_excluded("x/cache/f"));
        assert!(!ig.is_excluded("xcache"), "**/ stands for whole directories");
        assert!(ig.is_excluded("a/z") && ig.is_excluded("a/b/c/z"));
        assert!(ig.is_excluded("logs/1/2.txt"));
        assert!(!ig.is_excluded("logs"), "logs/** is what is inside logs, not logs itself");
    }

    #[test]
    fn cleaning_escapes_and_exceptions_inside_excluded_directories() {
        let ig = ignore("./a/../b/\n/c\n\\*star\nvendor\n!vendor/keep\n");
        assert!(ig.is_excluded("b/x") && ig.is_excluded("c"));
        assert!(ig.is_excluded("*star") && !ig.is_excluded("xstar"));
        assert!(ig.is_excluded("vendor/other") && !ig.is_excluded("vendor/keep") && !ig.is_excluded("vendor/keep/f"));
        assert!(ig.may_include_below("vendor") && !ig.may_include_below("b"));
        assert!(ignore("x\n!**/keep").may_include_below("x/y"));
    }

    #[test]
    fn malformed_patterns_are_errors() {
        for (text, line) in [("ok\n[abc", 2), ("a\\", 1), ("!", 1), ("[]a]", 1), ("[z-a]", 1), ("[-a]", 1), ("[a-]", 1)]
        {
            let e = DockerIgnore::parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
        assert!(DockerIgnore::parse("[\\]]\n[a\\-z]\n# [\n").is_ok());
    }

    #[test]
    fn hostile_patterns_stay_linear() {
        // Exponential for a backtracking matcher: many stars against a long near-miss.
        let pattern = format!("{}b", "*a".repeat(40));
        let path = "a".repeat(5_000);
        assert!(!ignore(&pattern).is_excluded(&path));
        let deep = format!("{}x", "**/".repeat(2_000));
        assert!(ignore(&deep).is_excluded(&format!("{}x", "d/".repeat(3_000))));
        assert!(!ignore(&"[a-z]".repeat(10_000)).is_excluded("abc"));
    }

    #[test]
    fn go_path_clean() {
        for (input, want) in [
            ("a/./b/", "a/b"),
            ("./", "."),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("//x//", "/x"),
            ("", "."),
            ("a/b/../c", "a/c"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
