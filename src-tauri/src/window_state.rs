//! Remembers the main window's size and position in `window.json` in the instance directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{PhysicalPosition, PhysicalSize, Runtime, WebviewWindow, Window};

#[derive(Debug, Serialize, Deserialize)]
struct State {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
    maximized: bool,
}

const FILE: &str = "window.json";

pub fn save<R: Runtime>(window: &Window<R>, dir: &Path) {
    let (Ok(pos), Ok(size)) = (window.outer_position(), window.inner_size()) else { return };
    let state = State {
        x: pos.x,
        y: pos.y,
        width: size.width,
        height: size.height,
        maximized: window.is_maximized().unwrap_or(false),
    };
    if let Ok(json) = serde_json::to_string(&state) {
        // atomic: a crash while saving never leaves half a file
        let _ = gantry_core::private_file::write_atomic(&dir.join(FILE), json.as_bytes());
    }
}

/// Saves the window's state once it has stopped moving or resizing for a moment (a drag sends
/// hundreds of events; the app may also quit from the tray without a close request).
#[derive(Clone, Default)]
pub struct Saver {
    generation: Arc<AtomicU64>,
}

impl Saver {
    pub fn schedule<R: Runtime>(&self, window: &Window<R>, dir: &Path) {
        let mine = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = Arc::clone(&self.generation);
        let window = window.clone();
        let dir: PathBuf = dir.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            if generation.load(Ordering::SeqCst) == mine {
                save(&window, &dir);
            }
        });
    }
}

pub fn restore<R: Runtime>(window: &WebviewWindow<R>, dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join(FILE)) else { return };
    let Ok(state) = serde_json::from_str::<State>(&text) else { return };
    if state.width >= 400 && state.height >= 300 {
        let _ = window.set_size(PhysicalSize::new(state.width, state.height));
        let _ = window.set_position(PhysicalPosition::new(state.x.max(0), state.y.max(0)));
    }
    if state.maximized {
        let _ = window.maximize();
    }
}
