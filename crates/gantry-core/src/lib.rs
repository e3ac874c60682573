//! gantry-core: the one API every front end calls.

pub mod api;
pub mod compose;
pub mod credentials;
pub mod engine_source;
pub mod helper_mark;
pub mod host_terminal;
pub mod settings;
pub mod vm;

/// Atomic owner-only files and their one writer (settings, credentials, the window's place).
pub use gantry_files as private_file;
