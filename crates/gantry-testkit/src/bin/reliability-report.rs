//! `reliability-report LOG [DOC]`: prints the totals of a test run's reliability records (the
//! JSON lines of `GANTRY_RELIABILITY_LOG`) and, with DOC, rewrites that document's generated
//! tables (docs/reliability.md). `scripts/reliability-report` and `GANTRY_REFRESH_DOCS=1
//! ./scripts/test` call it.

use std::process::ExitCode;

use gantry_testkit::report::{Records, update_document};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(log) = args.first() else {
        eprintln!("usage: reliability-report LOG [DOC]");
        return ExitCode::from(2);
    };
    let records = match std::fs::read_to_string(log) {
        Ok(text) => Records::parse(&text),
        Err(e) => {
            eprintln!("reliability-report: cannot read {log}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = records.totals();
    println!(
        "reliability: {} fault scenarios survived, {} fuzz targets ({} inputs), {} bad inputs refused, {} tests skipped",
        t.faults, t.fuzz_targets, t.fuzz_inputs, t.bad_inputs, t.skipped
    );
    if let Some(doc) = args.get(1) {
        let old = std::fs::read_to_string(doc).unwrap_or_else(|_| "# Reliability\n".into());
        if let Err(e) = std::fs::write(doc, update_document(&old, &records)) {
            eprintln!("reliability-report: cannot write {doc}: {e}");
            return ExitCode::FAILURE;
        }
        println!("reliability: wrote {doc}");
    }
    ExitCode::SUCCESS
}
