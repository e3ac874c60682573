//! `gantry doctor --workshop [BUNDLE]`: is this laptop ready for a workshop (and its bundle)? A
//! short summary for the participant to send to the trainer, as text or JSON.

use std::path::Path;

use gantry_machine::accel::{self, Probe, Remembered};
use gantry_machine::instance::Instance;
use gantry_workshop::preflight::{self, AcceleratorFact, PreflightFacts};

use crate::CliError;

/// Runs the workshop preflight (for `bundle` when given).
pub async fn run(
    bundle: Option<&Path>,
    workshops_dir: &Path,
    engine: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let instance = Instance::default();
    let choice = accel::choose(&Probe::default(), Remembered::load(&instance.accel_choice()).as_ref());
    let mut facts = PreflightFacts {
        accelerator: Some(AcceleratorFact {
            name: choice.accel.name().into(),
            hardware: choice.accel.is_hardware(),
            warning: choice.warning,
        }),
        free_disk: crate::doctor::free_bytes(instance.dir()).ok(),
        available_memory: sysinfo::System::new().ok().map(|mut s| {
            s.refresh_memory();
            s.available_memory()
        }),
        proxy: preflight::proxy_from_env(),
        ..Default::default()
    };
    if let Some(bundle) = bundle {
        let bundle_facts = preflight::bundle_facts(bundle);
        facts.busy_ports = preflight::busy_ports(&bundle_facts.ports);
        if let Some(id) = &bundle_facts.id {
            facts.import = Some(match crate::connect(engine).await {
                Ok(engine) => preflight::import_facts(&engine, workshops_dir, id).await,
                Err(_) => preflight::ImportFacts::NotImported,
            });
        }
        facts.bundle = Some(bundle_facts);
    }
    let report = preflight::evaluate(&facts);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", report.summary);
        for check in report.checks.iter().filter(|c| c.hint.is_some()) {
            println!("  {} → {}", check.name, check.hint.as_deref().unwrap_or_default());
        }
        println!("Send the lines above to the trainer (or `gantry --json doctor --workshop` for JSON).");
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
