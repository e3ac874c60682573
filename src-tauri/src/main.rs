//! Gantry's desktop app: a Tauri window over `gantry_core::api`, a tray icon, one instance,
//! and the window's size and position remembered.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod single_instance;
mod tray;
mod window_state;

use gantry_core::api::Gantry;
use tauri::{Manager, RunEvent, WindowEvent};

fn main() {
    if let Err(e) = run() {
        eprintln!("gantry: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let instance = gantry_core::vm::Instance::default();
    let dir = instance.dir().to_path_buf();
    // A second launch shows the first window and exits.
    let guard = match single_instance::acquire(&dir)? {
        single_instance::Acquired::Primary(guard) => guard,
        single_instance::Acquired::Secondary => return Ok(()),
    };
    let api = Gantry::new();
    let streams = api.streams().clone();
    let app = tauri::Builder::default()
        .manage(api)
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            guard.listen(move || {
                if let Some(w) = handle.get_webview_window("main") {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            });
            if let Some(w) = app.get_webview_window("main") {
                window_state::restore(&w, &dir);
            }
            if let Err(e) = tray::create(app.handle()) {
                // No tray on this desktop (e.g. no status notifier host): the window still works.
                eprintln!("gantry: no tray icon: {e}");
            }
            Ok(())
        })
        .on_window_event({
            let dir = instance.dir().to_path_buf();
            let saver = window_state::Saver::default();
            move |window, event| match event {
                WindowEvent::CloseRequested { .. } => window_state::save(window, &dir),
                WindowEvent::Moved(_) | WindowEvent::Resized(_) => saver.schedule(window, &dir),
                _ => {}
            }
        })
        .build(tauri::generate_context!())?;
    app.run(move |_, event| {
        if let RunEvent::Exit = event {
            streams.cancel_all();
        }
    });
    Ok(())
}
