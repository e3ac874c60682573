//! gantry-core: the one API every front end calls.

pub mod settings;
pub mod engine_source;
