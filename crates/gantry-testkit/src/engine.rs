//! Which Docker engine a test may change.
//!
//! `./scripts/test` starts a private engine and exports both `DOCKER_HOST` and
//! `GANTRY_TEST_PRIVATE_ENGINE` (the same address). Tests that create objects may run against any
//! engine a developer points them at, but tests that prune, or remove what they did not create,
//! must call [`destructive_allowed`] first so a developer's own containers, images and volumes
//! are never touched by `cargo test`.

/// The marker variable `./scripts/test` sets to the address of the engine it started.
pub const PRIVATE_ENGINE_VAR: &str = "GANTRY_TEST_PRIVATE_ENGINE";

/// `Ok(address)` when `DOCKER_HOST` is the private engine that the test command started;
/// otherwise `Err` with a sentence saying why destructive tests must not run here.
pub fn destructive_allowed() -> Result<String, String> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let private = std::env::var(PRIVATE_ENGINE_VAR).unwrap_or_default();
    if host.is_empty() {
        return Err("DOCKER_HOST is not set: run the tests through ./scripts/test".into());
    }
    if private.is_empty() || private != host {
        return Err(format!(
            "DOCKER_HOST={host} is not the private engine started by ./scripts/test \
             ({PRIVATE_ENGINE_VAR} is {:?}): destructive tests are skipped so your own objects stay",
            private
        ));
    }
    Ok(host)
}

/// Prints `SKIPPED: <test>: <why>` and returns false when destructive tests may not run here.
pub fn destructive_or_skip(test: &str) -> bool {
    match destructive_allowed() {
        Ok(_) => true,
        Err(why) => {
            crate::skip::skipped(test, &why);
            false
        }
    }
}
