//! Labs (learning by doing, crate `gantry-labs`): the catalogue with the learner's progress, a
//! lab's overview and steps in the learner's language, starting, the live checker as a stream of
//! typed events, and the lab-scoped reset (its preview first). Where labs are found, where
//! progress is kept and where the learner's files go are named here once, for the app and the
//! `gantry lab` CLI alike.

use std::path::PathBuf;
use std::sync::Arc;

use gantry_labs::session::{self, PortChoice};
use gantry_labs::view::{self, LabView, StepView};
use gantry_labs::{Lab, LabError, LabEvent, Lang, Level, Library, Progress, ProgressStore, ResetPlan, ResetReport};
use serde::Serialize;

use super::error::{ApiError, ApiResult, GantryErrorCode};
use super::{Gantry, StreamMsg};

/// Environment variable naming the folder where labs keep the learner's files.
pub const LABS_WORK_ENV: &str = "GANTRY_LABS_WORK";

/// The labs in `GANTRY_LABS_DIR`, those of the imported workshops and the ones Gantry ships (see
/// [`gantry_labs::library::default_roots`]).
pub fn lab_library() -> Library {
    lab_library_with(&super::workshop::workshops_dir())
}

/// [`lab_library`] with the imported workshops of `workshops_dir`.
pub fn lab_library_with(workshops_dir: &std::path::Path) -> Library {
    let imported: Vec<PathBuf> = gantry_workshop::imported(workshops_dir).into_iter().map(|w| w.labs_dir).collect();
    Library::load(&gantry_labs::library::default_roots(std::env::current_exe().ok().as_deref(), &imported))
}

/// Where each lab's progress is kept: `labs/` in Gantry's data folder.
pub fn lab_progress_store() -> ProgressStore {
    ProgressStore::new(gantry_machine::instance::root_dir().join("labs"))
}

/// Where labs put the learner's files: `GANTRY_LABS_WORK`, else `~/gantry-labs` (inside the home
/// folder, which Gantry's VM shares, so bind mounts of it work).
pub fn lab_work_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(LABS_WORK_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    gantry_files::home_dir().unwrap_or_else(std::env::temp_dir).join("gantry-labs")
}

/// One lab of the catalogue, with the learner's progress in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabCard {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub level: Level,
    pub duration_minutes: u32,
    pub steps: usize,
    /// Steps passed so far (0 when not started).
    pub passed: usize,
    pub started: bool,
    pub completed: bool,
}

/// A lab folder that did not load, with why (its author reads this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BrokenLab {
    pub dir: String,
    pub message: String,
}

/// The catalogue in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabCatalogue {
    pub labs: Vec<LabCard>,
    pub broken: Vec<BrokenLab>,
}

/// What a reset did, and the lab as it is now (started again from its first step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabResetOutcome {
    pub report: ResetReport,
    pub lab: LabView,
}

impl From<LabError> for ApiError {
    fn from(e: LabError) -> Self {
        let message = e.to_string();
        match e {
            LabError::Engine(engine) => engine.into(),
            LabError::UnknownLab { .. } => {
                Self::new(GantryErrorCode::LabUnknown, message, "Pick a lab from the list of labs.")
            }
            LabError::NotStarted { .. } => Self::new(GantryErrorCode::LabNotStarted, message, "Start the lab first."),
            LabError::UnknownStep { .. } => {
                Self::new(GantryErrorCode::LabUnknown, message, "Pick a step from the lab's list of steps.")
            }
            LabError::Io { .. } => Self::io(message, e.hint()),
            other => {
                let hint = other.hint();
                Self::new(GantryErrorCode::LabInvalid, message, hint)
            }
        }
    }
}

fn card(lab: &Lab, progress: Option<&Progress>, lang: Lang) -> LabCard {
    LabCard {
        id: lab.id.clone(),
        title: lab.title.get(lang).to_string(),
        summary: lab.summary.get(lang).to_string(),
        level: lab.level,
        duration_minutes: lab.duration_minutes,
        steps: lab.steps.len(),
        passed: progress.map_or(0, |p| p.passed.len().min(lab.steps.len())),
        started: progress.is_some(),
        completed: progress.is_some_and(|p| p.is_complete(lab)),
    }
}

/// The lab `id` and the learner's saved progress in it.
fn find(id: &str) -> ApiResult<(Lab, Option<Progress>)> {
    let library = lab_library();
    let lab = library.get(id)?.clone();
    let progress = lab_progress_store().load(&lab.id)?;
    Ok((lab, progress))
}

fn started(lab: &Lab, progress: Option<Progress>) -> ApiResult<Progress> {
    Ok(progress.ok_or_else(|| LabError::NotStarted { id: lab.id.clone() })?)
}

impl Gantry {
    /// The labs, in `lang`, with the learner's progress in each (and lab folders that do not
    /// load, with why).
    pub async fn lab_list(&self, lang: Lang) -> ApiResult<LabCatalogue> {
        let library = lab_library();
        let store = lab_progress_store();
        let labs =
            library.labs().iter().map(|lab| card(lab, store.load(&lab.id).ok().flatten().as_ref(), lang)).collect();
        let broken = library
            .broken()
            .iter()
            .map(|(dir, e)| BrokenLab { dir: dir.display().to_string(), message: e.to_string() })
            .collect();
        Ok(LabCatalogue { labs, broken })
    }

    /// A lab's overview in `lang`: its steps (which passed), its work folder and ports once
    /// started.
    pub async fn lab_show(&self, id: String, lang: Lang) -> ApiResult<LabView> {
        let (lab, progress) = find(&id)?;
        self.host_terminal.follow_lab(&lab.id);
        Ok(view::lab_view(&lab, progress.as_ref(), lang))
    }

    /// Step `index` (0-based) of a lab in `lang`: its Markdown, check labels, hints and solution,
    /// with the learner's work folder and ports filled in.
    pub async fn lab_step(&self, id: String, index: u32, lang: Lang) -> ApiResult<StepView> {
        let (lab, progress) = find(&id)?;
        let values = view::values(&lab, progress.as_ref(), &lab_work_root());
        let step = view::step_view(&lab, index as usize, &values, lang)
            .ok_or_else(|| LabError::UnknownStep { lab: lab.id.clone(), step: (index + 1).to_string() })?;
        Ok(step)
    }

    /// Starts a lab (a lab already started is resumed as it was): notes what the engine holds,
    /// copies the starter files into the work folder, chooses free host ports.
    pub async fn lab_start(&self, id: String, lang: Lang) -> ApiResult<LabView> {
        let (lab, _) = find(&id)?;
        self.host_terminal.follow_lab(&lab.id);
        let engine = self.engine().await?;
        let store = lab_progress_store();
        let progress = session::start(&engine, &lab, Some(&store), &lab_work_root(), PortChoice::Usual).await?;
        Ok(view::lab_view(&lab, Some(&progress), lang))
    }

    /// Checks the learner's current step live: every check's result as it changes (re-evaluated
    /// on the engine events that can change it), each step passed (saved), until the lab is done.
    pub async fn lab_watch(&self, id: String, sink: impl Fn(StreamMsg<LabEvent>) + Send + 'static) -> ApiResult<u64> {
        let (lab, progress) = find(&id)?;
        let progress = started(&lab, progress)?;
        let engine = self.engine().await?;
        let ctx = session::context(&progress, engine.endpoint());
        let events = gantry_labs::watch(engine, Arc::new(lab), progress, ctx, Some(lab_progress_store()));
        Ok(self.streams.forward(events, 1, sink))
    }

    /// What resetting a lab would remove: only what the lab created since it started.
    pub async fn lab_reset_preview(&self, id: String) -> ApiResult<ResetPlan> {
        let (lab, progress) = find(&id)?;
        let progress = started(&lab, progress)?;
        let engine = self.engine().await?;
        let ctx = session::context(&progress, engine.endpoint());
        Ok(gantry_labs::plan_reset(&engine, &lab, &progress, &ctx).await?)
    }

    /// Resets a lab: removes what it created (nothing else), puts the starter files back and
    /// starts it again from its first step.
    pub async fn lab_reset(&self, id: String, lang: Lang) -> ApiResult<LabResetOutcome> {
        let (lab, progress) = find(&id)?;
        let progress = started(&lab, progress)?;
        let engine = self.engine().await?;
        let ctx = session::context(&progress, engine.endpoint());
        let store = lab_progress_store();
        let (report, restarted) = gantry_labs::reset_lab(&engine, &lab, &progress, &ctx, Some(&store)).await?;
        Ok(LabResetOutcome { report, lab: view::lab_view(&lab, Some(&restarted), lang) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_starter_labs_are_in_the_catalogue_in_both_languages() -> Result<(), ApiError> {
        let api = Gantry::default();
        let (en, ru) = (api.lab_list(Lang::En).await?, api.lab_list(Lang::Ru).await?);
        assert!(en.broken.is_empty(), "{:?}", en.broken);
        assert!(en.labs.len() >= 10, "{} labs", en.labs.len());
        let title = |list: &LabCatalogue| list.labs.iter().find(|l| l.id == "first-container").map(|l| l.title.clone());
        assert_eq!(title(&en).as_deref(), Some("Your first container"));
        assert_eq!(title(&ru).as_deref(), Some("Ваш первый контейнер"));
        let step = api.lab_step("first-container".into(), 0, Lang::Ru).await?;
        assert!(step.markdown.contains("контейнер"), "{}", step.markdown);
        assert!(!step.checks.is_empty() && !step.solution.is_empty());
        let unknown = api.lab_show("no-such-lab".into(), Lang::En).await.err().map(|e| e.code);
        assert_eq!(unknown, Some(GantryErrorCode::LabUnknown.into()));
        let past_the_end = api.lab_step("first-container".into(), 1000, Lang::En).await.err().map(|e| e.code);
        assert_eq!(past_the_end, Some(GantryErrorCode::LabUnknown.into()));
        Ok(())
    }
}
