//! The tray icon: the engine's state, start/stop, show, quit.

use gantry_core::api::Gantry;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = MenuItem::with_id(app, "state", "Engine: checking…", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show Gantry", true, None::<&str>)?;
    let start = MenuItem::with_id(app, "start", "Start engine", true, None::<&str>)?;
    let stop = MenuItem::with_id(app, "stop", "Stop engine", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Gantry", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&state, &sep, &show, &start, &stop, &sep, &quit])?;
    let mut builder = TrayIconBuilder::with_id("gantry").menu(&menu).tooltip("Gantry").on_menu_event(|app, event| {
        match event.id().as_ref() {
            "show" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            "start" => {
                let api = app.state::<Gantry>().inner().clone();
                tauri::async_runtime::spawn(async move {
                    let _ = api.engine_start().await;
                });
            }
            "stop" => {
                let api = app.state::<Gantry>().inner().clone();
                tauri::async_runtime::spawn(async move {
                    let _ = api.engine_stop().await;
                });
            }
            "quit" => app.exit(0),
            _ => {}
        }
    });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    // Keep the state line current.
    let api = app.state::<Gantry>().inner().clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let status = api.engine_status().await;
            let text = if status.connected {
                let version = status.version.map(|v| v.version).unwrap_or_default();
                format!("Engine: running ({version})")
            } else {
                "Engine: not running".to_string()
            };
            let _ = state.set_text(text);
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        }
    });
    Ok(())
}
