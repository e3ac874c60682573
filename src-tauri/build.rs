use std::path::Path;

// The command table of gantry-core, read as source: each command gets a permission (Tauri's app
// manifest), and the main window's one capability allows exactly those (written to OUT_DIR from
// the same list). The webview may call these commands and nothing else: no Tauri core plugin
// (window, path, event, ...) is allowed.
include!("../crates/gantry-core/src/api/command_table.rs");

macro_rules! command_names {
    ($( $(#[doc = $doc:literal])* $kind:ident $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $out:ty ; )*) => {
        const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}
command_table!(command_names);

fn main() {
    // The UI is built by `npm run build` in ui/ and embedded. On a fresh clone without it, put a
    // page there that says so, so the workspace still builds (the e2e tests refuse this page).
    let dist = Path::new("../ui/dist");
    let index = dist.join("index.html");
    if !index.exists() {
        println!(
            "cargo:warning=ui/dist is missing: run `npm ci && npm run build` in ui/ before building the desktop app"
        );
        let page = "<!doctype html><meta charset=utf-8><title>Gantry</title>\
                    <p>The Gantry UI was not built. Run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, then rebuild.</p>\n";
        if std::fs::create_dir_all(dist).and_then(|()| std::fs::write(&index, page)).is_err() {
            println!("cargo:warning=could not write a placeholder {}", index.display());
        }
    }
    println!("cargo:rerun-if-changed=../crates/gantry-core/src/api/command_table.rs");
    let capabilities = write_capability().unwrap_or_else(|e| {
        eprintln!("cannot write the capability: {e}");
        std::process::exit(1);
    });
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    let attributes = tauri_build::Attributes::new().app_manifest(manifest).capabilities_path_pattern(capabilities);
    tauri_build::try_build(attributes).unwrap_or_else(|e| {
        eprintln!("tauri-build: {e:#}");
        std::process::exit(1);
    });
}

/// Writes the main window's capability (every command of the table, nothing else) into OUT_DIR;
/// returns the pattern tauri-build reads capabilities from.
fn write_capability() -> std::io::Result<&'static str> {
    let out = std::env::var_os("OUT_DIR").ok_or_else(|| std::io::Error::other("OUT_DIR is not set"))?;
    let dir = Path::new(&out).join("capabilities");
    std::fs::create_dir_all(&dir)?;
    let permissions: Vec<String> = COMMANDS.iter().map(|c| format!("\"allow-{}\"", c.replace('_', "-"))).collect();
    let json = format!(
        "{{\"identifier\":\"main\",\"description\":\"The main window may call Gantry's commands (gantry-core's command table) and nothing else.\",\"windows\":[\"main\"],\"permissions\":[{}]}}\n",
        permissions.join(",")
    );
    std::fs::write(dir.join("main.json"), json)?;
    Ok(Box::leak(format!("{}/*.json", dir.display()).into_boxed_str()))
}
