//! Images: list, inspect, history, pull and push with progress, tag, remove, prune; registry
//! login checks.

use std::collections::{HashMap, HashSet};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, PruneImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{EngineError, ResourceKind, Result, is_auth_failure};
use crate::stream::EngineStream;

/// `os/architecture[/variant]` as `docker run --platform` takes it; empty parts are left out.
pub fn platform(os: Option<&str>, architecture: Option<&str>, variant: Option<&str>) -> String {
    [os, architecture, variant].into_iter().flatten().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/")
}

/// Whether an image built for `image_arch` runs emulated on an engine whose CPU is
/// `engine_arch` (both as Go names them: `amd64`, `arm64`, `arm`, …; the engine's `uname -m`
/// spelling is accepted too). Unknown on either side: not emulated.
pub fn runs_emulated(image_arch: &str, engine_arch: &str) -> bool {
    fn go_name(arch: &str) -> &str {
        match arch {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" | "arm64/v8" => "arm64",
            "armv7l" | "armhf" | "armv6l" | "armel" => "arm",
            "i386" | "i686" => "386",
            other => other,
        }
    }
    !image_arch.is_empty() && !engine_arch.is_empty() && go_name(image_arch) != go_name(engine_arch)
}

/// One row of the image list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageSummary {
    pub id: String,
    /// `repo:tag` names; empty for a dangling image.
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created: i64,
    /// Size in bytes including layers shared with other images.
    pub size: i64,
    /// How many containers (running or not) use it.
    pub containers: u32,
    pub in_use: bool,
    /// Untagged and not a parent of a tagged image.
    pub dangling: bool,
}

/// One layer of an image's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageLayer {
    /// Layer image ID, or `<missing>` for layers built elsewhere.
    pub id: String,
    pub created: i64,
    /// The Dockerfile instruction that made it.
    pub created_by: String,
    pub size: i64,
    pub tags: Vec<String>,
    pub comment: String,
}

/// A readable view of `docker image inspect` plus the raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImageDetails {
    pub id: String,
    pub tags: Vec<String>,
    pub created: Option<String>,
    pub size: i64,
    pub architecture: String,
    pub os: String,
    /// The CPU variant, e.g. `v8` for arm64 or `v7` for arm; empty when the image names none.
    pub variant: String,
    /// `os/architecture[/variant]`, as `--platform` takes it (e.g. `linux/arm64/v8`).
    pub platform: String,
    /// The engine's CPU differs from the image's: its containers run under emulation (QEMU
    /// user mode in Gantry's VM), several times slower.
    pub emulated: bool,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub working_dir: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub layer_count: usize,
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub raw: serde_json::Value,
}

/// A progress message from a pull, push, load or build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    /// The layer this is about, if any.
    pub layer: Option<String>,
    /// e.g. "Downloading", "Pull complete", "Digest: sha256:…".
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

/// How long a login check may take (the engine asks the registry).
const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Credentials for a registry. `server` is the registry as the engine and docker CLI name it:
/// `host[:port]`, or `https://index.docker.io/v1/` for Docker Hub.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl RegistryAuth {
    fn to_bollard(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.server.clone()),
            ..Default::default()
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: i64,
}

/// Checks an image reference against Docker's grammar (`[registry[:port]/]path[:tag][@digest]`).
pub fn validate_reference(reference: &str) -> Result<()> {
    let invalid =
        |reason: &str| Err(EngineError::InvalidReference { reference: reference.to_string(), reason: reason.into() });
    if reference.is_empty() || reference.len() > 255 {
        return invalid("must be 1 to 255 characters");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        });
        if !ok {
            return invalid("the digest must look like sha256:<64 hex digits>");
        }
    }
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return invalid("a tag may contain letters, digits, '_', '.' and '-' (at most 128)");
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            if !host_ok || (!port.is_empty() && port.parse::<u16>().is_err()) {
                return invalid("the registry part must be host[:port]");
            }
            components.remove(0);
        }
    }
    for component in components {
        let ok = !component.is_empty()
            && component.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return invalid("repository names use lowercase letters, digits and '.', '_' or '-' between them");
        }
    }
    Ok(())
}

/// The registry host of a reference: `ghcr.io/o/r:1` → `ghcr.io`, `localhost:5000/app` →
/// `localhost:5000`, `nginx` → `docker.io` (Docker Hub).
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Splits `repo[:tag]` into repo and tag (default `latest`); digests are kept in the repo part.
pub fn split_tag(reference: &str) -> (&str, &str) {
    if reference.contains('@') {
        return (reference, "");
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (&reference[..last_slash + i], &reference[last_slash + i + 1..]),
        None => (reference, "latest"),
    }
}

/// The Dockerfile instruction behind a history entry: `/bin/sh -c #(nop) CMD ["sh"]` → `CMD ["sh"]`,
/// `/bin/sh -c make` → `RUN make`.
pub fn instruction(created_by: &str) -> String {
    let text = created_by.trim();
    if let Some(rest) = text.strip_prefix("/bin/sh -c #(nop)") {
        return rest.trim().to_string();
    }
    if let Some(rest) = text.strip_prefix("/bin/sh -c ") {
        return format!("RUN {}", rest.trim());
    }
    if text.starts_with('|') {
        // Build-arg prefixed RUN: `|1 VERSION=1 /bin/sh -c make`.
        if let Some(idx) = text.find("/bin/sh -c ") {
            return format!("RUN {}", text[idx + "/bin/sh -c ".len()..].trim());
        }
    }
    text.to_string()
}

/// A registry's refusal during a pull or push: a login problem, or anything else.
fn registry_failure(reference: &str, message: String) -> EngineError {
    if is_auth_failure(&message) {
        EngineError::RegistryAuth { server: registry_of(reference).to_string(), message }
    } else {
        EngineError::Registry { reference: reference.to_string(), message }
    }
}

fn progress_from(
    id: Option<String>,
    status: Option<String>,
    detail: Option<bollard::models::ProgressDetail>,
) -> Progress {
    let detail = detail.unwrap_or_default();
    Progress { layer: id, status: status.unwrap_or_default(), current: detail.current, total: detail.total }
}

impl Engine {
    /// Lists images (top-level ones; `all` adds intermediate layers), with use counts.
    pub async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>> {
        let raw = self
            .docker
            .list_images(Some(ListImagesOptions { all, ..Default::default() }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Image, ""))?;
        let containers = self.all_containers_raw().await?;
        let mut uses: HashMap<String, u32> = HashMap::new();
        for c in containers {
            if let Some(id) = c.image_id {
                *uses.entry(id).or_default() += 1;
            }
        }
        let parents: HashSet<String> = raw.iter().map(|i| i.parent_id.clone()).filter(|p| !p.is_empty()).collect();
        let mut images: Vec<ImageSummary> = raw
            .into_iter()
            .map(|i| {
                let tags: Vec<String> = i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect();
                let digests: Vec<String> = i.repo_digests.into_iter().filter(|d| d != "<none>@<none>").collect();
                let containers = uses.get(&i.id).copied().unwrap_or(0);
                ImageSummary {
                    dangling: tags.is_empty() && !parents.contains(&i.id),
                    in_use: containers > 0,
                    containers,
                    created: i.created,
                    size: i.size,
                    digests,
                    tags,
                    id: i.id,
                }
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images)
    }

    /// Inspects an image.
    pub async fn inspect_image(&self, reference: &str) -> Result<ImageDetails> {
        let raw = self.docker.inspect_image(reference).await.map_err(|e| self.image_err(e, reference))?;
        let engine_arch = self.version().await.map(|v| v.arch).unwrap_or_default();
        let json = serde_json::to_value(&raw).unwrap_or(serde_json::Value::Null);
        let config = raw.config.clone().unwrap_or_default();
        let mut exposed: Vec<String> = config.exposed_ports.clone().unwrap_or_default().into_iter().collect();
        exposed.sort();
        Ok(ImageDetails {
            id: raw.id.unwrap_or_default(),
            tags: raw.repo_tags.unwrap_or_default(),
            created: raw.created.map(|c| c.to_string()),
            size: raw.size.unwrap_or_default(),
            platform: platform(raw.os.as_deref(), raw.architecture.as_deref(), raw.variant.as_deref()),
            emulated: runs_emulated(raw.architecture.as_deref().unwrap_or_default(), &engine_arch),
            architecture: raw.architecture.unwrap_or_default(),
            os: raw.os.unwrap_or_default(),
            variant: raw.variant.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            exposed_ports: exposed,
            working_dir: config.working_dir.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            layer_count: raw.root_fs.and_then(|r| r.layers).map_or(0, |l| l.len()),
            raw: json,
        })
    }

    /// The layers of an image, newest first, each with its size and the instruction that made it.
    pub async fn image_history(&self, reference: &str) -> Result<Vec<ImageLayer>> {
        let raw = self.docker.image_history(reference).await.map_err(|e| self.image_err(e, reference))?;
        Ok(raw
            .into_iter()
            .map(|l| ImageLayer {
                id: l.id,
                created: l.created,
                created_by: instruction(&l.created_by),
                size: l.size,
                tags: l.tags,
                comment: l.comment,
            })
            .collect())
    }

    /// Pulls an image, streaming per-layer progress. The stream ends after the last layer;
    /// a failure (unknown image, unreachable registry) arrives as an error item.
    pub fn pull_image(&self, reference: &str, auth: Option<&RegistryAuth>) -> EngineStream<Progress> {
        if let Err(e) = validate_reference(reference) {
            return Box::pin(futures_util::stream::once(async move { Err(e) }));
        }
        let (repo, tag) = split_tag(reference);
        let options = CreateImageOptions {
            from_image: Some(repo.to_string()),
            tag: (!tag.is_empty()).then(|| tag.to_string()),
            ..Default::default()
        };
        let engine = self.clone();
        let reference = reference.to_string();
        let raw = self.docker.create_image(Some(options), None, auth.map(RegistryAuth::to_bollard));
        Box::pin(raw.map(move |item| match item {
            Ok(info) => match info.error_detail.and_then(|d| d.message) {
                Some(message) => Err(registry_failure(&reference, message)),
                None => Ok(progress_from(info.id, info.status, info.progress_detail)),
            },
            Err(e) => Err(engine.registry_err(e, &reference)),
        }))
    }

    /// Asks the engine to log in to `auth.server` (`docker login` without storing anything).
    /// A refused login is [`EngineError::RegistryAuth`]; an unreachable registry is
    /// [`EngineError::Registry`]. Engines reached over TLS or a named pipe cannot be asked (no
    /// raw client for them): the check is skipped with a warning and the first pull or push
    /// tells.
    pub async fn check_registry_login(&self, auth: &RegistryAuth) -> Result<()> {
        let body = serde_json::json!({
            "username": auth.username,
            "password": auth.password,
            "serveraddress": auth.server,
        });
        let answer = tokio::time::timeout(LOGIN_TIMEOUT, self.raw_post_json("/auth", &body)).await.map_err(|_| {
            EngineError::Registry {
                reference: auth.server.clone(),
                message: format!("no answer within {} s", LOGIN_TIMEOUT.as_secs()),
            }
        })?;
        match answer {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                tracing::warn!(server = %auth.server, endpoint = %self.endpoint(), "cannot check a registry login over this endpoint; not checked");
                Ok(())
            }
            Err(EngineError::Api { status, message }) if status == 401 || is_auth_failure(&message) => {
                Err(EngineError::RegistryAuth { server: auth.server.clone(), message })
            }
            Err(EngineError::Api { message, .. }) => {
                Err(EngineError::Registry { reference: auth.server.clone(), message })
            }
            Err(e) => Err(e),
        }
    }

    /// Pulls an image to completion, returning the last status line.
    pub async fn pull_image_to_end(&self, reference: &str, auth: Option<&RegistryAuth>) -> Result<String> {
        let mut stream = self.pull_image(reference, auth);
        let mut last = String::new();
        while let Some(p) = stream.next().await {
            last = p?.status;
        }
        Ok(last)
    }

    /// Pushes an image to its registry, streaming progress.
    pub fn push_image(&self, reference: &str, auth: Option<&RegistryAuth>) -> EngineStream<Progress> {
        if let Err(e) = validate_reference(reference) {
            return Box::pin(futures_util::stream::once(async move { Err(e) }));
        }
        let (repo, tag) = split_tag(reference);
        let options = PushImageOptions { tag: (!tag.is_empty()).then(|| tag.to_string()), platform: None };
        let engine = self.clone();
        let reference = reference.to_string();
        // The engine demands an auth header on push even for registries without login.
        let credentials = auth.map(RegistryAuth::to_bollard).unwrap_or_default();
        let raw = self.docker.push_image(repo, Some(options), Some(credentials));
        Box::pin(raw.map(move |item| match item {
            Ok(info) => match info.error_detail.and_then(|d| d.message) {
                Some(message) => Err(registry_failure(&reference, message)),
                None => Ok(progress_from(None, info.status, info.progress_detail)),
            },
            Err(e) => Err(engine.registry_err(e, &reference)),
        }))
    }

    /// Gives `source` the additional name `target` (`repo[:tag]`).
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        validate_reference(target)?;
        let (repo, tag) = split_tag(target);
        let options = TagImageOptions { repo: Some(repo.to_string()), tag: Some(tag.to_string()) };
        self.docker.tag_image(source, Some(options)).await.map_err(|e| self.image_err(e, source))
    }

    /// Removes an image (or just one of its tags); returns what was untagged and deleted.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<Vec<String>> {
        let options = RemoveImageOptions { force, noprune: false, platforms: None };
        let items =
            self.docker.remove_image(reference, Some(options), None).await.map_err(|e| self.image_err(e, reference))?;
        Ok(items.into_iter().flat_map(|i| i.untagged.into_iter().chain(i.deleted)).collect())
    }

    /// Removes dangling images (or, with `all`, every image no container uses).
    pub async fn prune_images(&self, all: bool) -> Result<PruneReport> {
        let filters = HashMap::from([("dangling".to_string(), vec![(!all).to_string()])]);
        let report = self
            .docker
            .prune_images(Some(PruneImagesOptions { filters: Some(filters) }))
            .await
            .map_err(|e| self.err(e, ResourceKind::Image, ""))?;
        Ok(PruneReport {
            deleted: report
                .images_deleted
                .unwrap_or_default()
                .into_iter()
                .flat_map(|i| i.untagged.into_iter().chain(i.deleted))
                .collect(),
            space_reclaimed: report.space_reclaimed.unwrap_or_default(),
        })
    }

    pub(crate) fn image_err(&self, e: bollard::errors::Error, reference: &str) -> EngineError {
        match self.err(e, ResourceKind::Image, reference) {
            EngineError::ImageMissing { image } => EngineError::NotFound { kind: ResourceKind::Image, id: image },
            other => other,
        }
    }

    fn registry_err(&self, e: bollard::errors::Error, reference: &str) -> EngineError {
        match self.err(e, ResourceKind::Image, reference) {
            EngineError::Api { message, .. }
            | EngineError::Protocol { message }
            | EngineError::NotFound { id: message, .. } => registry_failure(reference, message),
            EngineError::ImageMissing { .. } => EngineError::Registry {
                reference: reference.to_string(),
                message: "the registry does not have this image".into(),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod platform_tests {
    use super::*;

    #[test]
    fn platform_strings_as_docker_takes_them() {
        assert_eq!(platform(Some("linux"), Some("arm64"), Some("v8")), "linux/arm64/v8");
        assert_eq!(platform(Some("linux"), Some("amd64"), None), "linux/amd64");
        assert_eq!(platform(Some("linux"), Some("amd64"), Some("")), "linux/amd64");
        assert_eq!(platform(None, None, None), "");
    }

    #[test]
    fn emulated_when_the_cpus_differ() {
        assert!(runs_emulated("arm64", "amd64"));
        assert!(runs_emulated("arm", "x86_64"));
        assert!(!runs_emulated("amd64", "amd64"));
        assert!(!runs_emulated("amd64", "x86_64"), "uname spelling of the same CPU");
        assert!(!runs_emulated("arm64", "aarch64"));
        assert!(!runs_emulated("", "amd64"), "unknown image architecture");
        assert!(!runs_emulated("arm64", ""), "unknown engine");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for ok in [
            "busybox",
            "busybox:1.36",
            "library/nginx:1.27-alpine",
            "localhost:5000/team/app:v1",
            "ghcr.io/owner/repo",
            "gantry-test/busybox:latest",
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(validate_reference(ok).is_ok(), "{ok} should be valid");
        }
        for bad in ["", "UPPER/case", "nginx:", "nginx:bad tag", "-lead", "a//b", "nginx@sha256:xyz", "Not/Valid:Ref!"]
        {
            assert!(
                matches!(validate_reference(bad), Err(EngineError::InvalidReference { .. })),
                "{bad} should be invalid"
            );
        }
    }

    #[test]
    fn instructions_read_like_a_dockerfile() {
        assert_eq!(instruction(r#"/bin/sh -c #(nop)  CMD ["sh"]"#), r#"CMD ["sh"]"#);
        assert_eq!(instruction("/bin/sh -c echo built > /built.txt"), "RUN echo built > /built.txt");
        assert_eq!(instruction("|1 V=2 /bin/sh -c make"), "RUN make");
        assert_eq!(instruction("COPY dir:abc in /ctx"), "COPY dir:abc in /ctx");
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_of("nginx:1"), "docker.io");
        assert_eq!(registry_of("library/nginx"), "docker.io");
        assert_eq!(registry_of("ghcr.io/o/r:1"), "ghcr.io");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        let e = registry_failure("127.0.0.1:5000/a:1", "no basic auth credentials".into());
        assert!(matches!(e, EngineError::RegistryAuth { ref server, .. } if server == "127.0.0.1:5000"), "{e:?}");
        assert!(
            format!("{:?}", RegistryAuth { password: "hunter2".into(), ..Default::default() }).contains("redacted")
        );
    }

    #[test]
    fn tags_split() {
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("localhost:5000/app:v1"), ("localhost:5000/app", "v1"));
        assert_eq!(split_tag("localhost:5000/app"), ("localhost:5000/app", "latest"));
    }
}
