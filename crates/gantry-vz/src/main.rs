//! `gantry-vz check CONFIG.json` checks a configuration (any system);
//! `gantry-vz run CONFIG.json` boots it (macOS 13 or newer, signed with the virtualization
//! entitlement: see installer/macos/).

use std::process::ExitCode;

use gantry_vz::config::{VzConfig, check_kernel};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, path) = match args.as_slice() {
        [command, path] if command == "check" || command == "run" => (command.as_str(), path),
        _ => {
            eprintln!("usage: gantry-vz check|run CONFIG.json");
            return ExitCode::from(2);
        }
    };
    let config = match std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")).and_then(|text| {
        let cfg = VzConfig::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
        check_kernel(&cfg.kernel)?;
        Ok(cfg)
    }) {
        Ok(cfg) => cfg,
        Err(e) => {
            println!("{}{e}", gantry_vz::protocol::ERROR);
            return ExitCode::FAILURE;
        }
    };
    if command == "check" {
        println!("gantry-vz: {path} is a valid configuration");
        return ExitCode::SUCCESS;
    }
    run(&config)
}

#[cfg(target_os = "macos")]
fn run(config: &VzConfig) -> ExitCode {
    match gantry_vz::vz::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("{}{e}", gantry_vz::protocol::ERROR);
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "macos"))]
fn run(_config: &VzConfig) -> ExitCode {
    println!("{}Apple Virtualization exists on macOS only", gantry_vz::protocol::ERROR);
    ExitCode::FAILURE
}
