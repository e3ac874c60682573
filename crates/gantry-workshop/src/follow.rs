//! A participant's Gantry carrying out the trainer's room commands, when the participant asked
//! for it (`gantry workshop follow --apply`): a lab-scoped reset (gantry-labs' reset: only what
//! the lab made goes, then the lab starts again at its first step) and a move to a step (the
//! lab's saved progress points at it). The labs are the caller's library (gantry-core's
//! `lab_library`: imported workshops' labs among Gantry's own, by gantry-labs' default roots).

use gantry_engine::Engine;
use gantry_labs::{Library, ProgressStore, ResetReport};
use serde::Serialize;

use crate::error::{Result, WorkshopError};
use crate::room::state::RoomCommand;

/// What carrying out one command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "applied", rename_all = "snake_case")]
pub enum Applied {
    /// The lab was reset: what was removed and what could not be; it starts again at step 1.
    Reset { lab: String, removed: Vec<String>, failed: Vec<String> },
    /// The lab's progress now stands at this step (`index` counts from 0).
    MovedTo { lab: String, step: String, index: usize },
    /// Nothing was done, and why (e.g. the lab was never started on this computer).
    Skipped { lab: String, reason: String },
}

fn lab_error(lab: &str, e: gantry_labs::LabError) -> WorkshopError {
    WorkshopError::Lab { lab: lab.to_string(), reason: e.to_string() }
}

/// Carries out `command` on this computer's lab `library` and progress `store`, against `engine`.
/// A lab that is not installed or not started here is skipped with the reason (never started on
/// the trainer's word: starting a lab is the participant's choice).
pub async fn apply(
    engine: &Engine,
    library: &Library,
    store: &ProgressStore,
    command: &RoomCommand,
) -> Result<Applied> {
    let (RoomCommand::ResetLab { lab: id } | RoomCommand::GoToStep { lab: id, .. }) = command;
    let skipped = |reason: String| Ok(Applied::Skipped { lab: id.clone(), reason });
    let Ok(lab) = library.get(id) else {
        return skipped(format!("lab {id} is not installed here: import the workshop's bundle first"));
    };
    let Some(mut progress) = store.load(id).map_err(|e| lab_error(id, e))? else {
        return skipped(format!("lab {id} is not started here: `gantry lab start {id}` starts it"));
    };
    match command {
        RoomCommand::ResetLab { .. } => {
            let ctx = gantry_labs::session::context(&progress, engine.endpoint());
            let (report, _restarted): (ResetReport, _) =
                gantry_labs::reset_lab(engine, lab, &progress, &ctx, Some(store))
                    .await
                    .map_err(|e| lab_error(id, e))?;
            Ok(Applied::Reset { lab: id.clone(), removed: report.removed, failed: report.failed })
        }
        RoomCommand::GoToStep { step, .. } => {
            let Some(index) = lab.steps.iter().position(|s| s.id == *step) else {
                return skipped(format!(
                    "lab {id} here has no step {step}: the room and this computer have different versions of the lab; import the bundle again"
                ));
            };
            progress.current_step = index;
            store.save(&progress).map_err(|e| lab_error(id, e))?;
            Ok(Applied::MovedTo { lab: id.clone(), step: step.clone(), index })
        }
    }
}
