//! Lab folders in gantry-labs' format for tests that pack, serve or follow labs.

use std::path::{Path, PathBuf};

/// Writes a lab that loads (`root/id`, its folder's name is its id) with one step per id in
/// `steps`: each checks that the container `<id>-<step>` runs, and its solution starts it from
/// `image` (declared in the manifest). Panics when the folder cannot be written.
pub fn write_lab(root: &Path, id: &str, steps: &[&str], image: &str) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("steps")).expect("create the lab folder");
    let mut toml = format!(
        "format = 1\nid = \"{id}\"\nlevel = \"beginner\"\nduration_minutes = 5\nimages = [\"{image}\"]\n\
         [title]\nen = \"Test lab {id}\"\n[summary]\nen = \"A lab written by a test\"\n"
    );
    for step in steps {
        let name = format!("{id}-{step}");
        toml.push_str(&format!(
            "[[steps]]\nid = \"{step}\"\n  [[steps.checks]]\n  kind = \"container_running\"\n  container = \"{name}\"\n  \
             [[steps.solution]]\n  run = [\"docker\", \"run\", \"-d\", \"--name\", \"{name}\", \"{image}\", \"sleep\", \"300\"]\n"
        ));
        std::fs::write(dir.join(format!("steps/{step}.en.md")), format!("# Run {name}\n")).expect("write a step");
    }
    std::fs::write(dir.join("lab.toml"), toml).expect("write lab.toml");
    dir
}
