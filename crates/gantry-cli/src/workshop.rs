//! `gantry workshop`: pack a workshop into one file, import it offline, inspect it, make the
//! trainer's signing key.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use gantry_engine::CancellationToken;
use gantry_workshop::{
    Bundle, ImageRequest, ImportEvent, ImportOptions, PackEvent, PackSpec, Platform, PublicKey, SettingsDefaults,
    SigningKey, WorkshopError,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::CliError;
use crate::output::size;

use gantry_core::api::workshop::WORKSHOPS_DIR_ENV;

#[derive(Debug, Args)]
pub struct WorkshopArgs {
    #[command(subcommand)]
    command: WorkshopCommand,
}

#[derive(Debug, Subcommand)]
enum WorkshopCommand {
    /// Pack labs, their images (for every platform asked for) and suggested settings into one file.
    Pack(PackArgs),
    /// Check a bundle and import it: images into the engine, labs into Gantry. Works offline and
    /// continues where an interrupted import stopped.
    Import {
        /// The bundle file (.gantry-workshop).
        file: PathBuf,
        /// Require the trainer's signature by this key (a .pub file, or its line of text).
        #[arg(long)]
        trusted_key: Option<String>,
        /// Also take the trainer's suggested VM CPUs and memory into Gantry's settings.
        #[arg(long)]
        apply_settings: bool,
        #[command(flatten)]
        dirs: DirArgs,
    },
    /// Show what a bundle holds, its identity and signer; --verify checks every digest.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        verify: bool,
    },
    /// Make the trainer's signing key pair: FILE (private, keep it) and FILE.pub (hand it out).
    Key {
        /// Stem of the key files.
        #[arg(default_value = "workshop-key")]
        file: PathBuf,
    },
    /// Workshops imported on this computer.
    List {
        #[command(flatten)]
        dirs: DirArgs,
    },
    /// Trainer: open the room (a registry filled from the bundle, the live grid of participants
    /// and steps, the join code) on this laptop.
    Serve {
        #[command(flatten)]
        args: crate::workshop_room::ServeArgs,
        #[command(flatten)]
        dirs: DirArgs,
    },
    /// Participant: join the room with the trainer's code and a display name.
    Join {
        #[command(flatten)]
        args: crate::workshop_room::JoinArgs,
        #[command(flatten)]
        dirs: DirArgs,
    },
    /// Participant: tell the room where you are on a step (what the lab checker sends for you).
    Progress {
        #[command(flatten)]
        args: crate::workshop_room::ProgressArgs,
        #[command(flatten)]
        dirs: DirArgs,
    },
    /// Participant: show the trainer's commands (reset a lab, move to a step) as they come.
    Follow {
        /// Carry them out: reset the lab (only what the lab made is removed) and move to the step.
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        dirs: DirArgs,
    },
}

#[derive(Debug, Args)]
struct DirArgs {
    /// Where imported workshops are kept (default: Gantry's data folder, `workshops/`).
    #[arg(long, env = WORKSHOPS_DIR_ENV)]
    workshops_dir: Option<PathBuf>,
}

impl DirArgs {
    fn dir(&self) -> PathBuf {
        self.workshops_dir.clone().unwrap_or_else(workshops_dir_default)
    }
}

/// Where imported workshops are kept (`GANTRY_WORKSHOPS_DIR`, else Gantry's data folder).
pub(crate) fn workshops_dir_default() -> PathBuf {
    gantry_core::api::workshop::workshops_dir()
}

#[derive(Debug, Args)]
struct PackArgs {
    /// The bundle file to write (e.g. docker-101.gantry-workshop).
    #[arg(short, long)]
    output: PathBuf,
    /// The workshop's title, shown to participants.
    #[arg(long, default_value = "Workshop")]
    title: String,
    /// A lab folder (with lab.toml); repeat for more.
    #[arg(long = "lab")]
    labs: Vec<PathBuf>,
    /// An image: NAME, or NAME=SOURCE to take another platform of NAME from the local image SOURCE.
    #[arg(long = "image")]
    images: Vec<String>,
    /// Platforms every image must have, e.g. linux/amd64,linux/arm64 (default: what each has).
    #[arg(long = "platform", value_delimiter = ',')]
    platforms: Vec<String>,
    /// Pack even when an image lacks a platform (listed in the bundle; participants on that
    /// platform run it emulated or not at all).
    #[arg(long)]
    allow_missing_platforms: bool,
    /// Suggested VM CPUs for participants.
    #[arg(long)]
    cpus: Option<u32>,
    /// Suggested VM memory in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Suggested registry mirror, e.g. https://192.168.1.20:5443.
    #[arg(long)]
    registry_mirror: Option<String>,
    /// Sign with this private key (made by `gantry workshop key`).
    #[arg(long)]
    sign: Option<PathBuf>,
}

/// Runs a `gantry workshop` command.
pub async fn run(args: WorkshopArgs, engine: Option<&str>, as_json: bool) -> Result<(), CliError> {
    match args.command {
        WorkshopCommand::Pack(pack) => run_pack(pack, engine, as_json).await,
        WorkshopCommand::Import { file, trusted_key, apply_settings, dirs } => {
            run_import(&file, trusted_key.as_deref(), &dirs.dir(), engine, as_json).await?;
            if apply_settings { apply_suggested_settings(&file, &dirs.dir(), as_json).await } else { Ok(()) }
        }
        WorkshopCommand::Inspect { file, verify } => inspect(&file, verify, as_json).await,
        WorkshopCommand::Key { file } => key(&file, as_json),
        WorkshopCommand::List { dirs } => list(&dirs.dir(), as_json),
        WorkshopCommand::Serve { args, dirs } => crate::workshop_room::serve(args, &dirs.dir(), as_json).await,
        WorkshopCommand::Join { args, dirs } => crate::workshop_room::join(args, &dirs.dir(), as_json).await,
        WorkshopCommand::Progress { args, dirs } => crate::workshop_room::progress(args, &dirs.dir()).await,
        WorkshopCommand::Follow { apply, dirs } => {
            let applier = match apply {
                true => Some(crate::workshop_room::Applier::connect(engine, &dirs.dir()).await?),
                false => None,
            };
            crate::workshop_room::follow(&dirs.dir(), applier, as_json).await
        }
    }
}

impl From<WorkshopError> for CliError {
    fn from(e: WorkshopError) -> Self {
        Self { message: e.to_string(), hint: Some(e.hint()) }
    }
}

/// Prints one JSON line.
pub(crate) fn json_line(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}

/// A token cancelled by Ctrl-C.
fn ctrl_c_token() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    token
}

fn bytes_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{msg:<40} [{bar:30}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

async fn run_pack(args: PackArgs, engine: Option<&str>, as_json: bool) -> Result<(), CliError> {
    let platforms = args
        .platforms
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::new(e, "e.g. --platform linux/amd64,linux/arm64"))?;
    let images = args.images.iter().map(|i| ImageRequest::parse(i)).collect::<Result<Vec<_>, _>>()?;
    let key = args.sign.as_deref().map(SigningKey::read).transpose()?;
    let spec = PackSpec {
        title: args.title,
        labs: args.labs,
        images,
        platforms,
        allow_missing_platforms: args.allow_missing_platforms,
        settings: SettingsDefaults {
            cpus: args.cpus,
            memory_mib: args.memory_mib,
            registry_mirror: args.registry_mirror,
        },
        output: args.output,
    };
    let engine = crate::connect(engine).await?;
    let bar = bytes_bar();
    let progress = |event: PackEvent| {
        if as_json {
            json_line(&event);
            return;
        }
        match event {
            PackEvent::Saving { image, bytes } => {
                bar.set_message(format!("reading {image}"));
                bar.set_length(bytes);
                bar.set_position(bytes);
            }
            PackEvent::Saved { image, platforms } => {
                let list: Vec<String> = platforms.iter().map(Platform::to_string).collect();
                bar.println(format!("read {image}: {}", list.join(", ")));
            }
            PackEvent::Writing { done, total } => {
                bar.set_message("writing the bundle");
                bar.set_length(total);
                bar.set_position(done);
            }
        }
    };
    let report = gantry_workshop::pack(&engine, &spec, key.as_ref(), &progress, &ctrl_c_token()).await;
    bar.finish_and_clear();
    let report = report?;
    if as_json {
        json_line(&serde_json::json!({ "event": "packed", "report": report }));
        return Ok(());
    }
    println!("Wrote {} ({})", report.path.display(), size(report.size as i64));
    println!("Bundle  {}", report.id);
    for image in &report.images {
        let list: Vec<String> = image.platforms.iter().map(Platform::to_string).collect();
        println!("Image   {}  {}", image.name, list.join(", "));
    }
    for lab in &report.labs {
        println!("Lab     {lab}");
    }
    if report.shared_blobs > 0 {
        println!("Shared  {} blob(s) stored once ({} saved)", report.shared_blobs, size(report.shared_bytes as i64));
    }
    if let Some(fingerprint) = &report.signed_by {
        println!("Signed  {fingerprint}");
    }
    for missing in &report.missing_platforms {
        println!("warning: missing platform: {missing}");
    }
    Ok(())
}

async fn run_import(
    file: &Path,
    trusted_key: Option<&str>,
    workshops_dir: &Path,
    engine: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let trusted_key = trusted_key.map(PublicKey::read_or_parse).transpose()?;
    let options = ImportOptions { bundle: file.to_owned(), workshops_dir: workshops_dir.to_owned(), trusted_key };
    let engine = crate::connect(engine).await?;
    let bar = bytes_bar();
    let progress = |event: ImportEvent| {
        if as_json {
            json_line(&event);
            return;
        }
        match event {
            ImportEvent::Opened { title, id, parts, bytes, signed_by } => {
                bar.println(format!("{title}: {parts} parts, {} ({id})", size(bytes as i64)));
                if let Some(fingerprint) = signed_by {
                    bar.println(format!("signed by {fingerprint}"));
                }
            }
            ImportEvent::Verifying { done, total, .. } => {
                bar.set_message("checking digests");
                bar.set_length(total);
                bar.set_position(done);
            }
            ImportEvent::Verified { parts, resumed } if resumed > 0 => {
                bar.println(format!("all {parts} parts match their digests ({resumed} checked by an earlier run)"));
            }
            ImportEvent::Verified { parts, .. } => bar.println(format!("all {parts} parts match their digests")),
            ImportEvent::Loading { image, done, total, .. } => {
                bar.set_message(format!("loading {image}"));
                bar.set_length(total);
                bar.set_position(done);
            }
            ImportEvent::Loaded { image, already_present: true, .. } => {
                bar.println(format!("{image}: already in the engine"));
            }
            ImportEvent::Loaded { image, id, .. } => bar.println(format!("{image}: loaded ({})", &id)),
            ImportEvent::Emulated { image, platform, engine } => bar
                .println(format!("warning: {image} has no {engine} variant; {platform} was loaded and runs emulated")),
            ImportEvent::LabsInstalled { labs, dir } if !labs.is_empty() => {
                bar.println(format!("labs {} in {}", labs.join(", "), dir.display()));
            }
            ImportEvent::LabsInstalled { .. } => {}
        }
    };
    let result = gantry_workshop::import(&engine, &options, &progress, &ctrl_c_token()).await;
    bar.finish_and_clear();
    let report = result?;
    if as_json {
        json_line(&serde_json::json!({ "event": "imported", "report": report }));
    } else {
        println!("Imported {} ({} images, {} labs)", report.title, report.images.len(), report.labs.len());
    }
    Ok(())
}

/// Takes the imported bundle's suggested CPUs, memory and registry mirror into Gantry's settings.
async fn apply_suggested_settings(file: &Path, workshops_dir: &Path, as_json: bool) -> Result<(), CliError> {
    let id = Bundle::open(file)?.id;
    let Some(report) = gantry_workshop::imported(workshops_dir).into_iter().find(|r| r.id == id) else {
        return Err(CliError::new("the workshop is not imported", "run the import again"));
    };
    let defaults = &report.settings;
    if defaults.cpus.is_none() && defaults.memory_mib.is_none() && defaults.registry_mirror.is_none() {
        if !as_json {
            println!("The bundle suggests no VM settings; yours are unchanged.");
        }
        return Ok(());
    }
    let outcome = gantry_core::api::Gantry::new().workshop_apply_settings(defaults.clone()).await.map_err(|e| {
        let fields: Vec<String> = e.fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
        CliError::new(format!("{} {}", e.message, fields.join("; ")), e.hint)
    })?;
    if as_json {
        json_line(
            &serde_json::json!({ "event": "settings_applied", "settings": defaults, "needs_vm_restart": outcome.needs_vm_restart }),
        );
    } else {
        let cpus = defaults.cpus.map_or(String::new(), |c| format!(" {c} CPUs"));
        let memory = defaults.memory_mib.map_or(String::new(), |m| format!(" {m} MiB"));
        let mirror = defaults.registry_mirror.as_ref().map_or(String::new(), |m| format!(", registry mirror {m}"));
        println!("VM settings:{cpus}{memory}{mirror} (the trainer's suggestion)");
        if outcome.needs_vm_restart {
            println!("Restart the VM to use them: gantry stop && gantry start");
        }
    }
    Ok(())
}

async fn inspect(file: &Path, verify: bool, as_json: bool) -> Result<(), CliError> {
    let bundle = Bundle::open(file)?;
    let signer = bundle.check_signature(None)?;
    if verify {
        bundle.verify_parts()?;
    }
    let m = &bundle.manifest;
    if as_json {
        json_line(&serde_json::json!({
            "id": bundle.id,
            "signed_by": signer.as_ref().map(PublicKey::fingerprint),
            "verified": verify,
            "manifest": m,
        }));
        return Ok(());
    }
    println!("Title     {}", m.title);
    println!("Bundle    {}", bundle.id);
    println!("Made by   {}", m.created_by);
    println!("Signed    {}", signer.as_ref().map_or("no".into(), PublicKey::fingerprint));
    println!("Size      {} in {} parts", size(m.total_size() as i64), m.parts.len());
    for image in &m.images {
        let list: Vec<String> = image.platforms.iter().map(Platform::to_string).collect();
        println!("Image     {}  {}", image.name, list.join(", "));
    }
    for lab in &m.labs {
        println!("Lab       {}", lab.id);
    }
    for missing in &m.missing_platforms {
        println!("Missing   {missing}");
    }
    if verify {
        println!("Verified  every part matches its digest");
    }
    Ok(())
}

fn key(stem: &Path, as_json: bool) -> Result<(), CliError> {
    let public = gantry_workshop::write_key_pair(stem)?;
    if as_json {
        json_line(&serde_json::json!({
            "private_key": stem,
            "public_key": format!("{}.pub", stem.display()),
            "line": public.to_line(),
            "fingerprint": public.fingerprint(),
        }));
    } else {
        println!(
            "Private key  {} (keep it; sign with `gantry workshop pack --sign {}`)",
            stem.display(),
            stem.display()
        );
        println!("Public key   {}.pub (hand it out; participants import with --trusted-key)", stem.display());
        println!("Fingerprint  {}", public.fingerprint());
    }
    Ok(())
}

fn list(dir: &Path, as_json: bool) -> Result<(), CliError> {
    let imported = gantry_workshop::imported(dir);
    if as_json {
        json_line(&imported);
        return Ok(());
    }
    if imported.is_empty() {
        println!("No workshop imported yet (gantry workshop import FILE).");
    }
    for w in imported {
        println!("{}  {}  {} images, labs: {}", w.id.short(), w.title, w.images.len(), w.labs.join(", "));
    }
    Ok(())
}
