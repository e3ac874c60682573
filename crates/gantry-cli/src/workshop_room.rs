//! `gantry workshop serve | join | progress | follow`: the room on the trainer's laptop and the
//! participant's side of it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;
use futures_util::StreamExt;
use gantry_workshop::follow::{self, Applied};
use gantry_workshop::room::code::JoinCode;
use gantry_workshop::room::participant::{Membership, ROOM_CA_FILE, RoomClient};
use gantry_workshop::room::state::{Progress, RoomCommand, StepStatus};
use gantry_workshop::room::{DEFAULT_PORT, ServeEvent, ServeOptions};

use crate::CliError;
use crate::workshop::json_line;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The bundle whose images and labs the room serves.
    bundle: PathBuf,
    /// The room's folder (certificate, registry storage; kept so the join code stays the same).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where to listen.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)))]
    listen: SocketAddr,
    /// The address participants reach (default: this machine's address on its default route).
    #[arg(long)]
    advertise: Option<IpAddr>,
    /// Also act as a pull-through cache of this registry when it answers, e.g.
    /// https://registry-1.docker.io.
    #[arg(long)]
    upstream: Option<String>,
    /// Only the progress grid, no registry.
    #[arg(long)]
    no_registry: bool,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The join code the trainer shows (GW1-…).
    code: String,
    /// The name the trainer sees next to your progress.
    #[arg(long)]
    name: String,
}

#[derive(Debug, Args)]
pub struct ProgressArgs {
    lab: String,
    step: String,
    #[arg(long, value_enum, default_value = "passed")]
    status: StatusArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StatusArg {
    Working,
    Passed,
    Stuck,
}

impl From<StatusArg> for StepStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Working => Self::Working,
            StatusArg::Passed => Self::Passed,
            StatusArg::Stuck => Self::Stuck,
        }
    }
}

pub async fn serve(args: ServeArgs, workshops_dir: &Path, as_json: bool) -> Result<(), CliError> {
    let options = ServeOptions {
        dir: args.dir.unwrap_or_else(|| workshops_dir.join("room")),
        bundle: args.bundle,
        listen: args.listen,
        advertise: args.advertise,
        upstream: args.upstream,
        no_registry: args.no_registry,
    };
    let progress = |event: ServeEvent| {
        if as_json {
            return json_line(&event);
        }
        match event {
            ServeEvent::Filling { done, total } if done == total => {
                println!("Registry filled ({total} blobs and manifests)")
            }
            ServeEvent::Filling { .. } => {}
            ServeEvent::UpstreamUnreachable { upstream, reason } => {
                println!("warning: {upstream} does not answer ({reason}); the room serves the bundle's images only")
            }
            ServeEvent::Open { code, trainer_url, mirror, registry, upstream } => {
                println!("Join code     {code}");
                println!("               participants: gantry workshop join {code} --name \"Their name\"");
                println!("Room view     {trainer_url}");
                println!("               (keep this link to yourself: it carries the trainer token)");
                if registry {
                    println!(
                        "Registry      {mirror} (mirror{})",
                        upstream.map_or(String::new(), |u| format!(", cache of {u}"))
                    );
                }
                println!("Stop with Ctrl-C.");
            }
        }
    };
    let room = gantry_workshop::room::serve(&options, &progress).await?;
    let _ = tokio::signal::ctrl_c().await;
    room.stop().await;
    Ok(())
}

pub async fn join(args: JoinArgs, workshops_dir: &Path, as_json: bool) -> Result<(), CliError> {
    let code =
        JoinCode::parse(&args.code).map_err(|e| CliError::new(e, "copy the code again from the trainer's screen"))?;
    let mut client = RoomClient::new(&code)?;
    let membership = client.join(&args.name).await?;
    membership.save(workshops_dir)?;
    let mirror = match &membership.mirror {
        Some(url) => Some(use_room_mirror(url, &membership.certificate)?),
        None => None,
    };
    if as_json {
        let mut view = membership_view(&membership, workshops_dir);
        view["mirror_applied"] = mirror.as_ref().map_or(serde_json::Value::Null, |m| {
            serde_json::json!({
                "settings_file": m.settings_file,
                "needs_vm_restart": m.needs_vm_restart,
                "engine_is_gantry_vm": m.engine_is_gantry_vm,
            })
        });
        json_line(&view);
        return Ok(());
    }
    println!("Joined {} as {}", membership.title, membership.name);
    println!("The trainer now sees your step progress (only that: no commands, files or output).");
    println!();
    let (Some(url), Some(mirror)) = (&membership.mirror, mirror) else {
        println!("This room has no registry: the workshop's images come from its bundle");
        println!("(gantry workshop import FILE); your registry mirrors were left as they were.");
        return Ok(());
    };
    let ca = workshops_dir.join(ROOM_CA_FILE);
    let host = code.addr.to_string();
    println!("Registry mirror   {url} (its certificate pinned by the code)");
    println!("  saved in Gantry's settings ({}): Settings → Registry mirrors", mirror.settings_file.display());
    if !mirror.engine_is_gantry_vm {
        println!("  Gantry uses another engine now: the mirror applies to Gantry's VM only.");
    } else if mirror.needs_vm_restart {
        println!("  Gantry's VM pulls through it from its next start: gantry stop && gantry start");
    }
    println!("For a Docker engine you run yourself: add \"registry-mirrors\": [\"{url}\"] to daemon.json");
    println!("and copy {} to /etc/docker/certs.d/{host}/ca.crt, then restart the engine.", ca.display());
    Ok(())
}

/// What joining changed in Gantry's settings.
struct MirrorApplied {
    settings_file: PathBuf,
    needs_vm_restart: bool,
    engine_is_gantry_vm: bool,
}

/// Adds the room's registry to the VM's registry mirrors, trusted with the certificate the join
/// code pinned (replacing a mirror of the same address: a room opened again may have a new
/// certificate).
fn use_room_mirror(url: &str, certificate_pem: &str) -> Result<MirrorApplied, CliError> {
    let path = gantry_core::settings::settings_path();
    let host = gantry_core::settings::HostFacts::detect(path.parent().unwrap_or(Path::new(".")));
    let mirror =
        gantry_machine::engine_config::RegistryMirror { url: url.to_owned(), ca_pem: Some(certificate_pem.to_owned()) };
    let (before, after) = gantry_core::settings::add_registry_mirror(&path, &host, mirror, false)
        .map_err(|e| CliError::new(format!("joined, but the registry mirror was not saved: {e}"), e.hint()))?;
    Ok(MirrorApplied {
        settings_file: path,
        needs_vm_restart: before.needs_vm_restart(&after),
        engine_is_gantry_vm: matches!(after.engine, gantry_core::settings::EngineSource::GantryVm),
    })
}

fn membership_view(m: &Membership, dir: &Path) -> serde_json::Value {
    serde_json::json!({
        "event": "joined",
        "title": m.title,
        "name": m.name,
        "mirror": m.mirror,
        "certificate_file": dir.join(ROOM_CA_FILE),
        "labs": m.labs,
    })
}

pub async fn progress(args: ProgressArgs, workshops_dir: &Path) -> Result<(), CliError> {
    let membership = Membership::load(workshops_dir)?;
    let client = RoomClient::for_member(&membership)?;
    client.report(&Progress { lab: args.lab, step: args.step, status: args.status.into() }).await?;
    Ok(())
}

/// What `follow --apply` carries the trainer's commands out with: the engine, the labs (the
/// imported workshops' first) and the learner's lab progress.
pub struct Applier {
    engine: gantry_engine::Engine,
    library: gantry_labs::Library,
    store: gantry_labs::ProgressStore,
}

impl Applier {
    pub async fn connect(engine: Option<&str>, workshops_dir: &Path) -> Result<Self, CliError> {
        let engine = gantry_core::engine_source::connect(engine).await?.0;
        Ok(Self {
            engine,
            library: gantry_core::api::lab_library_with(workshops_dir),
            store: gantry_core::api::lab_progress_store(),
        })
    }

    /// Carries out `command` and says what happened (as a line, or a JSON event).
    async fn apply(&self, command: &RoomCommand, as_json: bool) {
        let applied = follow::apply(&self.engine, &self.library, &self.store, command).await;
        match applied {
            Ok(applied) if as_json => json_line(&serde_json::json!({ "event": "applied", "result": applied })),
            Ok(Applied::Reset { lab, removed, failed }) => {
                println!("  reset {lab}: removed {} object(s); it starts again at step 1", removed.len());
                for f in failed {
                    eprintln!("  could not remove {f}");
                }
            }
            Ok(Applied::MovedTo { lab, step, index }) => println!("  {lab} now stands at step {} ({step})", index + 1),
            Ok(Applied::Skipped { reason, .. }) => println!("  not done: {reason}"),
            Err(e) if as_json => {
                json_line(&serde_json::json!({ "event": "apply_failed", "message": e.to_string(), "hint": e.hint() }))
            }
            Err(e) => eprintln!("  failed: {e} ({})", e.hint()),
        }
    }
}

pub async fn follow(workshops_dir: &Path, applier: Option<Applier>, as_json: bool) -> Result<(), CliError> {
    let membership = Membership::load(workshops_dir)?;
    let client = RoomClient::for_member(&membership)?;
    if !as_json {
        let doing = if applier.is_some() { "are carried out and appear here" } else { "appear here" };
        println!("Following {}: the trainer's commands {doing} (Ctrl-C to stop).", membership.title);
    }
    // The room may go away for a while (the trainer's laptop sleeps, the Wi-Fi drops): follow
    // again, waiting a little longer each time (at most 30 s).
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match client.commands().await {
            Ok(commands) => {
                wait = std::time::Duration::from_secs(1);
                let mut commands = Box::pin(commands);
                loop {
                    tokio::select! {
                        command = commands.next() => {
                            let Some(command) = command else { break };
                            match &command {
                                _ if as_json => json_line(&command),
                                RoomCommand::ResetLab { lab } => println!("The trainer asks to reset lab {lab}"),
                                RoomCommand::GoToStep { lab, step } => println!("The trainer moves everyone to {lab}, step {step}"),
                            }
                            if let Some(applier) = &applier {
                                applier.apply(&command, as_json).await;
                            }
                        }
                        _ = tokio::signal::ctrl_c() => return Ok(()),
                    }
                }
                if !as_json {
                    eprintln!("The room closed the connection; following again…");
                }
            }
            // The room no longer knows this participant (it was restarted): following again
            // cannot help, joining again does.
            Err(e) if e.to_string().contains("refused (") => return Err(e.into()),
            Err(e) if !as_json => eprintln!("{e}; trying again in {} s", wait.as_secs()),
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        wait = (wait * 2).min(std::time::Duration::from_secs(30));
    }
}

/// The lab checker's link to the room this participant joined (`gantry workshop join`): each
/// step started or passed is reported as it happens, in the background; a room that is gone or
/// does not know the lab is not an error for the checker (logged only).
pub struct RoomReporter {
    client: std::sync::Arc<RoomClient>,
    sending: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl RoomReporter {
    /// The reporter when this computer joined a room; `None` otherwise.
    pub fn joined(workshops_dir: &Path) -> Option<Self> {
        let membership = Membership::load(workshops_dir).ok()?;
        let client = RoomClient::for_member(&membership).ok()?;
        Some(Self { client: std::sync::Arc::new(client), sending: std::sync::Mutex::default() })
    }

    /// Sends `lab`'s `step` with `status` without waiting for the room.
    pub fn send(&self, lab: &str, step: &str, status: StepStatus) {
        let client = std::sync::Arc::clone(&self.client);
        let progress = Progress { lab: lab.into(), step: step.into(), status };
        let task = tokio::spawn(async move {
            if let Err(e) = client.report(&progress).await {
                tracing::warn!(lab = %progress.lab, step = %progress.step, "the room did not take the progress: {e}");
            }
        });
        if let Ok(mut sending) = self.sending.lock() {
            sending.retain(|t| !t.is_finished());
            sending.push(task);
        }
    }

    /// Waits (at most a few seconds: the room may be gone) for the reports still on their way.
    pub async fn finish(&self) {
        let tasks: Vec<_> = self.sending.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), futures_util::future::join_all(tasks)).await;
    }
}
