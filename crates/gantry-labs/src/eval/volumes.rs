//! Volume checks (exists, absent, holds a file with text) and the image's files.

use gantry_engine::{Engine, RemoveOptions, RunSpec};

use super::{CheckResult, Eval, HELPER_PREFIX, answered, optional};
use crate::check::VolumeFile;

/// Most bytes of a file read to look for its text.
const MAX_FILE: usize = 1024 * 1024;

pub async fn exists(engine: &Engine, volume: &str) -> Eval<CheckResult> {
    let found = optional(engine.inspect_volume(volume).await)?;
    Ok(CheckResult::given(found.is_some(), format!("there is no volume `{volume}`"), format!("нет тома `{volume}`")))
}

pub async fn absent(engine: &Engine, volume: &str) -> Eval<CheckResult> {
    let found = optional(engine.inspect_volume(volume).await)?;
    Ok(CheckResult::given(
        found.is_none(),
        format!("volume `{volume}` is still there"),
        format!("том `{volume}` ещё есть"),
    ))
}

fn helper_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{HELPER_PREFIX}{}-{nanos}", std::process::id())
}

/// Creates a helper container from `image` to look at the image's files: never started, removed
/// with [`remove_helper`] right after use.
async fn create_helper(engine: &Engine, image: &str) -> Eval<String> {
    let mut spec = RunSpec::new(image);
    spec.name = Some(helper_name());
    spec.command = vec!["true".into()];
    spec.labels = vec![(gantry_engine::volume_files::HELPER_LABEL.into(), "lab-check".into())];
    answered(engine.create_container(&spec).await)
}

async fn remove_helper(engine: &Engine, helper: &str) {
    if let Err(e) = engine.remove_container(helper, RemoveOptions { force: true, volumes: false }).await {
        tracing::warn!(%helper, error = %e, "could not remove the helper container of a lab check");
    }
}

/// Reads `path` (relative to the volume's root) through a container that mounts the volume: one
/// that already does, else the engine's read-only volume helper.
async fn read(engine: &Engine, volume: &str, path: &str) -> Eval<Option<Vec<u8>>> {
    let info = answered(engine.inspect_volume(volume).await)?;
    let relative = path.trim_start_matches("./");
    for user in &info.used_by {
        let Some(details) = optional(engine.inspect_container(user).await)? else { continue };
        let Some(mount) = details.mounts.iter().find(|m| m.kind == "volume" && m.source == volume) else { continue };
        let full = format!("{}/{relative}", mount.target.trim_end_matches('/'));
        return Ok(answered(engine.read_container_file(&details.id, &full, MAX_FILE).await)?.map(|f| f.bytes));
    }
    Ok(answered(engine.read_volume_file(volume, relative, MAX_FILE).await)?.map(|f| f.bytes))
}

/// `image_file_absent`: nothing at `path` in `image`.
pub async fn image_file_absent(engine: &Engine, image: &str, path: &str) -> Eval<CheckResult> {
    if optional(engine.inspect_image(image).await)?.is_none() {
        return Ok(CheckResult::fail(format!("there is no image `{image}`"), format!("нет образа `{image}`")));
    }
    let helper = create_helper(engine, image).await?;
    let read = engine.read_container_file(&helper, path, 0).await;
    remove_helper(engine, &helper).await;
    let found = match read {
        Ok(found) => found.is_some(),
        // A directory, link or device: something is there.
        Err(gantry_engine::EngineError::InvalidRequest { .. }) => true,
        Err(e) => return Err(CheckResult::error(&e)),
    };
    Ok(CheckResult::given(
        !found,
        format!("`{image}` contains `{path}`: keep it out of the build context (.dockerignore)"),
        format!("в `{image}` есть `{path}`: не включайте его в контекст сборки (.dockerignore)"),
    ))
}

pub async fn file(engine: &Engine, check: &VolumeFile) -> Eval<CheckResult> {
    if optional(engine.inspect_volume(&check.volume).await)?.is_none() {
        return Ok(CheckResult::fail(
            format!("there is no volume `{}`", check.volume),
            format!("нет тома `{}`", check.volume),
        ));
    }
    let Some(bytes) = read(engine, &check.volume, &check.path).await? else {
        return Ok(CheckResult::fail(
            format!("volume `{}` has no file `{}`", check.volume, check.path),
            format!("в томе `{}` нет файла `{}`", check.volume, check.path),
        ));
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(match &check.contains {
        Some(want) if !text.contains(want.as_str()) => CheckResult::fail(
            format!("`{}` in volume `{}` does not contain `{want}`", check.path, check.volume),
            format!("в файле `{}` тома `{}` нет текста `{want}`", check.path, check.volume),
        ),
        _ => CheckResult::pass(),
    })
}
