//! gantry-machine
