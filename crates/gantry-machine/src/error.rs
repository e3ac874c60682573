//! Typed errors of the machine layer. Every variant carries the facts needed to act on it and a
//! [`MachineError::hint`] for the user.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = MachineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    #[error("{what} failed on {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },

    #[error("the guest image is missing: {path} does not exist (looked in {})", list_paths(.searched))]
    ImageMissing { path: PathBuf, searched: Vec<PathBuf> },

    #[error("{program} was not found")]
    ProgramMissing { program: String },

    #[error("{program} failed ({status}): {stderr}")]
    CommandFailed { program: String, status: String, stderr: String },

    #[error("QEMU exited during boot ({status}); last lines of {log}:\n{tail}")]
    QemuExited { status: String, log: PathBuf, tail: String },

    #[error("the guest reported: {message}")]
    Guest { message: String },

    #[error("the VM made no console progress within {secs} s using {accel}")]
    BootStalled { accel: String, secs: u64 },

    #[error("timed out after {secs} s waiting for {what}")]
    Timeout { what: String, secs: u64 },

    #[error("QMP: {message}")]
    Qmp { message: String },

    #[error("the guest agent: {message}")]
    GuestAgent { message: String },

    #[error("host port {port} on {bind} is already in use: {detail}")]
    PortTaken { bind: String, port: u16, detail: String },

    #[error("TLS material: {message}")]
    Tls { message: String },

    #[error("the VM is already running (pid {pid})")]
    AlreadyRunning { pid: u32 },

    #[error("{endpoint} is already served by another process")]
    EndpointInUse { endpoint: String },

    #[error("not supported here: {what}")]
    Unsupported { what: String },

    #[error("the VM is not running")]
    NotRunning,

    #[error("invalid configuration: {field}: {message}")]
    InvalidConfig { field: String, message: String },

    #[error("cancelled")]
    Cancelled,

    #[error("refusing to delete {path}: it does not carry Gantry's marker file ({marker})")]
    NotAnInstance { path: PathBuf, marker: &'static str },

    #[error("the socket path {path} is {len} bytes long; this system allows at most {max}")]
    SocketPathTooLong { path: PathBuf, len: usize, max: usize },

    #[error(transparent)]
    InvalidName(#[from] crate::instance::InvalidName),

    /// `GANTRY_DRIVER` names no VM driver.
    #[error("{}={value:?} names no VM driver (known: qemu, wsl2)", crate::driver::DRIVER_ENV)]
    UnknownDriver { value: String },

    /// `GANTRY_DRIVER` asks for a Windows-only driver on another system.
    #[error("the {driver} VM driver runs on Windows only, not on {os}", os = .os.name())]
    WindowsOnlyDriver { driver: &'static str, os: crate::accel::HostOs },

    /// The instance's driver record ([`crate::instance::Instance::driver_record`]) names no driver.
    #[error("{path} names no VM driver ({value:?}; known: qemu, wsl2)")]
    DriverRecord { path: PathBuf, value: String },

    /// `GANTRY_DRIVER` asks to start an instance with another driver than the one holding its data.
    #[error(
        "instance {instance} was created with the {remembered} VM driver and keeps its engine data there, but {}={requested} asks for another",
        crate::driver::DRIVER_ENV
    )]
    DriverMismatch { instance: String, remembered: &'static str, requested: &'static str },

    /// A failure of the WSL 2 driver (`wsl.exe`), with its own hint.
    #[error(transparent)]
    Wsl(#[from] crate::wsl2::WslError),
}

impl MachineError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            Self::Io { .. } => "check permissions and free space in the instance directory".into(),
            Self::ImageMissing { .. } => format!(
                "build the guest image with vm-images/build.sh (into the build cache), reinstall the gantry package \
                 (it ships one in /usr/{}), or set {} to a directory holding one",
                crate::image::INSTALLED_SUBDIR,
                crate::image::IMAGE_DIR_ENV
            ),
            Self::ProgramMissing { program } => format!(
                "install {program} (Debian/Ubuntu: apt install qemu-system-x86 qemu-utils; macOS: brew install qemu)"
            ),
            Self::CommandFailed { .. } => "see the message above; `gantry doctor` checks the setup".into(),
            Self::QemuExited { log, .. } => {
                format!("see {} and the console log (`gantry logs --console`)", log.display())
            }
            Self::Guest { .. } => {
                "see `gantry logs --console`; the guest image may need rebuilding (vm-images/build.sh)".into()
            }
            Self::BootStalled { .. } => {
                "the hardware accelerator does not work here; Gantry falls back to software emulation".into()
            }
            Self::Timeout { .. } => "see `gantry logs --console`; on a slow machine start again".into(),
            Self::Qmp { .. } => "QEMU's monitor failed; `gantry stop` then `gantry start`".into(),
            Self::GuestAgent { .. } => {
                "the VM's guest agent did not answer; the VM powers off and boots instead of resuming".into()
            }
            Self::PortTaken { port, .. } => {
                format!("stop the program using port {port} on this computer or publish another port")
            }
            Self::Tls { .. } => "delete the instance's tls/ directory to regenerate the certificates".into(),
            Self::AlreadyRunning { .. } => "use `gantry stop` first".into(),
            Self::EndpointInUse { .. } => {
                "another Gantry (or a program using the same name) is running: stop it, or use another --instance"
                    .into()
            }
            Self::Unsupported { .. } => "see docs/windows.md and docs/macos.md for what each system supports".into(),
            Self::NotRunning => "start it with `gantry start`".into(),
            Self::InvalidConfig { .. } => "Fix the setting in the app's Settings or in settings.json.".into(),
            Self::Cancelled => "start again when ready".into(),
            Self::NotAnInstance { .. } => {
                "this is not a directory Gantry made; delete it yourself if you are sure, or name an instance with --instance NAME".into()
            }
            Self::SocketPathTooLong { .. } => format!(
                "set {} to a shorter directory (e.g. ~/.gantry) so that the instance's sockets fit",
                crate::instance::GANTRY_HOME_ENV
            ),
            Self::InvalidName(_) => "use a short name of letters, digits, '-' and '_', such as dev or work-2".into(),
            Self::UnknownDriver { .. } | Self::WindowsOnlyDriver { .. } => format!(
                "set {} to qemu (or to wsl2 on Windows), or unset it to let Gantry choose",
                crate::driver::DRIVER_ENV
            ),
            Self::DriverRecord { .. } => {
                "write the driver this instance was created with (qemu, or wsl2 on Windows) into that file".into()
            }
            Self::DriverMismatch { instance, remembered, requested } => format!(
                "unset {env} (or set it to {remembered}) to start it; for {requested}, use another instance \
                 (`gantry start --instance NAME`), or delete this one with its data first (`gantry delete --instance {instance} --data`)",
                env = crate::driver::DRIVER_ENV
            ),
            Self::Wsl(e) => e.hint(),
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { what, path, source }
    }
}

/// `a, then b, then c`.
fn list_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", then ")
}
