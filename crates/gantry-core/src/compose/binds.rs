//! The host folders and files a project's services mount (`volumes: [./data:/data]`), and which
//! of them Gantry's VM cannot see: the VM mounts only the shared folders (at the same path), so
//! the engine would give such a container an empty folder instead of the user's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A host path a service mounts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceBind {
    pub service: String,
    /// The absolute host path, as `docker compose config` resolves it.
    pub source: String,
}

/// The bind mounts of every service in `docker compose config --format json`'s services.
pub(super) fn binds_of(services: &BTreeMap<String, serde_json::Value>) -> Vec<ServiceBind> {
    let mut out: Vec<ServiceBind> = services
        .iter()
        .flat_map(|(service, config)| {
            let mounts = config.get("volumes").and_then(serde_json::Value::as_array);
            mounts.into_iter().flatten().filter_map(move |m| {
                let bind = m.get("type").and_then(serde_json::Value::as_str) == Some("bind");
                let source = m.get("source").and_then(serde_json::Value::as_str)?;
                bind.then(|| ServiceBind { service: service.clone(), source: source.to_string() })
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The binds whose source is in none of `shared` (a folder is in itself), among those of the
/// services `starting`.
pub fn unshared_binds<'a>(
    binds: &'a [ServiceBind],
    shared: &[PathBuf],
    starting: impl Fn(&str) -> bool,
) -> Vec<&'a ServiceBind> {
    binds
        .iter()
        .filter(|b| starting(&b.service) && !shared.iter().any(|folder| Path::new(&b.source).starts_with(folder)))
        .collect()
}

/// Whether `up` starts `service`: it is named, or (none named) it has no profile or one of the
/// chosen `profiles`.
pub fn up_starts(
    service: &str,
    named: &[String],
    service_profiles: &BTreeMap<String, Vec<String>>,
    profiles: &[String],
) -> bool {
    if !named.is_empty() {
        return named.iter().any(|n| n == service);
    }
    service_profiles.get(service).is_none_or(|own| own.iter().any(|p| profiles.contains(p)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn services(json: &str) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn reads_the_bind_mounts_of_each_service() {
        let s = services(
            r#"{"web":{"volumes":[{"type":"bind","source":"/home/me/app/data","target":"/data"},
                {"type":"volume","source":"named","target":"/n"},{"type":"bind","source":"/etc/hosts","target":"/h"}]},
               "db":{"image":"x"},"odd":{"volumes":"nope"}}"#,
        );
        let binds = binds_of(&s);
        let pairs: Vec<(&str, &str)> = binds.iter().map(|b| (b.service.as_str(), b.source.as_str())).collect();
        assert_eq!(pairs, [("web", "/etc/hosts"), ("web", "/home/me/app/data")]);
    }

    #[test]
    fn a_bind_is_shared_only_inside_a_shared_folder() {
        let bind = |service: &str, source: &str| ServiceBind { service: service.into(), source: source.into() };
        let binds = [
            bind("web", "/home/me/app/data"),
            bind("web", "/home/me2/x"),
            bind("db", "/srv/db"),
            bind("db", "/home/me"),
        ];
        let shared = [PathBuf::from("/home/me")];
        let all = unshared_binds(&binds, &shared, |_| true);
        assert_eq!(all.iter().map(|b| b.source.as_str()).collect::<Vec<_>>(), ["/home/me2/x", "/srv/db"]);
        let web_only = unshared_binds(&binds, &shared, |s| s == "web");
        assert_eq!(web_only.iter().map(|b| b.source.as_str()).collect::<Vec<_>>(), ["/home/me2/x"]);
        assert_eq!(unshared_binds(&binds, &[], |_| true).len(), 4);
    }

    #[test]
    fn up_starts_the_named_services_or_those_of_the_chosen_profiles() {
        let sp: BTreeMap<String, Vec<String>> = [("debug".to_string(), vec!["debug".to_string()])].into();
        let none: [String; 0] = [];
        assert!(up_starts("web", &none, &sp, &none));
        assert!(!up_starts("debug", &none, &sp, &none));
        assert!(up_starts("debug", &none, &sp, &["debug".into()]));
        assert!(up_starts("debug", &["debug".into()], &sp, &none));
        assert!(!up_starts("web", &["debug".into()], &sp, &none));
    }

    proptest! {
        /// A path under a shared folder is always shared; a sibling whose name only begins like
        /// the folder's never is.
        #[test]
        fn shared_means_inside_by_whole_names(folder in "(/[a-z]{1,6}){1,3}", rest in "(/[a-z]{1,6}){0,3}", suffix in "[a-z0-9]{1,4}") {
            let shared = [PathBuf::from(&folder)];
            let inside = ServiceBind { service: "s".into(), source: format!("{folder}{rest}") };
            let sibling = ServiceBind { service: "s".into(), source: format!("{folder}{suffix}{rest}") };
            prop_assert!(unshared_binds(std::slice::from_ref(&inside), &shared, |_| true).is_empty());
            prop_assert_eq!(unshared_binds(std::slice::from_ref(&sibling), &shared, |_| true).len(), 1);
        }

        #[test]
        fn any_services_json_reads_without_panicking(text in "\\PC{0,80}") {
            let _ = binds_of(&services(&text));
        }
    }
}
