//! The argument vectors of `docker compose` (never a shell string): global options that make
//! its output plain text, the project's files or name, then the verb.

use serde::{Deserialize, Serialize};

use super::project::ComposeTarget;

/// What the compose view asks of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ComposeAction {
    /// Creates and starts every service in the background (`up --detach`).
    Up,
    Stop,
    Restart,
    /// Removes the project's containers (also those of services no longer in the files) and
    /// networks; with `volumes`, its named volumes too.
    Down {
        volumes: bool,
    },
    /// Checks the files and prints the resolved project as JSON.
    Config,
}

/// Global options and the project's selection, ahead of any verb. `up` enables the target's
/// profiles; every other verb sees the services of all profiles (`--profile=*`), so that stop,
/// down and logs reach every container of the project, whichever profiles started it.
fn head(target: &ComposeTarget, up: bool) -> Vec<String> {
    let mut args: Vec<String> = ["compose", "--ansi=never", "--progress=plain"].map(String::from).to_vec();
    if let Some(name) = &target.name {
        args.push(format!("--project-name={name}"));
    }
    if let Some(dir) = &target.working_dir {
        args.push(format!("--project-directory={dir}"));
    }
    args.extend(target.files.iter().map(|f| format!("--file={f}")));
    args.extend(target.env_files.iter().map(|f| format!("--env-file={f}")));
    if up {
        args.extend(target.profiles.iter().map(|p| format!("--profile={p}")));
    } else {
        args.push("--profile=*".into());
    }
    args
}

/// `docker` arguments that run `action` on `target`. Every value is joined to its option with
/// `=`, so no file or folder name can read as an option.
pub fn compose_args(target: &ComposeTarget, action: ComposeAction) -> Vec<String> {
    let mut args = head(target, matches!(action, ComposeAction::Up));
    let verb: &[&str] = match action {
        ComposeAction::Up => &["up", "--detach"],
        ComposeAction::Stop => &["stop"],
        ComposeAction::Restart => &["restart"],
        ComposeAction::Down { volumes: false } => &["down", "--remove-orphans"],
        ComposeAction::Down { volumes: true } => &["down", "--remove-orphans", "--volumes"],
        ComposeAction::Config => &["config", "--format=json"],
    };
    args.extend(verb.iter().map(|s| (*s).to_string()));
    args
}

/// `docker` arguments that run `action` on some of `target`'s services only (`up`, `stop` and
/// `restart`; `None` for the verbs that act on the whole project). The names follow `--`, so
/// none can read as an option; `up` of a service starts it also when its profile is not chosen.
pub fn service_args(target: &ComposeTarget, action: ComposeAction, services: &[String]) -> Option<Vec<String>> {
    if !matches!(action, ComposeAction::Up | ComposeAction::Stop | ComposeAction::Restart) {
        return None;
    }
    let mut args = compose_args(target, action);
    args.push("--".into());
    args.extend(services.iter().cloned());
    Some(args)
}

/// `docker` arguments that follow the logs of every service of `target`, with timestamps,
/// starting with the last `tail` lines of each container.
pub fn logs_args(target: &ComposeTarget, tail: u32) -> Vec<String> {
    let mut args = head(target, false);
    args.extend(["logs", "--follow", "--timestamps", "--no-color", &format!("--tail={tail}")].map(String::from));
    args
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn target() -> ComposeTarget {
        ComposeTarget {
            name: Some("shop".into()),
            working_dir: Some("/home/u/shop".into()),
            files: vec!["/home/u/shop/compose.yaml".into()],
            env_files: vec!["/home/u/shop/.env.prod".into()],
            profiles: vec!["debug".into()],
        }
    }

    #[test]
    fn up_down_and_logs_read_as_compose_expects() {
        assert_eq!(
            compose_args(&target(), ComposeAction::Up).join(" "),
            "compose --ansi=never --progress=plain --project-name=shop --project-directory=/home/u/shop \
             --file=/home/u/shop/compose.yaml --env-file=/home/u/shop/.env.prod --profile=debug up --detach"
        );
        let by_name = ComposeTarget { name: Some("shop".into()), ..Default::default() };
        assert_eq!(
            compose_args(&by_name, ComposeAction::Down { volumes: true }).join(" "),
            "compose --ansi=never --progress=plain --project-name=shop --profile=* down --remove-orphans --volumes"
        );
        assert!(!compose_args(&by_name, ComposeAction::Down { volumes: false }).contains(&"--volumes".to_string()));
        assert_eq!(
            logs_args(&by_name, 200)[4..],
            ["--profile=*", "logs", "--follow", "--timestamps", "--no-color", "--tail=200"]
        );
        assert_eq!(compose_args(&by_name, ComposeAction::Config)[4..], ["--profile=*", "config", "--format=json"]);
        // Stop and down reach the services of every profile, not only those up enabled.
        let stop = compose_args(&target(), ComposeAction::Stop);
        assert!(stop.contains(&"--profile=*".to_string()) && !stop.contains(&"--profile=debug".to_string()));
    }

    #[test]
    fn one_service_is_named_after_the_options() {
        let web = ["web".to_string()];
        assert_eq!(
            service_args(&target(), ComposeAction::Restart, &web).unwrap_or_default()[7..],
            ["--profile=*", "restart", "--", "web"]
        );
        assert_eq!(
            service_args(&target(), ComposeAction::Up, &web).unwrap_or_default()[7..],
            ["--profile=debug", "up", "--detach", "--", "web"]
        );
        assert_eq!(service_args(&target(), ComposeAction::Down { volumes: false }, &web), None);
        assert_eq!(service_args(&target(), ComposeAction::Config, &web), None);
    }

    proptest! {
        /// Whatever the names, each value stays inside one argument joined to its option: no
        /// argument before the verb can be taken for another option or a verb.
        #[test]
        fn values_never_become_options(
            name in ".{0,20}",
            dir in ".{0,20}",
            files in proptest::collection::vec(".{0,20}", 0..4),
            profiles in proptest::collection::vec(".{0,20}", 0..3),
        ) {
            let t = ComposeTarget { name: Some(name), working_dir: Some(dir), files: files.clone(), env_files: files.clone(), profiles: profiles.clone() };
            let args = compose_args(&t, ComposeAction::Stop);
            prop_assert_eq!(args.len(), 3 + 2 + 2 * files.len() + 1 + 1);
            prop_assert_eq!(args.last().map(String::as_str), Some("stop"));
            let up = compose_args(&t, ComposeAction::Up);
            prop_assert_eq!(up.len(), 3 + 2 + 2 * files.len() + profiles.len() + 2);
            for a in &up[1..up.len() - 2] {
                prop_assert!(a.starts_with("--") && a.contains('='), "{a}");
            }
            for a in &args[1..args.len() - 1] {
                prop_assert!(a.starts_with("--"), "{a}");
                prop_assert!(a.contains('='), "{a}");
            }
        }
    }
}
