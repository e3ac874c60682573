//! The room's grid: participants × lab steps, what each participant reported, the live updates the
//! trainer's view follows and the commands participants' Gantry follows. Participants send only a
//! display name and step progress; nothing else is accepted or kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::labs::LabOutline;

/// Most participants a room takes.
pub const MAX_PARTICIPANTS: usize = 500;
/// Most characters of a display name.
pub const MAX_NAME_CHARS: usize = 40;

/// Where a participant is on a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum StepStatus {
    Working,
    Passed,
    /// The participant asked for help (or the checker saw the same failure again and again).
    Stuck,
}

impl StepStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::Passed => "passed",
            Self::Stuck => "stuck",
        }
    }
}

/// One progress report from a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    pub lab: String,
    pub step: String,
    pub status: StepStatus,
}

/// A participant as the trainer sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ParticipantView {
    pub id: u64,
    pub name: String,
    /// `lab/step` → status.
    pub steps: BTreeMap<String, StepStatus>,
    /// Milliseconds since the epoch of the last report.
    pub last_seen_ms: u64,
}

/// The whole grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomSnapshot {
    pub title: String,
    pub labs: Vec<LabOutline>,
    pub participants: Vec<ParticipantView>,
}

/// A change of the grid, as the trainer's view receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RoomUpdate {
    Joined { participant: ParticipantView },
    Progress { participant: u64, lab: String, step: String, status: StepStatus, at_ms: u64 },
}

/// What the trainer tells every joined participant's Gantry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RoomCommand {
    /// Reset the lab (lab-scoped: only what the lab made).
    ResetLab { lab: String },
    /// Move to this step.
    GoToStep { lab: String, step: String },
}

/// A request the room refuses, with the reason it sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

#[derive(Debug)]
struct Participant {
    view: ParticipantView,
}

#[derive(Debug, Default)]
struct Inner {
    participants: BTreeMap<u64, Participant>,
    tokens: HashMap<String, u64>,
    next_id: u64,
}

/// The room: thread-safe, shared by the server's connections.
#[derive(Debug)]
pub struct Room {
    title: String,
    labs: Vec<LabOutline>,
    inner: Mutex<Inner>,
    updates: broadcast::Sender<RoomUpdate>,
    commands: broadcast::Sender<RoomCommand>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Room {
    pub fn new(title: &str, labs: Vec<LabOutline>) -> Self {
        let (updates, _) = broadcast::channel(4096);
        let (commands, _) = broadcast::channel(64);
        Self { title: title.into(), labs, inner: Mutex::new(Inner::default()), updates, commands }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a participant under `name` (trimmed, at most [`MAX_NAME_CHARS`], no control
    /// characters); returns their id and the token they send progress with.
    pub fn join(&self, name: &str, token: String) -> Result<u64, Refused> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(Refused(format!("a display name has 1 to {MAX_NAME_CHARS} characters, no control characters")));
        }
        let mut inner = self.lock();
        if inner.participants.len() >= MAX_PARTICIPANTS {
            return Err(Refused(format!("the room is full ({MAX_PARTICIPANTS} participants)")));
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let view = ParticipantView { id, name: name.into(), steps: BTreeMap::new(), last_seen_ms: now_ms() };
        inner.participants.insert(id, Participant { view: view.clone() });
        inner.tokens.insert(token, id);
        drop(inner);
        let _ = self.updates.send(RoomUpdate::Joined { participant: view });
        Ok(id)
    }

    /// Records a report from the participant holding `token`; the lab and step must be the room's.
    pub fn report(&self, token: &str, progress: &Progress) -> Result<(), Refused> {
        let known = self.labs.iter().any(|l| l.id == progress.lab && l.steps.contains(&progress.step));
        if !known {
            return Err(Refused(format!("{}/{} is not a step of this workshop", progress.lab, progress.step)));
        }
        let at_ms = now_ms();
        let mut inner = self.lock();
        let id = *inner.tokens.get(token).ok_or_else(|| Refused("unknown participant: join again".into()))?;
        let participant = inner.participants.get_mut(&id).ok_or_else(|| Refused("unknown participant".into()))?;
        participant.view.steps.insert(format!("{}/{}", progress.lab, progress.step), progress.status);
        participant.view.last_seen_ms = at_ms;
        drop(inner);
        let _ = self.updates.send(RoomUpdate::Progress {
            participant: id,
            lab: progress.lab.clone(),
            step: progress.step.clone(),
            status: progress.status,
            at_ms,
        });
        Ok(())
    }

    /// Whether `token` belongs to a participant.
    pub fn is_participant(&self, token: &str) -> bool {
        self.lock().tokens.contains_key(token)
    }

    pub fn snapshot(&self) -> RoomSnapshot {
        let inner = self.lock();
        RoomSnapshot {
            title: self.title.clone(),
            labs: self.labs.clone(),
            participants: inner.participants.values().map(|p| p.view.clone()).collect(),
        }
    }

    /// Live changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RoomUpdate> {
        self.updates.subscribe()
    }

    /// Commands from now on (participants' Gantry listens).
    pub fn subscribe_commands(&self) -> broadcast::Receiver<RoomCommand> {
        self.commands.subscribe()
    }

    /// Sends a command to every joined participant; the lab (and step) must be the room's.
    pub fn command(&self, command: RoomCommand) -> Result<usize, Refused> {
        let (lab, step) = match &command {
            RoomCommand::ResetLab { lab } => (lab, None),
            RoomCommand::GoToStep { lab, step } => (lab, Some(step)),
        };
        let outline = self.labs.iter().find(|l| l.id == *lab).ok_or_else(|| Refused(format!("no lab {lab}")))?;
        if let Some(step) = step
            && !outline.steps.contains(step)
        {
            return Err(Refused(format!("lab {lab} has no step {step}")));
        }
        Ok(self.commands.send(command).unwrap_or(0))
    }

    /// The grid as CSV: one row per participant, one column per step.
    pub fn csv(&self) -> String {
        let snapshot = self.snapshot();
        let columns: Vec<String> =
            snapshot.labs.iter().flat_map(|l| l.steps.iter().map(move |s| format!("{}/{s}", l.id))).collect();
        let mut out = String::from("participant");
        for c in &columns {
            out.push(',');
            out.push_str(&csv_field(c));
        }
        out.push_str("\r\n");
        for p in &snapshot.participants {
            out.push_str(&csv_field(&p.name));
            for c in &columns {
                out.push(',');
                out.push_str(p.steps.get(c).map_or("", |s| s.as_str()));
            }
            out.push_str("\r\n");
        }
        out
    }
}

/// A CSV field: quoted when needed; a leading `= + - @` is neutralised so a spreadsheet does not
/// run a participant-supplied name as a formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with('\'') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        let lab = LabOutline {
            id: "first".into(),
            title: "First".into(),
            steps: vec!["run".into(), "stop".into()],
            ..Default::default()
        };
        Room::new("Docker 101", vec![lab])
    }

    fn progress(step: &str, status: StepStatus) -> Progress {
        Progress { lab: "first".into(), step: step.into(), status }
    }

    #[test]
    fn joins_reports_and_broadcasts() {
        let room = room();
        let mut updates = room.subscribe();
        let id = room.join("  Ada  ", "t1".into()).expect("join");
        assert!(matches!(updates.try_recv(), Ok(RoomUpdate::Joined { participant }) if participant.name == "Ada"));
        room.report("t1", &progress("run", StepStatus::Passed)).expect("report");
        assert!(
            matches!(updates.try_recv(), Ok(RoomUpdate::Progress { participant, status: StepStatus::Passed, .. }) if participant == id)
        );
        assert_eq!(room.snapshot().participants[0].steps["first/run"], StepStatus::Passed);
        assert!(room.report("nope", &progress("run", StepStatus::Passed)).is_err());
        assert!(room.report("t1", &progress("fly", StepStatus::Passed)).is_err(), "unknown steps are refused");
        assert!(room.join("", "t2".into()).is_err());
        assert!(room.join("a\u{7}b", "t2".into()).is_err());
        assert!(room.join(&"x".repeat(41), "t2".into()).is_err());
    }

    #[test]
    fn csv_has_a_column_per_step_and_defuses_formulas() {
        let room = room();
        room.join("=HYPERLINK(\"x\")", "t".into()).expect("join");
        room.join("Grace, H.", "u".into()).expect("join");
        room.report("u", &progress("stop", StepStatus::Stuck)).expect("report");
        let csv = room.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "participant,first/run,first/stop");
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"x\"\")\",,");
        assert_eq!(lines[2], "\"Grace, H.\",,stuck");
    }

    #[test]
    fn commands_name_the_rooms_labs() {
        let room = room();
        let mut commands = room.subscribe_commands();
        assert_eq!(room.command(RoomCommand::ResetLab { lab: "first".into() }), Ok(1));
        assert_eq!(commands.try_recv().ok(), Some(RoomCommand::ResetLab { lab: "first".into() }));
        assert!(room.command(RoomCommand::GoToStep { lab: "first".into(), step: "fly".into() }).is_err());
        assert!(room.command(RoomCommand::ResetLab { lab: "other".into() }).is_err());
    }
}
