//! gantry-machine: the Linux VM that hosts Gantry's Docker engine.
//!
//! - [`instance`]: the instance directory, every file named once;
//! - [`accel`]: accelerator detection (KVM / HVF / WHPX / TCG) and the remembered fallback;
//! - [`accel_probe`]: does the hardware accelerator run a guest? A test guest with a deadline;
//! - [`arch`]: the guest's CPU architecture (amd64, arm64) and what it means for QEMU;
//! - [`boot_timings`]: where a start's time goes, from the host's marks and the init's stamps;
//! - [`qemu`]: the QEMU command line, a pure function tested per OS;
//! - [`qemu_tuning`]: QEMU's idle footprint (translation cache, malloc, free page reporting);
//! - [`qemu_memory`]: where QEMU's resident memory goes (its /proc/<pid>/smaps, summed);
//! - [`guest_agent`]: QEMU's guest agent client (sync, clock, the guest's suspend/resume scripts);
//! - [`saved_state`]: the VM saved at stop and resumed at start: what must match, the file's life;
//! - [`qmp`]: the QMP client (status, power-down, quit, `hostfwd_add`/`hostfwd_remove`, events);
//! - [`tls`]: per-instance CA, server and client certificates;
//! - [`disk`]: the qcow2 data disk;
//! - [`memory`]: the guest's start-up caches given back to the host (the balloon, once);
//! - [`engine_config`]: the guest engine's registry mirrors and their pinned certificates;
//! - [`process`]: pid files and liveness;
//! - [`driver`]: the lima-style [`driver::Driver`] trait (lifecycle, engine endpoint, port
//!   forwarding and pause events as features, logs), [`driver::QemuDriver`],
//!   [`driver::Wsl2Driver`], and [`driver::AnyDriver`], the one [`driver::choose_driver`] picks;
//! - [`local`]: owner-only local endpoints (unix socket, or a named pipe on Windows);
//! - [`wsl2`]: the WSL 2 driver's portable logic (Windows);
//! - [`forward`]: the host unix socket → mutual-TLS engine forwarder, with the mount check;
//! - [`http1`]: the forwarder's bounded HTTP/1.1 request reader;
//! - [`lines`]: bounded newline-delimited reading (QMP, the agent's control socket);
//! - [`shares`]: shared folders, folders never shared, and the mount policy;
//! - [`ports`]: published-port rules and their reconciliation in a forward table (QMP);
//! - [`private_file`]: atomic owner-only files and their one writer.

pub mod accel;
pub mod accel_probe;
pub mod arch;
pub mod boot_timings;
pub mod disk;
pub mod driver;
pub mod engine_config;
pub mod error;
pub mod forward;
pub mod guest_agent;
pub mod guest_engine;
pub mod http1;
pub mod image;
pub mod instance;
pub mod lines;
pub mod local;
pub mod memory;
pub mod ports;
/// Atomic owner-only files and their one writer (the crate `gantry-files`).
pub use gantry_files as private_file;
pub mod process;
pub mod qemu;
pub mod qemu_memory;
pub mod qemu_tuning;
pub mod qmp;
pub mod saved_state;
pub mod shares;
pub mod tls;
pub mod wsl2;

pub use error::{MachineError, Result};
