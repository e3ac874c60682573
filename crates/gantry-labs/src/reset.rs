//! Lab-scoped reset: remove what the lab created, and nothing else.
//!
//! An object is the lab's when both hold:
//! - it is new: it was not in the engine when the lab started ([`Snapshot`]);
//! - the lab names it: its name (or compose project) appears in the lab's checks, solutions or
//!   the commands of its texts; or it is a container with a name Docker made up (`docker run`
//!   without `--name`) from an image the lab declares, names or built.
//!
//! So a learner's own containers, images, volumes and networks stay, whether they existed before
//! the lab or were made meanwhile under other names; the images the lab declares stay too (they
//! are what the lab needs, not what it made).

use std::collections::BTreeSet;

use gantry_engine::{ContainerFilter, Engine, RemoveOptions};
use serde::Serialize;

use crate::error::LabError;
use crate::eval::Context;
use crate::lab::{Lab, SolutionCommand};
use crate::placeholders::{Values, substitute};
use crate::progress::{Progress, ProgressStore, Snapshot};
use crate::step::code_lines;
use crate::text::Lang;

/// Compose's label naming a network's or volume's project.
const COMPOSE_PROJECT: &str = "com.docker.compose.project";

/// One object to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Target {
    /// What the engine is asked to remove (an ID, or a volume / image name).
    pub id: String,
    /// What the learner reads.
    pub name: String,
}

/// What a reset will remove, in the order it removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResetPlan {
    pub containers: Vec<Target>,
    pub networks: Vec<Target>,
    pub volumes: Vec<Target>,
    /// Image names (`repo:tag`); an image goes when its last name does.
    pub images: Vec<Target>,
}

impl ResetPlan {
    /// True when there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty() && self.images.is_empty()
    }
}

/// What a reset did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResetReport {
    /// e.g. `container web`.
    pub removed: Vec<String>,
    /// What could not be removed, with why.
    pub failed: Vec<String>,
}

/// Every word the lab uses that may name an engine object, with placeholders filled in.
pub fn lab_names(lab: &Lab, values: &Values) -> BTreeSet<String> {
    let mut texts: Vec<String> = Vec::new();
    for step in &lab.steps {
        for check in &step.checks {
            texts.extend(check.strings());
        }
        for command in &step.solution {
            if let SolutionCommand::Run { args } = command {
                texts.extend(args.iter().cloned());
            }
        }
        for lang in Lang::ALL {
            if let Some(text) = step.texts.get(&lang) {
                texts.extend(code_lines(&text.body).into_iter().map(|(_, line)| line));
            }
        }
    }
    texts.push(lab.id.clone());
    if let Some(dir) = std::path::Path::new(&values.dir).file_name() {
        texts.push(dir.to_string_lossy().into_owned());
    }
    let mut names = BTreeSet::new();
    for text in texts {
        let text = substitute(&text, values);
        for word in text.split(|c: char| c.is_whitespace() || "\"'`;|&()<>".contains(c)) {
            let word = word.trim_start_matches('-');
            if word.is_empty() {
                continue;
            }
            names.insert(word.to_string());
            for part in word.split(['=', ',']) {
                if !part.is_empty() {
                    names.insert(part.to_string());
                    // `data:/data` names the volume `data`; `name=web` the container `web`.
                    if let Some((first, _)) = part.split_once(':') {
                        names.insert(first.to_string());
                    }
                }
            }
        }
    }
    names
}

fn related_image(reference: &str, names: &BTreeSet<String>) -> bool {
    let (repo, _) = gantry_engine::images::split_tag(reference);
    names.contains(reference) || names.contains(repo) || names.iter().any(|n| crate::eval::same_reference(n, reference))
}

/// True for a name like Docker gives a container started without `--name`: `pedantic_nobel`
/// (an adjective and a surname, maybe with a digit added).
pub fn generated_name(name: &str) -> bool {
    let Some((adjective, surname)) = name.split_once('_') else { return false };
    let surname = surname.trim_end_matches(|c: char| c.is_ascii_digit());
    !adjective.is_empty()
        && !surname.is_empty()
        && adjective.chars().all(|c| c.is_ascii_lowercase())
        && surname.chars().all(|c| c.is_ascii_lowercase())
}

fn declared(lab: &Lab, reference: &str) -> bool {
    lab.images.iter().any(|i| crate::eval::same_reference(i, reference))
}

/// What resetting `lab` would remove now.
pub async fn plan_reset(engine: &Engine, lab: &Lab, progress: &Progress, ctx: &Context) -> crate::Result<ResetPlan> {
    plan_with(engine, lab, progress, &lab_names(lab, &ctx.values), Scope::Learner).await
}

/// Which new objects count as the lab's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A learner's reset: every word of the lab's commands and texts, and containers with made-up
    /// names from the lab's images.
    Learner,
    /// A test run side by side with other labs: only the objects the lab's checks and solutions
    /// name ([`lab_object_names`]).
    Strict,
}

/// What the test of `lab` leaves behind, when other labs are tested on the same engine at the same
/// time: only the objects its checks and solutions name, nothing found by words of its texts or by
/// made-up container names (those may be another lab's).
pub async fn plan_cleanup_side_by_side(
    engine: &Engine,
    lab: &Lab,
    progress: &Progress,
    ctx: &Context,
) -> crate::Result<ResetPlan> {
    plan_with(engine, lab, progress, &lab_object_names(lab, &ctx.values), Scope::Strict).await
}

/// The names of the engine objects `lab` makes: those its checks name, and those its solutions
/// create (`--name`, `--network`, `-v NAME:`, `-t`, `tag` targets, `volume create`,
/// `network create`), plus the compose project of its work folder.
pub fn lab_object_names(lab: &Lab, values: &Values) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for step in &lab.steps {
        for check in &step.checks {
            names.extend(check.resolve(values).objects().into_iter().map(|(_, n)| n.to_string()));
        }
        for command in &step.solution {
            let SolutionCommand::Run { args } = command else { continue };
            let args: Vec<String> = args.iter().map(|a| substitute(a, values)).collect();
            for (i, arg) in args.iter().enumerate() {
                let next = args.get(i + 1).cloned();
                match arg.as_str() {
                    "--name" | "--network" | "--net" | "-t" | "--tag" => names.extend(next),
                    "-v" | "--volume" => {
                        if let Some(volume) = next.as_deref().and_then(|v| v.split_once(':')).map(|(v, _)| v)
                            && !volume.contains('/')
                        {
                            names.insert(volume.to_string());
                        }
                    }
                    "create" if i >= 1 && matches!(args[i - 1].as_str(), "volume" | "network") => names.extend(next),
                    _ => {}
                }
            }
            if args.get(1).map(String::as_str) == Some("tag") {
                names.extend(args.get(3).cloned());
            }
        }
    }
    if let Some(dir) = std::path::Path::new(&values.dir).file_name() {
        names.insert(dir.to_string_lossy().into_owned());
    }
    names
}

async fn plan_with(
    engine: &Engine,
    lab: &Lab,
    progress: &Progress,
    names: &BTreeSet<String>,
    scope: Scope,
) -> crate::Result<ResetPlan> {
    let before: &Snapshot = &progress.snapshot;
    let mut plan = ResetPlan::default();

    let images = engine.list_images(false).await?;
    let new_image_ids: BTreeSet<&str> =
        images.iter().filter(|i| !before.images.contains(&i.id)).map(|i| i.id.as_str()).collect();
    for image in &images {
        for tag in &image.tags {
            if !before.tags.contains(tag) && related_image(tag, names) && !declared(lab, tag) {
                plan.images.push(Target { id: tag.clone(), name: format!("image {tag}") });
            }
        }
    }

    let containers = engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await?;
    for c in containers.iter().filter(|c| !before.containers.contains(&c.id)) {
        let lab_image =
            declared(lab, &c.image) || related_image(&c.image, names) || new_image_ids.contains(c.image_id.as_str());
        let made_up = scope == Scope::Learner && lab_image && generated_name(&c.name);
        let lab_project = c.compose_project.as_ref().is_some_and(|p| names.contains(p));
        if names.contains(&c.name) || made_up || lab_project {
            plan.containers.push(Target { id: c.id.clone(), name: format!("container {}", c.name) });
        }
    }

    for n in engine.list_networks().await? {
        let project = n.labels.get(COMPOSE_PROJECT).is_some_and(|p| names.contains(p));
        if !n.builtin && !before.networks.contains(&n.id) && (names.contains(&n.name) || project) {
            plan.networks.push(Target { id: n.id.clone(), name: format!("network {}", n.name) });
        }
    }

    for v in engine.list_volumes().await? {
        let project = v.labels.get(COMPOSE_PROJECT).is_some_and(|p| names.contains(p));
        if !before.volumes.contains(&v.name) && (names.contains(&v.name) || project) {
            plan.volumes.push(Target { id: v.name.clone(), name: format!("volume {}", v.name) });
        }
    }
    Ok(plan)
}

/// Removes what `plan` lists: containers (with their anonymous volumes), networks, volumes, then
/// image names. Goes on after a failure and reports each.
pub async fn apply_reset(engine: &Engine, plan: &ResetPlan) -> ResetReport {
    let mut report = ResetReport::default();
    let mut note = |target: &Target, result: gantry_engine::Result<()>| match result {
        Ok(()) => report.removed.push(target.name.clone()),
        Err(gantry_engine::EngineError::NotFound { .. }) => {}
        Err(e) => report.failed.push(format!("{}: {e}", target.name)),
    };
    for t in &plan.containers {
        note(t, engine.remove_container(&t.id, RemoveOptions { force: true, volumes: true }).await);
    }
    for t in &plan.networks {
        note(t, engine.remove_network(&t.id).await);
    }
    for t in &plan.volumes {
        note(t, engine.remove_volume(&t.id, false).await);
    }
    for t in &plan.images {
        note(t, engine.remove_image(&t.id, false).await.map(|_| ()));
    }
    report
}

/// Resets `lab` for the learner: removes what it created (see the module docs), puts the starter
/// files back into the work folder, and starts it again from the first step (saved in `store`).
/// Returns what was removed and the new progress.
pub async fn reset_lab(
    engine: &Engine,
    lab: &Lab,
    progress: &Progress,
    ctx: &Context,
    store: Option<&ProgressStore>,
) -> crate::Result<(ResetReport, Progress)> {
    let plan = plan_reset(engine, lab, progress, ctx).await?;
    let report = apply_reset(engine, &plan).await;
    let work_dir = progress.work_dir.clone();
    // Only a folder named after the lab is emptied: a damaged progress file cannot point this at
    // the learner's home.
    if work_dir.file_name().is_some_and(|n| n == lab.id.as_str()) && work_dir.is_dir() {
        std::fs::remove_dir_all(&work_dir).map_err(|e| LabError::io("empty", &work_dir, e))?;
    }
    let restarted = crate::session::fresh(engine, lab, store, work_dir, crate::session::PortChoice::Usual).await?;
    Ok((report, restarted))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_words_options_and_mounts() {
        let values = Values { dir: "/home/me/gantry-labs/volumes".into(), ports: [("web".into(), 18080)].into() };
        let lab_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/first-container");
        let lab = crate::load_lab(&lab_dir).unwrap_or_else(|e| panic!("{e}"));
        let names = lab_names(&lab, &values);
        for expected in ["hello", "web", "ticker", "busybox:1.36", "volumes", "first-container"] {
            assert!(names.contains(expected), "{expected} in {names:?}");
        }
        assert!(related_image("busybox:1.36", &names));
        assert!(!related_image("user/app:1", &names));
        assert!(generated_name("pedantic_nobel"));
        assert!(generated_name("quirky_hopper2"));
        assert!(!generated_name("web"));
        assert!(!generated_name("lt-user-during"));
        assert!(!generated_name("Web_Server"));
    }
}
