//! The QEMU driver's saved state: a stop saves the running VM into a file (QEMU's migration
//! stream) and the next start restores it, seconds instead of a boot. What must match and the
//! manifest are [`crate::saved_state`]'s; the steps are here.
//!
//! Save ([`QemuDriver::save`]): the guest's `suspend` script (through the guest agent) syncs
//! and unmounts the 9p shares (QEMU refuses to migrate while one is mounted; a share in use
//! makes it refuse, and the VM powers off instead); QEMU stops the vCPUs and streams its state
//! into a unix socket Gantry reads into `vm-state.bin.partial`; once QEMU says "completed", the
//! file is synced, renamed and its manifest written; QEMU quits. Anything failing before that
//! resumes the guest (vCPUs, shares) and the stop powers off as before.
//!
//! Restore ([`QemuDriver::resume`]): the state is renamed first (used once, whatever happens),
//! compared with what this start would launch, QEMU launched with the same arguments and
//! `-incoming`, the file streamed in; then the vCPUs run, the guest's clock is set to this
//! computer's and its shares mounted again. Any failure ends that QEMU and the start boots.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{BootEvent, MachineConfig, QemuDriver, RunState, ms, tail};
use crate::accel::HostOs;
use crate::guest_agent::GuestAgent;
use crate::image::GuestImage;
use crate::saved_state::{self, FileId, Launch, Manifest};
use crate::{private_file, process, qemu};

/// The guest's script that unmounts its shares before a save (vm-images/init/suspend).
pub const SUSPEND_PROGRAM: &str = "/usr/lib/gantry/suspend";
/// The guest's script that mounts its shares again after a restore (vm-images/init/resume).
pub const RESUME_PROGRAM: &str = "/usr/lib/gantry/resume";

/// The guest agent must answer within this (an image without one: the stop powers off).
const GUEST_AGENT_BOUND: Duration = Duration::from_secs(5);
/// The guest's scripts must end within this.
const SCRIPT_BOUND: Duration = Duration::from_secs(30);
/// QEMU must connect to (save) or listen on (restore) the migration socket within this.
const SOCKET_BOUND: Duration = Duration::from_secs(10);
/// The whole stream (the guest's memory in use: hundreds of MiB) must pass within this.
const STREAM_BOUND: Duration = Duration::from_secs(300);
/// Neither side of the stream may stall longer than this.
const STALL_BOUND: Duration = Duration::from_secs(60);

type Reason = String;

fn say(e: impl std::fmt::Display) -> Reason {
    e.to_string()
}

impl QemuDriver {
    /// Restores the saved state when there is one that still matches; `None`: boot (a saved
    /// state that was not used is reported through `progress` and removed).
    pub(super) async fn resume(
        &self,
        cfg: &MachineConfig,
        img: &GuestImage,
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> Option<RunState> {
        let i = &self.instance;
        // what an interrupted save or restore left is never used
        for f in [i.saved_state_partial(), i.saved_state_restoring()] {
            let _ = std::fs::remove_file(f);
        }
        let manifest = std::fs::read(i.saved_state_manifest());
        let _ = std::fs::remove_file(i.saved_state_manifest());
        let Ok(manifest) = manifest else {
            let _ = std::fs::remove_file(i.saved_state()); // a state without its manifest
            return None;
        };
        // used once: a crash during the restore leaves nothing to restore again
        if std::fs::rename(i.saved_state(), i.saved_state_restoring()).is_err() {
            progress(BootEvent::NotResumed { reason: "the saved state's file is missing".into() });
            return None;
        }
        let restored = self.restore(cfg, img, &manifest, progress).await;
        let _ = std::fs::remove_file(i.saved_state_restoring());
        match restored {
            Ok(state) => Some(state),
            Err(reason) => {
                tracing::warn!(%reason, "the saved state was not restored; booting");
                progress(BootEvent::NotResumed { reason });
                None
            }
        }
    }

    async fn restore(
        &self,
        cfg: &MachineConfig,
        img: &GuestImage,
        manifest: &[u8],
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> Result<RunState, Reason> {
        let i = &self.instance;
        let manifest: Manifest =
            serde_json::from_slice(manifest).map_err(|e| format!("its manifest is unreadable ({e})"))?;
        let state_file = i.saved_state_restoring();
        let state_len = std::fs::metadata(&state_file).map_err(say)?.len();
        let saved = &manifest.launch;
        let (spec, args) = self.launch_args(cfg, img, saved.accel, saved.engine_port).await.map_err(say)?;
        let now = Launch { warning: saved.warning.clone(), ..self.launch_record(&spec, &args, None) };
        let disk = FileId::of("data disk", &i.disk()).map_err(say)?;
        if let Some(why) = saved_state::mismatch(&manifest, &now, &disk, state_len) {
            return Err(why);
        }
        if spec.guest_agent.is_none() {
            return Err("this computer's QEMU has no guest agent channel".into());
        }
        let mut args = args;
        args.extend(["-incoming".into(), qemu::migration_uri(&i.migration_socket())]);
        let started = Instant::now();
        let mut child = self.spawn_qemu(&spec, &args, &now).map_err(say)?;
        let pid = child.id().unwrap_or(0);
        progress(BootEvent::Launched { accel: saved.accel, pid });
        match self.restore_into(&mut child, &state_file, started, progress).await {
            Ok(()) => {
                let after_ms = ms(started.elapsed());
                progress(BootEvent::Restored { after_ms });
                // reap QEMU when it exits (this machine's PID 1 does not reap orphans)
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                Ok(RunState {
                    pid,
                    accel: saved.accel,
                    engine_port: saved.engine_port,
                    warning: saved.warning.clone(),
                    boot_ms: after_ms,
                    shared_folders: cfg.shared_folders.clone(),
                    hidden: cfg.hidden.clone(),
                    save_on_stop: cfg.save_on_stop,
                    resumed: true,
                })
            }
            Err(reason) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                self.clean_stale();
                let log = tail(&i.qemu_log(), 3);
                Err(if log.trim().is_empty() { reason } else { format!("{reason} (QEMU: {})", log.trim()) })
            }
        }
    }

    /// Streams the state into the QEMU that waits for it (launched at `started`), runs the
    /// guest, sets its clock and mounts its shares.
    async fn restore_into(
        &self,
        child: &mut tokio::process::Child,
        state_file: &std::path::Path,
        started: Instant,
        progress: &(dyn Fn(BootEvent) + Send + Sync),
    ) -> Result<(), Reason> {
        let i = &self.instance;
        let exited = |child: &mut tokio::process::Child| matches!(child.try_wait(), Ok(Some(_)));
        let deadline = Instant::now() + SOCKET_BOUND;
        let conn = loop {
            match connect(&i.migration_socket()).await {
                Ok(c) => break c,
                Err(_) if !exited(child) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(format!("QEMU did not wait for the saved state ({e})")),
            }
        };
        let file = std::fs::File::open(state_file).map_err(say)?;
        pump(file, conn, Direction::Load).await.map_err(|e| format!("QEMU stopped reading the saved state ({e})"))?;
        let mut q = self.qmp().await.map_err(say)?;
        let deadline = Instant::now() + STREAM_BOUND;
        loop {
            if exited(child) {
                return Err("QEMU refused the saved state".into());
            }
            match q.status().await.map_err(say)?.as_str() {
                "inmigrate" if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
                "paused" | "running" | "postmigrate" => break,
                other => return Err(format!("QEMU is {other} after loading the saved state")),
            }
        }
        progress(BootEvent::StateLoaded { after_ms: ms(started.elapsed()) });
        // a state saved during the start-up squeeze (or by an older Gantry) may hold an
        // inflated balloon: the guest gets all its memory back before it runs
        crate::memory::deflate_fully(&mut q).await.map_err(say)?;
        q.execute("cont", None).await.map_err(say)?;
        let step = Instant::now();
        let mut ga = GuestAgent::connect(&i.guest_agent_socket(), GUEST_AGENT_BOUND).await.map_err(say)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(say)?;
        ga.set_time(i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)).await.map_err(say)?;
        tracing::info!(ms = ms(step.elapsed()), "guest clock set");
        let step = Instant::now();
        let out = ga.run(RESUME_PROGRAM, &[], SCRIPT_BOUND).await.map_err(say)?;
        tracing::info!(ms = ms(step.elapsed()), code = out.code, "guest resume script ran");
        if out.code != 0 {
            return Err(first_line(&out.stderr, &format!("{RESUME_PROGRAM} exited with {}", out.code)));
        }
        Ok(())
    }

    /// Saves the running VM (`pid`) into [`crate::instance::Instance::saved_state`] and ends
    /// QEMU; the state's length. On failure the guest runs as before and QEMU is left running.
    pub(super) async fn save(&self, pid: u32) -> Result<u64, Reason> {
        let i = &self.instance;
        if self.os == HostOs::Windows {
            return Err("saving the VM's state needs unix sockets".into());
        }
        let launch: Launch = std::fs::read(i.launch_record())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the VM was started by an older Gantry (no launch record)")?;
        // a stop during the start-up squeeze: the saved guest has all its memory
        let mut q = self.qmp().await.map_err(say)?;
        crate::memory::deflate_fully(&mut q).await.map_err(say)?;
        drop(q);
        let step = Instant::now();
        let mut ga = GuestAgent::connect(&i.guest_agent_socket(), GUEST_AGENT_BOUND).await.map_err(say)?;
        let out = ga.run(SUSPEND_PROGRAM, &[], SCRIPT_BOUND).await.map_err(say)?;
        tracing::info!(ms = ms(step.elapsed()), code = out.code, "guest suspend script ran");
        if out.code != 0 {
            return Err(first_line(&out.stderr, &format!("{SUSPEND_PROGRAM} exited with {}", out.code)));
        }
        match self.migrate_out(pid).await {
            Ok(len) => {
                let disk = FileId::of("data disk", &i.disk()).map_err(say)?;
                let saved_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let manifest = Manifest { format: saved_state::FORMAT, launch, disk, state_len: len, saved_at };
                let text = serde_json::to_vec_pretty(&manifest).map_err(say)?;
                private_file::write_atomic(&i.saved_state_manifest(), &text).map_err(say)?;
                Ok(len)
            }
            Err(reason) => {
                let _ = std::fs::remove_file(i.saved_state_partial());
                if process::alive(pid) {
                    if let Ok(mut q) = self.qmp().await {
                        let _ = q.execute("cont", None).await;
                    }
                    let _ = ga.run(RESUME_PROGRAM, &[], SCRIPT_BOUND).await;
                }
                Err(reason)
            }
        }
    }

    /// QEMU's migration stream into the state file; QEMU ends after it. The stream's length.
    async fn migrate_out(&self, pid: u32) -> Result<u64, Reason> {
        let i = &self.instance;
        let sock = i.migration_socket();
        let _ = std::fs::remove_file(&sock);
        let listener = listen(&sock)?;
        let mut q = self.qmp().await.map_err(say)?;
        // QEMU's default bandwidth cap (for live migration over a network) would slow a file down
        let _ = q.execute("migrate-set-parameters", Some(json!({ "max-bandwidth": 1u64 << 40 }))).await;
        q.execute("stop", None).await.map_err(say)?;
        let uri = qemu::migration_uri(&sock).to_string_lossy().into_owned();
        q.execute("migrate", Some(json!({ "uri": uri }))).await.map_err(say)?;
        let (conn, _) = tokio::time::timeout(SOCKET_BOUND, listener.accept())
            .await
            .map_err(|_| "QEMU did not start sending its state".to_owned())?
            .map_err(say)?;
        let partial = i.saved_state_partial();
        let file = create_owner_only(&partial)?;
        let step = Instant::now();
        let len = pump(file, conn, Direction::Save).await.map_err(|e| format!("writing {}: {e}", partial.display()))?;
        tracing::info!(ms = ms(step.elapsed()), "the stream is in the file (synced)");
        drop(listener);
        let _ = std::fs::remove_file(&sock);
        let deadline = Instant::now() + SOCKET_BOUND;
        loop {
            let m = q.execute("query-migrate", None).await.map_err(say)?;
            match m.get("status").and_then(|s| s.as_str()).unwrap_or("") {
                "completed" => break,
                "failed" | "cancelled" => {
                    let why = m.get("error-desc").and_then(|s| s.as_str()).unwrap_or("no reason given");
                    return Err(format!("QEMU could not save the VM: {why}"));
                }
                _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
                other => return Err(format!("QEMU's save did not complete ({other})")),
            }
        }
        std::fs::rename(&partial, i.saved_state()).map_err(say)?;
        let _ = q.quit().await;
        if !process::wait_gone(pid, SOCKET_BOUND).await {
            let _ = process::signal(pid, true);
            process::wait_gone(pid, Duration::from_secs(5)).await;
        }
        Ok(len)
    }
}

fn first_line(text: &str, otherwise: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(otherwise).to_owned()
}

/// A new owner-only file for the state.
fn create_owner_only(path: &std::path::Path) -> Result<std::fs::File, Reason> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map_err(|e| format!("creating {}: {e}", path.display()))
}

/// Which way [`pump`] moves the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// QEMU's stream from the socket into the file (then synced).
    Save,
    /// The file into the socket QEMU reads.
    Load,
}

/// Moves the whole state between `file` and QEMU's `conn` on a blocking thread: the kernel
/// copies a load (sendfile) and a save goes through a 1 MiB buffer, where tokio's file reads
/// would take a thread-pool round trip per 8 KiB. A stalled side fails within
/// [`STALL_BOUND`]; the whole copy within [`STREAM_BOUND`]. The bytes moved.
async fn pump(file: std::fs::File, conn: TokioStream, direction: Direction) -> std::io::Result<u64> {
    let conn = conn.into_std()?;
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(STALL_BOUND))?;
    conn.set_write_timeout(Some(STALL_BOUND))?;
    let closer = conn.try_clone()?;
    let copy = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let (mut file, mut conn) = (file, conn);
        match direction {
            Direction::Load => {
                let n = std::io::copy(&mut file, &mut conn)?;
                conn.shutdown(std::net::Shutdown::Write)?;
                Ok(n)
            }
            Direction::Save => {
                let mut from = std::io::BufReader::with_capacity(1 << 20, conn);
                let n = std::io::copy(&mut from, &mut file)?;
                file.sync_all()?;
                Ok(n)
            }
        }
    });
    match tokio::time::timeout(STREAM_BOUND, copy).await {
        Ok(joined) => joined.map_err(std::io::Error::other)?.map_err(|e| match e.kind() {
            // a socket timeout
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("nothing passed for {} s", STALL_BOUND.as_secs()),
            ),
            _ => e,
        }),
        Err(_) => {
            // the blocking copy fails at once on a shut socket
            let _ = closer.shutdown(std::net::Shutdown::Both);
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the state did not pass in time"))
        }
    }
}

#[cfg(unix)]
type TokioStream = tokio::net::UnixStream;
#[cfg(not(unix))]
type TokioStream = tokio::net::TcpStream;

#[cfg(unix)]
fn listen(sock: &std::path::Path) -> Result<tokio::net::UnixListener, Reason> {
    tokio::net::UnixListener::bind(sock).map_err(|e| format!("listening on {}: {e}", sock.display()))
}

#[cfg(not(unix))]
fn listen(_sock: &std::path::Path) -> Result<tokio::net::TcpListener, Reason> {
    Err("saving the VM's state needs unix sockets".into())
}

#[cfg(unix)]
async fn connect(sock: &std::path::Path) -> std::io::Result<tokio::net::UnixStream> {
    tokio::net::UnixStream::connect(sock).await
}

#[cfg(not(unix))]
async fn connect(_sock: &std::path::Path) -> std::io::Result<tokio::net::TcpStream> {
    Err(std::io::Error::other("restoring the VM's state needs unix sockets"))
}
