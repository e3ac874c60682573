//! `gantry events --explain`: engine events in plain language, with what they mean.

use std::time::Duration;

use gantry_core::api::{EventFilter, ExplainedEvent, Gantry, Lang};

use crate::CliError;
use crate::engine_cmds::{channel, follow};

/// Follows the engine's events, explaining each, until Ctrl-C (through gantry-core's API, as the
/// app's Events panel does).
pub async fn run(api: &Gantry, filter: EventFilter, as_json: bool) -> Result<(), CliError> {
    let lang = Lang::from_env();
    let (sink, rx) = channel::<ExplainedEvent>();
    let id = api.system_events_explained(filter, lang, sink).await?;
    if !as_json {
        let endpoint = api.resolve_engine().map(|r| r.endpoint.to_string()).unwrap_or_default();
        eprintln!(
            "{} {endpoint} {}",
            lang.pick("Explaining engine events at", "Объясняю события движка"),
            lang.pick("(Ctrl-C to stop)…", "(Ctrl-C — выход)…")
        );
    }
    follow(api, id, rx, |item| {
        if as_json {
            println!("{}", serde_json::to_string(&item).unwrap_or_default());
            return Ok(());
        }
        show(item, lang);
        Ok(())
    })
    .await
    .map(|_| ())
}

fn show(item: ExplainedEvent, lang: Lang) {
    match item {
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
    }
}
