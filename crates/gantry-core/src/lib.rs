//! gantry-core: the one API every front end calls.

pub mod api;
pub mod credentials;
pub mod engine_source;
pub mod helper_mark;
use gantry_engine::private_file;
pub mod settings;
pub mod vm;
