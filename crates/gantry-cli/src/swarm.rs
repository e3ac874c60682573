//! `gantry swarm`, `gantry node`, `gantry service` and `gantry stack`: Swarm from a terminal,
//! against the selected engine (a Swarm manager), as the docker CLI's commands of those names.
//! Each goes through gantry-core's API ([`Gantry`]), the calls the app's Swarm panel makes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gantry_core::api::{
    Gantry, LogOptions, RolloutProgress, ServiceLogLine, StackDeployRequest, SwarmInit, SwarmStatus,
};
use gantry_engine::OutputStream;

use crate::CliError;
use crate::engine_cmds::{channel, follow, print_json};
use crate::output::print_table;

/// `gantry swarm ...`.
#[derive(Debug, Subcommand)]
pub enum SwarmCommand {
    /// Whether the engine is in a swarm, and a manager.
    Status,
    /// Make the engine the first manager of a new swarm (`docker swarm init`).
    Init {
        /// The address other nodes reach this one at (when the engine has several).
        #[arg(long)]
        advertise_addr: Option<String>,
    },
    /// Leave the swarm (a manager only with --force: the last one ends the swarm's services).
    Leave {
        #[arg(short, long)]
        force: bool,
    },
}

/// `gantry node ...`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// The swarm's nodes: role, availability, state.
    #[command(alias = "list")]
    Ls,
}

/// `gantry service ...`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Services with replicas running/desired, image, ports and update status.
    #[command(alias = "list")]
    Ls,
    /// A service's tasks: which replica runs where, and why one failed.
    Ps { service: String },
    /// Set replica counts: `gantry service scale web=5 api=2`; waits until they run.
    Scale {
        /// SERVICE=REPLICAS, one or more.
        #[arg(required = true)]
        targets: Vec<String>,
        /// Return at once instead of following the tasks.
        #[arg(short, long)]
        detach: bool,
    },
    /// Roll a service to another image and follow the roll to its end.
    Update(UpdateArgs),
    /// A service's logs across its tasks, each line marked with its task and node.
    Logs(ServiceLogsArgs),
    /// Remove a service and its tasks.
    #[command(alias = "remove")]
    Rm { service: String },
}

/// `gantry service update --image IMAGE SERVICE`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    service: String,
    /// The image to roll to.
    #[arg(long, required = true)]
    image: String,
    /// Return at once instead of following the roll.
    #[arg(short, long)]
    detach: bool,
}

/// `gantry service logs [-f] [--tail N] SERVICE`.
#[derive(Debug, Args)]
pub struct ServiceLogsArgs {
    service: String,
    /// Keep following (tasks started later join).
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines of each task.
    #[arg(long)]
    tail: Option<u64>,
    #[arg(short, long)]
    timestamps: bool,
}

/// `gantry stack ...`.
#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// The swarm's stacks.
    #[command(alias = "list")]
    Ls,
    /// Deploy (or update) a stack from a compose file; docs/remote.md lists the keys read.
    Deploy {
        /// The stack's name (its services are named NAME_service).
        name: String,
        #[arg(short = 'c', long = "compose-file", default_value = "compose.yaml")]
        compose_file: PathBuf,
        /// Also remove the stack's services that the file no longer has.
        #[arg(long)]
        prune: bool,
    },
    /// Remove a stack's services and networks (volumes stay).
    #[command(alias = "remove")]
    Rm { name: String },
}

/// A path as the API takes it (text): one that is not UTF-8 is refused, not mangled.
pub(crate) fn path_text(path: &std::path::Path) -> Result<String, CliError> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        CliError::new(
            format!("the path {} is not valid UTF-8", path.display()),
            "Rename the file or its folder, or copy it to a path without such characters.",
        )
    })
}

fn parse_target(target: &str) -> Result<(&str, u32), CliError> {
    target
        .split_once('=')
        .and_then(|(service, n)| Some((service, n.trim().parse().ok()?)))
        .filter(|(service, _)| !service.is_empty())
        .ok_or_else(|| {
            CliError::new(format!("{target:?} is not SERVICE=REPLICAS"), "e.g. `gantry service scale web=3`")
        })
}

/// Prints readings of a rollout until it is done; an error when it paused or rolled back. Ctrl-C
/// stops following (the update goes on).
async fn follow_rollout(api: &Gantry, service: &str, as_json: bool) -> Result<(), CliError> {
    let (sink, rx) = channel::<RolloutProgress>();
    let id = api.service_watch(service.to_string(), sink).await?;
    let mut last: Option<RolloutProgress> = None;
    let finished = follow(api, id, rx, |reading| {
        if as_json {
            println!("{}", serde_json::to_string(&reading).unwrap_or_default());
        } else {
            let state = reading.update.as_ref().map(|u| format!(" ({})", u.state)).unwrap_or_default();
            println!(
                "{}: {}/{} running, {}/{} on {}{state}",
                reading.service, reading.running, reading.desired, reading.updated, reading.desired, reading.image
            );
            for problem in &reading.problems {
                println!("  {problem}");
            }
        }
        last = Some(reading);
        Ok(())
    })
    .await?;
    if !finished {
        eprintln!("Stopped following {service}; the swarm carries on (see it with `gantry service ls`).");
        return Ok(());
    }
    match last.and_then(|r| r.failed) {
        Some(failed) => Err(CliError::new(
            format!("{service}: {failed}"),
            format!("See why with `gantry service ps {service}`, fix it, and update again."),
        )),
        None => Ok(()),
    }
}

/// Runs a `gantry swarm` command.
pub async fn swarm(api: &Gantry, command: SwarmCommand, as_json: bool) -> Result<(), CliError> {
    let status = match command {
        SwarmCommand::Status => api.swarm_status().await?,
        SwarmCommand::Init { advertise_addr } => {
            let status = api.swarm_init(SwarmInit { advertise_address: advertise_addr, listen_address: None }).await?;
            if !as_json {
                println!("This engine is now the manager of a new swarm (node {}).", status.node_id);
            }
            status
        }
        SwarmCommand::Leave { force } => api.swarm_leave(force).await?,
    };
    if as_json {
        return print_json(&status);
    }
    print_status(&status);
    Ok(())
}

fn print_status(status: &SwarmStatus) {
    let role = if status.manager {
        "a manager"
    } else if status.active() {
        "a worker"
    } else {
        "not in a swarm"
    };
    println!("Swarm   {} ({role})", status.state);
    if status.active() {
        println!("Node    {} at {}", status.node_id, status.node_address);
        if status.manager {
            println!("Nodes   {} ({} managers)", status.nodes, status.managers);
        }
    }
    if let Some(error) = &status.error {
        println!("Error   {error}");
    }
}

/// Runs a `gantry node` command.
pub async fn node(api: &Gantry, command: NodeCommand, as_json: bool) -> Result<(), CliError> {
    let NodeCommand::Ls = command;
    let nodes = api.node_list().await?;
    if as_json {
        return print_json(&nodes);
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                format!("{}{}", n.hostname, if n.is_self { " *" } else { "" }),
                n.role.clone(),
                n.state.clone(),
                n.availability.clone(),
                n.manager_status.clone().unwrap_or_default(),
                n.engine_version.clone(),
                n.address.clone(),
            ]
        })
        .collect();
    print_table(&["HOSTNAME", "ROLE", "STATE", "AVAILABILITY", "MANAGER", "ENGINE", "ADDRESS"], &rows);
    Ok(())
}

/// Runs a `gantry service` command.
pub async fn service(api: &Gantry, command: ServiceCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        ServiceCommand::Ls => {
            let services = api.service_list().await?;
            if as_json {
                return print_json(&services);
            }
            let rows: Vec<Vec<String>> = services
                .iter()
                .map(|s| {
                    let ports = s
                        .ports
                        .iter()
                        .map(|p| format!("*:{}->{}/{}", p.published, p.target, p.protocol))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let update = s.update.as_ref().map(|u| u.state.clone()).unwrap_or_default();
                    vec![
                        s.name.clone(),
                        s.mode.clone(),
                        format!("{}/{}", s.running, s.desired),
                        s.image.clone(),
                        update,
                        ports,
                    ]
                })
                .collect();
            print_table(&["NAME", "MODE", "REPLICAS", "IMAGE", "UPDATE", "PORTS"], &rows);
        }
        ServiceCommand::Ps { service } => {
            let tasks = api.service_tasks(service).await?;
            if as_json {
                return print_json(&tasks);
            }
            let rows: Vec<Vec<String>> = tasks
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.node.clone(),
                        t.image.clone(),
                        t.desired_state.clone(),
                        t.state.clone(),
                        t.error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["NAME", "NODE", "IMAGE", "DESIRED", "STATE", "ERROR"], &rows);
        }
        ServiceCommand::Scale { targets, detach } => {
            let targets = targets.iter().map(|t| parse_target(t)).collect::<Result<Vec<_>, _>>()?;
            for (service, replicas) in &targets {
                for warning in api.service_scale(service.to_string(), *replicas).await? {
                    eprintln!("warning: {warning}");
                }
            }
            if !detach {
                for (service, _) in &targets {
                    follow_rollout(api, service, as_json).await?;
                }
            }
        }
        ServiceCommand::Update(args) => {
            for warning in api.service_update_image(args.service.clone(), args.image).await? {
                eprintln!("warning: {warning}");
            }
            if !args.detach {
                follow_rollout(api, &args.service, as_json).await?;
            }
        }
        ServiceCommand::Logs(args) => {
            let options =
                LogOptions { follow: args.follow, tail: args.tail, timestamps: args.timestamps, ..Default::default() };
            let (sink, rx) = channel::<ServiceLogLine>();
            let id = api.service_logs(args.service, options, sink).await?;
            follow(api, id, rx, |line| {
                if as_json {
                    println!("{}", serde_json::to_string(&line).unwrap_or_default());
                    return Ok(());
                }
                let stamp = line.line.timestamp.as_deref().map(|t| format!("{t} ")).unwrap_or_default();
                let text = format!("{stamp}{}@{} | {}", line.task, line.node, line.line.text);
                if line.line.stream == OutputStream::Stderr {
                    eprintln!("{text}");
                } else {
                    println!("{text}");
                }
                Ok(())
            })
            .await?;
        }
        ServiceCommand::Rm { service } => {
            api.service_remove(service.clone()).await?;
            if !as_json {
                println!("Removed service {service}.");
            }
        }
    }
    Ok(())
}

/// Runs a `gantry stack` command.
pub async fn stack(api: &Gantry, command: StackCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        StackCommand::Ls => {
            let stacks = api.stack_list().await?;
            if as_json {
                return print_json(&stacks);
            }
            let rows: Vec<Vec<String>> = stacks
                .iter()
                .map(|s| vec![s.name.clone(), s.services.to_string(), format!("{}/{}", s.running, s.desired)])
                .collect();
            print_table(&["NAME", "SERVICES", "TASKS"], &rows);
        }
        StackCommand::Deploy { name, compose_file, prune } => {
            let compose_file = path_text(&compose_file)?;
            let report = api.stack_deploy(StackDeployRequest { name, compose_file, prune }).await?;
            if as_json {
                return print_json(&report);
            }
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            for network in &report.networks_created {
                println!("Created network {network}");
            }
            for secret in &report.secrets_created {
                println!("Created secret {secret}");
            }
            for config in &report.configs_created {
                println!("Created config {config}");
            }
            for service in &report.created {
                println!("Created service {service}");
            }
            for service in &report.updated {
                println!("Updated service {service}");
            }
            for service in &report.removed {
                println!("Removed service {service}");
            }
        }
        StackCommand::Rm { name } => {
            let removal = api.stack_remove(name).await?;
            if as_json {
                return print_json(&removal);
            }
            for service in &removal.services {
                println!("Removed service {service}");
            }
            for network in &removal.networks {
                println!("Removed network {network}");
            }
            for secret in &removal.secrets {
                println!("Removed secret {secret}");
            }
            for config in &removal.configs {
                println!("Removed config {config}");
            }
        }
    }
    Ok(())
}
