//! `gantry`: start Gantry's VM and look at its Docker engine from a terminal.

mod accel_check;
mod contexts;
mod docker_cli;
mod doctor;
mod doctor_workshop;
mod engine_cmds;
mod explain;
#[cfg(test)]
mod hint_check;
mod lab;
mod layers;
mod lint;
mod output;
mod registry;
mod sbom;
mod swarm;
mod swarm_objects;
mod vm;
mod workshop;
mod workshop_room;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gantry_core::api::{Gantry, SwarmObjectKind};

/// Gantry — a rootless desktop container manager. Every command works against Gantry's VM or
/// any Docker engine (`--engine`, `GANTRY_ENGINE`, `DOCKER_HOST`).
#[derive(Debug, Parser)]
#[command(name = "gantry", version, about, propagate_version = true)]
pub struct Cli {
    /// Engine endpoint to use: unix:///path/docker.sock or tcp://host:port.
    #[arg(long, global = true, env = "GANTRY_ENGINE")]
    engine: Option<String>,
    /// Allow a plaintext tcp:// engine on another machine (refused by default: without TLS anyone
    /// on that network can control the engine).
    #[arg(long, global = true, env = "GANTRY_ALLOW_PLAINTEXT_TCP", value_parser = clap::builder::BoolishValueParser::new())]
    allow_plaintext_tcp: bool,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Is the engine reachable? Version, OS, CPUs, memory and disk usage.
    Status,
    /// Check this computer for what Gantry needs, with a hint for each problem.
    Doctor {
        /// Check readiness for a workshop instead (virtualization, disk, memory, proxy; with a
        /// bundle: the labs' ports, the bundle whole and imported): a summary for the trainer.
        #[arg(long, value_name = "BUNDLE", num_args = 0..=1)]
        #[allow(clippy::option_option)]
        workshop: Option<Option<std::path::PathBuf>>,
    },
    /// Download an image, showing progress per layer.
    Pull {
        /// Image reference, e.g. nginx:1.27.
        image: String,
    },
    /// Log in to a registry (checked first; stored where `docker login` stores it).
    Login {
        /// Registry, e.g. docker.io, ghcr.io or localhost:5000.
        server: String,
        #[arg(short, long)]
        username: String,
        /// Read the password (or access token) from stdin; the only way, so it stays out of the
        /// shell history.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Forget the login for a registry.
    Logout { server: String },
    /// Follow engine events live, in plain words (Ctrl-C to stop).
    Events {
        /// Only these kinds: container, image, volume, network.
        #[arg(long = "type")]
        types: Vec<String>,
        /// Also replay events from this many seconds ago.
        #[arg(long)]
        since_secs: Option<i64>,
        /// Say what each event means for you (exit codes, out of memory, health, ports) and
        /// which lab teaches it.
        #[arg(long)]
        explain: bool,
    },
    /// List containers (running only, unless --all).
    Ps {
        #[arg(short, long)]
        all: bool,
    },
    /// List images.
    Images,
    /// List volumes and who uses them.
    Volumes,
    /// Engines and docker contexts: list, use, add (SSH or TLS), remove.
    Context {
        #[command(subcommand)]
        command: contexts::ContextCommand,
    },
    /// Swarm mode of the engine: status, init, leave.
    Swarm {
        #[command(subcommand)]
        command: swarm::SwarmCommand,
    },
    /// The swarm's nodes (on a Swarm manager).
    Node {
        #[command(subcommand)]
        command: swarm::NodeCommand,
    },
    /// Swarm services: list, tasks, scale, roll to an image, logs across tasks, remove.
    Service {
        #[command(subcommand)]
        command: swarm::ServiceCommand,
    },
    /// Stacks from compose files: deploy (or update), list, remove.
    Stack {
        #[command(subcommand)]
        command: swarm::StackCommand,
    },
    /// Swarm secrets (files a service's tasks get under /run/secrets/): list, create, remove.
    Secret {
        #[command(subcommand)]
        command: swarm_objects::ObjectCommand,
    },
    /// Swarm configs (files a service's tasks get where the service says): list, create, remove.
    Config {
        #[command(subcommand)]
        command: swarm_objects::ObjectCommand,
    },
    /// Advice on a Dockerfile (hadolint's and BuildKit's checks, the Docker tutorials' best
    /// practices), with fixes to preview (--fix --dry-run) and apply (--fix).
    Lint(lint::LintArgs),
    /// What each layer of an image adds and wastes, dive's efficiency score, the biggest files;
    /// --layer N shows a layer's file tree.
    Layers(layers::LayersArgs),
    /// The packages an image holds (deb, apk, rpm, Python, Node, Go, Rust), or a CycloneDX
    /// document (--format cyclonedx).
    Sbom(sbom::SbomArgs),
    /// Known vulnerabilities of an image's packages, from an OSV database file (offline).
    Vulns(sbom::VulnsArgs),
    /// Learn Docker by doing: labs whose steps are checked live against your engine.
    Lab(lab::LabArgs),
    /// Workshops without internet: pack labs and images into one file, import it offline.
    Workshop(workshop::WorkshopArgs),
    // VM lifecycle commands (start, stop, logs, shell, delete, agent) are added by the
    // gantry-machine work in `vm.rs`.
    #[command(flatten)]
    Vm(vm::VmCommand),
}

/// A command's failure: what went wrong and what to do about it.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
}

impl From<gantry_engine::EngineError> for CliError {
    fn from(e: gantry_engine::EngineError) -> Self {
        Self { message: e.to_string(), hint: Some(e.hint()) }
    }
}

impl From<gantry_core::api::ApiError> for CliError {
    fn from(e: gantry_core::api::ApiError) -> Self {
        let hint = match e.fields.first() {
            Some(f) if e.hint.is_empty() => f.hint.clone(),
            _ => e.hint,
        };
        Self { message: e.message, hint: (!hint.is_empty()).then_some(hint) }
    }
}

impl CliError {
    /// An error with a hint.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { message: message.into(), hint: Some(hint.into()) }
    }
}

/// Connects to the engine the user chose (or Gantry's).
async fn connect(explicit: Option<&str>) -> Result<gantry_engine::Engine, CliError> {
    Ok(gantry_core::engine_source::connect(explicit).await?.0)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,gantry=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let engine = cli.engine.as_deref();
    // The engine commands go through gantry-core's API, as the desktop app's do.
    let api = Gantry::new().with_engine(engine);
    match cli.command {
        Command::Status => {
            vm::status_section(cli.json).await;
            engine_cmds::status(&api, cli.json).await
        }
        Command::Vm(cmd) => vm::run(cmd, cli.json).await,
        Command::Doctor { workshop: None } => doctor::run(engine, cli.json).await,
        Command::Doctor { workshop: Some(bundle) } => {
            doctor_workshop::run(bundle.as_deref(), &workshop::workshops_dir_default(), engine, cli.json).await
        }
        Command::Pull { image } => engine_cmds::pull(&api, &image, cli.json).await,
        Command::Login { server, username, password_stdin: _ } => registry::login(&api, &server, &username).await,
        Command::Logout { server } => registry::logout(&api, &server).await,
        Command::Events { types, since_secs, explain: true } => {
            explain::run(&api, engine_cmds::event_filter(types, since_secs), cli.json).await
        }
        Command::Events { types, since_secs, explain: false } => {
            engine_cmds::events(&api, types, since_secs, cli.json).await
        }
        Command::Ps { all } => engine_cmds::ps(&api, all, cli.json).await,
        Command::Images => engine_cmds::images(&api, cli.json).await,
        Command::Volumes => engine_cmds::volumes(&api, cli.json).await,
        Command::Lint(args) => lint::run(args, cli.json),
        Command::Layers(args) => layers::run(&api, args, cli.json).await,
        Command::Sbom(args) => sbom::sbom(&api, args, cli.json).await,
        Command::Vulns(args) => sbom::vulns(&api, args, cli.json).await,
        Command::Lab(args) => lab::run(args, engine, cli.json).await,
        Command::Workshop(args) => workshop::run(args, engine, cli.json).await,
        Command::Context { command } => contexts::run(command, cli.json).await,
        Command::Swarm { command } => swarm::swarm(&api, command, cli.json).await,
        Command::Node { command } => swarm::node(&api, command, cli.json).await,
        Command::Service { command } => swarm::service(&api, command, cli.json).await,
        Command::Stack { command } => swarm::stack(&api, command, cli.json).await,
        Command::Secret { command } => swarm_objects::run(&api, SwarmObjectKind::Secret, command, cli.json).await,
        Command::Config { command } => swarm_objects::run(&api, SwarmObjectKind::Config, command, cli.json).await,
    }
}

fn main() -> ExitCode {
    output::exit_quietly_on_closed_pipe();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    gantry_core::engine_source::allow_plaintext_tcp(cli.allow_plaintext_tcp);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(hint) = e.hint {
                // One voice: every hint a full sentence, whichever layer wrote it.
                eprintln!("hint: {}", gantry_core::api::sentence(hint));
            }
            ExitCode::FAILURE
        }
    }
}
