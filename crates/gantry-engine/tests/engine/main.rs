//! Engine integration tests against a REAL Docker engine (`DOCKER_HOST`; ./scripts/test starts a
//! private one). One binary so the tests share one build and run in parallel; each module is one
//! area of the engine API. Helpers live in `tests/common/mod.rs`.
#![cfg(unix)] // a real engine on a unix socket (the private dockerd scripts/test starts): built on unix only
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod container_files;
mod containers;
mod dockerignore_docker;
mod errors;
mod events;
mod exec;
mod images;
mod logs;
mod networks;
mod registry;
mod stats;
mod system;
mod volume_files;
mod volumes;
