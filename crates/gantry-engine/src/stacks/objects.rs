//! A stack's Swarm secrets and configs: the top-level `secrets:` and `configs:` (from a file, an
//! environment variable, or, for configs, inline `content`; or `external`, made beforehand) and
//! the services' references to them, as `docker stack deploy` reads them. Their contents are read
//! while planning, so a missing file is an error before anything changes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::compose::ComposeError;
use super::convert::{labels_of, object, object_or_empty, refuse_unknown};
use super::values::{boolean, integer, text};
use crate::swarm_objects::SwarmObjectKind as Kind;

type Res<T> = Result<T, ComposeError>;

/// A reference's file mode when the file does not say (the docker CLI's).
const DEFAULT_MODE: u32 = 0o444;

/// The compose file's key (`secrets`, `configs`).
pub fn compose_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Secret => "secrets",
        Kind::Config => "configs",
    }
}

/// The engine's spelling in a task's container spec: the list (`Secrets`) and the name's key.
fn pascal(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Secret => ("Secrets", "SecretName"),
        Kind::Config => ("Configs", "ConfigName"),
    }
}

/// Where contents come from: a file, an environment variable, or (configs) inline text.
fn sources(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Secret => &["file", "environment"],
        Kind::Config => &["file", "environment", "content"],
    }
}

/// The stack's secrets and configs, by compose name.
#[derive(Debug, Clone, Default)]
pub(super) struct Defined {
    pub secrets: BTreeMap<String, PlannedObject>,
    pub configs: BTreeMap<String, PlannedObject>,
}

impl Defined {
    pub fn read(
        stack: &str,
        top: &Map<String, Value>,
        base_dir: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Res<Self> {
        Ok(Self {
            secrets: read(Kind::Secret, stack, top.get("secrets"), base_dir, lookup)?,
            configs: read(Kind::Config, stack, top.get("configs"), base_dir, lookup)?,
        })
    }

    fn of(&self, kind: Kind) -> &BTreeMap<String, PlannedObject> {
        match kind {
            Kind::Secret => &self.secrets,
            Kind::Config => &self.configs,
        }
    }

    /// All of them, secrets first.
    pub fn into_list(self) -> Vec<PlannedObject> {
        self.secrets.into_values().chain(self.configs.into_values()).collect()
    }
}

/// A secret or config the stack uses.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    pub kind: Kind,
    /// The compose file's name (`db_password`).
    pub short_name: String,
    /// The name on the engine (`shop_db_password`, or the external one's).
    pub name: String,
    /// Made beforehand (`external: true`): the deploy only checks that it exists.
    pub external: bool,
    /// Its contents (empty when external).
    pub data: Vec<u8>,
    pub labels: BTreeMap<String, String>,
}

/// The top-level `secrets:` or `configs:` of a compose file, by compose name.
fn read(
    kind: Kind,
    stack: &str,
    top: Option<&Value>,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Res<BTreeMap<String, PlannedObject>> {
    let empty = Map::new();
    let mut out = BTreeMap::new();
    let Some(top) = top else { return Ok(out) };
    for (short_name, def) in object_or_empty(top, compose_key(kind), &empty)? {
        let at = format!("{}.{short_name}", compose_key(kind));
        let def = object(def, &at)?;
        let mut known = vec!["name", "external", "labels"];
        known.extend(sources(kind));
        refuse_unknown(def, &at, &known)?;
        let external = match def.get("external") {
            None => None,
            Some(Value::Object(e)) => Some(e.get("name").map(|n| text(n, &format!("{at}.external.name"))).transpose()?),
            Some(v) => boolean(v, &format!("{at}.external"))?.then_some(None),
        };
        let explicit = def.get("name").map(|n| text(n, &format!("{at}.name"))).transpose()?;
        let given: Vec<&str> = sources(kind).iter().copied().filter(|s| def.contains_key(*s)).collect();
        let (name, data) = match (&external, given.as_slice()) {
            (Some(external_name), []) => {
                (external_name.clone().or(explicit).unwrap_or_else(|| short_name.clone()), Vec::new())
            }
            (Some(_), _) => {
                return Err(ComposeError::at(
                    at,
                    "an external one is made outside the stack: it has no file, environment or content",
                ));
            }
            (None, [source]) => {
                let data = contents(kind, def, source, &format!("{at}.{source}"), base_dir, lookup)?;
                (explicit.unwrap_or_else(|| format!("{stack}_{short_name}")), data)
            }
            (None, _) => {
                return Err(ComposeError::at(
                    at,
                    format!("needs exactly one of {} (or external: true)", sources(kind).join(", ")),
                ));
            }
        };
        let labels = labels_of(def.get("labels"), &format!("{at}.labels"), stack)?
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect();
        out.insert(
            short_name.clone(),
            PlannedObject { kind, short_name: short_name.clone(), name, external: external.is_some(), data, labels },
        );
    }
    Ok(out)
}

/// The contents named by `file` (relative to the compose file's folder), `environment` (a
/// variable's value) or `content` (inline).
fn contents(
    kind: Kind,
    def: &Map<String, Value>,
    source: &str,
    at: &str,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Res<Vec<u8>> {
    let value = text(def.get(source).unwrap_or(&Value::Null), at)?;
    let data = match source {
        "file" => {
            let path = base_dir.join(&value);
            let meta = std::fs::metadata(&path)
                .map_err(|e| ComposeError::at(at, format!("cannot read {}: {e}", path.display())))?;
            if meta.len() > kind.max_bytes() as u64 {
                return Err(ComposeError::at(
                    at,
                    format!(
                        "{} has {} bytes; the engine keeps at most {}",
                        path.display(),
                        meta.len(),
                        kind.max_bytes()
                    ),
                ));
            }
            std::fs::read(&path).map_err(|e| ComposeError::at(at, format!("cannot read {}: {e}", path.display())))?
        }
        "environment" => {
            lookup(&value).ok_or_else(|| ComposeError::at(at, format!("the variable {value} is not set")))?.into_bytes()
        }
        _ => value.into_bytes(),
    };
    if data.len() > kind.max_bytes() {
        return Err(ComposeError::at(
            at,
            format!("has {} bytes; the engine keeps at most {}", data.len(), kind.max_bytes()),
        ));
    }
    Ok(data)
}

/// A service's `secrets:` or `configs:` list as the engine's references (their IDs are filled in
/// at deploy time, when the objects exist): `- name` or `- {source, target, uid, gid, mode}`.
pub(super) fn references(kind: Kind, v: &Value, at: &str, defined: &Defined) -> Res<Vec<Value>> {
    let defined = defined.of(kind);
    let list = v.as_array().ok_or_else(|| ComposeError::at(at, "expected a list"))?;
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let iat = format!("{at}[{i}]");
        let (source, long) = match item {
            Value::Object(long) => {
                refuse_unknown(long, &iat, &["source", "target", "uid", "gid", "mode"])?;
                let source = text(
                    long.get("source").ok_or_else(|| ComposeError::at(&iat, "needs a source"))?,
                    &format!("{iat}.source"),
                )?;
                (source, Some(long))
            }
            other => (text(other, &iat)?, None),
        };
        let object = defined.get(&source).ok_or_else(|| {
            ComposeError::at(&iat, format!("{source} is not defined in the top-level `{}:`", compose_key(kind)))
        })?;
        let field = |key: &str| long.and_then(|l| l.get(key)).map(|v| (v, format!("{iat}.{key}")));
        let target = match field("target") {
            Some((v, fat)) => text(v, &fat)?,
            None => source.clone(),
        };
        // a config's default place is /NAME; a secret's relative name goes under /run/secrets/
        let target = if kind == Kind::Config && !target.starts_with('/') { format!("/{target}") } else { target };
        let id_text = |key: &str| -> Res<String> {
            Ok(match field(key) {
                Some((Value::String(s), _)) => s.clone(),
                Some((v, fat)) => integer(v, &fat)?.to_string(),
                None => "0".into(),
            })
        };
        let mode = match field("mode") {
            Some((v, fat)) => file_mode(v, &fat)?,
            None => DEFAULT_MODE,
        };
        let (_, name_key) = pascal(kind);
        out.push(json!({
            "File": {"Name": target, "UID": id_text("uid")?, "GID": id_text("gid")?, "Mode": mode},
            name_key: object.name,
        }));
    }
    Ok(out)
}

/// A file mode: `0440` (as the compose documentation writes it; YAML 1.2 reads it as the number
/// 440, whose digits are taken as octal), `0o440`, or the string `"0440"`. A number with an 8 or
/// 9 in it is already the mode's value (`0o440` arrives as 288).
pub(super) fn file_mode(v: &Value, at: &str) -> Res<u32> {
    let bad = || ComposeError::at(at, "expected a file mode in octal, e.g. 0440");
    let mode = match v {
        Value::String(s) => {
            let digits = s.trim().trim_start_matches("0o");
            u32::from_str_radix(if digits.is_empty() { "0" } else { digits }, 8).map_err(|_| bad())?
        }
        Value::Number(n) => {
            let n = n.as_u64().ok_or_else(bad)?;
            let decimal = n.to_string();
            if decimal.chars().all(|c| ('0'..='7').contains(&c)) {
                u32::from_str_radix(&decimal, 8).map_err(|_| bad())?
            } else {
                u32::try_from(n).map_err(|_| bad())?
            }
        }
        _ => return Err(bad()),
    };
    if mode > 0o777 {
        return Err(ComposeError::at(at, format!("{mode:o} is not a file mode (at most 777)")));
    }
    Ok(mode)
}

/// Puts the engine's IDs of `objects` (by engine name) into a service's references.
/// Puts the engine's IDs of the secrets and configs (by kind and engine name) into a service's
/// references.
pub(super) fn fill_ids(spec: &mut bollard::models::ServiceSpec, ids: &BTreeMap<(Kind, String), String>) {
    let Some(container) = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()) else { return };
    let id = |kind: Kind, name: &Option<String>| name.as_ref().and_then(|n| ids.get(&(kind, n.clone()))).cloned();
    for r in container.secrets.iter_mut().flatten() {
        r.secret_id = id(Kind::Secret, &r.secret_name);
    }
    for r in container.configs.iter_mut().flatten() {
        r.config_id = id(Kind::Config, &r.config_name);
    }
}

/// The engine's key for a kind's references in a container spec.
pub(super) fn container_key(kind: Kind) -> &'static str {
    pascal(kind).0
}
