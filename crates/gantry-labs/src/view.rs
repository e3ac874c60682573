//! What a front end shows, in one language, placeholders filled in: a lab's overview and a step.
//! The CLI prints these; the app's Learn panel renders the same values.

use serde::Serialize;

use crate::lab::{Lab, Level};
use crate::placeholders::{Values, substitute};
use crate::progress::Progress;
use crate::text::Lang;

/// A lab's overview for one learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabView {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub level: Level,
    /// The level's name in the view's language.
    pub level_name: String,
    pub duration_minutes: u32,
    pub images: Vec<String>,
    pub steps: Vec<StepLine>,
    /// Index of the step being worked on (the number of steps once done); `None` when not started.
    pub current_step: Option<usize>,
    /// True when every step has passed.
    pub completed: bool,
    /// The learner's copy of the starter files, once started.
    pub work_dir: Option<String>,
    /// The host ports the lab publishes: the usual one and, once started, the one chosen.
    pub ports: Vec<PortLine>,
}

/// A host port a lab uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PortLine {
    /// The name the lab's texts use (`{{lab.port.NAME}}`).
    pub name: String,
    pub usual: u16,
    /// The port chosen when the lab started (another one when the usual one was taken).
    pub chosen: Option<u16>,
}

/// A step as a line of the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepLine {
    pub id: String,
    pub title: String,
    pub passed: bool,
}

/// One step, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepView {
    /// 0-based.
    pub index: usize,
    pub count: usize,
    pub id: String,
    pub title: String,
    /// The step's Markdown (render it without raw HTML).
    pub markdown: String,
    /// The label of each check, in order (the checker's events refer to them by index).
    pub checks: Vec<String>,
    /// Hints, in the order to show them.
    pub hints: Vec<String>,
    /// The solution as commands a learner could type.
    pub solution: Vec<String>,
}

/// What placeholders stand for: the learner's values once started, else the lab's usual ports
/// and the work folder it would get under `work_root`.
pub fn values(lab: &Lab, progress: Option<&Progress>, work_root: &std::path::Path) -> Values {
    match progress {
        Some(p) => Values { dir: p.work_dir.display().to_string(), ports: p.ports.clone() },
        None => Values { dir: work_root.join(&lab.id).display().to_string(), ports: lab.ports.clone() },
    }
}

/// The overview of `lab` in `lang`.
pub fn lab_view(lab: &Lab, progress: Option<&Progress>, lang: Lang) -> LabView {
    LabView {
        id: lab.id.clone(),
        title: lab.title.get(lang).to_string(),
        summary: lab.summary.get(lang).to_string(),
        level: lab.level,
        level_name: lab.level.name(lang).to_string(),
        duration_minutes: lab.duration_minutes,
        images: lab.images.clone(),
        steps: lab
            .steps
            .iter()
            .map(|s| StepLine {
                id: s.id.clone(),
                title: s.text(lang).title.clone(),
                passed: progress.is_some_and(|p| p.passed.contains(&s.id)),
            })
            .collect(),
        current_step: progress.map(|p| p.current_step),
        completed: progress.is_some_and(|p| p.is_complete(lab)),
        work_dir: progress.map(|p| p.work_dir.display().to_string()),
        ports: lab
            .ports
            .iter()
            .map(|(name, usual)| PortLine {
                name: name.clone(),
                usual: *usual,
                chosen: progress.and_then(|p| p.ports.get(name).copied()),
            })
            .collect(),
    }
}

/// Step `index` of `lab` in `lang` with `values` filled in; `None` past the last step.
pub fn step_view(lab: &Lab, index: usize, values: &Values, lang: Lang) -> Option<StepView> {
    let step = lab.steps.get(index)?;
    let text = step.text(lang);
    Some(StepView {
        index,
        count: lab.steps.len(),
        id: step.id.clone(),
        title: text.title.clone(),
        markdown: substitute(&text.body, values),
        checks: step.checks.iter().map(|c| c.label(lang, values)).collect(),
        hints: step.hints.iter().map(|h| substitute(h.get(lang), values)).collect(),
        solution: step.solution.iter().map(|c| substitute(&c.display(), values)).collect(),
    })
}
