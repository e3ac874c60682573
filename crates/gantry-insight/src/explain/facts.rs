//! The parts of a container's inspect data that explain what happened to it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A health check's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HealthFacts {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failed checks in a row.
    pub failing_streak: i64,
    /// The last check's exit code and output.
    pub last_exit_code: Option<i64>,
    pub last_output: String,
}

/// What a container's inspect data says about its last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ContainerFacts {
    pub name: String,
    /// `created`, `running`, `exited`, … (`created` after a failed start).
    pub status: String,
    pub running: bool,
    pub oom_killed: bool,
    pub exit_code: Option<i64>,
    /// The engine's error for the last start (empty when none).
    pub error: String,
    /// The command it runs (entrypoint and arguments).
    pub command: Vec<String>,
    /// Memory limit in bytes (0: none).
    pub memory_limit: i64,
    /// `no`, `always`, `on-failure`, `unless-stopped`.
    pub restart_policy: String,
    pub health: Option<HealthFacts>,
    /// Host ports asked for that are not published (`8080->80/tcp`), while it runs.
    pub unpublished_ports: Vec<String>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

impl ContainerFacts {
    /// Reads the facts from `docker inspect` JSON (`ContainerDetails::raw`).
    pub fn from_inspect(raw: &Value) -> Self {
        let state = &raw["State"];
        let running = state["Running"].as_bool().unwrap_or(false);
        let health = state["Health"].as_object().map(|h| {
            let last = h.get("Log").and_then(Value::as_array).and_then(|log| log.last());
            HealthFacts {
                status: h.get("Status").map(text).unwrap_or_default(),
                failing_streak: h.get("FailingStreak").and_then(Value::as_i64).unwrap_or(0),
                last_exit_code: last.and_then(|l| l["ExitCode"].as_i64()),
                last_output: last.map(|l| text(&l["Output"]).trim().to_string()).unwrap_or_default(),
            }
        });
        let mut command: Vec<String> = vec![text(&raw["Path"])];
        command.extend(raw["Args"].as_array().into_iter().flatten().map(text));
        command.retain(|c| !c.is_empty());
        let mut unpublished = Vec::new();
        if running {
            for (port, bindings) in raw["HostConfig"]["PortBindings"].as_object().into_iter().flatten() {
                let published = &raw["NetworkSettings"]["Ports"][port];
                for binding in bindings.as_array().into_iter().flatten() {
                    let wanted = text(&binding["HostPort"]);
                    let found = published.as_array().into_iter().flatten().any(|p| {
                        let host = text(&p["HostPort"]);
                        !host.is_empty() && (wanted.is_empty() || host == wanted)
                    });
                    if !found {
                        let host = if wanted.is_empty() { "?".to_string() } else { wanted };
                        unpublished.push(format!("{host}->{port}"));
                    }
                }
            }
        }
        Self {
            name: text(&raw["Name"]).trim_start_matches('/').to_string(),
            status: text(&state["Status"]),
            running,
            oom_killed: state["OOMKilled"].as_bool().unwrap_or(false),
            exit_code: state["ExitCode"].as_i64(),
            error: text(&state["Error"]),
            command,
            memory_limit: raw["HostConfig"]["Memory"].as_i64().unwrap_or(0),
            restart_policy: text(&raw["HostConfig"]["RestartPolicy"]["Name"]),
            health,
            unpublished_ports: unpublished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_health_and_ports() {
        let raw = serde_json::json!({
            "Name": "/web",
            "Path": "nginx",
            "Args": ["-g", "daemon off;"],
            "State": {"Running": true, "OOMKilled": false, "ExitCode": 0, "Error": "",
                "Health": {"Status": "unhealthy", "FailingStreak": 3, "Log": [{"ExitCode": 1, "Output": "curl: (7) refused\n"}]}},
            "HostConfig": {"Memory": 8388608, "RestartPolicy": {"Name": "no"},
                "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "443/tcp": [{"HostIp": "", "HostPort": "8443"}]}},
            "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}}
        });
        let facts = ContainerFacts::from_inspect(&raw);
        assert_eq!(facts.name, "web");
        assert_eq!(facts.command, ["nginx", "-g", "daemon off;"]);
        assert_eq!(facts.memory_limit, 8 << 20);
        let health = facts.health.expect("health");
        assert_eq!(
            (health.status.as_str(), health.failing_streak, health.last_output.as_str()),
            ("unhealthy", 3, "curl: (7) refused")
        );
        assert_eq!(facts.unpublished_ports, ["8443->443/tcp"]);
    }
}
