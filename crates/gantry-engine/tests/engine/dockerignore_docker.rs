//! `.dockerignore` differential test against Docker itself: the docker CLI on this machine applies
//! `.dockerignore` on the client side (classic builder), so the same context is built twice, by
//! `docker build` and by Gantry, with `COPY . /ctx` and a `RUN find /ctx`: the files that arrive
//! must be the same for every pattern set of the shared corpus.
//!
//! The corpus holds what Docker's matcher does the same in every version. Left out, on purpose:
//! regex characters `+(){}|^` (the 20.10 CLI passes them into a regular expression; later versions
//! escape them, as Gantry does) and exceptions such as `!**/x` that reach into an excluded
//! directory (the 20.10 CLI skips such directories, BuildKit and Gantry walk into them), and an
//! exception naming a parent directory of an excluded file (`vendor/*/f` then `!vendor/keep`:
//! the 20.10 CLI keeps `vendor/keep/f` out; Gantry, like moby's `MatchesOrParentMatches`, lets
//! the exception cover what is inside the directory).

use std::path::Path;

use futures_util::StreamExt;
use gantry_engine::{BuildEvent, BuildSpec};

use crate::common::{IMAGE, setup};

/// The context tree: files (and so their directories) that the patterns pick from.
const TREE: &[&str] = &[
    "a.txt",
    "b.log",
    "keep.log",
    "file1.txt",
    "filex.txt",
    "foo",
    "fooo",
    "space name.txt",
    "café.txt",
    ".hidden",
    "src/main.rs",
    "src/debug.log",
    "src/nested/deep.log",
    "src/nested/keep.rs",
    "docs/README.md",
    "docs/guide.md",
    "docs/img/logo.png",
    "node_modules/pkg/index.js",
    "node_modules/keep/x.js",
    "build/out.bin",
    "vendor/keep/f",
    "vendor/other/g",
    "x/y/cache/c.bin",
    "cache/c2",
    "tmp/t.tmp",
    "a/b/c/d.txt",
];

/// `.dockerignore` texts: every wildcard, exceptions, cleaning, comments, anchoring.
const CORPUS: &[&str] = &[
    "",
    "*.log",
    "*.log\n!keep.log",
    "**/*.log",
    "**/*.log\n!src/nested/deep.log",
    "src",
    "src\n!src/main.rs",
    "src/*\n!src/nested",
    "node_modules\n!node_modules/keep",
    "docs/*.md\n!docs/README.md",
    "docs/**",
    "**/cache",
    "x/**/c.bin",
    "file?.txt",
    "file[0-9].txt",
    "file[^0-9].txt",
    "f*",
    "f*o",
    "/build/",
    "./tmp\n./a/../b.log",
    "# a comment\n  a.txt  \n\n",
    "*\n!src",
    "*\n!docs/README.md\n!src/main.rs",
    ".*",
    "space?name.txt\ncaf*",
    "a/*/c",
    "**",
    "**\n!a/b/c/d.txt",
    "vendor/*/f\n!vendor/keep/f",
    "*/*.md",
    "Dockerfile",
    ".dockerignore\n*.txt",
];

const DOCKERFILE: &str = "FROM gantry-test/busybox:latest\nCOPY . /ctx\nRUN find /ctx | sort\n";

fn write_tree(dir: &Path, ignore: &str) {
    for file in TREE {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, file.as_bytes()).unwrap();
    }
    std::fs::create_dir_all(dir.join("empty/dir")).unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join(".dockerignore"), ignore).unwrap();
}

/// The `/ctx...` lines of a build's output.
fn listing(output: &str) -> Vec<String> {
    let mut lines: Vec<String> =
        output.lines().map(str::trim).filter(|l| l.starts_with("/ctx")).map(String::from).collect();
    lines.sort();
    lines.dedup();
    lines
}

fn docker_build(dir: &Path, tag: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["build", "--no-cache", "--rm", "-t", tag])
        .arg(dir)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("run docker build");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "docker build failed: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    listing(&text)
}

async fn gantry_build(t: &crate::common::T, dir: &Path, tag: &str) -> Vec<String> {
    let spec =
        BuildSpec { context: dir.to_path_buf(), tag: Some(tag.to_string()), no_cache: true, ..Default::default() };
    let mut stream = t.engine.build_image(&spec);
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let BuildEvent::Output { text: line } = event.unwrap_or_else(|e| panic!("gantry build {tag}: {e}")) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    listing(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerignore_agrees_with_the_docker_cli() {
    let t = setup("dockerignore-diff").await;
    assert!(t.engine.inspect_image(IMAGE).await.is_ok());
    if std::process::Command::new("docker").arg("version").output().map(|o| !o.status.success()).unwrap_or(true) {
        gantry_testkit::skip::skipped("dockerignore_agrees_with_the_docker_cli", "no working docker CLI on PATH");
        return;
    }
    let mut disagreements = Vec::new();
    for (i, ignore) in CORPUS.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), ignore);
        let (theirs_tag, ours_tag) = (t.name(&format!("docker-{i}")), t.name(&format!("gantry-{i}")));
        t.track_image(&theirs_tag);
        t.track_image(&ours_tag);
        let theirs = docker_build(dir.path(), &theirs_tag);
        let ours = gantry_build(&t, dir.path(), &ours_tag).await;
        assert!(theirs.first().is_some_and(|l| l == "/ctx"), "{ignore:?}: no listing from docker build: {theirs:?}");
        if theirs != ours {
            let only_docker: Vec<_> = theirs.iter().filter(|l| !ours.contains(l)).collect();
            let only_gantry: Vec<_> = ours.iter().filter(|l| !theirs.contains(l)).collect();
            disagreements.push(format!("{ignore:?}: only docker {only_docker:?}, only gantry {only_gantry:?}"));
        }
    }
    assert!(disagreements.is_empty(), "Gantry and the docker CLI disagree:\n{}", disagreements.join("\n"));
    gantry_testkit::reliability::fuzz(
        "dockerignore: differential against the docker CLI (shared corpus, files arriving at COPY . /ctx)",
        CORPUS.len() as u64,
        0,
    );
}
