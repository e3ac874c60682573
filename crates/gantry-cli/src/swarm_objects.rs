//! `gantry secret` and `gantry config`: a Swarm manager's secrets and configs, as the docker
//! CLI's commands of those names, through gantry-core's API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use gantry_core::api::{Gantry, SwarmObjectCreate, SwarmObjectKind};

use crate::CliError;
use crate::engine_cmds::print_json;
use crate::output::print_table;

/// `gantry secret ...` and `gantry config ...`.
#[derive(Debug, Subcommand)]
pub enum ObjectCommand {
    /// List them (names, the stack that made them, when); never their contents.
    #[command(alias = "list")]
    Ls,
    /// Make one from a file (`/dev/stdin` reads standard input).
    Create {
        name: String,
        file: PathBuf,
        /// A label KEY=VALUE (repeatable).
        #[arg(short, long = "label")]
        labels: Vec<String>,
    },
    /// Remove them (refused while a service uses one).
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CliError::new(format!("{l:?} is not KEY=VALUE"), "Write a label as --label team=web.")),
        })
        .collect()
}

/// Runs a `gantry secret` or `gantry config` command.
pub async fn run(api: &Gantry, kind: SwarmObjectKind, command: ObjectCommand, as_json: bool) -> Result<(), CliError> {
    match command {
        ObjectCommand::Ls => {
            let list = api.swarm_object_list(kind).await?;
            if as_json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|o| vec![o.name.clone(), o.stack.clone().unwrap_or_default(), o.created_at.clone(), o.id.clone()])
                .collect();
            print_table(&["NAME", "STACK", "CREATED", "ID"], &rows);
        }
        ObjectCommand::Create { name, file, labels } => {
            let file = crate::swarm::path_text(&file)?;
            let made =
                api.swarm_object_create(SwarmObjectCreate { kind, name, file, labels: parse_labels(&labels)? }).await?;
            if as_json {
                return print_json(&made);
            }
            println!("Created {} {} ({})", kind.as_str(), made.name, made.id);
        }
        ObjectCommand::Rm { names } => {
            for name in names {
                api.swarm_object_remove(kind, name.clone()).await?;
                if !as_json {
                    println!("Removed {} {name}", kind.as_str());
                }
            }
        }
    }
    Ok(())
}
