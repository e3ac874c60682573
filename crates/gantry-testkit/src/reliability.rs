//! The records behind docs/reliability.md.
//!
//! When `GANTRY_RELIABILITY_LOG` names a file (`./scripts/test` sets it), every fault scenario and
//! fuzz target that ran appends one JSON line to it; the test command prints the counts in its
//! summary and writes the tables of docs/reliability.md from them. Outside the test command
//! nothing is written.

use std::io::Write;

/// The variable naming the JSON-lines file.
pub const LOG_VAR: &str = "GANTRY_RELIABILITY_LOG";

/// Records one fault scenario: what was done to Gantry, what must hold afterwards, and what did.
/// Call it at the end of the test, after the assertions passed (`result` then says what was seen).
pub fn fault(scenario: &str, must_hold: &str, result: &str) {
    append(serde_json::json!({
        "kind": "fault",
        "scenario": scenario,
        "must_hold": must_hold,
        "result": result,
    }));
}

/// Records one fuzz / property target: the inputs tried in this run and the crashers found so far
/// (kept as regression cases).
pub fn fuzz(target: &str, inputs_tried: u64, crashers_fixed: u32) {
    append(serde_json::json!({
        "kind": "fuzz",
        "target": target,
        "inputs": inputs_tried,
        "crashers_fixed": crashers_fixed,
    }));
}

/// Records how many bad inputs a test tried against one entry point (all refused with a specific
/// error, none lost data).
pub fn bad_inputs(entry_point: &str, tried: u64) {
    append(serde_json::json!({ "kind": "bad_inputs", "entry_point": entry_point, "tried": tried }));
}

/// Records a test that did not run here, and why (see [`crate::skip::skipped`]).
pub fn skipped(test: &str, why: &str) {
    append(serde_json::json!({ "kind": "skipped", "test": test, "why": why }));
}

fn append(record: serde_json::Value) {
    if let Some(path) = std::env::var_os(LOG_VAR).filter(|p| !p.is_empty()) {
        append_to(std::path::Path::new(&path), &record);
    }
}

fn append_to(path: &std::path::Path, record: &serde_json::Value) {
    let mut line = record.to_string();
    line.push('\n');
    // One write of a short line on an O_APPEND file: records of parallel tests do not interleave.
    let written =
        std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("reliability log {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_json_lines() {
        let dir = std::env::temp_dir().join(format!("gantry-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let log = dir.join("rel.jsonl");
        let _ = std::fs::remove_file(&log);
        super::append_to(&log, &serde_json::json!({"kind": "fault", "scenario": "kill -9 \"agent\""}));
        super::append_to(&log, &serde_json::json!({"kind": "fuzz", "inputs": 10}));
        let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"))).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["scenario"], "kill -9 \"agent\"");
        assert_eq!(lines[1]["inputs"], 10);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
