use std::path::Path;

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
    tauri_build::build();
}
