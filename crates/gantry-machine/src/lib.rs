//! gantry-machine: the Linux VM that hosts Gantry's Docker engine.
//!
//! - [`instance`]: the instance directory, every file named once;
//! - later modules: accelerator detection, QEMU command line, QMP, TLS material, driver,
//!   socket and port forwarders.

pub mod instance;
