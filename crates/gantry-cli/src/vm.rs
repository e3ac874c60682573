//! VM lifecycle commands: `gantry start | stop | vm-status | logs | shell | delete | agent`,
//! and the VM checks of `gantry doctor`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use clap::Subcommand;
use gantry_core::vm::{self, StartOptions, VmStatus};
use gantry_machine::boot_timings;
use gantry_machine::image::{self, GuestImage};
use gantry_machine::instance::{DEFAULT_INSTANCE, Instance};

use crate::CliError;
use crate::doctor::{Check, Level};

/// The VM's commands (flattened into the top-level command list).
#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// Start Gantry's VM (boots it if needed) and show how to use docker with it.
    Start {
        /// Instance name (letters, digits, '-' and '_').
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
        /// Print where the start-up's time went, phase by phase (QEMU launch, kernel, init,
        /// containerd, dockerd, TLS answer, socket, context, forwards).
        #[arg(long)]
        timings: bool,
    },
    /// Stop the VM cleanly (power-off; killed after 60 s).
    Stop {
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
    /// The VM's status: starting step, running (accelerator, socket, forwarded ports), stopped.
    VmStatus {
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
    /// Show the agent's log, or the guest's console with --console.
    Logs {
        /// The guest's serial console instead of the agent's log.
        #[arg(long)]
        console: bool,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// Number of last lines to print.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
    /// A root shell inside the VM (a privileged container entering the VM's namespaces).
    Shell {
        /// Local image with a shell and nsenter (default: the first local image that has them,
        /// e.g. busybox).
        #[arg(long)]
        image: Option<String>,
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
    /// Delete the VM's files (kept: data disk and settings, unless --data).
    Delete {
        /// Also delete the data disk (all images, containers and volumes) and the settings.
        #[arg(long)]
        data: bool,
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
    /// Run the host agent (started by `gantry start` and the app).
    #[command(hide = true)]
    Agent {
        #[arg(long, default_value = DEFAULT_INSTANCE, value_parser = instance_name)]
        instance: Instance,
    },
}

/// `--instance NAME`: a short slug, checked before anything touches the disk.
fn instance_name(name: &str) -> Result<Instance, String> {
    Instance::named(name).map_err(|e| format!("{e}; use letters, digits, '-' and '_' (e.g. dev)"))
}

impl From<vm::VmError> for CliError {
    fn from(e: vm::VmError) -> Self {
        let hint = e.hint();
        Self { message: e.to_string(), hint: (!hint.is_empty()).then_some(hint) }
    }
}

/// Runs one VM command.
pub async fn run(cmd: VmCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        VmCommand::Start { instance, timings } => start(&instance, json, timings).await,
        VmCommand::Stop { instance } => stop(&instance, json).await,
        VmCommand::VmStatus { instance } => {
            let s = vm::status(&instance).await;
            print_status(&s, json);
            Ok(())
        }
        VmCommand::Logs { console, follow, lines, instance } => {
            let i = instance;
            let path = if console { i.console_log() } else { i.agent_log() };
            logs(&path, lines, follow).await
        }
        VmCommand::Shell { image, instance } => shell(&instance, image).await,
        VmCommand::Delete { data, instance } => {
            let i = instance;
            vm::delete(&i, data).await?;
            if data {
                println!("deleted {} (including the data disk)", i.dir().display());
            } else {
                println!("deleted the VM's files in {} (kept the data disk and settings)", i.dir().display());
            }
            Ok(())
        }
        VmCommand::Agent { instance } => {
            vm::run_agent(instance).await?;
            Ok(())
        }
    }
}

fn emit(s: &VmStatus, json: bool) {
    if json {
        println!("{}", serde_json::to_string(s).unwrap_or_default());
    } else {
        match s {
            VmStatus::Starting { .. } | VmStatus::Stopping | VmStatus::Stopped => println!("{}", s.describe()),
            _ => {}
        }
    }
    let _ = std::io::stdout().flush();
}

async fn start(i: &Instance, json: bool, timings: bool) -> Result<(), CliError> {
    let opts = StartOptions { instance: i.clone(), ..Default::default() };
    let mut last = String::new();
    let info = vm::start(&opts, |s| {
        let line = s.describe();
        if line != last {
            emit(s, json);
            last = line;
        }
    })
    .await?;
    if json {
        return Ok(());
    }
    println!("Gantry is running: Docker {} ({}).", info.engine_version, info.accel);
    for w in &info.warnings {
        println!("warning: {w}");
    }
    if timings {
        if info.timings.is_empty() {
            println!("timings: the VM was already running, so nothing was timed (`gantry stop`, then start again)");
        } else {
            println!("\nStart-up timings ({}):", info.accel);
            print!("{}", boot_timings::table(&info.timings));
        }
    }
    let st = vm::status(i).await;
    if let VmStatus::Degraded { reasons, .. } = &st {
        for r in reasons {
            println!("problem: {r}");
        }
    }
    println!();
    println!("Use docker with Gantry:");
    println!("  docker context use {}", info.context);
    println!("or");
    println!("  export DOCKER_HOST={}", info.docker_host);
    Ok(())
}

async fn stop(i: &Instance, json: bool) -> Result<(), CliError> {
    let mut last = String::new();
    vm::stop(i, |s| {
        let line = s.describe();
        if line != last {
            emit(s, json);
            last = line;
        }
    })
    .await?;
    Ok(())
}

/// Prints a status (also used by `gantry status`).
pub fn print_status(s: &VmStatus, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
        return;
    }
    match s {
        VmStatus::Running(info) | VmStatus::Degraded { info, .. } => {
            println!("VM:          running ({})", info.accel);
            if !info.docker_host.is_empty() {
                println!("Socket:      {}", info.docker_host);
                println!("Engine:      Docker {}", info.engine_version);
            }
            println!("QEMU pid:    {}", info.qemu_pid);
            if let Some(c) = &info.caches_given_back {
                match (c.qemu_rss_before_mib, c.qemu_rss_after_mib) {
                    (Some(b), Some(a)) => println!("Memory:      start-up caches given back (QEMU {b} → {a} MiB)"),
                    _ => println!("Memory:      start-up caches given back"),
                }
            }
            if !info.forwarded_ports.is_empty() {
                let ports: Vec<String> =
                    info.forwarded_ports.iter().map(|p| format!("{}:{}", p.bind, p.port)).collect();
                println!("Ports:       {}", ports.join(", "));
            }
            for w in &info.warnings {
                println!("Warning:     {w}");
            }
            if let VmStatus::Degraded { reasons, .. } = s {
                for r in reasons {
                    println!("Problem:     {r}");
                }
            }
        }
        other => println!("VM:          {}", other.describe()),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

async fn logs(path: &Path, n: usize, follow: bool) -> Result<(), CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::new(format!("cannot read {}: {e}", path.display()), "the VM has not been started yet: `gantry start`")
    })?;
    let text = String::from_utf8_lossy(&bytes);
    println!("{}", last_lines(&text, n));
    if !follow {
        return Ok(());
    }
    let mut pos = bytes.len() as u64;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(all) = std::fs::read(path) else { continue };
        let len = all.len() as u64;
        if len < pos {
            pos = 0; // rotated (new boot)
        }
        if len > pos {
            let start = usize::try_from(pos).unwrap_or(0);
            print!("{}", String::from_utf8_lossy(&all[start..]));
            let _ = std::io::stdout().flush();
            pos = len;
        }
    }
}

async fn shell(i: &Instance, image: Option<String>) -> Result<(), CliError> {
    let sock = i.docker_socket();
    let endpoint = gantry_engine::Endpoint::Unix(sock.clone());
    let engine = gantry_engine::Engine::connect(&endpoint).await?;
    let image = match image {
        Some(img) => img,
        None => {
            let images = engine.list_images(false).await?;
            let preferred = ["busybox", "alpine", "debian", "ubuntu"];
            let tags: Vec<String> = images.iter().flat_map(|im| im.tags.iter().cloned()).collect();
            tags.iter()
                .find(|t| preferred.iter().any(|p| t.starts_with(p) || t.contains(&format!("/{p}"))))
                .or_else(|| tags.first())
                .cloned()
                .ok_or_else(|| {
                    CliError::new(
                        "no image is available in the VM to run the shell from",
                        "load one without a registry, e.g. `docker load -i busybox.tar` or `docker import rootfs.tar busybox`, then run `gantry shell` again (or pass --image)",
                    )
                })?
        }
    };
    let mut args: Vec<String> =
        vec!["--host".into(), format!("unix://{}", sock.display()), "run".into(), "--rm".into()];
    args.push(if std::io::stdin().is_terminal() { "-it".into() } else { "-i".into() });
    args.extend(
        [
            "--privileged",
            "--pid=host",
            "--net=host",
            &image,
            "nsenter",
            "-t",
            "1",
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "--",
            "sh",
        ]
        .map(String::from),
    );
    let status = std::process::Command::new("docker").args(&args).status().map_err(|e| {
        CliError::new(format!("cannot run the docker CLI: {e}"), "install the docker CLI (Debian: docker.io)")
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::new(
            format!("the shell ended with {status}"),
            format!("the image {image} needs `sh` and `nsenter` (busybox has both)"),
        ))
    }
}

/// The VM checks of `gantry doctor`: accelerator (its test guest run), remembered fallback, guest image.
pub async fn doctor_checks() -> Vec<Check> {
    let mut out = vec![crate::accel_check::check(&Instance::default()).await];
    let dir = image::default_dir();
    out.push(match GuestImage::locate(&dir) {
        Ok(img) => Check {
            name: "guest image",
            level: Level::Ok,
            detail: format!("found in {}", img.dir.display()),
            hint: None,
        },
        Err(e) => Check { name: "guest image", level: Level::Fail, detail: e.to_string(), hint: Some(e.hint()) },
    });
    out
}

/// The VM lines at the top of `gantry status` (nothing in JSON mode: `gantry vm-status --json`).
pub async fn status_section(json: bool) {
    if json {
        return;
    }
    let s = vm::status(&Instance::default()).await;
    print_status(&s, false);
}
