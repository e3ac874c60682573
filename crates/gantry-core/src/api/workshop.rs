//! Workshops through the one API (the app's workshop views and `gantry workshop`/`gantry doctor
//! --workshop` call these): import a bundle with cancellable progress, what a bundle holds, the
//! workshops imported here, and the preflight. The logic is in gantry-workshop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_engine::{Engine, EngineErrorCode};
use gantry_workshop::preflight::{self, AcceleratorFact, PreflightFacts, PreflightReport};
use gantry_workshop::{
    Bundle, ImportEvent, ImportOptions, ImportReport, Manifest, PublicKey, SettingsDefaults, WorkshopError,
};
use serde::Serialize;

use super::{ApiError, ApiResult, ErrorCode, Gantry, GantryErrorCode, SaveOutcome, SettingsForm, StreamMsg};

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
        ApiError::new(workshop_code(&e), e.to_string(), e.hint())
    }
}

/// The code of a workshop failure at the UI boundary (the same text as [`WorkshopError::code`]).
fn workshop_code(e: &WorkshopError) -> ErrorCode {
    use GantryErrorCode as G;
    match e {
        WorkshopError::NotABundle { .. } => G::WorkshopNotABundle.into(),
        WorkshopError::Truncated { .. } => G::WorkshopTruncated.into(),
        WorkshopError::Corrupt { .. } => G::WorkshopCorrupt.into(),
        WorkshopError::NewerFormat { .. } => G::WorkshopNewerFormat.into(),
        WorkshopError::Signature { .. } => G::WorkshopSignature.into(),
        WorkshopError::Key { .. } => G::WorkshopKey.into(),
        WorkshopError::Invalid { .. } => G::WorkshopInvalid.into(),
        WorkshopError::Lab { .. } => G::WorkshopLab.into(),
        WorkshopError::SavedArchive { .. } => G::WorkshopSavedArchive.into(),
        WorkshopError::Io { .. } => G::Io.into(),
        WorkshopError::Engine(e) => e.code().into(),
        WorkshopError::Cancelled => EngineErrorCode::Cancelled.into(),
        _ => G::WorkshopInvalid.into(),
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
    pub async fn workshop_import(
        &self,
        path: String,
        trusted_key: Option<String>,
        sink: impl Fn(StreamMsg<ImportEvent>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        let engine = self.engine().await?;
        let trusted_key = trusted_key.as_deref().map(PublicKey::read_or_parse).transpose()?;
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
    pub async fn workshop_inspect(&self, path: String) -> ApiResult<WorkshopBundleView> {
        inspect_bundle(Path::new(&path))
    }

    /// The workshops imported on this computer, newest first.
    pub async fn workshop_list(&self) -> ApiResult<Vec<ImportReport>> {
        Ok(gantry_workshop::imported(&workshops_dir()))
    }

    /// Applies the trainer's suggested VM CPUs, memory and registry mirror (a bundle's settings
    /// defaults) to Gantry's settings, checked like any settings change (a suggestion larger than
    /// this computer is refused naming the field). A mirror already listed keeps its pinned
    /// certificate. The VM takes them on at its next start.
    pub async fn workshop_apply_settings(&self, defaults: SettingsDefaults) -> ApiResult<SaveOutcome> {
        let mut form: SettingsForm = self.settings_get().await?.form;
        if let Some(cpus) = defaults.cpus {
            form.cpus = cpus;
        }
        if let Some(memory_mib) = defaults.memory_mib {
            form.memory_mib = memory_mib;
        }
        if let Some(url) = defaults.registry_mirror.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            let same = |m: &super::RegistryMirrorEntry| m.url.trim_end_matches('/') == url.trim_end_matches('/');
            if !form.registry_mirrors.iter().any(same) {
                form.registry_mirrors.push(super::RegistryMirrorEntry { url: url.to_owned(), ca_pem: None });
            }
        }
        self.settings_save(form).await
    }

    /// The workshop preflight (for `bundle` when given), as `gantry doctor --workshop` shows it.
    pub async fn workshop_preflight(&self, bundle: Option<String>) -> ApiResult<PreflightReport> {
        let engine = self.engine().await.ok();
        Ok(preflight(engine.as_ref(), bundle.as_deref().map(Path::new), &workshops_dir()).await)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_trainers_suggestions_become_settings_when_they_fit() {
        let dir = tempfile::tempdir().expect("tmp");
        let api = super::Gantry::with_paths(
            dir.path().join("settings.json"),
            crate::credentials::CredentialStore::new(dir.path().join("docker")),
        );
        let before = api.settings_get().await.expect("settings").form;
        let fits = gantry_workshop::SettingsDefaults { cpus: Some(1), memory_mib: Some(1024), registry_mirror: None };
        api.workshop_apply_settings(fits.clone()).await.expect("applied");
        let after = api.settings_get().await.expect("settings").form;
        assert_eq!((after.cpus, after.memory_mib), (1, 1024));
        assert_eq!(after.disk_gib, before.disk_gib, "nothing else changes");
        let too_big = gantry_workshop::SettingsDefaults { cpus: Some(10_000), ..fits };
        let e = api.workshop_apply_settings(too_big).await.expect_err("more CPUs than this computer");
        assert!(e.fields.iter().any(|f| f.field.contains("cpus")), "{e:?}");
        assert_eq!(api.settings_get().await.expect("settings").form.cpus, 1, "nothing written");

        let mirror = gantry_workshop::SettingsDefaults {
            registry_mirror: Some("https://192.168.1.20:5443".into()),
            ..Default::default()
        };
        let outcome = api.workshop_apply_settings(mirror.clone()).await.expect("mirror applied");
        assert!(outcome.needs_vm_restart, "the VM's engine reads its mirrors when it starts");
        api.workshop_apply_settings(mirror).await.expect("applied twice");
        let mirrors = api.settings_get().await.expect("settings").form.registry_mirrors;
        assert_eq!(mirrors.len(), 1, "{mirrors:?}");
        let plain =
            gantry_workshop::SettingsDefaults { registry_mirror: Some("http://x".into()), ..Default::default() };
        let e = api.workshop_apply_settings(plain).await.expect_err("a plain-HTTP mirror");
        assert!(e.fields.iter().any(|f| f.field == "vm.registry_mirrors[1]"), "{e:?}");
    }

    #[test]
    fn workshop_codes_at_the_boundary_are_the_workshop_crates_texts() -> Result<(), serde_json::Error> {
        use gantry_workshop::WorkshopError as W;
        let path = std::path::PathBuf::from("/x.gantry-workshop");
        let reason = String::from("r");
        let errors = [
            W::NotABundle { path: path.clone(), reason: reason.clone() },
            W::Truncated { path: path.clone(), reason: reason.clone() },
            W::Corrupt { path: path.clone(), part: "p".into(), expected: "a".into(), actual: "b".into() },
            W::NewerFormat { path: path.clone(), found: 9, supported: 1 },
            W::Signature { path: path.clone(), reason: reason.clone() },
            W::Key { path: path.clone(), reason: reason.clone() },
            W::invalid("m", "h"),
            W::Lab { lab: "l".into(), reason: reason.clone() },
            W::SavedArchive { image: "i".into(), reason },
            W::Io { action: "read", path, source: std::io::Error::other("x") },
            W::Cancelled,
        ];
        for e in errors {
            assert_eq!(serde_json::to_value(super::workshop_code(&e))?, e.code(), "{e:?}");
        }
        Ok(())
    }

    #[test]
    fn a_missing_bundle_says_what_to_do() {
        let e =
            super::inspect_bundle(std::path::Path::new("/nonexistent/x.gantry-workshop")).expect_err("a missing file");
        assert_eq!(e.code, super::GantryErrorCode::Io);
        assert!(e.message.contains("/nonexistent/x.gantry-workshop"), "{}", e.message);
    }
}
