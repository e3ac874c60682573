//! Which driver an instance was created with. Its engine data lives in that driver's VM (QEMU's
//! data disk, or WSL 2's data distribution), so every later command (start, stop, status,
//! delete) uses that driver, whatever the host's choice ([`super::choose_driver`]) would be now:
//! WSL 2 becoming usable, or not, on a Windows machine never strands an instance.
//!
//! The record is a one-word file ([`Instance::driver_record`]) written when the instance first
//! starts and kept with the data (a `delete` without `--data` keeps it). Instances from before
//! the record was kept have none: their driver is chosen as for a new one, and recorded.

use super::choice::{DriverChoice, DriverKind};
use crate::error::{MachineError, Result};
use crate::instance::Instance;

/// What a command does with the instance's VM: [`Intent::Start`] may create it; the others only
/// act on what exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Start (and create when needed): the driver is recorded when it was not yet.
    Start,
    /// Stop, status or delete: the recorded driver, whatever `GANTRY_DRIVER` says.
    Manage,
}

/// The driver `instance` was created with; `None` when it has no record (a new instance, or
/// one from before records were kept). A record that names no driver is
/// [`MachineError::DriverRecord`], never a guess.
pub fn read(instance: &Instance) -> Result<Option<DriverKind>> {
    let path = instance.driver_record();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MachineError::Io { what: "read", path, source: e }),
    };
    match parse(&text) {
        Some(kind) => Ok(Some(kind)),
        None => Err(MachineError::DriverRecord { path, value: text }),
    }
}

/// The driver a record's text names (one word, surrounding spaces and case ignored); `None`
/// for anything else, an empty file included (a record is only written whole).
pub fn parse(text: &str) -> Option<DriverKind> {
    DriverKind::parse_request(text).ok().flatten()
}

/// Records `kind` as `instance`'s driver (written whole: a temporary file renamed over it).
pub fn write(instance: &Instance, kind: DriverKind) -> Result<()> {
    let path = instance.driver_record();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{}\n", kind.name())).map_err(MachineError::io("write", &partial))?;
    std::fs::rename(&partial, &path).map_err(MachineError::io("write", &path))
}

/// The driver for a command with `intent` on an instance whose record says `remembered`, with
/// `requested` from `GANTRY_DRIVER`: the remembered one whenever there is one (`None`: no record,
/// choose as for a new instance). Asking to *start* it with another driver is
/// [`MachineError::DriverMismatch`] (its data is in the other one); stopping, looking at or
/// deleting it uses the remembered driver and says why.
pub fn decide(
    instance: &str,
    remembered: Option<DriverKind>,
    requested: Option<DriverKind>,
    intent: Intent,
) -> Result<Option<DriverChoice>> {
    let Some(kind) = remembered else { return Ok(None) };
    let reason = match requested {
        Some(asked) if asked != kind && intent == Intent::Start => {
            return Err(MachineError::DriverMismatch {
                instance: instance.to_owned(),
                remembered: kind.name(),
                requested: asked.name(),
            });
        }
        Some(asked) if asked != kind => format!(
            "instance {instance} was created with {} ({}={} applies to new instances only)",
            kind.name(),
            super::DRIVER_ENV,
            asked.name()
        ),
        _ => format!("instance {instance} was created with {}", kind.name()),
    };
    Ok(Some(DriverChoice { kind, reason }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use gantry_testkit::prop::{self, proptest::prelude::*};

    use super::*;

    const KINDS: [Option<DriverKind>; 3] = [None, Some(DriverKind::Qemu), Some(DriverKind::Wsl2)];

    /// Every record × request × intent: the remembered driver, no decision, or the one error.
    #[test]
    fn the_remembered_driver_wins_and_only_a_start_with_another_is_refused() {
        for remembered in KINDS {
            for requested in KINDS {
                for intent in [Intent::Start, Intent::Manage] {
                    let got = decide("dev", remembered, requested, intent);
                    match (remembered, requested) {
                        (None, _) => assert_eq!(got.unwrap(), None),
                        (Some(r), Some(q)) if r != q && intent == Intent::Start => {
                            let e = got.unwrap_err();
                            assert!(matches!(e, MachineError::DriverMismatch { .. }), "{e:?}");
                            assert_eq!(
                                e.to_string(),
                                format!(
                                    "instance dev was created with the {} VM driver and keeps its engine data there, \
                                     but GANTRY_DRIVER={} asks for another",
                                    r.name(),
                                    q.name()
                                )
                            );
                            assert!(e.hint().contains("gantry delete --instance dev --data"), "{}", e.hint());
                        }
                        (Some(r), q) => {
                            let choice = got.unwrap().unwrap();
                            assert_eq!(choice.kind, r);
                            assert_eq!(choice.reason.contains("new instances only"), q.is_some_and(|q| q != r));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_record_is_written_whole_read_back_and_a_bad_one_is_named() {
        let t = tempfile::tempdir().unwrap();
        let instance = Instance::at(t.path().join("dev"));
        instance.ensure().unwrap();
        assert_eq!(read(&instance).unwrap(), None);
        write(&instance, DriverKind::Wsl2).unwrap();
        assert_eq!(std::fs::read_to_string(instance.driver_record()).unwrap(), "wsl2\n");
        assert_eq!(read(&instance).unwrap(), Some(DriverKind::Wsl2));
        assert!(!instance.driver_record().with_extension("partial").exists());
        write(&instance, DriverKind::Qemu).unwrap();
        assert_eq!(read(&instance).unwrap(), Some(DriverKind::Qemu));
        for bad in ["", "hyperv\n", "qemu wsl2"] {
            std::fs::write(instance.driver_record(), bad).unwrap();
            let e = read(&instance).unwrap_err();
            assert!(matches!(&e, MachineError::DriverRecord { value, .. } if value == bad), "{e:?}");
            assert!(e.to_string().starts_with(&instance.driver_record().display().to_string()), "{e}");
            assert!(e.hint().contains("qemu"), "{}", e.hint());
        }
    }

    #[test]
    fn the_record_is_kept_with_the_data_and_goes_with_it() {
        let t = tempfile::tempdir().unwrap();
        let instance = Instance::at(t.path().join("dev"));
        instance.ensure().unwrap();
        write(&instance, DriverKind::Qemu).unwrap();
        assert!(!instance.run_files().contains(&instance.driver_record()), "delete without --data keeps it");
        crate::driver::delete_instance_files(&instance, false).unwrap();
        assert_eq!(read(&instance).unwrap(), Some(DriverKind::Qemu));
        crate::driver::delete_instance_files(&instance, true).unwrap();
        assert_eq!(read(&instance).unwrap(), None);
    }

    #[test]
    fn any_record_text_reads_as_its_driver_or_as_none() {
        prop::check(
            "driver record: parser",
            file!(),
            0,
            prop_oneof!["\\s{0,2}(?i:qemu|wsl2)?\\s{0,2}", "\\PC{0,12}"],
            |text| {
                let word = text.trim().to_ascii_lowercase();
                match parse(&text) {
                    Some(kind) => prop_assert_eq!(kind.name(), word),
                    None => prop_assert!(DriverKind::ALL.iter().all(|k| k.name() != word)),
                }
                Ok(())
            },
        );
    }
}
