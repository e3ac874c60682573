//! `gantry doctor`'s checks of the user's own docker CLI: present, and with the `compose` (v2)
//! and `buildx` plugins a Docker Desktop user expects.

use std::process::Command;

use gantry_machine::accel::HostOs;

use crate::doctor::Check;

/// A docker CLI plugin `gantry doctor` looks for, and the oldest version that counts.
struct Plugin {
    name: &'static str,
    check: &'static str,
    min_major: u64,
    debian_package: &'static str,
}

const PLUGINS: [Plugin; 2] = [
    Plugin {
        name: "compose",
        check: "docker compose",
        min_major: 2,
        debian_package: gantry_core::compose::COMPOSE_PACKAGE,
    },
    Plugin { name: "buildx", check: "docker buildx", min_major: 0, debian_package: "docker-buildx" },
];

/// Where the plugins come from when they are missing (the same advice for every plugin).
fn install_hint(plugin: &Plugin) -> String {
    format!(
        "install the `{pkg}` package (Debian 13 / Ubuntu 24.04 and later; on Debian 12 \
         ./scripts/setup-and-run installs Debian 13's, a static binary) or put docker-{name} in \
         ~/.docker/cli-plugins",
        pkg = plugin.debian_package,
        name = plugin.name,
    )
}

/// The first `x.y.z` in a plugin's `version` output, without a leading `v` or a `+suffix`.
/// "Docker Compose version v2.26.1" → "2.26.1"; "github.com/docker/buildx 0.13.1+ds1 …" → "0.13.1".
pub fn plugin_version(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|word| {
        let word = word.trim_end_matches([',', ';', ')']);
        let v = word.strip_prefix('v').unwrap_or(word);
        let core = v.split(['+', '-']).next()?;
        let parts: Vec<&str> = core.split('.').collect();
        (parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
            .then(|| core.to_string())
    })
}

fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}

/// The check for one plugin given what `docker <plugin> version` printed (None: it failed).
fn plugin_check(plugin: &Plugin, output: Option<&str>) -> Check {
    match output.and_then(plugin_version) {
        Some(v) if major(&v).is_some_and(|m| m >= plugin.min_major) => {
            Check::ok(plugin.check, format!("docker {} {v}", plugin.name))
        }
        Some(v) => Check::warn(
            plugin.check,
            format!("docker {} {v} is too old (need {}.x or later)", plugin.name, plugin.min_major),
            install_hint(plugin),
        ),
        None => Check::warn(
            plugin.check,
            format!("`docker {} version` does not work: the plugin is not installed", plugin.name),
            install_hint(plugin),
        ),
    }
}

fn run_docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where the docker CLI comes from on `os` (Gantry does not ship it; its engine works without).
fn docker_cli_hint(os: HostOs) -> &'static str {
    match os {
        HostOs::Linux => {
            "install the docker CLI (Debian: `apt install docker.io --no-install-recommends`, or docker-cli from Debian 13 on) to use Gantry's engine from a terminal"
        }
        HostOs::MacOs => "install the docker CLI (`brew install docker`) to use Gantry's engine from a terminal",
        HostOs::Windows => {
            "put Docker's CLI for Windows (docker.exe from https://download.docker.com/win/static/stable/x86_64/) in a folder on PATH to use Gantry's engine from a terminal"
        }
    }
}

/// The docker CLI and its plugins, as the user's shell would run them.
pub fn checks() -> Vec<Check> {
    let Some(client) = run_docker(&["version", "--format", "{{.Client.Version}}"]) else {
        return vec![Check::warn("docker CLI", "no `docker` command on PATH", docker_cli_hint(HostOs::current()))];
    };
    let mut out = vec![Check::ok("docker CLI", format!("docker {}", client.trim()))];
    for plugin in &PLUGINS {
        out.push(plugin_check(plugin, run_docker(&[plugin.name, "version"]).as_deref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Level;

    #[test]
    fn the_docker_cli_hint_fits_the_system() {
        assert!(docker_cli_hint(HostOs::Linux).contains("apt install"));
        assert!(docker_cli_hint(HostOs::MacOs).contains("brew install docker"));
        let windows = docker_cli_hint(HostOs::Windows);
        assert!(windows.contains("docker.exe") && !windows.contains("apt"), "{windows}");
    }

    #[test]
    fn reads_the_versions_plugins_print() {
        assert_eq!(plugin_version("Docker Compose version v2.26.1").as_deref(), Some("2.26.1"));
        assert_eq!(plugin_version("Docker Compose version 2.26.1\n").as_deref(), Some("2.26.1"));
        assert_eq!(plugin_version("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3").as_deref(), Some("0.13.1"));
        assert_eq!(plugin_version("github.com/docker/buildx v0.21.2 1360a9e").as_deref(), Some("0.21.2"));
        assert_eq!(plugin_version("docker: 'compose' is not a docker command."), None);
        assert_eq!(plugin_version(""), None);
        assert_eq!(plugin_version("version 1.2"), None);
        assert_eq!(plugin_version("docker-compose version 1.29.2, build unknown").as_deref(), Some("1.29.2"));
    }

    #[test]
    fn compose_v1_or_missing_is_a_warning_naming_the_package() {
        let compose = &PLUGINS[0];
        let old = plugin_check(compose, Some("docker-compose version 1.29.2, build unknown"));
        assert_eq!(old.level, Level::Warn);
        assert!(old.detail.contains("too old"), "{}", old.detail);
        assert!(old.hint.as_deref().is_some_and(|h| h.contains("docker-compose")));
        let missing = plugin_check(compose, None);
        assert_eq!(missing.level, Level::Warn);
        assert!(missing.hint.as_deref().is_some_and(|h| h.contains("~/.docker/cli-plugins")));
        assert_eq!(plugin_check(compose, Some("Docker Compose version v2.26.1")).level, Level::Ok);
        assert_eq!(plugin_check(&PLUGINS[1], Some("github.com/docker/buildx 0.13.1+ds1")).level, Level::Ok);
    }

    /// Arbitrary text never panics and only yields a dotted triple of numbers.
    #[test]
    fn version_parser_survives_any_input() {
        let samples = ["v", "v.", "1..2", "+", "v1.2.3+", "-1.2.3", "1.2.3.4", "ü1.2.3", "v9999999999999999999999.0.0"];
        for s in samples {
            if let Some(v) = plugin_version(s) {
                assert_eq!(v.split('.').count(), 3, "{s} → {v}");
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 24) as usize;
            let s: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"v0123456789.+- ax"[(seed % 17) as usize] as char
                })
                .collect();
            if let Some(v) = plugin_version(&s) {
                assert!(v.split('.').all(|p| p.bytes().all(|b| b.is_ascii_digit())), "{s:?} → {v}");
            }
        }
    }
}
