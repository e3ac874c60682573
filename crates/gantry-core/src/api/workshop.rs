//! Workshops through the one API (the app's workshop views and `gantry workshop`/`gantry doctor
//! --workshop` call these): import a bundle with cancellable progress, what a bundle holds, the
//! workshops imported here, and the preflight. The logic is in gantry-workshop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::Engine;
use gantry_workshop::preflight::{self, AcceleratorFact, PreflightFacts, PreflightReport};
use gantry_workshop::{
    Bundle, ImportEvent, ImportOptions, ImportReport, Manifest, PublicKey, SettingsDefaults, WorkshopError,
};
use serde::Serialize;

use super::{ApiError, ApiResult, Gantry, SaveOutcome, StreamMsg};

/// Where imported workshops are kept unless `GANTRY_WORKSHOPS_DIR` says otherwise.
pub const WORKSHOPS_DIR_ENV: &str = "GANTRY_WORKSHOPS_DIR";

/// The folder of imported workshops (and the room membership): `GANTRY_WORKSHOPS_DIR`, else
/// `workshops/` in Gantry's data folder.
pub fn workshops_dir() -> PathBuf {
    std::env::var_os(WORKSHOPS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| gantry_workshop::workshops_dir(&gantry_machine::instance::root_dir()))
}

impl From<WorkshopError> for ApiError {
    fn from(e: WorkshopError) -> Self {
        ApiError::new(e.code(), e.to_string(), e.hint())
    }
}

/// What a bundle holds, before importing it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkshopBundleView {
    /// The bundle's identity (its manifest's digest), to compare with the trainer's.
    pub id: String,
    /// The signing key's fingerprint, when signed (the signature verified).
    pub signed_by: Option<String>,
    pub manifest: Manifest,
}

/// Opens a bundle, checks its table of contents and signature, and says what it holds.
pub fn inspect_bundle(path: &Path) -> ApiResult<WorkshopBundleView> {
    let bundle = Bundle::open(path)?;
    let signer = bundle.check_signature(None)?;
    Ok(WorkshopBundleView {
        id: bundle.id.to_string(),
        signed_by: signer.as_ref().map(PublicKey::fingerprint),
        manifest: bundle.manifest,
    })
}

/// The workshop preflight: this laptop's facts (the VM's accelerator, free disk, memory, proxy)
/// and, for `bundle`, the labs' ports, the file whole and imported into `engine`.
pub async fn preflight(engine: Option<&Engine>, bundle: Option<&Path>, workshops: &Path) -> PreflightReport {
    let instance = gantry_machine::instance::Instance::default();
    let probe = gantry_machine::accel::Probe::default();
    let remembered = gantry_machine::accel::Remembered::load(&instance.accel_choice());
    let choice = gantry_machine::accel::choose(&probe, remembered.as_ref());
    let mut facts = PreflightFacts {
        accelerator: Some(AcceleratorFact {
            name: choice.accel.name().into(),
            hardware: choice.accel.is_hardware(),
            warning: choice.warning,
        }),
        free_disk: free_bytes(instance.dir()),
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
            facts.import = Some(match engine {
                Some(engine) => preflight::import_facts(engine, workshops, id).await,
                None => preflight::ImportFacts::NotImported,
            });
        }
        facts.bundle = Some(bundle_facts);
    }
    preflight::evaluate(&facts)
}

/// Free bytes on the file system holding `dir` (or its nearest existing ancestor).
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let st = rustix::fs::statvfs(existing).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

impl Gantry {
    /// Imports a workshop bundle into the engine: each step (`opened`, `verifying` with bytes,
    /// `verified`, `loading` per image with bytes, `loaded`, `labs_installed`) as it happens, then
    /// `End` (or `Error` with what is wrong and what to do). Cancelling keeps the finished parts:
    /// importing again continues. `trusted_key`: a `.pub` file or its line; the bundle must be
    /// signed by it. Returns the stream id.
    pub async fn import_workshop(
        &self,
        path: &str,
        trusted_key: Option<&str>,
        sink: impl Fn(StreamMsg<ImportEvent>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let trusted_key = trusted_key.map(PublicKey::read_or_parse).transpose()?;
        let options = ImportOptions { bundle: path.into(), workshops_dir: workshops_dir(), trusted_key };
        Ok(self.streams.spawn_task(move |id, token| async move {
            let sink = Arc::new(sink);
            sink(StreamMsg::Started { id });
            let progress = {
                let sink = Arc::clone(&sink);
                move |event: ImportEvent| sink(StreamMsg::Items { items: vec![event] })
            };
            match gantry_workshop::import(&engine, &options, &progress, &token).await {
                Ok(_) | Err(WorkshopError::Cancelled) => {}
                Err(e) => sink(StreamMsg::Error { error: e.into() }),
            }
            sink(StreamMsg::End);
        }))
    }

    /// What a bundle holds (checked: table of contents and signature), before importing it.
    pub fn inspect_workshop(&self, path: &str) -> ApiResult<WorkshopBundleView> {
        inspect_bundle(Path::new(path))
    }

    /// The workshops imported on this computer, newest first.
    pub fn imported_workshops(&self) -> Vec<ImportReport> {
        gantry_workshop::imported(&workshops_dir())
    }

    /// Applies the trainer's suggested VM CPUs and memory (a bundle's settings defaults) to
    /// Gantry's settings, checked like any settings change (a suggestion larger than this computer
    /// is refused naming the field). The VM takes them on at its next start.
    pub async fn apply_workshop_settings(&self, defaults: &SettingsDefaults) -> ApiResult<SaveOutcome> {
        let mut form = self.get_settings()?.form;
        if let Some(cpus) = defaults.cpus {
            form.cpus = cpus;
        }
        if let Some(memory_mib) = defaults.memory_mib {
            form.memory_mib = memory_mib;
        }
        self.save_settings(&form).await
    }

    /// The workshop preflight (for `bundle` when given), as `gantry doctor --workshop` shows it.
    pub async fn workshop_preflight(&self, bundle: Option<&str>) -> PreflightReport {
        let engine = self.engine().await.ok();
        preflight(engine.as_ref(), bundle.map(Path::new), &workshops_dir()).await
    }
}

#[cfg(test)]
mod tests {
    /// Writes the workshop types the UI uses (`ui/src/lib/bindings/`), with the others
    /// (`cargo test -p gantry-core --features ts export_bindings`).
    #[cfg(feature = "ts")]
    #[test]
    fn export_bindings_workshop() -> Result<(), Box<dyn std::error::Error>> {
        use ts_rs::TS;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
        let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(&dir);
        super::WorkshopBundleView::export_all(&cfg)?;
        gantry_workshop::ImportEvent::export_all(&cfg)?;
        gantry_workshop::ImportReport::export_all(&cfg)?;
        gantry_workshop::preflight::PreflightReport::export_all(&cfg)?;
        gantry_workshop::room::state::RoomSnapshot::export_all(&cfg)?;
        gantry_workshop::room::state::RoomUpdate::export_all(&cfg)?;
        gantry_workshop::room::ServeEvent::export_all(&cfg)?;
        Ok(())
    }

    #[tokio::test]
    async fn the_trainers_suggestions_become_settings_when_they_fit() {
        let dir = tempfile::tempdir().expect("tmp");
        let api = super::Gantry::with_paths(
            dir.path().join("settings.json"),
            crate::credentials::CredentialStore::new(dir.path().join("docker")),
        );
        let before = api.get_settings().expect("settings").form;
        let fits = gantry_workshop::SettingsDefaults { cpus: Some(1), memory_mib: Some(1024), registry_mirror: None };
        api.apply_workshop_settings(&fits).await.expect("applied");
        let after = api.get_settings().expect("settings").form;
        assert_eq!((after.cpus, after.memory_mib), (1, 1024));
        assert_eq!(after.disk_gib, before.disk_gib, "nothing else changes");
        let too_big = gantry_workshop::SettingsDefaults { cpus: Some(10_000), ..fits };
        let e = api.apply_workshop_settings(&too_big).await.expect_err("more CPUs than this computer");
        assert!(e.fields.iter().any(|f| f.field.contains("cpus")), "{e:?}");
        assert_eq!(api.get_settings().expect("settings").form.cpus, 1, "nothing written");
    }

    #[test]
    fn a_missing_bundle_says_what_to_do() {
        let e =
            super::inspect_bundle(std::path::Path::new("/nonexistent/x.gantry-workshop")).expect_err("a missing file");
        assert_eq!(e.code, "io");
        assert!(e.message.contains("/nonexistent/x.gantry-workshop"), "{}", e.message);
    }
}
