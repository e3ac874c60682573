//! The WSL2 driver (Windows): the engine runs in a WSL 2 distribution imported from the guest
//! build's root-filesystem tarball, its data in a second distribution kept across upgrades.
//!
//! Everything here is portable and tested on Linux: the command lines ([`args`]), the decoding
//! and parsing of `wsl.exe` output ([`output`], [`list`]), its failures as specific errors
//! ([`error`]), the start/stop/delete plans ([`plan`]), the TLS material handed to the guest at
//! start ([`payload`]) and the driver running a plan ([`Wsl`]); [`crate::driver::Wsl2Driver`] puts it
//! behind the [`crate::driver::Driver`] trait. Only [`exe::SystemWsl`] runs the
//! real `wsl.exe`; the tests use a fake `wsl.exe` (it cannot run here) and say so.

pub mod args;
pub mod error;
pub mod exe;
pub mod list;
pub mod output;
pub mod payload;
pub mod plan;
mod wsl;

pub use error::WslError;
#[cfg(test)]
pub(crate) use wsl::fake;
pub use wsl::{DATA_TARBALL, ENGINE_TARBALL, INSTALLED_ROOTFS_DIR, Layout, ROOTFS_DIR, Rootfs, VERSION_FILE, Wsl};
