//! A Dockerfile parser that keeps every line: parser directives (`syntax`, `escape`, `check`),
//! line continuations (with the file's escape character), comments inside continuations,
//! heredocs (`<<EOF`, `<<-EOF`, quoted delimiters, several per instruction), flags
//! (`--from=…`), JSON (exec) form versus shell form, and build-argument / environment
//! substitution where the builder itself substitutes.
//!
//! Parsing never fails: what BuildKit would refuse (an unknown instruction, a heredoc without its
//! end) is a [`ParseProblem`] with its line, so a linter can report it next to everything else.

mod parse;
mod print;
pub mod shell;
pub mod words;

use serde::{Deserialize, Serialize};

pub use parse::parse;

/// The default escape character (`# escape=` can change it to a backtick).
pub const DEFAULT_ESCAPE: char = '\\';

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dockerfile {
    /// Parser directives from the top of the file.
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    /// Comment lines (outside heredoc bodies), with their 1-based line numbers.
    pub comments: Vec<Comment>,
    /// What the builder would refuse or warn about while parsing.
    pub problems: Vec<ParseProblem>,
    /// The source split into lines (without line endings), 1-based line `n` is `lines[n - 1]`.
    pub lines: Vec<String>,
    /// True when the source used `\r\n` line endings.
    pub crlf: bool,
}

/// Parser directives (`# syntax=…`, `# escape=…`, `# check=…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directives {
    pub syntax: Option<String>,
    pub escape: char,
    /// The `check` directive's value, e.g. `skip=JSONArgsRecommended;error=true`.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Self { syntax: None, escape: DEFAULT_ESCAPE, check: None }
    }
}

impl Directives {
    /// Rule names the `check` directive skips (`skip=all` is returned as `all`).
    pub fn skipped_checks(&self) -> Vec<String> {
        let Some(check) = &self.check else { return Vec::new() };
        check
            .split(';')
            .filter_map(|part| part.trim().strip_prefix("skip="))
            .flat_map(|list| list.split(','))
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .collect()
    }
}

/// A comment line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub line: usize,
    /// The text after `#`, trimmed.
    pub text: String,
}

/// Something the builder would reject or warn about, found while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseProblem {
    /// A word at the start of an instruction that is no Dockerfile instruction.
    UnknownInstruction { line: usize, word: String },
    /// A heredoc whose terminating line never came.
    UnterminatedHeredoc { line: usize, delimiter: String },
    /// A blank line inside a line continuation (deprecated; BuildKit's NoEmptyContinuation).
    EmptyContinuation { line: usize },
    /// An instruction that needs arguments has none.
    MissingArguments { line: usize, keyword: String },
}

impl ParseProblem {
    /// The 1-based line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            Self::UnknownInstruction { line, .. }
            | Self::UnterminatedHeredoc { line, .. }
            | Self::EmptyContinuation { line }
            | Self::MissingArguments { line, .. } => *line,
        }
    }
}

/// The Dockerfile instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Keyword {
    From,
    Run,
    Cmd,
    Label,
    Maintainer,
    Expose,
    Env,
    Add,
    Copy,
    Entrypoint,
    Volume,
    User,
    Workdir,
    Arg,
    Onbuild,
    Stopsignal,
    Healthcheck,
    Shell,
}

impl Keyword {
    /// Every instruction, in the order the Dockerfile reference lists them.
    pub const ALL: [Keyword; 18] = [
        Keyword::From,
        Keyword::Run,
        Keyword::Cmd,
        Keyword::Label,
        Keyword::Maintainer,
        Keyword::Expose,
        Keyword::Env,
        Keyword::Add,
        Keyword::Copy,
        Keyword::Entrypoint,
        Keyword::Volume,
        Keyword::User,
        Keyword::Workdir,
        Keyword::Arg,
        Keyword::Onbuild,
        Keyword::Stopsignal,
        Keyword::Healthcheck,
        Keyword::Shell,
    ];

    /// Recognises an instruction word in any casing.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(word))
    }

    /// The instruction in upper case, as the reference writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::From => "FROM",
            Self::Run => "RUN",
            Self::Cmd => "CMD",
            Self::Label => "LABEL",
            Self::Maintainer => "MAINTAINER",
            Self::Expose => "EXPOSE",
            Self::Env => "ENV",
            Self::Add => "ADD",
            Self::Copy => "COPY",
            Self::Entrypoint => "ENTRYPOINT",
            Self::Volume => "VOLUME",
            Self::User => "USER",
            Self::Workdir => "WORKDIR",
            Self::Arg => "ARG",
            Self::Onbuild => "ONBUILD",
            Self::Stopsignal => "STOPSIGNAL",
            Self::Healthcheck => "HEALTHCHECK",
            Self::Shell => "SHELL",
        }
    }

    /// Instructions whose arguments may be a JSON array (exec form).
    pub fn takes_json(self) -> bool {
        matches!(self, Self::Run | Self::Cmd | Self::Entrypoint | Self::Shell | Self::Add | Self::Copy | Self::Volume)
    }

    /// Instructions that may carry heredocs.
    pub fn takes_heredocs(self) -> bool {
        matches!(self, Self::Run | Self::Add | Self::Copy)
    }

    /// Instructions that may start with `--flag` words.
    pub fn takes_flags(self) -> bool {
        matches!(self, Self::From | Self::Run | Self::Add | Self::Copy | Self::Healthcheck)
    }
}

/// A `--name[=value]` flag of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// The arguments of an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", content = "value", rename_all = "snake_case")]
pub enum Args {
    /// Exec form: a JSON array of strings.
    Json(Vec<String>),
    /// Shell form (or plain text for instructions without an exec form).
    Shell(String),
}

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heredoc {
    /// The delimiter word, without quotes.
    pub delimiter: String,
    /// `<<-`: leading tabs are stripped from the body lines.
    pub strip_tabs: bool,
    /// A quoted delimiter: the body is taken literally (no variable expansion).
    pub quoted: bool,
    /// The body lines joined with `\n` (each line ends with `\n`), after tab stripping.
    pub body: String,
    /// 1-based line of the first body line.
    pub first_line: usize,
}

/// One instruction with where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruction {
    pub keyword: Keyword,
    /// The instruction word exactly as written (e.g. `from`).
    pub written: String,
    /// 1-based first line.
    pub line: usize,
    /// 1-based last line of the instruction text (continuations), before any heredoc body.
    pub text_end_line: usize,
    /// 1-based last line, heredoc bodies and their delimiters included.
    pub end_line: usize,
    pub flags: Vec<Flag>,
    /// The text after the instruction word and its flags, continuations joined.
    pub rest: String,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
}

impl Instruction {
    /// The value of flag `--name`, if given (an empty string for a flag without a value).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|f| f.name == name).map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// The shell-form command text, if this instruction is in shell form.
    pub fn shell_text(&self) -> Option<&str> {
        match &self.args {
            Args::Shell(text) => Some(text),
            Args::Json(_) => None,
        }
    }

    /// The lines this instruction spans, inclusive.
    pub fn lines(&self) -> std::ops::RangeInclusive<usize> {
        self.line..=self.end_line
    }

    /// True when the instruction word is written in upper case.
    pub fn is_upper(&self) -> bool {
        self.written == self.keyword.as_str()
    }

    /// For a shell-form RUN: its command text plus the bodies of heredocs it feeds to a shell
    /// (`RUN <<EOF`), which is what the shell executes.
    pub fn script(&self) -> String {
        let mut script = self.shell_text().unwrap_or_default().to_string();
        for heredoc in &self.heredocs {
            script.push('\n');
            script.push_str(&heredoc.body);
        }
        script
    }
}

/// A build stage: a FROM and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Index of the stage's FROM in [`Dockerfile::instructions`].
    pub from: usize,
    /// Index just past the stage's last instruction.
    pub end: usize,
    /// The base image reference as written (before substitution).
    pub base: String,
    /// The `AS name`, as written.
    pub name: Option<String>,
    /// Where `AS` is written (its casing matters to FromAsCasing).
    pub as_written: Option<String>,
}

impl Dockerfile {
    /// The source line `n` (1-based), or "" past the end.
    pub fn line(&self, n: usize) -> &str {
        n.checked_sub(1).and_then(|i| self.lines.get(i)).map_or("", String::as_str)
    }

    /// The file's stages, in order. Instructions before the first FROM (global ARGs) belong to
    /// no stage.
    pub fn stages(&self) -> Vec<Stage> {
        let mut stages: Vec<Stage> = Vec::new();
        for (index, instruction) in self.instructions.iter().enumerate() {
            if instruction.keyword != Keyword::From {
                continue;
            }
            if let Some(last) = stages.last_mut() {
                last.end = index;
            }
            let words: Vec<&str> = instruction.rest.split_whitespace().collect();
            let (name, as_written) = match words.as_slice() {
                [_, as_word, name, ..] if as_word.eq_ignore_ascii_case("as") => {
                    (Some((*name).to_string()), Some((*as_word).to_string()))
                }
                _ => (None, None),
            };
            stages.push(Stage {
                from: index,
                end: self.instructions.len(),
                base: words.first().map(|w| (*w).to_string()).unwrap_or_default(),
                name,
                as_written,
            });
        }
        stages
    }

    /// Global `ARG`s (before the first FROM) with their default values.
    pub fn global_args(&self) -> Vec<(String, Option<String>)> {
        self.instructions
            .iter()
            .take_while(|i| i.keyword != Keyword::From)
            .filter(|i| i.keyword == Keyword::Arg)
            .flat_map(|i| words::key_values(&i.rest, self.directives.escape, false))
            .collect()
    }
}
