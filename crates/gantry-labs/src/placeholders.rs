//! Placeholders in lab texts, checks and solutions: `{{lab.dir}}` (the learner's work folder) and
//! `{{lab.port.NAME}}` (a host port the lab declares). Gantry fills them in per learner, so a lab
//! works when its usual port is taken and its commands show the real folder. Other `{{…}}` text,
//! such as `docker inspect --format '{{.State.Status}}'`, is left alone.

use std::collections::BTreeMap;

const OPEN: &str = "{{lab.";
const CLOSE: &str = "}}";

/// One placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `{{lab.dir}}`
    Dir,
    /// `{{lab.port.NAME}}`
    Port(String),
}

/// A placeholder that is not one Gantry knows, with its byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPlaceholder {
    pub offset: usize,
    pub message: String,
}

/// Every `{{lab.…}}` placeholder in `text` with its byte offset.
pub fn scan(text: &str) -> Vec<Result<(usize, Placeholder), BadPlaceholder>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find(OPEN) {
        let start = from + rel;
        let inner_start = start + OPEN.len();
        let Some(len) = text[inner_start..].find(CLOSE) else {
            out.push(Err(BadPlaceholder { offset: start, message: "`{{lab.` is not closed with `}}`".into() }));
            break;
        };
        let name = &text[inner_start..inner_start + len];
        out.push(parse_name(name).map(|p| (start, p)).map_err(|message| BadPlaceholder { offset: start, message }));
        from = inner_start + len + CLOSE.len();
    }
    out
}

fn parse_name(name: &str) -> Result<Placeholder, String> {
    if name == "dir" {
        return Ok(Placeholder::Dir);
    }
    if let Some(port) = name.strip_prefix("port.") {
        if is_identifier(port) {
            return Ok(Placeholder::Port(port.to_string()));
        }
        return Err(format!("`{{{{lab.port.{port}}}}}`: a port name uses lowercase letters, digits, '-' and '_'"));
    }
    Err(format!("unknown placeholder `{{{{lab.{name}}}}}`; use {{{{lab.dir}}}} or {{{{lab.port.NAME}}}}"))
}

/// True for a lowercase identifier: `web`, `registry-2`, `db_port`.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// What placeholders stand for in one learner's lab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// The work folder, as the engine's host sees it.
    pub dir: String,
    /// Host port of each declared port name.
    pub ports: BTreeMap<String, u16>,
}

/// `text` with every known placeholder filled in; unknown or unfilled ones stay as written.
pub fn substitute(text: &str, values: &Values) -> String {
    if !text.contains(OPEN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for found in scan(text) {
        let Ok((start, placeholder)) = found else { continue };
        let value = match &placeholder {
            Placeholder::Dir => Some(values.dir.clone()),
            Placeholder::Port(name) => values.ports.get(name).map(u16::to_string),
        };
        let Some(value) = value else { continue };
        let end = text[start..].find(CLOSE).map_or(text.len(), |i| start + i + CLOSE.len());
        out.push_str(&text[last..start]);
        out.push_str(&value);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values { dir: "/home/me/gantry-labs/x".into(), ports: BTreeMap::from([("web".into(), 18080)]) }
    }

    #[test]
    fn fills_known_placeholders_and_leaves_go_templates() {
        let text = "cd {{lab.dir}} && curl localhost:{{lab.port.web}} # {{.State.Status}}";
        assert_eq!(
            substitute(text, &values()),
            "cd /home/me/gantry-labs/x && curl localhost:18080 # {{.State.Status}}"
        );
        assert_eq!(substitute("no placeholders", &values()), "no placeholders");
    }

    #[test]
    fn unknown_and_unclosed_are_reported_with_offsets() {
        let found = scan("a {{lab.port.web}} b {{lab.home}} c {{lab.port.Web}} {{lab.dir");
        assert_eq!(found[0], Ok((2, Placeholder::Port("web".into()))));
        assert!(matches!(&found[1], Err(BadPlaceholder { offset: 21, message }) if message.contains("unknown")));
        assert!(matches!(&found[2], Err(BadPlaceholder { message, .. }) if message.contains("lowercase")));
        assert!(matches!(&found[3], Err(BadPlaceholder { message, .. }) if message.contains("not closed")));
    }

    #[test]
    fn undeclared_ports_stay_visible() {
        assert_eq!(substitute("{{lab.port.db}}", &values()), "{{lab.port.db}}");
    }
}
