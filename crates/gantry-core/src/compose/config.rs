//! What `docker compose config --format json` says about a project, and what its errors and a
//! missing plugin look like.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A project as its compose files declare it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProjectConfig {
    pub name: String,
    /// Service names, sorted: every service of every profile.
    pub services: Vec<String>,
    /// The profiles of the services that have some (a service without profiles always runs).
    pub service_profiles: BTreeMap<String, Vec<String>>,
    /// Every profile the files name, sorted.
    pub profiles: Vec<String>,
    /// The engine names of the named volumes it declares (`shop_data`), sorted.
    pub volumes: Vec<String>,
    /// The engine names of its networks (`shop_default`), sorted.
    pub networks: Vec<String>,
}

#[derive(Deserialize)]
struct RawConfig {
    name: String,
    #[serde(default)]
    services: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    volumes: BTreeMap<String, Option<RawNamed>>,
    #[serde(default)]
    networks: BTreeMap<String, Option<RawNamed>>,
}

#[derive(Deserialize)]
struct RawNamed {
    name: Option<String>,
    #[serde(default)]
    external: Option<serde_json::Value>,
}

/// Engine names of declared volumes or networks, without external ones (compose never creates
/// or removes those).
fn engine_names(project: &str, declared: BTreeMap<String, Option<RawNamed>>) -> Vec<String> {
    let mut out: Vec<String> = declared
        .into_iter()
        .filter(|(_, v)| {
            !v.as_ref().and_then(|v| v.external.as_ref()).is_some_and(|e| e != &serde_json::Value::Bool(false))
        })
        .map(|(key, v)| v.and_then(|v| v.name).unwrap_or_else(|| format!("{project}_{key}")))
        .collect();
    out.sort();
    out
}

/// The profile names of a service's configuration (`"profiles": ["debug"]`).
fn profiles_of(service: &serde_json::Value) -> Vec<String> {
    let names = service.get("profiles").and_then(serde_json::Value::as_array);
    let mut out: Vec<String> = names.into_iter().flatten().filter_map(|p| p.as_str().map(str::to_string)).collect();
    out.sort();
    out.dedup();
    out
}

/// Reads the JSON of `docker compose config --format json` (run with `--profile=*`, so that it
/// holds the services of every profile).
pub fn parse_config(json: &str) -> Result<ProjectConfig, serde_json::Error> {
    let raw: RawConfig = serde_json::from_str(json)?;
    let service_profiles: BTreeMap<String, Vec<String>> = raw
        .services
        .iter()
        .map(|(name, service)| (name.clone(), profiles_of(service)))
        .filter(|(_, profiles)| !profiles.is_empty())
        .collect();
    let mut profiles: Vec<String> = service_profiles.values().flatten().cloned().collect();
    profiles.sort();
    profiles.dedup();
    Ok(ProjectConfig {
        service_profiles,
        profiles,
        services: raw.services.into_keys().collect(),
        volumes: engine_names(&raw.name, raw.volumes),
        networks: engine_names(&raw.name, raw.networks),
        name: raw.name,
    })
}

/// The profiles that bring up the services which have containers (`made`): for each such service
/// with profiles, its first one unless another chosen already covers it. Up then starts what the
/// project had, e.g. a project started with `--profile debug` in a terminal.
pub fn profiles_in_use<'a>(
    service_profiles: &BTreeMap<String, Vec<String>>,
    made: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for service in made {
        let Some(profiles) = service_profiles.get(service) else { continue };
        if !profiles.iter().any(|p| chosen.contains(p))
            && let Some(first) = profiles.first()
        {
            chosen.push(first.clone());
        }
    }
    chosen.sort();
    chosen
}

/// Why compose rejected a project's files: its own words and, when it names one, the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub message: String,
    pub line: Option<u32>,
}

/// Whether a compose line is only a warning (`WARN[0000] ...`, `time="..." level=warning`).
fn is_warning(line: &str) -> bool {
    line.starts_with("WARN[") || (line.starts_with("time=") && line.contains("level=warning"))
}

/// The problem in what `docker compose config` wrote to stderr: its message without warnings,
/// and the first `line N` it mentions (YAML errors say `yaml: line 4: ...`).
pub fn config_problem(stderr: &str) -> ConfigProblem {
    let kept: Vec<&str> =
        stderr.lines().map(str::trim_end).filter(|l| !l.trim().is_empty() && !is_warning(l.trim_start())).collect();
    let message = kept.join("\n");
    let line = message.match_indices("line ").find_map(|(i, _)| {
        let digits: String = message[i + 5..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    ConfigProblem { message, line }
}

/// Whether the docker CLI said that it has no `compose` command (the plugin is not installed).
pub fn plugin_missing(stderr: &str) -> bool {
    stderr.contains("'compose' is not a docker command") || stderr.contains("unknown command: docker compose")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_services_volumes_and_networks_as_the_engine_names_them() -> Result<(), serde_json::Error> {
        let json = r#"{"name":"shop","services":{"web":{"image":"x"},"db":{"image":"y"}},
            "volumes":{"data":{"name":"shop_data"},"cache":null,"ext":{"name":"shared","external":true}},
            "networks":{"default":{"name":"shop_default","ipam":{}}}}"#;
        let config = parse_config(json)?;
        assert_eq!(config.name, "shop");
        assert_eq!(config.services, ["db", "web"]);
        assert_eq!(config.volumes, ["shop_cache", "shop_data"]);
        assert_eq!(config.networks, ["shop_default"]);
        assert!(config.profiles.is_empty() && config.service_profiles.is_empty());
        assert_eq!(parse_config(r#"{"name":"empty"}"#)?.services, Vec::<String>::new());
        assert!(parse_config("services: {}").is_err());
        Ok(())
    }

    #[test]
    fn reads_each_services_profiles() -> Result<(), serde_json::Error> {
        let json = r#"{"name":"shop","services":{"web":{"image":"x"},
            "debug":{"image":"y","profiles":["debug"]},"admin":{"profiles":["ops","debug","ops"]},
            "odd":{"profiles":"debug"}}}"#;
        let config = parse_config(json)?;
        assert_eq!(config.services, ["admin", "debug", "odd", "web"]);
        assert_eq!(config.profiles, ["debug", "ops"]);
        assert_eq!(
            config.service_profiles.get("admin").map(Vec::as_slice),
            Some(&["debug".to_string(), "ops".into()][..])
        );
        assert!(!config.service_profiles.contains_key("web") && !config.service_profiles.contains_key("odd"));
        Ok(())
    }

    #[test]
    fn the_profiles_in_use_bring_up_what_runs() {
        let sp: BTreeMap<String, Vec<String>> = [
            ("debug".to_string(), vec!["debug".to_string()]),
            ("admin".into(), vec!["debug".into(), "ops".into()]),
            ("metrics".into(), vec!["ops".into()]),
        ]
        .into();
        assert_eq!(profiles_in_use(&sp, ["web"]), Vec::<String>::new());
        assert_eq!(profiles_in_use(&sp, ["web", "debug", "admin"]), ["debug"]);
        assert_eq!(profiles_in_use(&sp, ["admin", "metrics"]), ["debug", "ops"]);
        assert_eq!(profiles_in_use(&sp, ["metrics", "admin"]), ["ops"]);
    }

    #[test]
    fn a_rejected_file_gives_its_message_and_line() {
        let yaml = config_problem(
            "WARN[0000] /p/compose.yaml: `version` is obsolete\nyaml: line 4: did not find expected key\n",
        );
        assert_eq!(yaml, ConfigProblem { message: "yaml: line 4: did not find expected key".into(), line: Some(4) });
        let schema =
            config_problem("validating /p/compose.yaml: services.web Additional property imag is not allowed\n");
        assert_eq!(schema.line, None);
        assert!(schema.message.contains("imag is not allowed"));
        let unmarshal = config_problem("yaml: unmarshal errors:\n  line 12: cannot unmarshal !!str `x` into []string");
        assert_eq!(unmarshal.line, Some(12));
    }

    #[test]
    fn knows_the_missing_plugin_message() {
        assert!(plugin_missing("docker: 'compose' is not a docker command.\nSee 'docker --help'"));
        assert!(plugin_missing("docker: unknown command: docker compose\n"));
        assert!(!plugin_missing("no such service: web"));
    }

    proptest! {
        #[test]
        fn any_stderr_gives_a_problem_without_panicking(text in "(line |yaml: |WARN\\[|[0-9]{1,12}|.|\n){0,40}") {
            let p = config_problem(&text);
            prop_assert!(!p.message.lines().any(|l| l.starts_with("WARN[")));
            if let Some(n) = p.line {
                prop_assert!(p.message.contains("line "));
                prop_assert!(p.message.contains(&n.to_string()));
            }
        }

        #[test]
        fn any_json_parses_or_fails_cleanly(text in "\\PC{0,80}") {
            let _ = parse_config(&text);
        }
    }
}
