//! `gantry workshop import FILE`: check the bundle (table of contents, signature, every part's
//! digest), load its images into the engine and install its labs, resumably and offline.
//!
//! Order: nothing touches the engine until every part's digest matched, so a corrupt or truncated
//! bundle is refused with nothing imported. Each image is loaded in one `docker load` request that
//! the engine commits only when the archive ended well (a kill or cancel mid-image leaves no
//! trace of it); images already in the engine with the expected ID are skipped; labs are unpacked
//! into a hidden folder and renamed into place. The journal (see [`journal`]) lets a second run
//! skip the verified parts. The only connection opened is the engine's.

pub mod archive;
pub mod journal;
pub mod plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gantry_engine::{CancellationToken, Engine, ImageStore};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::bundle::Bundle;
use crate::digest::{Digest, Hasher};
use crate::error::{Result, WorkshopError};
use crate::labs::install_lab;
use crate::manifest::SettingsDefaults;
use crate::oci::Platform;
use crate::sign::PublicKey;
use archive::StreamState;
use journal::{FileIdentity, Journal};
use plan::ImagePlan;

/// The folder of imported workshops under Gantry's data folder.
pub fn workshops_dir(gantry_root: &Path) -> PathBuf {
    gantry_root.join("workshops")
}

/// An imported workshop's record file (in its folder), and the folder of its labs.
pub const RECORD_FILE: &str = "workshop.json";
pub const LABS_DIR: &str = "labs";

/// Bytes verified between two progress reports.
const REPORT_EVERY: u64 = 16 * 1024 * 1024;

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub bundle: PathBuf,
    /// Where imported workshops are kept ([`workshops_dir`]).
    pub workshops_dir: PathBuf,
    /// Require a signature by this key.
    pub trusted_key: Option<PublicKey>,
}

/// Progress of an import.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ImportEvent {
    /// The bundle's table of contents and signature are fine.
    Opened { title: String, id: Digest, parts: usize, bytes: u64, signed_by: Option<String> },
    /// Checking digests: bytes done of those still to check.
    Verifying { part: String, done: u64, total: u64 },
    /// Every part matched its digest (`resumed` of them were checked by an earlier run).
    Verified { parts: usize, resumed: usize },
    /// Sending an image to the engine.
    Loading { image: String, platforms: Vec<Platform>, done: u64, total: u64 },
    /// An image is in the engine.
    Loaded { image: String, id: String, already_present: bool },
    /// A classic engine gets a platform other than its own: its containers run emulated.
    Emulated { image: String, platform: Platform, engine: Platform },
    /// The labs are in place.
    LabsInstalled { labs: Vec<String>, dir: PathBuf },
}

/// One image after an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportedImage {
    pub name: String,
    pub id: String,
    /// The platforms the engine got (all of the bundle's on the containerd store, one otherwise).
    pub platforms: Vec<Platform>,
    pub already_present: bool,
}

/// An imported workshop (kept as `workshop.json` in its folder; also what an import returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportReport {
    pub id: Digest,
    pub title: String,
    pub bundle: PathBuf,
    pub images: Vec<ImportedImage>,
    pub labs: Vec<String>,
    pub labs_dir: PathBuf,
    /// Parts whose digest this run checked, and those an earlier run had.
    pub verified_now: usize,
    pub verified_before: usize,
    pub signed_by: Option<String>,
    pub settings: SettingsDefaults,
    /// The engine endpoint it was imported into.
    pub engine: String,
}

/// Imports a bundle into `engine` (see the module documentation).
pub async fn import(
    engine: &Engine,
    options: &ImportOptions,
    progress: &(dyn Fn(ImportEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<ImportReport> {
    let bundle = Bundle::open(&options.bundle)?;
    let signer = bundle.check_signature(options.trusted_key.as_ref())?;
    let m = &bundle.manifest;
    progress(ImportEvent::Opened {
        title: m.title.clone(),
        id: bundle.id.clone(),
        parts: m.parts.len(),
        bytes: m.total_size(),
        signed_by: signer.as_ref().map(PublicKey::fingerprint),
    });
    let dir = options.workshops_dir.join(bundle.id.hex());
    let identity = FileIdentity::of(&bundle.path)?;
    let mut journal = Journal::load(&dir, &bundle.id, &identity);

    let resumed = m.parts.iter().filter(|p| journal.verified.contains(&p.path)).count();
    let verified_now = verify(&bundle, &mut journal, &dir, progress, cancel).await?;
    progress(ImportEvent::Verified { parts: m.parts.len(), resumed });

    let plans = m.images.iter().map(|entry| ImagePlan::read(&bundle, entry)).collect::<Result<Vec<_>>>()?;
    let mut images = Vec::new();
    if !plans.is_empty() {
        let store = engine.image_store().await?;
        let version = engine.version().await?;
        let engine_platform = Platform::new(&version.os, &version.arch, None);
        for plan in &plans {
            let image = load_image(engine, &bundle, plan, store, &engine_platform, progress, cancel).await?;
            journal.loaded.insert(image.name.clone(), image.id.clone());
            journal.save(&dir)?;
            images.push(image);
        }
    }

    let labs_dir = dir.join(LABS_DIR);
    install_labs(&bundle, &labs_dir, cancel)?;
    let labs: Vec<String> = m.labs.iter().map(|l| l.id.clone()).collect();
    progress(ImportEvent::LabsInstalled { labs: labs.clone(), dir: labs_dir.clone() });

    let report = ImportReport {
        id: bundle.id.clone(),
        title: m.title.clone(),
        bundle: bundle.path.clone(),
        images,
        labs,
        labs_dir,
        verified_now,
        verified_before: resumed,
        signed_by: signer.as_ref().map(PublicKey::fingerprint),
        settings: m.settings.clone(),
        engine: engine.endpoint().to_string(),
    };
    write_record(&dir, &report)?;
    journal.completed = true;
    journal.save(&dir)?;
    Ok(report)
}

/// Imported workshops, newest first (those whose import completed).
pub fn imported(workshops_dir: &Path) -> Vec<ImportReport> {
    let mut found: Vec<(std::time::SystemTime, ImportReport)> = std::fs::read_dir(workshops_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path().join(RECORD_FILE);
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
            let report = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            Some((modified, report))
        })
        .collect();
    found.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    found.into_iter().map(|(_, r)| r).collect()
}

fn write_record(dir: &Path, report: &ImportReport) -> Result<()> {
    let path = dir.join(RECORD_FILE);
    let temp = dir.join(format!(".{RECORD_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(report).map_err(|e| WorkshopError::invalid(e.to_string(), ""))?;
    std::fs::write(&temp, bytes).map_err(WorkshopError::io("write", &temp))?;
    std::fs::rename(&temp, &path).map_err(WorkshopError::io("write", &path))
}

/// Checks the digest of every part the journal does not list yet; returns how many it checked.
async fn verify(
    bundle: &Bundle,
    journal: &mut Journal,
    dir: &Path,
    progress: &(dyn Fn(ImportEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<usize> {
    let todo: Vec<_> = bundle.manifest.parts.iter().filter(|p| !journal.verified.contains(&p.path)).collect();
    let total: u64 = todo.iter().map(|p| p.size).sum();
    let mut done = 0u64;
    let mut next_report = 0u64;
    let mut buf = vec![0u8; 1024 * 1024];
    let mut file = tokio::fs::File::open(&bundle.path).await.map_err(WorkshopError::io("open", &bundle.path))?;
    for part in &todo {
        let offset =
            bundle.offset(part).ok_or_else(|| bundle.not_bundle(format!("{} has no place in the file", part.path)))?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(WorkshopError::io("read", &bundle.path))?;
        let mut hasher = Hasher::new();
        let mut left = part.size;
        while left > 0 {
            if cancel.is_cancelled() {
                return Err(WorkshopError::Cancelled);
            }
            let want = left.min(buf.len() as u64) as usize;
            let n = file.read(&mut buf[..want]).await.map_err(WorkshopError::io("read", &bundle.path))?;
            if n == 0 {
                return Err(WorkshopError::Truncated {
                    path: bundle.path.clone(),
                    reason: format!("{} is cut off (the file became shorter after it was opened)", part.path),
                });
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
            done += n as u64;
            if done >= next_report {
                progress(ImportEvent::Verifying { part: part.path.clone(), done, total });
                next_report = done + REPORT_EVERY;
            }
        }
        bundle.check_digest(part, hasher.finish())?;
        journal.verified.insert(part.path.clone());
        // Saved per part: a kill keeps what was checked (cheap: one small file per part).
        journal.save(dir)?;
    }
    if total > 0 {
        progress(ImportEvent::Verifying { part: String::new(), done: total, total });
    }
    Ok(todo.len())
}

/// Loads one image unless the engine has it already.
async fn load_image(
    engine: &Engine,
    bundle: &Bundle,
    plan: &ImagePlan,
    store: ImageStore,
    engine_platform: &Platform,
    progress: &(dyn Fn(ImportEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<ImportedImage> {
    let (chosen, native) = plan
        .platform_for(engine_platform)
        .ok_or_else(|| bundle.not_bundle(format!("image {} has no platform", plan.name)))?;
    let platforms: Vec<Platform> = match store {
        ImageStore::Classic => vec![chosen.platform.clone()],
        ImageStore::Containerd => plan.platforms.iter().map(|p| p.platform.clone()).collect(),
    };
    let wanted_id = plan.expected_id(store, chosen);
    if let Ok(existing) = engine.inspect_image(&plan.name).await
        && existing.id == wanted_id
    {
        progress(ImportEvent::Loaded { image: plan.name.clone(), id: existing.id, already_present: true });
        return Ok(ImportedImage { name: plan.name.clone(), id: wanted_id, platforms, already_present: true });
    }
    if store == ImageStore::Classic && !native {
        progress(ImportEvent::Emulated {
            image: plan.name.clone(),
            platform: chosen.platform.clone(),
            engine: engine_platform.clone(),
        });
    }
    let archive = plan.archive(bundle, store, chosen)?;
    let total = archive.len();
    let state = Arc::new(StreamState::default());
    let body = archive.into_stream(bundle.path.clone(), state.clone());
    let label = format!("{} from {}", plan.name, bundle.path.display());
    let load = engine.load_images_from_stream(body, &label);
    tokio::pin!(load);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let outcome = loop {
        tokio::select! {
            result = &mut load => break result,
            _ = tick.tick() => progress(ImportEvent::Loading {
                image: plan.name.clone(),
                platforms: platforms.clone(),
                done: state.sent.load(Ordering::Relaxed),
                total,
            }),
            _ = cancel.cancelled() => return Err(WorkshopError::Cancelled),
        }
    };
    // A failure on our side (a corrupt part) explains the engine's "unexpected EOF".
    if let Some(failure) = state.failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(failure);
    }
    outcome?;
    progress(ImportEvent::Loading { image: plan.name.clone(), platforms: platforms.clone(), done: total, total });
    let id = engine.inspect_image(&plan.name).await?.id;
    if id != wanted_id {
        return Err(WorkshopError::invalid(
            format!("{} was loaded, but the engine gives it ID {id}, not {wanted_id}", plan.name),
            "the engine changed the image while loading it; report the engine version",
        ));
    }
    progress(ImportEvent::Loaded { image: plan.name.clone(), id: id.clone(), already_present: false });
    Ok(ImportedImage { name: plan.name.clone(), id, platforms, already_present: false })
}

/// Unpacks every lab into a hidden folder beside `labs_dir`, then swaps it into place.
fn install_labs(bundle: &Bundle, labs_dir: &Path, cancel: &CancellationToken) -> Result<()> {
    let parent = labs_dir.parent().unwrap_or(Path::new("."));
    let staging = parent.join(".labs.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(WorkshopError::io("remove", &staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(WorkshopError::io("create", &staging))?;
    for lab in &bundle.manifest.labs {
        if cancel.is_cancelled() {
            return Err(WorkshopError::Cancelled);
        }
        let part = bundle.blob(&lab.digest, &format!("lab {}", lab.id))?;
        let bytes = bundle.read_part(part, crate::labs::MAX_LAB_BYTES)?;
        install_lab(&lab.id, &bytes, &staging.join(&lab.id))?;
    }
    if labs_dir.exists() {
        std::fs::remove_dir_all(labs_dir).map_err(WorkshopError::io("replace", labs_dir))?;
    }
    std::fs::rename(&staging, labs_dir).map_err(WorkshopError::io("rename to", labs_dir))
}
