//! Accelerator detection benchmark (issue 13, item 3): how long a start takes to know whether the
//! hardware accelerator works, with the test guest ([`gantry_machine::accel_probe`]) against the
//! boot's stall check alone (the baseline: what Gantry did before the probe), in the same run.
//!
//! Each side starts a fresh instance with the real guest image and the host's hardware
//! accelerator and stops timing at the decision: the fall-back to TCG, or the accelerator shown
//! to work (test guest finished / guest console alive). The VM is then killed: the boot itself
//! is not measured here (`./scripts/bench vm` does that).
//!
//! Run: `cargo bench -p gantry-machine --bench accel` (`./scripts/bench accel`); needs QEMU and
//! the guest image. Without a hardware accelerator it says so and measures nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gantry_machine::accel::{self, Accel, HostOs, Probe};
use gantry_machine::accel_probe::{self, Verdict};
use gantry_machine::driver::{BootEvent, Driver, MachineConfig, QemuDriver, StopMode};
use gantry_machine::instance::Instance;

/// The first decision a start makes about the accelerator, and when.
#[derive(Debug, Clone)]
struct Decision {
    after: Duration,
    what: String,
}

async fn time_to_decision(probe_first: bool) -> Decision {
    let t = tempfile::tempdir().unwrap();
    let inst = Instance::at(t.path().join("bench"));
    inst.ensure().unwrap();
    let d = QemuDriver::new(inst);
    let cfg = MachineConfig { accel_probe: probe_first, disk_gib: 1, ..Default::default() };
    d.create(&cfg).await.unwrap();
    let decided: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = decided.clone();
    let progress = move |ev: BootEvent| {
        let what = match ev {
            BootEvent::FellBack { from, reason } => format!("{from} → tcg: {reason}"),
            BootEvent::AccelWorks { accel, .. } => format!("{accel} ran the test guest"),
            BootEvent::ConsoleAlive { .. } => "console alive: the accelerator runs the guest".into(),
            _ => return,
        };
        let mut s = seen.lock().unwrap();
        if s.is_none() {
            *s = Some(what);
        }
    };
    let started = Instant::now();
    let mut boot = Box::pin(d.start(&cfg, &progress));
    let decision = loop {
        tokio::select! {
            r = &mut boot => panic!("the start ended before a decision: {r:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Some(what) = decided.lock().unwrap().clone() {
                    break Decision { after: started.elapsed(), what };
                }
            }
        }
    };
    drop(boot);
    // a TCG QEMU launched just before the drop writes its pid file at once: then stop finds it
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.stop(Duration::from_secs(1), StopMode::PowerOff).await.unwrap();
    decision
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let detected = accel::detect(&Probe::default());
    if !detected.accel.is_hardware() {
        println!("no hardware accelerator here ({detected:?}): nothing to detect, nothing measured");
        return;
    }
    println!("hardware accelerator: {} (the probe and the stall check decide about it)", detected.accel);
    let before = time_to_decision(false).await;
    println!("stall check alone (before): {:.2} s: {}", before.after.as_secs_f64(), before.what);
    let after = time_to_decision(true).await;
    println!("test guest first (after):   {:.2} s: {}", after.after.as_secs_f64(), after.what);
    // what the test guest costs a start when the accelerator works: TCG stands in for it here
    // (a working KVM/HVF/WHPX runs it faster still)
    let qemu = QemuDriver::new(Instance::at("/nonexistent")).qemu;
    let t = Instant::now();
    let outcome = accel_probe::run(&qemu, Accel::Tcg, HostOs::current(), Duration::from_secs(60)).await;
    let tcg_cost = t.elapsed();
    assert!(matches!(accel_probe::classify(Accel::Tcg, &outcome), Verdict::Works { .. }), "{outcome:?}");
    println!("the test guest under TCG (its cost when the accelerator works): {:.2} s", tcg_cost.as_secs_f64());
    println!(
        "\n| accelerator | before: the boot's stall check | after: test guest first | after / before |\n|---|---|---|---|\n\
         | {} | {:.2} s ({}) | {:.2} s ({}) | {:.2}× |\n\nThe test guest under TCG, its cost on a start when the accelerator works: {:.2} s.",
        detected.accel,
        before.after.as_secs_f64(),
        before.what,
        after.after.as_secs_f64(),
        after.what,
        after.after.as_secs_f64() / before.after.as_secs_f64().max(0.001),
        tcg_cost.as_secs_f64()
    );
}
