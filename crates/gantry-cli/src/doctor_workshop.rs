//! `gantry doctor --workshop [BUNDLE]`: is this laptop ready for a workshop (and its bundle)? A
//! short summary for the participant to send to the trainer, as text or JSON.

use std::path::Path;

use crate::CliError;

/// Runs the workshop preflight (for `bundle` when given).
pub async fn run(
    bundle: Option<&Path>,
    workshops_dir: &Path,
    engine: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let engine = match bundle {
        Some(_) => crate::connect(engine).await.ok(),
        None => None,
    };
    let report = gantry_core::api::workshop::preflight(engine.as_ref(), bundle, workshops_dir).await;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.summary);
        for check in report.checks.iter().filter(|c| c.hint.is_some()) {
            println!("  {} → {}", check.name, check.hint.as_deref().unwrap_or_default());
        }
        println!("Send the lines above to the trainer (or `gantry doctor --workshop --json` for JSON).");
    }
    if report.ready {
        Ok(())
    } else {
        Err(CliError::new(
            "this laptop is not ready for the workshop yet",
            "fix the FAIL lines above, then run it again",
        ))
    }
}
