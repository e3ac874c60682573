//! VM lifecycle commands: `gantry start | stop | vm-status | logs | shell | delete | agent`,
//! and the VM checks of `gantry doctor`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use clap::Subcommand;
use gantry_core::vm::{self, StartOptions, VmStatus};
use gantry_machine::MachineError;
use gantry_machine::accel::HostOs;
use gantry_machine::arch::GuestArch;
use gantry_machine::boot_timings;
use gantry_machine::driver::{DriverKind, Intent};
use gantry_machine::image::{self, GuestImage};
use gantry_machine::instance::{DEFAULT_INSTANCE, Instance};
use gantry_machine::qemu::qemu_binary;
use gantry_machine::wsl2::{Rootfs, WslError};

use crate::CliError;
use crate::doctor::Check;

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
    /// Stop the VM: save its state so the next start resumes it in seconds (setting
    /// `vm.save_on_stop`, on by default), else power off cleanly; killed after 60 s.
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
            if !json
                && matches!(s, VmStatus::Stopped)
                && let Some(line) = saved_state_line(&instance)
            {
                println!("{line}");
            }
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
    if !json && let Some(line) = saved_state_line(i) {
        println!("{line}");
    }
    Ok(())
}

/// The line `vm-status` and `stop` add for a stopped VM whose state the stop saved.
fn saved_state_line(i: &Instance) -> Option<String> {
    if !i.saved_state_manifest().is_file() {
        return None;
    }
    let mib = std::fs::metadata(i.saved_state()).ok()?.len() >> 20;
    Some(format!("Saved:       its state ({mib} MiB): `gantry start` resumes it"))
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
    let endpoint = vm::served_engine(i);
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
    let mut args: Vec<String> = vec!["--host".into(), endpoint.to_string(), "run".into(), "--rm".into()];
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

/// The VM checks of `gantry doctor`: the instance's driver and why, then what that driver needs
/// (QEMU: KVM, the QEMU programs, the accelerator's test guest, the guest image; WSL 2: its root
/// filesystems).
pub async fn doctor_checks() -> Vec<Check> {
    let instance = Instance::default();
    let choice = match vm::driver_choice(&instance, Intent::Manage).await {
        Ok(choice) => choice,
        Err(e) => return vec![Check::fail("vm driver", e.to_string(), e.hint())],
    };
    let mut out = vec![Check::ok("vm driver", format!("{} ({})", choice.kind.name(), choice.reason))];
    match choice.kind {
        DriverKind::Qemu => {
            let os = HostOs::current();
            let arch = GuestArch::host().unwrap_or(GuestArch::X86_64);
            out.push(crate::doctor::kvm_check(Path::new("/dev/kvm")));
            out.push(crate::doctor::program_check("qemu", qemu_binary(os, arch), qemu_hint(os)));
            out.push(crate::doctor::program_check("qemu-img", "qemu-img", qemu_img_hint(os)));
            out.push(crate::accel_check::check(&instance).await);
            out.push(guest_image_check(GuestImage::locate(&image::default_dir())));
        }
        DriverKind::Wsl2 => out.push(wsl_guest_check(Rootfs::locate())),
    }
    out
}

/// Where QEMU comes from on `os` (the QEMU driver's one requirement besides the guest image).
fn qemu_hint(os: HostOs) -> &'static str {
    match os {
        HostOs::Linux => "install QEMU (Debian: `apt install qemu-system-x86`, `qemu-system-arm` on arm64)",
        HostOs::MacOs => "install QEMU (`brew install qemu`)",
        HostOs::Windows => {
            "install QEMU for Windows (qemu.org) and add its folder to PATH, or make WSL 2 usable (`wsl --install --no-distribution`): Gantry then uses it instead"
        }
    }
}

fn qemu_img_hint(os: HostOs) -> &'static str {
    match os {
        HostOs::Linux => "install qemu-img (Debian: `apt install qemu-utils`)",
        HostOs::MacOs => "install QEMU (`brew install qemu`: qemu-img comes with it)",
        HostOs::Windows => "install QEMU for Windows (qemu-img.exe comes with it) and add its folder to PATH",
    }
}

/// The QEMU guest image: its kernel, initramfs and root filesystem.
fn guest_image_check(found: Result<GuestImage, MachineError>) -> Check {
    match found {
        Ok(img) => Check::ok("guest image", format!("found in {}", img.dir.display())),
        Err(e) => Check::fail("guest image", e.to_string(), e.hint()),
    }
}

/// The WSL 2 driver's guest: the two root-filesystem tarballs it imports (installed next to
/// `gantry.exe`, or next to a built guest image).
fn wsl_guest_check(found: Result<Rootfs, WslError>) -> Check {
    match found {
        Ok(rootfs) => Check::ok(
            "guest",
            format!(
                "WSL root filesystems {} in {}",
                rootfs.version,
                rootfs.engine.parent().unwrap_or(Path::new("")).display()
            ),
        ),
        Err(e) => Check::fail("guest", e.to_string(), e.hint()),
    }
}

/// The VM lines at the top of `gantry status` (nothing in JSON mode: `gantry vm-status --json`).
pub async fn status_section(json: bool) {
    if json {
        return;
    }
    let s = vm::status(&Instance::default()).await;
    print_status(&s, false);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doctor::Level;

    /// With the WSL 2 driver the guest is its two tarballs: the line names their version and
    /// folder, or the file missing with what to do.
    #[test]
    fn the_wsl_guest_line_names_the_tarballs_or_what_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let missing = wsl_guest_check(Rootfs::in_dir(t.path()));
        assert_eq!(missing.level, Level::Fail);
        assert!(missing.detail.contains("VERSION"), "{}", missing.detail);
        assert!(missing.hint.unwrap().contains("reinstall Gantry"));
        std::fs::write(t.path().join("VERSION"), "wsl_version=abc123\n").unwrap();
        std::fs::write(t.path().join("wsl-rootfs.tar.gz"), b"engine").unwrap();
        let no_data = wsl_guest_check(Rootfs::in_dir(t.path()));
        assert!(no_data.level == Level::Fail && no_data.detail.contains("wsl-data.tar.gz"), "{}", no_data.detail);
        std::fs::write(t.path().join("wsl-data.tar.gz"), b"data").unwrap();
        let found = wsl_guest_check(Rootfs::in_dir(t.path()));
        assert_eq!(found.level, Level::Ok);
        assert_eq!(found.detail, format!("WSL root filesystems abc123 in {}", t.path().display()));
    }

    #[test]
    fn the_guest_image_line_names_the_image_or_what_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let missing = guest_image_check(GuestImage::locate(t.path()));
        assert_eq!(missing.level, Level::Fail);
        assert!(missing.hint.is_some());
    }

    /// QEMU's hints say where QEMU comes from on each system (no Debian command on Windows).
    #[test]
    fn qemu_hints_fit_the_system() {
        assert!(qemu_hint(HostOs::Linux).contains("apt install"));
        assert!(qemu_hint(HostOs::MacOs).contains("brew install qemu"));
        for hint in [qemu_hint(HostOs::Windows), qemu_img_hint(HostOs::Windows)] {
            assert!(!hint.contains("apt") && hint.contains("PATH"), "{hint}");
        }
        assert!(qemu_hint(HostOs::Windows).contains("WSL 2"));
    }
}
