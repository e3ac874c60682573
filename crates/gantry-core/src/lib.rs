//! gantry-core
