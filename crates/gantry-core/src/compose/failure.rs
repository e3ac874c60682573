//! What to do about the usual ways a `docker compose` command fails, read from what it printed.

/// Known failures: a phrase of the engine's or compose's message, and what to do.
const KNOWN: &[(&[&str], &str)] = &[
    (
        &["port is already allocated", "address already in use"],
        "Another container or program on this computer already uses that port: stop it, or change the \
         published port (ports:) in the compose file.",
    ),
    (
        &[
            "pull access denied",
            "manifest unknown",
            "repository does not exist",
            "failed to resolve reference",
            "no such host",
        ],
        "Compose could not pull an image: check its name, log in to its registry (Settings → Registries), or \
         build it here (build: in the compose file).",
    ),
    (
        &["is already in use by container"],
        "A container outside this project has that name: remove or rename it (Containers), or change \
         container_name: in the compose file.",
    ),
    (
        &["Mounts denied: the path"],
        "Gantry's VM sees only the shared folders: share the folder (or one above it) under Settings → Shared \
         folders and start the VM again, or move the files into a shared folder.",
    ),
    (
        &["bind source path does not exist", "invalid mount config"],
        "A folder or file a service mounts does not exist: create it, or fix the path under volumes: in the \
         compose file.",
    ),
];

/// What to do about the failure compose described in `output` (its last lines), when it is one
/// of the usual ones.
pub fn failure_hint(output: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(phrases, _)| phrases.iter().any(|p| output.contains(p))).map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_usual_failures_say_what_to_do() {
        let port = "Error response from daemon: driver failed programming external connectivity on endpoint p-a-1 \
                    (b58d): Bind for 127.0.0.1:18999 failed: port is already allocated";
        assert!(failure_hint(port).is_some_and(|h| h.contains("ports:")));
        let pull = "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup \
                    registry-1.docker.io on 10.255.255.53:53: no such host";
        assert!(failure_hint(pull).is_some_and(|h| h.contains("Settings → Registries")));
        let name = "Error response from daemon: Conflict. The container name \"/taken\" is already in use by \
                    container \"4843\". You have to remove (or rename) that container to be able to reuse that name.";
        assert!(failure_hint(name).is_some_and(|h| h.contains("container_name:")));
        let mount = "Error response from daemon: invalid mount config for type \"bind\": bind source path does not \
                     exist: /nope";
        assert!(failure_hint(mount).is_some_and(|h| h.contains("volumes:")));
        let denied = "Error response from daemon: Mounts denied: the path /srv/site is not shared from this computer \
                      into Gantry's VM: share it (or a folder above it) in Gantry's Settings → Shared folders";
        assert!(failure_hint(denied).is_some_and(|h| h.contains("Shared folders")));
        assert_eq!(failure_hint("service \"web\" has neither an image nor a build context specified"), None);
    }

    proptest! {
        #[test]
        fn any_output_gives_a_known_hint_or_none(text in "(port is already|no such host|in use by container|\\PC){0,60}") {
            if let Some(hint) = failure_hint(&text) {
                prop_assert!(KNOWN.iter().any(|(_, h)| *h == hint));
            }
        }
    }
}
