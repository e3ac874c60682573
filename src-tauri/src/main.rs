//! Gantry's desktop app: a Tauri window over `gantry_core::api`, a tray icon, one instance,
//! and the window's size and position remembered. Workshop bundles dropped on the window or given
//! as arguments (`gantry-desktop FILE.gantry-workshop`, "Open with", also to a running app) go to
//! `Gantry::workshop_open_file`, which checks each path; the Workshops panel imports them.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod single_instance;
mod software_rendering;
mod tray;
mod window_state;

use gantry_core::api::Gantry;
use tauri::{DragDropEvent, Manager, RunEvent, WindowEvent};

fn main() {
    // Before anything else: this may start the program again (Linux without a GPU).
    if let Err(e) = software_rendering::choose() {
        eprintln!("gantry: {e}");
    }
    if let Err(e) = run() {
        eprintln!("gantry: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let instance = gantry_core::vm::Instance::default();
    let dir = instance.dir().to_path_buf();
    // Files to open: the arguments that are not options.
    let files: Vec<std::path::PathBuf> = std::env::args_os()
        .skip(1)
        .filter(|a| !a.to_string_lossy().starts_with('-'))
        .map(std::path::PathBuf::from)
        .collect();
    // A second launch shows the first window, hands it its files and exits.
    let guard = match single_instance::acquire(&dir, &files)? {
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
            let opener = app.handle().clone();
            guard.listen(
                move || {
                    if let Some(w) = handle.get_webview_window("main") {
                        let _ = w.unminimize();
                        let _ = w.show();
                        let _ = w.set_focus();
                    }
                },
                move |file| {
                    opener.state::<Gantry>().workshop_open_file(&file);
                },
            );
            for file in &files {
                app.state::<Gantry>().workshop_open_file(file);
            }
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
                WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => {
                    for path in paths {
                        window.state::<Gantry>().workshop_open_file(path);
                    }
                }
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
