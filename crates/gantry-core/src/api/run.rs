//! The Run dialog's form: what a person typed, checked field by field and turned into the
//! engine's [`RunSpec`], with the equivalent `docker run` command.

use gantry_engine::{MountSpec, PortSpec, Restart, RunSpec};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, FieldError};

/// The Run dialog, as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct RunRequest {
    pub image: String,
    pub name: String,
    /// Command line, split on whitespace (quotes group words).
    pub command: String,
    /// `-p` values: `8080:80`, `127.0.0.1:8080:80/udp`.
    pub ports: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// `-v` values: `name:/path`, `/host:/path:ro`.
    pub volumes: Vec<String>,
    pub network: String,
    pub restart: Restart,
    pub auto_remove: bool,
}

/// What the Run dialog makes: the spec and the equivalent `docker run` command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunPreview {
    pub command: String,
}

/// Splits a command line on whitespace; single or double quotes group words.
pub fn split_command(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    words
}

impl RunRequest {
    /// Checks every field and builds the engine's spec; all problems are reported at once.
    pub fn to_spec(&self) -> Result<RunSpec, ApiError> {
        let mut errs = Vec::new();
        let field =
            |f: String, e: gantry_engine::EngineError| FieldError { field: f, message: e.to_string(), hint: e.hint() };
        let image = self.image.trim();
        if image.is_empty() {
            errs.push(FieldError {
                field: "image".into(),
                message: "choose an image to run".into(),
                hint: "type an image name such as busybox:latest, or pick one from the Images panel".into(),
            });
        } else if let Err(e) = gantry_engine::images::validate_reference(image) {
            errs.push(field("image".into(), e));
        }
        let mut spec = RunSpec::new(image);
        let name = self.name.trim();
        if !name.is_empty() {
            let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                errs.push(FieldError {
                    field: "name".into(),
                    message: format!("{name:?} is not a valid container name"),
                    hint: "use letters, digits, '_', '.' and '-', starting with a letter or digit".into(),
                });
            }
            spec.name = Some(name.to_string());
        }
        spec.command = split_command(&self.command);
        for (i, p) in self.ports.iter().map(|p| p.trim()).enumerate().filter(|(_, p)| !p.is_empty()) {
            match PortSpec::parse(p) {
                Ok(port) => spec.ports.push(port),
                Err(e) => errs.push(field(format!("ports[{i}]"), e)),
            }
        }
        for (i, e) in self.env.iter().map(|e| e.trim()).enumerate().filter(|(_, e)| !e.is_empty()) {
            if e.starts_with('=') {
                errs.push(FieldError {
                    field: format!("env[{i}]"),
                    message: format!("{e:?} has no variable name"),
                    hint: "write KEY=value".into(),
                });
            } else {
                spec.env.push(e.to_string());
            }
        }
        for (i, v) in self.volumes.iter().map(|v| v.trim()).enumerate().filter(|(_, v)| !v.is_empty()) {
            match MountSpec::parse(v) {
                Ok(m) => spec.mounts.push(m),
                Err(e) => errs.push(field(format!("volumes[{i}]"), e)),
            }
        }
        let network = self.network.trim();
        if !network.is_empty() {
            spec.network = Some(network.to_string());
        }
        spec.restart = self.restart;
        spec.auto_remove = self.auto_remove;
        if errs.is_empty() { Ok(spec) } else { Err(ApiError::invalid(errs)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_with_quotes() {
        assert_eq!(split_command("httpd -f -p 80"), ["httpd", "-f", "-p", "80"]);
        assert_eq!(split_command("sh -c 'echo hi there'"), ["sh", "-c", "echo hi there"]);
        assert_eq!(split_command("  "), Vec::<String>::new());
        assert_eq!(split_command("echo \"\""), ["echo", ""]);
    }

    #[test]
    fn run_request_reports_every_bad_field() {
        let req = RunRequest {
            image: "busybox".into(),
            ports: vec!["8080:80".into(), "nope".into()],
            volumes: vec!["data".into()],
            ..Default::default()
        };
        let Err(err) = req.to_spec() else { panic!("should fail") };
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["ports[1]", "volumes[0]"]);
    }

    #[test]
    fn run_request_builds_spec() -> Result<(), ApiError> {
        let req = RunRequest {
            image: "busybox:latest".into(),
            name: "web".into(),
            command: "httpd -f -p 80".into(),
            ports: vec!["18080:80".into()],
            env: vec!["A=1".into()],
            ..Default::default()
        };
        let spec = req.to_spec()?;
        assert_eq!(spec.ports.len(), 1);
        assert!(spec.docker_run_command().contains("-p 18080:80"));
        Ok(())
    }
}
