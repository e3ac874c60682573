//! Language packages: Python's `*.dist-info/METADATA` and `*.egg-info/PKG-INFO`, Node's
//! `node_modules/<name>/package.json`.

use serde_json::Value;

use super::{Ecosystem, Package, purl};

/// PEP 503's normal form of a Python project name (`Foo_Bar.baz` → `foo-bar-baz`).
pub fn normalize_python_name(name: &str) -> String {
    let mut out = String::new();
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A Python distribution's core metadata (RFC 822 headers up to the first blank line).
pub fn parse_python_metadata(text: &str, location: &str) -> Option<Package> {
    let mut name = None;
    let mut version = None;
    let mut license = None;
    let mut classifier_license = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key {
            "Name" => name = Some(value.to_string()),
            "Version" => version = Some(value.to_string()),
            "License-Expression" => license = Some(value.to_string()),
            "License" if license.is_none() && !value.is_empty() && value.len() <= 80 && value != "UNKNOWN" => {
                license = Some(value.to_string());
            }
            "Classifier" => {
                if let Some(kind) = value.strip_prefix("License :: ") {
                    classifier_license = kind.rsplit(" :: ").next().map(str::to_string);
                }
            }
            _ => {}
        }
    }
    let (name, version) = (name?, version?);
    let purl = purl(Ecosystem::Python, None, &normalize_python_name(&name), &version, &[]);
    Some(Package {
        name,
        version,
        ecosystem: Ecosystem::Python,
        source: None,
        source_version: None,
        arch: None,
        license: license.or(classifier_license),
        purl,
        location: location.to_string(),
        layer: None,
    })
}

/// Is `path` a package's own `package.json` right inside a `node_modules` folder?
pub fn is_node_package_manifest(path: &str) -> bool {
    let Some(at) = path.rfind("node_modules/") else { return false };
    let rest: Vec<&str> = path[at + "node_modules/".len()..].split('/').collect();
    match rest.as_slice() {
        [name, "package.json"] => !name.starts_with('@') && !name.starts_with('.'),
        [scope, _, "package.json"] => scope.starts_with('@'),
        _ => false,
    }
}

/// A Node package from its `package.json`.
pub fn parse_node_package(text: &str, location: &str) -> Option<Package> {
    let json: Value = serde_json::from_str(text).ok()?;
    let name = json["name"].as_str()?.to_string();
    let version = json["version"].as_str()?.to_string();
    let license = match &json["license"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_string),
        _ => json["licenses"].as_array().and_then(|l| l.first()).and_then(|l| l["type"].as_str()).map(str::to_string),
    };
    let (namespace, short) = match name.split_once('/') {
        Some((scope, short)) if scope.starts_with('@') => (Some(scope), short),
        _ => (None, name.as_str()),
    };
    let purl = purl(Ecosystem::Npm, namespace, short, &version, &[]);
    Some(Package {
        name,
        version,
        ecosystem: Ecosystem::Npm,
        source: None,
        source_version: None,
        arch: None,
        license,
        purl,
        location: location.to_string(),
        layer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_metadata() {
        let text = "Metadata-Version: 2.1\nName: Requests_Toolbelt\nVersion: 1.0.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nLong description with Name: fake\n";
        let package =
            parse_python_metadata(text, "/usr/lib/python3/dist-packages/x.dist-info/METADATA").expect("parsed");
        assert_eq!((package.name.as_str(), package.version.as_str()), ("Requests_Toolbelt", "1.0.0"));
        assert_eq!(package.purl, "pkg:pypi/requests-toolbelt@1.0.0");
        assert_eq!(package.license.as_deref(), Some("Apache 2.0"));
        assert!(parse_python_metadata("Name: x\n", "p").is_none());
    }

    #[test]
    fn node_packages() {
        assert!(is_node_package_manifest("app/node_modules/lodash/package.json"));
        assert!(is_node_package_manifest("app/node_modules/@babel/core/package.json"));
        assert!(is_node_package_manifest("app/node_modules/a/node_modules/b/package.json"));
        assert!(!is_node_package_manifest("app/node_modules/lodash/fp/package.json"));
        assert!(!is_node_package_manifest("app/package.json"));
        let package =
            parse_node_package(r#"{"name":"@babel/core","version":"7.24.0","license":"MIT"}"#, "p").expect("parsed");
        assert_eq!(package.purl, "pkg:npm/%40babel/core@7.24.0");
        assert_eq!(package.license.as_deref(), Some("MIT"));
    }
}
