//! The tray icon: the engine's state, start/stop, show, quit.

use gantry_core::api::{Gantry, StreamMsg};
use gantry_core::engine_source::Origin;
use gantry_core::vm::VmStatus;
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
                    // the start goes on in the background; the state line follows the VM's events
                    let _ = api.engine_start(|_| {}).await;
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
    let tray = builder.build(app)?;
    // Keep the state line current: Gantry's VM live from its status events, any other engine
    // by asking every 10 s.
    let api = app.state::<Gantry>().inner().clone();
    let vm_state = state.clone();
    let vm_tray = tray.clone();
    let watch_api = api.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            // the VM's state in the words `gantry vm-status` uses
            let words = |s: VmStatus| format!("Engine: {}", s.describe());
            if watch_api.vm_watch_as(words, move |msg| drop(tx.send(msg))).await.is_ok() {
                while let Some(msg) = rx.recv().await {
                    match msg {
                        StreamMsg::Items { items } => {
                            if let Some(text) = items.into_iter().last() {
                                let _ = vm_tray.set_tooltip(Some(format!("Gantry · {text}")));
                                let _ = vm_state.set_text(text);
                            }
                        }
                        StreamMsg::End | StreamMsg::Error { .. } => break,
                        StreamMsg::Started { .. } => {}
                    }
                }
            }
            // ended (stop or a settings change cancel the streams) or not the VM: look again soon
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
    tauri::async_runtime::spawn(async move {
        loop {
            if let Ok(status) = api.engine_status().await
                && status.origin != Some(Origin::GantryVm)
            {
                let text = if status.connected {
                    let version = status.version.map(|v| v.version).unwrap_or_default();
                    format!("Engine: running ({version})")
                } else {
                    "Engine: not running".to_string()
                };
                let _ = tray.set_tooltip(Some(format!("Gantry · {text}")));
                let _ = state.set_text(text);
            }
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        }
    });
    Ok(())
}
