//! `gantry context ls/use/add/rm`: which engine Gantry uses (its VM or any docker context), and
//! docker contexts for engines on other machines (SSH, or TLS), shared with the docker CLI.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gantry_core::api::{EngineChoice, Gantry};
use gantry_core::engine_source::Origin;
use gantry_engine::{NewContext, Transport};

use crate::CliError;
use crate::engine_cmds::print_json;
use crate::output::print_table;

/// `gantry context ...`.
#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// List Gantry's VM and every docker context; `*` marks the one Gantry uses, `(docker)` the
    /// one the docker CLI uses.
    #[command(alias = "list")]
    Ls,
    /// Make Gantry (the app and this command) use an engine: `gantry` (its VM) or a context.
    Use {
        name: String,
        /// Make the docker CLI use it too (`docker context use NAME`).
        #[arg(long)]
        docker: bool,
    },
    /// Add a docker context for an engine on another machine (the docker CLI sees it too).
    Add(AddArgs),
    /// Remove a docker context and its TLS files.
    #[command(alias = "remove")]
    Rm {
        name: String,
        /// Also when Gantry or the docker CLI uses it now (they go back to Gantry's VM / default).
        #[arg(short, long)]
        force: bool,
    },
}

/// `gantry context add NAME --ssh user@host` or `--tcp host:2376 --tls-ca ... --tls-cert ... --tls-key ...`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The context's name (letters, digits and _ . + -).
    name: String,
    /// An engine over SSH: `user@host`, `host:port` or `ssh://user@host:port` (~/.ssh/config, the
    /// agent and known_hosts apply; the remote user runs `docker`).
    #[arg(long, conflicts_with = "tcp")]
    ssh: Option<String>,
    /// An engine over TCP: `host:port`; with the three TLS files the server is verified.
    #[arg(long, requires_all = ["tls_ca", "tls_cert", "tls_key"])]
    tcp: Option<String>,
    /// The CA certificate that signed the engine's certificate.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// This client's certificate and key.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    #[arg(long, default_value = "")]
    description: String,
}

impl AddArgs {
    fn to_new_context(&self) -> Result<NewContext, CliError> {
        let host = match (&self.ssh, &self.tcp) {
            (Some(ssh), None) if ssh.starts_with("ssh://") => ssh.clone(),
            (Some(ssh), None) => format!("ssh://{ssh}"),
            (None, Some(tcp)) => format!("tcp://{}", tcp.trim_start_matches("tcp://")),
            _ => {
                return Err(CliError::new(
                    "say where the engine is",
                    "use --ssh user@host, or --tcp host:2376 with --tls-ca, --tls-cert and --tls-key",
                ));
            }
        };
        Ok(NewContext {
            name: self.name.clone(),
            description: self.description.clone(),
            host,
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
        })
    }
}

fn transport_word(t: Transport) -> &'static str {
    match t {
        Transport::Local => "local",
        Transport::NamedPipe => "pipe",
        Transport::Ssh => "ssh",
        Transport::Tls => "tls",
        Transport::Plaintext => "tcp (no TLS)",
    }
}

fn row(c: &EngineChoice) -> Vec<String> {
    let mark = if c.selected { "*" } else { "" };
    let docker = if c.docker_current { " (docker)" } else { "" };
    let description = match &c.problem {
        Some(problem) => format!("UNUSABLE: {problem}"),
        None => c.description.clone(),
    };
    vec![format!("{}{mark}{docker}", c.name), transport_word(c.transport).into(), c.host.clone(), description]
}

/// Runs a `gantry context` command.
pub async fn run(command: ContextCommand, as_json: bool) -> Result<(), CliError> {
    let gantry = Gantry::new();
    match command {
        ContextCommand::Ls => {
            let list = gantry.context_list().await?;
            if as_json {
                return print_json(&list);
            }
            print_table(&["NAME", "TRANSPORT", "ENDPOINT", "DESCRIPTION"], &list.iter().map(row).collect::<Vec<_>>());
        }
        ContextCommand::Use { name, docker } => {
            let status = gantry.context_use(name.clone(), docker).await?;
            if as_json {
                return print_json(&status);
            }
            let overridden_by = match status.origin {
                Some(Origin::Explicit) => Some("GANTRY_ENGINE (or --engine)"),
                Some(Origin::DockerHost) => Some("DOCKER_HOST"),
                _ => None,
            };
            match overridden_by {
                Some(by) => println!(
                    "Saved: Gantry uses {name} from now on, but not in this shell: {by} wins ({}). Unset it to use {name}.",
                    status.endpoint
                ),
                None => println!("Gantry now uses {name} ({})", status.endpoint),
            }
            match (&status.error, &status.version) {
                (Some(error), _) => println!("It does not answer yet: {} ({})", error.message, error.hint),
                (None, Some(v)) => println!("It answers: Docker {} (API {})", v.version, v.api_version),
                (None, None) => {}
            }
            if !docker {
                println!("The docker CLI keeps its own context; `gantry context use {name} --docker` switches it too.");
            }
        }
        ContextCommand::Add(args) => {
            let added = gantry.context_add(args.to_new_context()?).await?;
            if as_json {
                return print_json(&added);
            }
            println!("Added context {} ({}); `gantry context use {}` to use it.", added.name, added.host, added.name);
        }
        ContextCommand::Rm { name, force } => {
            gantry.context_remove(name.clone(), force).await?;
            if !as_json {
                println!("Removed context {name}.");
            }
        }
    }
    Ok(())
}
