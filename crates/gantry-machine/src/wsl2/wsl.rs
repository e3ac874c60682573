//! The WSL2 driver running its plans: `wsl.exe` calls, Gantry's marker files, the keep-alive
//! processes and the engine's readiness line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::{self, Distros};
use super::error::{WslError, outcome};
use super::exe::{KeepAlive, WslExe};
use super::list::{parse_names, parse_verbose};
use super::plan::{self, Observed, Step, Which};

/// The line the guest prints once its engine answers (vm-images/README.md, console protocol).
const READY: &str = "gantry-init: engine ready";
const FAILED: &str = "gantry-init: error: ";
const SHUT_DOWN: &str = "gantry-init: shutdown complete";

/// Where an instance's distributions keep their disks: `<instance>/wsl/engine` and
/// `<instance>/wsl/data`, each with Gantry's marker file (the distribution's name), the engine's
/// also with the guest image version it was imported from.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(instance_dir: &Path) -> Self {
        Self { root: instance_dir.join("wsl") }
    }

    /// A distribution's directory (`wsl --import`'s install location).
    pub fn dir(&self, which: Which) -> PathBuf {
        self.root.join(match which {
            Which::Engine => "engine",
            Which::Data => "data",
        })
    }

    fn marker(&self, which: Which) -> PathBuf {
        self.dir(which).join("gantry-distribution")
    }

    fn image_record(&self) -> PathBuf {
        self.dir(Which::Engine).join("gantry-image")
    }

    /// Whether the marker in `which`'s directory names `name`.
    fn ours(&self, which: Which, name: &str) -> bool {
        std::fs::read_to_string(self.marker(which)).is_ok_and(|m| m.trim().eq_ignore_ascii_case(name))
    }
}

/// The guest build's tarballs and their version.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The engine distribution's root filesystem (`wsl-rootfs.tar.gz`).
    pub engine: PathBuf,
    /// The data distribution's (tiny: a static busybox and its mount helper).
    pub data: PathBuf,
    /// The image version (its input hash): a different one replaces the engine distribution.
    pub version: String,
}

/// The directory of a guest image (vm-images/build.sh's output) that holds its WSL 2 root
/// filesystems, as vm-images/wsl-rootfs.sh writes them.
pub const ROOTFS_DIR: &str = "wsl";
/// The engine distribution's tarball in [`ROOTFS_DIR`].
pub const ENGINE_TARBALL: &str = "wsl-rootfs.tar.gz";
/// The data distribution's tarball in [`ROOTFS_DIR`].
pub const DATA_TARBALL: &str = "wsl-data.tar.gz";
/// The `KEY=VALUE` file in [`ROOTFS_DIR`] naming the tarballs' version (`wsl_version=`).
pub const VERSION_FILE: &str = "VERSION";

/// The folder next to an installed `gantry.exe` that holds the tarballs and [`VERSION_FILE`]
/// (installer/windows/gantry.nsi).
pub const INSTALLED_ROOTFS_DIR: &str = "guest";

impl Rootfs {
    /// The tarballs this Gantry uses: the installed ones ([`INSTALLED_ROOTFS_DIR`] next to the
    /// running program), else the guest image's ([`crate::image::default_dir`], the only place
    /// when `GANTRY_IMAGE_DIR` is set).
    pub fn locate() -> Result<Self, WslError> {
        let image_dir_set = std::env::var_os(crate::image::IMAGE_DIR_ENV).is_some_and(|v| !v.is_empty());
        let exe = std::env::current_exe().ok();
        let installed = exe.as_deref().and_then(Path::parent).map(|d| d.join(INSTALLED_ROOTFS_DIR));
        Self::locate_in(installed.filter(|_| !image_dir_set).as_deref(), &crate::image::default_dir())
    }

    /// [`Self::locate`] over explicit places: the `installed` folder when it has a
    /// [`VERSION_FILE`], else the image in `image_dir`.
    pub fn locate_in(installed: Option<&Path>, image_dir: &Path) -> Result<Self, WslError> {
        match installed.filter(|d| d.join(VERSION_FILE).is_file()) {
            Some(dir) => Self::in_dir(dir),
            None => Self::in_image(image_dir),
        }
    }

    /// The tarballs next to the guest image in `image_dir` (`<image_dir>/wsl/`, as
    /// vm-images/wsl-rootfs.sh writes them): [`Self::in_dir`].
    pub fn in_image(image_dir: &Path) -> Result<Self, WslError> {
        Self::in_dir(&image_dir.join(ROOTFS_DIR))
    }

    /// Stands for tarballs that were looked for and not found (`path`, the first file missing):
    /// enough to stop or delete an instance's distributions; importing or starting with it is
    /// [`WslError::MissingRootfs`] naming `path`.
    pub fn not_found(path: PathBuf) -> Self {
        Self { engine: path.clone(), data: path, version: String::new() }
    }

    /// Whether both tarballs are there ([`WslError::MissingRootfs`] naming the first that is not).
    pub fn check(&self) -> Result<(), WslError> {
        match [&self.engine, &self.data].into_iter().find(|t| !t.is_file()) {
            Some(missing) => Err(WslError::MissingRootfs { path: missing.clone() }),
            None if self.version.is_empty() => Err(WslError::MissingRootfs { path: self.engine.clone() }),
            None => Ok(()),
        }
    }

    /// The tarballs in `dir` (an image's `wsl/`, or the installed `guest` folder), with the
    /// version their `VERSION` file names; an error names what is missing.
    pub fn in_dir(dir: &Path) -> Result<Self, WslError> {
        let version_file = dir.join(VERSION_FILE);
        let text = std::fs::read_to_string(&version_file)
            .map_err(|_| WslError::MissingRootfs { path: version_file.clone() })?;
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("wsl_version="))
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or(WslError::MissingRootfs { path: version_file })?;
        let rootfs =
            Self { engine: dir.join(ENGINE_TARBALL), data: dir.join(DATA_TARBALL), version: version.to_owned() };
        rootfs.check()?;
        Ok(rootfs)
    }
}

/// One instance's WSL 2 machine.
pub struct Wsl<E> {
    exe: E,
    distros: Distros,
    layout: Layout,
    rootfs: Rootfs,
    engine: Option<KeepAlive>,
    data: Option<KeepAlive>,
    /// Where the engine's output lines are written (the guest's console, as QEMU's console log).
    console_log: Option<PathBuf>,
}

impl<E: WslExe> Wsl<E> {
    pub fn new(exe: E, distros: Distros, layout: Layout, rootfs: Rootfs) -> Self {
        Self { exe, distros, layout, rootfs, engine: None, data: None, console_log: None }
    }

    /// Writes the engine's output lines to `path` (appending).
    pub fn with_console_log(mut self, path: PathBuf) -> Self {
        self.console_log = Some(path);
        self
    }

    fn name(&self, which: Which) -> &str {
        match which {
            Which::Engine => &self.distros.engine,
            Which::Data => &self.distros.data,
        }
    }

    /// Runs `wsl.exe ARGS`; a failure becomes the specific error its output names.
    async fn call(&self, args: Vec<OsString>) -> Result<String, WslError> {
        let ran = self.exe.run(args.clone()).await;
        outcome(&args, ran)
    }

    /// The instance's distribution names.
    pub fn distros(&self) -> &Distros {
        &self.distros
    }

    /// The engine's keep-alive process id, while this driver holds one.
    pub fn engine_pid(&self) -> Option<u32> {
        self.engine.as_ref().and_then(KeepAlive::id)
    }

    /// Whether the engine's keep-alive process ended (or none was started): the engine is gone.
    pub fn engine_exited(&mut self) -> bool {
        self.engine.as_mut().is_none_or(KeepAlive::exited)
    }

    /// What runs and what is registered, and which of it is Gantry's.
    pub async fn observe(&self) -> Result<Observed, WslError> {
        // with no distribution at all, `--list` exits non-zero with a message: an empty list
        let distros = match self.call(args::list_verbose()).await {
            Ok(text) => parse_verbose(&text),
            Err(WslError::Failed { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let running = match self.call(args::list_running()).await {
            Ok(text) => parse_names(&text),
            Err(WslError::Failed { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Observed {
            distros,
            running,
            engine_image: std::fs::read_to_string(self.layout.image_record()).ok().map(|v| v.trim().to_owned()),
            engine_ours: self.layout.ours(Which::Engine, &self.distros.engine),
            data_ours: self.layout.ours(Which::Data, &self.distros.data),
        })
    }

    /// Starts the engine: imports or upgrades as needed, starts both keep-alive processes
    /// (`payload`: the TLS material, [`super::payload`]) and waits up to `ready_within` for the
    /// engine. `progress` hears each step.
    pub async fn start(
        &mut self,
        payload: Vec<u8>,
        ready_within: Duration,
        progress: &(dyn Fn(&Step) + Send + Sync),
    ) -> Result<(), WslError> {
        // before any step: an upgrade plan unregisters the engine before importing the new one
        self.rootfs.check()?;
        let observed = self.observe().await?;
        for step in plan::start(&observed, &self.distros, &self.rootfs.version)? {
            progress(&step);
            match step {
                Step::KeepAlive(Which::Engine) => {
                    let keep = self.exe.keep_alive(args::engine_keep_alive(&self.distros), payload.clone());
                    self.engine = Some(keep.await.map_err(|source| WslError::Spawn { source })?);
                }
                Step::KeepAlive(Which::Data) => {
                    let keep = self.exe.keep_alive(args::data_keep_alive(&self.distros), Vec::new());
                    self.data = Some(keep.await.map_err(|source| WslError::Spawn { source })?);
                }
                Step::WaitEngineReady => {
                    self.wait_ready(ready_within).await?;
                    self.follow_output();
                }
                other => self.run_step(&other).await?,
            }
        }
        Ok(())
    }

    async fn wait_ready(&mut self, within: Duration) -> Result<(), WslError> {
        let name = self.distros.engine.clone();
        let Some(engine) = self.engine.as_mut() else {
            return Err(WslError::EngineExited { name, last_line: "no keep-alive process".into() });
        };
        let mut last_line = String::new();
        let log = self.console_log.as_deref();
        let waited = tokio::time::timeout(within, async {
            while let Some(line) = engine.lines.recv().await {
                append_line(log, &line);
                if line.trim() == READY {
                    return Ok(());
                }
                if line.contains(FAILED) || !line.trim().is_empty() {
                    last_line = line.trim().to_owned();
                }
                if line.contains(FAILED) {
                    break;
                }
            }
            Err(())
        })
        .await;
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err(WslError::EngineExited { name, last_line }),
            Err(_) => {
                Err(WslError::EngineExited { name, last_line: format!("not ready after {within:?}: {last_line}") })
            }
        }
    }

    /// After "engine ready", the engine's output goes on to the console log: nothing else reads
    /// it until the stop, and a full channel would stall the guest's output. Only the shutdown
    /// line is passed on, for [`Self::stop`].
    fn follow_output(&mut self) {
        let Some(engine) = self.engine.as_mut() else { return };
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut lines = std::mem::replace(&mut engine.lines, rx);
        let log = self.console_log.clone();
        tokio::spawn(async move {
            while let Some(line) = lines.recv().await {
                append_line(log.as_deref(), &line);
                if line.trim() == SHUT_DOWN && tx.send(line).await.is_err() {
                    break;
                }
            }
        });
    }

    async fn run_step(&self, step: &Step) -> Result<(), WslError> {
        match *step {
            Step::Terminate(which) => self.call(args::terminate(self.name(which))).await.map(drop),
            Step::Unregister(which) => {
                self.call(args::unregister(self.name(which))).await?;
                // the disk is gone; the marker (and the engine's image record) go with it
                let _ = std::fs::remove_file(self.layout.marker(which));
                if which == Which::Engine {
                    let _ = std::fs::remove_file(self.layout.image_record());
                }
                Ok(())
            }
            Step::Import(which) => self.import(which).await,
            Step::KeepAlive(_) | Step::WaitEngineReady => Ok(()),
        }
    }

    /// Writes the marker first (an import cut short is still recognised as Gantry's), imports,
    /// then records the engine's image version.
    async fn import(&self, which: Which) -> Result<(), WslError> {
        let tarball = match which {
            Which::Engine => &self.rootfs.engine,
            Which::Data => &self.rootfs.data,
        };
        if !tarball.is_file() {
            return Err(WslError::MissingRootfs { path: tarball.clone() });
        }
        let dir = self.layout.dir(which);
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| WslError::Io { what, path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let marker = self.layout.marker(which);
        std::fs::write(&marker, self.name(which)).map_err(io("write", &marker))?;
        self.call(args::import(self.name(which), &dir, tarball)).await?;
        if which == Which::Engine {
            let record = self.layout.image_record();
            std::fs::write(&record, &self.rootfs.version).map_err(io("write", &record))?;
        }
        Ok(())
    }

    /// Stops the engine cleanly (its keep-alive input closes: the guest stops dockerd and
    /// containerd and syncs), waits up to `timeout` for that, then terminates both distributions.
    /// Returns whether the engine confirmed a clean shutdown.
    pub async fn stop(&mut self, timeout: Duration) -> Result<bool, WslError> {
        let mut clean = false;
        if let Some(engine) = self.engine.as_mut() {
            engine.close_input().await;
            clean = tokio::time::timeout(timeout, async {
                while let Some(line) = engine.lines.recv().await {
                    if line.trim() == SHUT_DOWN {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
        }
        let observed = self.observe().await?;
        for step in plan::stop(&observed, &self.distros) {
            self.run_step(&step).await?;
        }
        for keep in [self.engine.take(), self.data.take()].into_iter().flatten() {
            let mut keep = keep;
            keep.kill().await;
        }
        Ok(clean)
    }

    /// Deletes the engine distribution, and the data one (images, containers, volumes) only
    /// when `data` is true; distributions without Gantry's marker are refused.
    pub async fn delete(&mut self, data: bool) -> Result<(), WslError> {
        let observed = self.observe().await?;
        for step in plan::delete(&observed, &self.distros, data)? {
            self.run_step(&step).await?;
        }
        Ok(())
    }
}

/// Appends `line` to the console log `log`, if any (a failure is logged, never fatal).
fn append_line(log: Option<&Path>, line: &str) {
    use std::io::Write;
    let Some(path) = log else { return };
    let written =
        std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), error = %e, "cannot write the console log");
    }
}

#[cfg(test)]
#[path = "fake.rs"]
pub(crate) mod fake;
