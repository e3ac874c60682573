//! Commands that read the engine: status, pull, events, ps, images, volumes. Each goes through
//! gantry-core's API ([`Gantry`]), the same calls the desktop app makes, so both show the same
//! containers, images and volumes.

use std::collections::HashMap;
use std::time::Duration;

use gantry_core::api::{EngineEvent, EventFilter, Gantry, Progress, StreamMsg, UsageLine};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::CliError;
use crate::output::{ago, print_table, short_id, size};

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot encode JSON: {e}"), "Report this bug."))?;
    println!("{text}");
    Ok(())
}

/// A stream's messages as a channel the command reads (and Ctrl-C cancels).
pub(crate) fn channel<T: Send + 'static>()
-> (impl Fn(StreamMsg<T>) + Send + Sync + 'static, UnboundedReceiver<StreamMsg<T>>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (move |msg| drop(tx.send(msg)), rx)
}

/// Reads stream `id` to its end, handing each item to `each`; Ctrl-C cancels it and returns
/// `Ok(false)`.
pub(crate) async fn follow<T>(
    api: &Gantry,
    id: u64,
    mut rx: UnboundedReceiver<StreamMsg<T>>,
    mut each: impl FnMut(T) -> Result<(), CliError>,
) -> Result<bool, CliError> {
    let cancel = tokio::signal::ctrl_c();
    tokio::pin!(cancel);
    loop {
        let msg = tokio::select! {
            msg = rx.recv() => msg,
            _ = &mut cancel => {
                api.stream_cancel(id).await?;
                return Ok(false);
            }
        };
        match msg {
            Some(StreamMsg::Items { items }) => items.into_iter().try_for_each(&mut each)?,
            Some(StreamMsg::Error { error }) => return Err(error.into()),
            Some(StreamMsg::Started { .. }) => {}
            Some(StreamMsg::End) | None => return Ok(true),
        }
    }
}

/// `gantry status`.
pub async fn status(api: &Gantry, as_json: bool) -> Result<(), CliError> {
    let status = api.engine_status().await?;
    let usage = if status.connected { Some(api.system_disk_usage().await?) } else { None };
    if as_json {
        let mut value = serde_json::to_value(&status)
            .map_err(|e| CliError::new(format!("cannot encode JSON: {e}"), "Report this bug."))?;
        value["disk_usage"] = json!(usage);
        print_json(&value)?;
    }
    let (Some(info), Some(usage)) = (&status.info, usage) else {
        return Err(status.error.map_or_else(
            || CliError::new("the engine did not answer", "Run `gantry doctor` to check this computer."),
            CliError::from,
        ));
    };
    if as_json {
        return Ok(());
    }
    let origin = status.origin.map(|o| format!(" ({o:?})")).unwrap_or_default();
    println!("Engine      running at {}{origin}", status.endpoint);
    println!("Version     Docker {} (API {})", info.server_version, info.api_version);
    println!("OS          {} · kernel {} · {}", info.os, info.kernel, info.architecture);
    println!("Resources   {} CPUs · {} memory", info.cpus, size(info.memory_bytes));
    println!(
        "Containers  {} ({} running, {} paused, {} stopped) · {} images",
        info.containers, info.containers_running, info.containers_paused, info.containers_stopped, info.images
    );
    println!();
    let line = |name: &str, u: &UsageLine| {
        vec![name.to_string(), u.total.to_string(), u.active.to_string(), size(u.size), size(u.reclaimable)]
    };
    print_table(
        &["DISK USAGE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        &[
            line("Images", &usage.images),
            line("Containers", &usage.containers),
            line("Volumes", &usage.volumes),
            line("Build cache", &usage.build_cache),
        ],
    );
    for warning in &info.warnings {
        println!("warning: {warning}");
    }
    Ok(())
}

/// `gantry pull IMAGE`: progress per layer (the stored registry login is used, as in the app).
pub async fn pull(api: &Gantry, image: &str, as_json: bool) -> Result<(), CliError> {
    let (sink, rx) = channel::<Progress>();
    let id = api.image_pull(image.to_string(), sink).await?;
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>12} {msg:<18} [{bar:30}] {bytes:>9}/{total_bytes:<9}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut layers: HashMap<String, ProgressBar> = HashMap::new();
    let mut last_status = String::new();
    let finished = follow(api, id, rx, |p| {
        if as_json {
            println!("{}", serde_json::to_string(&p).unwrap_or_default());
            return Ok(());
        }
        match &p.layer {
            Some(layer) if !p.status.starts_with("Pulling from") => {
                let bar = layers.entry(layer.clone()).or_insert_with(|| {
                    let bar = bars.add(ProgressBar::new(0));
                    bar.set_style(style.clone());
                    bar.set_prefix(layer.clone());
                    bar
                });
                bar.set_message(p.status.clone());
                if let (Some(current), Some(total)) = (p.current, p.total)
                    && total > 0
                {
                    bar.set_length(total as u64);
                    bar.set_position(current as u64);
                }
                if p.status == "Pull complete" || p.status == "Already exists" {
                    bar.finish();
                }
            }
            _ => {
                let _ = bars.println(&p.status);
                last_status = p.status;
            }
        }
        Ok(())
    })
    .await?;
    for bar in layers.values() {
        bar.finish();
    }
    if !finished {
        return Err(CliError::new("pull cancelled", "Run it again to resume: finished layers are kept."));
    }
    if !as_json {
        println!("{}", if last_status.is_empty() { format!("Pulled {image}") } else { last_status });
    }
    Ok(())
}

/// `gantry events`.
pub async fn events(api: &Gantry, types: Vec<String>, since_secs: Option<i64>, as_json: bool) -> Result<(), CliError> {
    let (sink, rx) = channel::<EngineEvent>();
    let id = api.system_events(event_filter(types, since_secs), sink).await?;
    if !as_json {
        let endpoint = api.resolve_engine().map(|r| r.endpoint.to_string()).unwrap_or_default();
        eprintln!("Watching engine events at {endpoint} (Ctrl-C to stop)…");
    }
    follow(api, id, rx, |event| {
        if as_json {
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
            return Ok(());
        }
        match event {
            EngineEvent::Event { event, description } => println!("{}  {description}", clock(event.time)),
            EngineEvent::Disconnected { reason, retry_in_ms, .. } => {
                eprintln!("engine connection lost ({reason}); retrying in {:?}", Duration::from_millis(retry_in_ms));
            }
            EngineEvent::Reconnected { .. } => eprintln!("engine connection restored"),
        }
        Ok(())
    })
    .await
    .map(|_| ())
}

/// The filter for `gantry events --type … --since-secs …`.
pub(crate) fn event_filter(types: Vec<String>, since_secs: Option<i64>) -> EventFilter {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    EventFilter { resources: types, container: None, since: since_secs.map(|s| now - s) }
}

/// `HH:MM:SS` (UTC) of a Unix time.
pub(crate) fn clock(epoch: i64) -> String {
    let s = epoch.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// `gantry ps`: the containers the app lists (Gantry's own short-lived helpers are not shown).
pub async fn ps(api: &Gantry, all: bool, as_json: bool) -> Result<(), CliError> {
    let containers = api.container_list(all).await?;
    if as_json {
        return print_json(&containers);
    }
    if containers.is_empty() {
        println!(
            "No {}containers. Run one with `docker run` or from the Gantry app.",
            if all { "" } else { "running " }
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            let ports = c
                .ports
                .iter()
                .map(|p| match p.host_port {
                    Some(hp) => {
                        format!("{}:{hp}->{}/{}", p.host_ip.as_deref().unwrap_or("*"), p.container_port, p.protocol)
                    }
                    None => format!("{}/{}", p.container_port, p.protocol),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let project = match (&c.compose_project, &c.compose_service) {
                (Some(p), Some(s)) => format!("{p}/{s}"),
                _ => String::new(),
            };
            vec![short_id(&c.id), c.name.clone(), c.image.clone(), c.status.clone(), project, ports]
        })
        .collect();
    print_table(&["ID", "NAME", "IMAGE", "STATUS", "COMPOSE", "PORTS"], &rows);
    Ok(())
}

/// `gantry images`.
pub async fn images(api: &Gantry, as_json: bool) -> Result<(), CliError> {
    let images = api.image_list().await?;
    if as_json {
        return print_json(&images);
    }
    if images.is_empty() {
        println!("No images yet. Get one with `gantry pull IMAGE`, build one, or load one from a file.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            let name = if i.tags.is_empty() { "<none>".to_string() } else { i.tags.join(", ") };
            let usage = match (i.in_use, i.dangling) {
                (true, _) => format!("in use ({})", i.containers),
                (false, true) => "dangling".into(),
                (false, false) => String::new(),
            };
            vec![short_id(&i.id), size(i.size), ago(i.created), usage, name]
        })
        .collect();
    print_table(&["ID", "SIZE", "CREATED", "USE", "TAGS"], &rows);
    Ok(())
}

/// `gantry volumes`.
pub async fn volumes(api: &Gantry, as_json: bool) -> Result<(), CliError> {
    let volumes = api.volume_list().await?;
    if as_json {
        return print_json(&volumes);
    }
    if volumes.is_empty() {
        println!("No volumes. Containers create them with `-v NAME:/path`; data in a volume outlives its container.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            let users = if v.used_by.is_empty() { "unused".to_string() } else { v.used_by.join(", ") };
            vec![v.name.clone(), v.driver.clone(), v.size.map_or_else(|| "-".into(), size), users]
        })
        .collect();
    print_table(&["NAME", "DRIVER", "SIZE", "USED BY"], &rows);
    Ok(())
}
