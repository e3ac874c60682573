//! `gantry layers`, `gantry sbom` and `gantry vulns` as a user runs them, against the engine at
//! DOCKER_HOST (./scripts/test starts a private one) and its busybox fixture image.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

const IMAGE: &str = "gantry-test/busybox:latest";

fn gantry(args: &[&str]) -> Output {
    assert!(std::env::var_os("DOCKER_HOST").is_some(), "DOCKER_HOST is not set: run through ./scripts/test");
    Command::new(env!("CARGO_BIN_EXE_gantry")).args(args).env("GANTRY_LANG", "en").output().expect("run gantry")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn layers_sbom_and_vulns_from_the_command_line() {
    let layers = gantry(&["layers", IMAGE, "--json"]);
    assert!(layers.status.success(), "{}", text(&layers));
    let report: serde_json::Value = serde_json::from_slice(&layers.stdout).expect("JSON report");
    assert_eq!(report["wasted_bytes"], 0);
    assert_eq!(report["dive"]["efficiency"], 1.0);
    assert_eq!(report["biggest_files"][0]["path"], "/bin/busybox");
    let tree = gantry(&["layers", IMAGE, "--layer", "0"]);
    assert!(text(&tree).contains("+") && text(&tree).contains("busybox"), "{}", text(&tree));
    let no_layer = gantry(&["layers", IMAGE, "--layer", "9"]);
    assert!(!no_layer.status.success() && text(&no_layer).contains("layers are 0 to 0"), "{}", text(&no_layer));

    let dir = tempfile::tempdir().unwrap();
    let bom_file = dir.path().join("bom.json");
    let sbom = gantry(&["sbom", IMAGE, "--format", "cyclonedx", "-o", bom_file.to_str().unwrap()]);
    assert!(sbom.status.success(), "{}", text(&sbom));
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(&bom_file).unwrap()).expect("CycloneDX JSON");
    assert_eq!((bom["bomFormat"].as_str(), bom["specVersion"].as_str()), (Some("CycloneDX"), Some("1.5")));
    assert_eq!(bom["metadata"]["component"]["type"], "container");

    let missing_db = gantry(&["vulns", IMAGE, "--db", "/no/such/osv.json"]);
    assert!(!missing_db.status.success());
    assert!(text(&missing_db).contains("read /no/such/osv.json"), "{}", text(&missing_db));
    let bad_db = dir.path().join("bad.json");
    std::fs::write(&bad_db, "{\"not\": \"osv\"}").unwrap();
    let bad = gantry(&["vulns", IMAGE, "--db", bad_db.to_str().unwrap()]);
    assert!(text(&bad).contains("not an OSV vulnerability database"), "{}", text(&bad));
    let missing_image = gantry(&["sbom", "gantry-test/no-such-image:1"]);
    assert!(text(&missing_image).contains("does not exist"), "{}", text(&missing_image));
    gantry_testkit::reliability::bad_inputs("gantry layers / sbom / vulns", 4);
}
