//! Compose projects in the app: which files make a project, the `docker compose` (v2 CLI
//! plugin) argument vectors Gantry runs, and the parsers of what compose prints (its
//! configuration as JSON, its errors, its interleaved logs). Plain functions; the commands that
//! run them are in [`crate::api`] (`compose_*`).

mod command;
mod config;
mod down;
mod failure;
mod logs;
mod project;

pub use command::{ComposeAction, compose_args, logs_args, service_args};
pub use config::{ConfigProblem, ProjectConfig, config_problem, parse_config, plugin_missing, profiles_in_use};
pub use down::{DownPreview, down_preview};
pub use failure::failure_hint;
pub use logs::{ComposeLogLine, parse_log_line, strip_ansi};
pub use project::{
    COMPOSE_FILE_NAMES, CONFIG_FILES_LABEL, ComposeTarget, ENV_FILES_LABEL, FindError, WORKING_DIR_LABEL,
    find_compose_file, target_from_labels, valid_compose_name, valid_project_name,
};

/// The Debian package of the compose v2 CLI plugin (what `gantry doctor` also checks).
pub const COMPOSE_PACKAGE: &str = "docker-compose";
