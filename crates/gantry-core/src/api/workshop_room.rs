//! The trainer's room inside the app: open the room for a bundle (the same server as `gantry
//! workshop serve`: registry, join code, the projector's page) and follow its grid live; send the
//! room's commands to every joined participant; export the grid. One room at a time; it closes
//! when its stream is cancelled (or the app quits).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gantry_workshop::room::state::{Room, RoomCommand, RoomSnapshot, RoomUpdate};
use gantry_workshop::room::{DEFAULT_PORT, ServeEvent, ServeOptions, serve};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::workshop::workshops_dir;
use super::{ApiError, ApiResult, Gantry, GantryErrorCode, StreamMsg};

/// How the trainer opens the room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomOpenOptions {
    /// The port participants connect to (default 5443), on every network of this computer.
    pub port: Option<u16>,
    /// A registry to act as a pull-through cache of when it answers (e.g. Docker Hub's).
    pub upstream: Option<String>,
    /// Only the grid, no registry (everybody imported the bundle already).
    pub no_registry: bool,
}

/// What the room's stream carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RoomEvent {
    /// Opening: filling the registry, the upstream's state, then `open` with the join code.
    Serve { event: ServeEvent },
    /// The whole grid (first, and again whenever updates were missed).
    Snapshot { snapshot: RoomSnapshot },
    /// One change of the grid.
    Update { update: RoomUpdate },
}

/// The room open in this app, if any.
#[derive(Debug, Default)]
pub struct RoomSlot(Mutex<Option<Arc<Room>>>);

impl RoomSlot {
    fn get(&self) -> ApiResult<Arc<Room>> {
        self.0.lock().ok().and_then(|r| r.clone()).ok_or_else(|| {
            ApiError::new(GantryErrorCode::WorkshopInvalid, "no room is open", "open the room for a bundle first")
        })
    }

    fn set(&self, room: Option<Arc<Room>>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = room;
        }
    }
}

/// The room's folder: `room/` beside the imported workshops (kept, so the join code stays).
fn room_dir() -> PathBuf {
    workshops_dir().join("room")
}

impl Gantry {
    /// Opens the room for the bundle at `path` and follows it: how opening goes, then the grid and
    /// each change. Cancelling the stream closes the room.
    pub async fn workshop_room_open(
        &self,
        path: String,
        options: RoomOpenOptions,
        sink: impl Fn(StreamMsg<RoomEvent>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        if self.room.get().is_ok() {
            return Err(ApiError::new(
                GantryErrorCode::WorkshopInvalid,
                "a room is already open",
                "close the open room first",
            ));
        }
        let serve_options = ServeOptions {
            bundle: path.into(),
            dir: room_dir(),
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], options.port.unwrap_or(DEFAULT_PORT))),
            advertise: None,
            upstream: options.upstream.filter(|u| !u.trim().is_empty()),
            no_registry: options.no_registry,
        };
        let slot = Arc::clone(&self.room);
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let progress = {
                let sink = Arc::clone(&sink);
                move |event: ServeEvent| sink(StreamMsg::Items { items: vec![RoomEvent::Serve { event }] })
            };
            let serving = tokio::select! {
                serving = serve(&serve_options, &progress) => serving,
                () = token.cancelled() => {
                    sink(StreamMsg::End);
                    return;
                }
            };
            let serving = match serving {
                Ok(serving) => serving,
                Err(e) => {
                    sink(StreamMsg::Error { error: e.into() });
                    sink(StreamMsg::End);
                    return;
                }
            };
            let room = Arc::clone(&serving.room);
            slot.set(Some(Arc::clone(&room)));
            let mut updates = room.subscribe();
            sink(StreamMsg::Items { items: vec![RoomEvent::Snapshot { snapshot: room.snapshot() }] });
            loop {
                tokio::select! {
                    update = updates.recv() => match update {
                        Ok(update) => sink(StreamMsg::Items { items: vec![RoomEvent::Update { update }] }),
                        // Missed some: the whole grid again.
                        Err(RecvError::Lagged(_)) => {
                            sink(StreamMsg::Items { items: vec![RoomEvent::Snapshot { snapshot: room.snapshot() }] })
                        }
                        Err(RecvError::Closed) => break,
                    },
                    () = token.cancelled() => break,
                }
            }
            slot.set(None);
            serving.stop().await;
            sink(StreamMsg::End);
        }))
    }

    /// Sends `command` (reset a lab, go to a step) to every participant following the open
    /// room; returns how many it reached.
    pub async fn workshop_room_command(&self, command: RoomCommand) -> ApiResult<u32> {
        let room = self.room.get()?;
        room.command(command).map(|n| u32::try_from(n).unwrap_or(u32::MAX)).map_err(|refused| {
            ApiError::new(GantryErrorCode::WorkshopInvalid, refused.0, "choose a lab and a step of the room's bundle")
        })
    }

    /// The open room's grid as CSV (one row per participant, one column per step).
    pub async fn workshop_room_csv(&self) -> ApiResult<String> {
        Ok(self.room.get()?.csv())
    }
}
