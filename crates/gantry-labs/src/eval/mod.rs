//! Evaluating one check against the engine: pass, fail (with why, in the learner's languages), or
//! error (the engine did not answer).

mod containers;
mod files;
mod http;
mod images;
mod networks;
mod volumes;

use std::path::PathBuf;

use gantry_engine::{Engine, EngineError, Event};
use serde::Serialize;

use crate::check::{CheckSpec, EventSeen};
use crate::placeholders::Values;
use crate::text::Text;

pub(crate) use containers::same_reference;
pub use http::{HttpAnswer, http_get};

/// Name prefix of the short-lived containers Gantry creates to read a volume's files (created,
/// never started, removed at once). The checker ignores their events.
pub const HELPER_PREFIX: &str = "gantry-lab-check-";

/// What a check is evaluated against besides the engine: one learner's lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Placeholder values (work folder, host ports).
    pub values: Values,
    /// The learner's work folder.
    pub work_dir: PathBuf,
    /// Where published ports answer: 127.0.0.1 for a local engine (Gantry's VM forwards its ports
    /// there), the engine's host for a remote `tcp://` one.
    pub http_host: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Not evaluated yet.
    Pending,
    Pass,
    Fail,
    /// The engine did not answer; the check will be evaluated again when it does.
    Error,
}

/// A check's result: its status and, unless it passed, why (in each language).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckResult {
    pub status: CheckStatus,
    /// Why it did not pass, by language.
    #[cfg_attr(feature = "ts", ts(as = "Option<std::collections::BTreeMap<crate::text::Lang, String>>"))]
    pub detail: Option<Text>,
}

impl CheckResult {
    /// Passed.
    pub fn pass() -> Self {
        Self { status: CheckStatus::Pass, detail: None }
    }

    /// Failed, with why in English and Russian.
    pub fn fail(en: impl Into<String>, ru: impl Into<String>) -> Self {
        Self { status: CheckStatus::Fail, detail: Some(Text::new(en, ru)) }
    }

    /// The engine failed to answer.
    pub fn error(e: &EngineError) -> Self {
        let message = e.to_string();
        Self {
            status: CheckStatus::Error,
            detail: Some(Text::new(
                format!("could not ask the engine: {message}"),
                format!("не удалось спросить движок: {message}"),
            )),
        }
    }

    /// Passed when `ok`, else failed with why.
    pub fn given(ok: bool, en: impl Into<String>, ru: impl Into<String>) -> Self {
        if ok { Self::pass() } else { Self::fail(en, ru) }
    }

    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Pass
    }
}

/// An engine call inside a check: an engine failure ends the check as an [`CheckResult::error`].
pub(crate) type Eval<T> = Result<T, CheckResult>;

pub(crate) fn answered<T>(result: gantry_engine::Result<T>) -> Eval<T> {
    result.map_err(|e| CheckResult::error(&e))
}

/// Like [`engine`], with "does not exist" as `None`.
pub(crate) fn optional<T>(result: gantry_engine::Result<T>) -> Eval<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(EngineError::NotFound { .. } | EngineError::ImageMissing { .. }) => Ok(None),
        Err(e) => Err(CheckResult::error(&e)),
    }
}

/// Evaluates `spec` (placeholders already filled in) once. `events` are the engine events seen
/// since the lab started (for `event_seen`).
pub async fn evaluate(engine: &Engine, spec: &CheckSpec, ctx: &Context, events: &[Event]) -> CheckResult {
    let result = match spec {
        CheckSpec::ContainerExists(s) => containers::exists(engine, s).await,
        CheckSpec::ContainerRunning(s) => containers::running(engine, s).await,
        CheckSpec::ContainerExited(c) => containers::exited(engine, c).await,
        CheckSpec::ContainerAbsent(s) => containers::absent(engine, s).await,
        CheckSpec::ContainerSettings(c) => containers::settings(engine, c).await,
        CheckSpec::PortPublished(c) => containers::port_published(engine, c, &ctx.values).await,
        CheckSpec::BindMount(c) => containers::bind_mount(engine, c, &ctx.work_dir).await,
        CheckSpec::LogsContain(c) => containers::logs_contain(engine, c).await,
        CheckSpec::ComposeUp(c) => containers::compose_up(engine, c).await,
        CheckSpec::ImageExists(c) => images::exists(engine, &c.image).await,
        CheckSpec::ImageAbsent(c) => images::absent(engine, &c.image).await,
        CheckSpec::ImageHistory(c) => images::history(engine, c).await,
        CheckSpec::ImageLayers(c) => images::layers(engine, c).await,
        CheckSpec::ImageSharesLayers(c) => images::shares_layers(engine, c).await,
        CheckSpec::ImageSize(c) => images::size(engine, c).await,
        CheckSpec::ImageNotRoot(c) => images::not_root(engine, &c.image).await,
        CheckSpec::ImageHealthcheck(c) => images::healthcheck(engine, &c.image).await,
        CheckSpec::ImageFileAbsent(c) => volumes::image_file_absent(engine, &c.image, &c.path).await,
        CheckSpec::Http(c) => Ok(http::check(c, ctx).await),
        CheckSpec::VolumeExists(c) => volumes::exists(engine, &c.volume).await,
        CheckSpec::VolumeAbsent(c) => volumes::absent(engine, &c.volume).await,
        CheckSpec::VolumeMounted(c) => containers::volume_mounted(engine, c).await,
        CheckSpec::VolumeFile(c) => volumes::file(engine, c).await,
        CheckSpec::NetworkExists(c) => networks::exists(engine, &c.network).await,
        CheckSpec::NetworkAttached(c) => networks::attached(engine, c).await,
        CheckSpec::Resolves(c) => networks::resolves(engine, c).await,
        CheckSpec::FileExists(c) => Ok(files::exists(c, &ctx.work_dir)),
        CheckSpec::FileContains(c) => Ok(files::contains(c, &ctx.work_dir)),
        CheckSpec::DockerfileLint(c) => Ok(files::dockerfile_lint(c, &ctx.work_dir)),
        CheckSpec::EventSeen(c) => Ok(event_seen(c, events)),
    };
    result.unwrap_or_else(|r| r)
}

/// `event_seen`: one of `events` is about `resource`, its action starts with `action`, and (when
/// given) its object is called `name`.
fn event_seen(check: &EventSeen, events: &[Event]) -> CheckResult {
    let found = events.iter().any(|e| {
        e.resource == check.resource
            && e.action.starts_with(&check.action)
            && check.name.as_ref().is_none_or(|n| e.name.as_ref() == Some(n) || &e.id == n)
    });
    let of = check.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    CheckResult::given(
        found,
        format!("the engine has not reported `{} {}`{of} since the lab started", check.resource, check.action),
        format!("с начала лабораторной движок не сообщал о `{} {}`{of}", check.resource, check.action),
    )
}
