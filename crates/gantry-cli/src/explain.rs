//! `gantry events --explain`: engine events in plain language, with what they mean.

use std::time::Duration;

use gantry_core::engine_source;
use gantry_engine::EventFilter;
use gantry_insight::Lang;
use gantry_insight::explain::{ExplainedEvent, explained_events};

use crate::CliError;

/// Follows the engine's events, explaining each, until Ctrl-C.
pub async fn run(explicit: Option<&str>, filter: EventFilter, as_json: bool) -> Result<(), CliError> {
    let (engine, _) = engine_source::connect(explicit).await?;
    let lang = Lang::from_env();
    let stream = explained_events(&engine, &filter, lang);
    if !as_json {
        eprintln!(
            "{} {} {}",
            lang.pick("Explaining engine events at", "Объясняю события движка"),
            engine.endpoint(),
            lang.pick("(Ctrl-C to stop)…", "(Ctrl-C — выход)…")
        );
    }
    crate::engine_cmds::follow_stream(stream, as_json, |item| match item {
        ExplainedEvent::Event { event, explanation } => {
            let indent = "          ";
            println!("{}  {}", crate::engine_cmds::clock(event.time), explanation.headline);
            if !explanation.meaning.is_empty() {
                println!("{indent}{}", explanation.meaning);
            }
            if let Some(detail) = &explanation.detail {
                println!("{indent}{}: {detail}", lang.pick("details", "подробности"));
            }
            if let Some(lab) = &explanation.lab {
                println!("{indent}{}: gantry lab show {lab}", lang.pick("learn more", "подробнее"));
            }
        }
        ExplainedEvent::Disconnected { reason, retry_in_ms, .. } => {
            eprintln!("engine connection lost ({reason}); retrying in {:?}", Duration::from_millis(retry_in_ms));
        }
        ExplainedEvent::Reconnected { .. } => eprintln!("engine connection restored"),
    })
    .await
}
