//! A loaded lab: its manifest's facts, its steps with their checks, hints, solutions and texts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::step::StepText;
use crate::text::{Lang, Text};

/// The newest lab format this Gantry reads. Gantry reads every older format too; a lab in a newer
/// format is refused with [`crate::LabError::NewerFormat`] (update Gantry).
pub const FORMAT: u32 = 1;
/// The manifest's file name in a lab folder.
pub const MANIFEST: &str = "lab.toml";
/// The folder of step texts in a lab folder.
pub const STEPS_DIR: &str = "steps";

/// How much a learner should know before starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Beginner,
    Intermediate,
    Advanced,
}

impl Level {
    /// The level's name in `lang`.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Beginner, Lang::En) => "beginner",
            (Self::Intermediate, Lang::En) => "intermediate",
            (Self::Advanced, Lang::En) => "advanced",
            (Self::Beginner, Lang::Ru) => "начальный",
            (Self::Intermediate, Lang::Ru) => "средний",
            (Self::Advanced, Lang::Ru) => "продвинутый",
        }
    }
}

/// One command of a step's solution. Commands run without a shell, in the lab's work folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SolutionCommand {
    /// `run = ["docker", ...]`: the docker CLI with these arguments.
    Run { args: Vec<String> },
    /// `copy = { from = "solution/Dockerfile", to = "Dockerfile" }`: a file from the lab folder
    /// into the work folder (what the learner would have edited).
    Copy { from: String, to: String },
}

impl SolutionCommand {
    /// The command as a learner would type it (arguments quoted for a POSIX shell).
    pub fn display(&self) -> String {
        match self {
            Self::Run { args } => args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "),
            Self::Copy { from, to } => format!("cp {} {}", shell_quote(from), shell_quote(to)),
        }
    }
}

/// Quotes `arg` for display in a POSIX shell when it needs quoting.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%{}".contains(c) || !c.is_ascii());
    if plain { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// A step of a lab.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique in the lab; names the step's Markdown files.
    pub id: String,
    /// Line of the step in lab.toml.
    pub line: usize,
    /// All must pass for the step to be done.
    pub checks: Vec<Check>,
    /// Shown after a failed check or on request, in order.
    pub hints: Vec<Text>,
    /// What the lab test runs; what a learner can look up.
    pub solution: Vec<SolutionCommand>,
    /// The step's text per language.
    pub texts: BTreeMap<Lang, StepText>,
}

impl Step {
    /// The text in `lang`, else English.
    pub fn text(&self, lang: Lang) -> &StepText {
        match self.texts.get(&lang).or_else(|| self.texts.get(&Lang::En)) {
            Some(text) => text,
            // The loader refuses steps without English text.
            None => unreachable_text(),
        }
    }
}

fn unreachable_text() -> &'static StepText {
    static EMPTY: std::sync::OnceLock<StepText> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| StepText { file: PathBuf::new(), title: String::new(), body: String::new(), body_line: 0 })
}

/// A lab, loaded and checked against the format.
#[derive(Debug, Clone, PartialEq)]
pub struct Lab {
    /// The lab's folder.
    pub dir: PathBuf,
    pub id: String,
    /// The format it is written in (≤ [`FORMAT`]).
    pub format: u32,
    pub level: Level,
    pub duration_minutes: u32,
    /// Images the lab needs (pulled, or bundled for a workshop).
    pub images: Vec<String>,
    /// A folder of the lab whose files are copied into the work folder when the lab starts.
    pub starter_files: Option<String>,
    /// Host ports the lab publishes: name → the usual port.
    pub ports: BTreeMap<String, u16>,
    pub title: Text,
    pub summary: Text,
    pub steps: Vec<Step>,
}

impl Lab {
    /// The step with this id, or this 1-based number.
    pub fn find_step(&self, id_or_number: &str) -> Option<usize> {
        if let Some(i) = self.steps.iter().position(|s| s.id == id_or_number) {
            return Some(i);
        }
        id_or_number.parse::<usize>().ok().filter(|n| (1..=self.steps.len()).contains(n)).map(|n| n - 1)
    }

    /// Every text the lab lacks in a language Gantry ships: `(where, language)`.
    pub fn missing_translations(&self) -> Vec<(String, Lang)> {
        let mut missing = Vec::new();
        for lang in self.title.missing() {
            missing.push(("title".to_string(), lang));
        }
        for lang in self.summary.missing() {
            missing.push(("summary".to_string(), lang));
        }
        for step in &self.steps {
            for lang in Lang::ALL {
                if !step.texts.contains_key(&lang) {
                    missing.push((format!("steps/{}.{}.md", step.id, lang.code()), lang));
                }
            }
            for (i, hint) in step.hints.iter().enumerate() {
                for lang in hint.missing() {
                    missing.push((format!("step {} hint {}", step.id, i + 1), lang));
                }
            }
            for check in &step.checks {
                if let Some(label) = &check.label {
                    for lang in label.missing() {
                        missing.push((format!("step {} check label (line {})", step.id, check.line), lang));
                    }
                }
            }
        }
        missing
    }
}
