//! Reading a compose file as `docker stack deploy` does: YAML (anchors, aliases and `<<` merge
//! keys), `x-` extension fields dropped, variables substituted in every string, into a JSON tree
//! that [`super::convert`] turns into Swarm specs, with the place of every error named.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::interpolate::interpolate;

/// Largest compose file read (a compose file is a few kilobytes; this keeps a mistaken file,
/// or aliases that multiply, from taking the memory).
pub const MAX_COMPOSE_BYTES: usize = 1024 * 1024;

/// Where in the compose file something is wrong, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeError {
    /// `services.web.ports[1]`, or `line 3, column 5` for YAML syntax.
    pub location: String,
    pub message: String,
}

impl ComposeError {
    pub(crate) fn at(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { location: location.into(), message: message.into() }
    }
}

/// Parses `text`, substituting variables with `lookup`; warnings (unset variables) are added to
/// `warnings`.
pub fn load(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Value, ComposeError> {
    if text.len() > MAX_COMPOSE_BYTES {
        return Err(ComposeError::at("the file", format!("is larger than {MAX_COMPOSE_BYTES} bytes")));
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        ComposeError::at(format!("line {}, column {}", e.marker().line(), e.marker().col() + 1), e.info())
    })?;
    let doc = match docs.len() {
        0 => return Err(ComposeError::at("the file", "is empty: a compose file has a `services:` section")),
        1 => docs.into_iter().next().unwrap_or(Yaml::Null),
        n => return Err(ComposeError::at("the file", format!("holds {n} YAML documents; a compose file is one"))),
    };
    let value = to_json(doc, "", lookup, warnings)?;
    if !value.is_object() {
        return Err(ComposeError::at("the file", "is not a mapping: a compose file starts with `services:`"));
    }
    Ok(value)
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn key_text(key: &Yaml, path: &str) -> Result<String, ComposeError> {
    match key {
        Yaml::String(s) | Yaml::Real(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        _ => Err(ComposeError::at(path, "a key must be a plain word")),
    }
}

fn to_json(
    yaml: Yaml,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Value, ComposeError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => {
            r.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::String(r), Value::Number)
        }
        Yaml::String(s) => {
            Value::String(interpolate(&s, lookup, warnings).map_err(|message| ComposeError::at(path, message))?)
        }
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]"), lookup, warnings))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            let mut merged: Vec<Yaml> = Vec::new();
            for (key, value) in hash {
                if key == Yaml::String("<<".into()) {
                    match value {
                        Yaml::Array(items) => merged.extend(items),
                        other => merged.push(other),
                    }
                    continue;
                }
                let key = key_text(&key, path)?;
                // extension fields hold anchors for other places; they configure nothing
                if path.split('.').count() <= 2 && key.starts_with("x-") {
                    continue;
                }
                let value = to_json(value, &child(path, &key), lookup, warnings)?;
                map.insert(key, value);
            }
            // `<<: *base` (or a list of them): keys not set here come from the merged mappings,
            // the first one listed winning
            for source in merged {
                let Value::Object(source) = to_json(source, &child(path, "<<"), lookup, warnings)? else {
                    return Err(ComposeError::at(child(path, "<<"), "a merge key takes a mapping (or a list of them)"));
                };
                for (key, value) in source {
                    map.entry(key).or_insert(value);
                }
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(ComposeError::at(path, "an alias to an anchor that is not defined before it"));
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn anchors_merge_keys_and_extension_fields() {
        let text = r#"
x-common: &common
  image: app:1
  environment:
    MODE: prod
services:
  web:
    <<: *common
    image: app:2
  worker:
    <<: [*common]
    command: ["run", "jobs"]
"#;
        let mut warnings = Vec::new();
        let v = load(text, &no_env, &mut warnings).unwrap();
        assert!(v.get("x-common").is_none());
        assert_eq!(v["services"]["web"]["image"], "app:2", "the service's own key wins");
        assert_eq!(v["services"]["worker"]["image"], "app:1");
        assert_eq!(v["services"]["worker"]["environment"]["MODE"], "prod");
    }

    #[test]
    fn variables_are_substituted_in_strings_only() {
        let lookup = |name: &str| (name == "TAG").then(|| "7".to_string());
        let mut warnings = Vec::new();
        let v = load("services:\n  a:\n    image: app:${TAG}\n    ports: [\"${P:-80}:80\"]\n", &lookup, &mut warnings)
            .unwrap();
        assert_eq!(v["services"]["a"]["image"], "app:7");
        assert_eq!(v["services"]["a"]["ports"][0], "80:80");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn errors_name_the_place() {
        let mut warnings = Vec::new();
        let e = load("services:\n  a:\n    image: [unclosed\n", &no_env, &mut warnings).unwrap_err();
        assert!(e.location.starts_with("line "), "{e:?}");
        let e = load("services:\n  a:\n    image: \"$\"\n", &no_env, &mut warnings).unwrap_err();
        assert_eq!(e.location, "services.a.image");
        assert!(load("", &no_env, &mut warnings).is_err());
        assert!(load("- a\n- b\n", &no_env, &mut warnings).is_err());
        assert!(load("a: 1\n---\nb: 2\n", &no_env, &mut warnings).is_err());
    }

    proptest! {
        #[test]
        fn any_text_loads_or_fails_without_panicking(text in "[ -~\n]{0,200}") {
            let mut warnings = Vec::new();
            let _ = load(&text, &no_env, &mut warnings);
        }

        #[test]
        fn plain_mappings_load_as_written(entries in proptest::collection::btree_map("[a-w][a-z0-9_]{0,8}", "[a-z0-9 ._/-]{0,16}", 0..8)) {
            let text: String = std::iter::once("services: {}\n".to_string())
                .chain(entries.iter().map(|(k, v)| format!("{k}: \"{v}\"\n")))
                .collect();
            let mut warnings = Vec::new();
            let v = load(&text, &no_env, &mut warnings).unwrap();
            for (k, val) in &entries {
                prop_assert_eq!(&v[k], &Value::String(val.clone()));
            }
        }
    }
}
