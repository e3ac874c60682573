//! The room's registry: the distribution registry (Debian's `docker-registry` package) run on a
//! private loopback port, filled from the bundle through its own HTTP API (every blob and
//! manifest checked by the registry against its digest), then, when the trainer has internet,
//! restarted as a pull-through cache of an upstream registry. The room server forwards
//! participants' read requests to it; participants never reach it directly and cannot push.
//!
//! In pull-through mode the registry asks the upstream first for a tag and falls back to what it
//! holds when the upstream cannot be reached, so the bundle's images keep working offline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::bundle::Bundle;
use crate::error::{Result, WorkshopError};
use crate::manifest::Part;
use crate::oci::{ImageIndex, ImageManifest, ImageName};
use crate::room::http::{self, Body};

/// The registry program (Debian: `apt install docker-registry`).
pub const REGISTRY_PROGRAM: &str = "docker-registry";
/// The file in the storage folder naming the bundle it was filled from.
const FILLED_MARKER: &str = "filled-from";
/// How long the registry may take to answer after it started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running registry process (stopped when dropped).
#[derive(Debug)]
pub struct Registry {
    pub addr: SocketAddr,
    child: Child,
    pub dir: PathBuf,
}

/// How to run the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryMode {
    /// Pull-through cache of this upstream (e.g. `https://registry-1.docker.io`); `None`: only
    /// what the bundle holds.
    pub upstream: Option<String>,
}

fn program_missing(e: std::io::Error) -> WorkshopError {
    WorkshopError::invalid(
        format!("the registry program `{REGISTRY_PROGRAM}` could not be started: {e}"),
        "install it: `sudo apt install docker-registry` (Debian, Ubuntu), or put the distribution registry binary on PATH as docker-registry",
    )
}

impl Registry {
    /// Starts the registry with its storage in `dir/storage` on a free loopback port.
    pub async fn start(dir: &Path, mode: &RegistryMode) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(WorkshopError::io("find a free port for", dir))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::create_dir_all(dir.join("storage")).map_err(WorkshopError::io("create", dir))?;
        let config = config_yaml(&dir.join("storage"), addr, mode.upstream.as_deref());
        let config_path = dir.join("registry.yml");
        std::fs::write(&config_path, config).map_err(WorkshopError::io("write", &config_path))?;
        let log_path = dir.join("registry.log");
        let log = std::fs::File::create(&log_path).map_err(WorkshopError::io("create", &log_path))?;
        let log_err = log.try_clone().map_err(WorkshopError::io("create", &log_path))?;
        let child = Command::new(REGISTRY_PROGRAM)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(program_missing)?;
        let mut registry = Self { addr, child, dir: dir.to_owned() };
        registry.wait_ready(&log_path).await?;
        Ok(registry)
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok((status, _)) = self.request(Method::GET, "/v2/", &[], http::empty()).await
                && status == StatusCode::OK
            {
                return Ok(());
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(WorkshopError::invalid(
                    format!("the registry did not start: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")),
                    format!("see {}", log.display()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the registry and waits for it to end.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// One request to the registry; the status and the body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> std::result::Result<(StatusCode, hyper::Response<Bytes>), String> {
        let stream = TcpStream::connect(self.addr).await.map_err(|e| e.to_string())?;
        let mut request = Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(body).map_err(|e| e.to_string())?;
        let response = http::send(stream, request).await?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, hyper::Response::from_parts(parts, bytes)))
    }

    /// Whether the storage already holds `bundle` (filled by an earlier run).
    pub fn holds(&self, bundle: &Bundle) -> bool {
        std::fs::read_to_string(self.dir.join(FILLED_MARKER)).is_ok_and(|t| t.trim() == bundle.id.as_str())
    }

    /// Pushes every image of `bundle` (blobs the registry has are skipped); `progress(done,
    /// total)` counts blobs and manifests.
    pub async fn fill(&self, bundle: &Bundle, progress: &(dyn Fn(usize, usize) + Send + Sync)) -> Result<()> {
        let mut work = Vec::new();
        for image in &bundle.manifest.images {
            let name = ImageName::parse(&image.name).map_err(|e| bundle.not_bundle(e))?;
            let index_part = bundle.blob(&image.index, &image.name)?.clone();
            let index: ImageIndex =
                serde_json::from_slice(&bundle.read_part(&index_part, crate::bundle::MAX_METADATA_BYTES)?)
                    .map_err(|e| bundle.not_bundle(format!("{}: its index: {e}", image.name)))?;
            let mut blobs = Vec::new();
            let mut manifests = Vec::new();
            for desc in &index.manifests {
                let part = bundle.blob(&desc.digest, &image.name)?.clone();
                let bytes = bundle.read_part(&part, crate::bundle::MAX_METADATA_BYTES)?;
                let manifest: ImageManifest = serde_json::from_slice(&bytes)
                    .map_err(|e| bundle.not_bundle(format!("{}: a manifest: {e}", image.name)))?;
                blobs.push(bundle.blob(&manifest.config.digest, &image.name)?.clone());
                for layer in &manifest.layers {
                    blobs.push(bundle.blob(&layer.digest, &image.name)?.clone());
                }
                let media = manifest.media_type.clone().unwrap_or_else(|| desc.media_type.clone());
                manifests.push((part, media, bytes));
            }
            let index_bytes = bundle.read_part(&index_part, crate::bundle::MAX_METADATA_BYTES)?;
            let index_media = index.media_type.clone().unwrap_or_else(|| crate::oci::MEDIA_INDEX.into());
            work.push((name, blobs, manifests, (index_media, index_bytes)));
        }
        let total: usize = work.iter().map(|(_, b, m, _)| b.len() + m.len() + 1).sum();
        let mut done = 0;
        for (name, blobs, manifests, (index_media, index_bytes)) in work {
            for part in blobs {
                self.push_blob(bundle, &name.path, &part).await?;
                done += 1;
                progress(done, total);
            }
            for (part, media, bytes) in manifests {
                self.put_manifest(&name.path, part.digest.as_str(), &media, bytes).await?;
                done += 1;
                progress(done, total);
            }
            self.put_manifest(&name.path, &name.tag, &index_media, index_bytes).await?;
            done += 1;
            progress(done, total);
        }
        let marker = self.dir.join(FILLED_MARKER);
        std::fs::write(&marker, bundle.id.as_str()).map_err(WorkshopError::io("write", &marker))?;
        Ok(())
    }

    async fn push_blob(&self, bundle: &Bundle, repo: &str, part: &Part) -> Result<()> {
        let fail = |what: String| {
            WorkshopError::invalid(
                format!("filling the room's registry: {what}"),
                "see registry.log in the room folder",
            )
        };
        let (status, _) = self
            .request(Method::HEAD, &format!("/v2/{repo}/blobs/{}", part.digest), &[], http::empty())
            .await
            .map_err(fail)?;
        if status == StatusCode::OK {
            return Ok(());
        }
        let (status, response) = self
            .request(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[("content-length", "0".into())],
                http::empty(),
            )
            .await
            .map_err(fail)?;
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_string);
        let Some(location) = location.filter(|_| status == StatusCode::ACCEPTED) else {
            return Err(fail(format!("starting the upload of {} answered {status}", part.digest)));
        };
        // The registry answers with an absolute URL or a path; keep the path and query.
        let location = match location.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/".to_string(), |i| rest[i..].to_string()),
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={}", part.digest);
        let offset = bundle.offset(part).ok_or_else(|| bundle.not_bundle(format!("{} has no place", part.path)))?;
        let mut file = tokio::fs::File::open(&bundle.path).await.map_err(WorkshopError::io("open", &bundle.path))?;
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(WorkshopError::io("read", &bundle.path))?;
        let reader = tokio_util::io::ReaderStream::with_capacity(file.take(part.size), 256 * 1024);
        let body = BodyExt::boxed_unsync(StreamBody::new(reader.map_ok(Frame::data)));
        let headers = [("content-length", part.size.to_string()), ("content-type", "application/octet-stream".into())];
        let (status, response) = self.request(Method::PUT, &target, &headers, body).await.map_err(fail)?;
        if status != StatusCode::CREATED {
            return Err(fail(format!(
                "uploading {} answered {status}: {}",
                part.digest,
                String::from_utf8_lossy(response.body())
            )));
        }
        Ok(())
    }

    async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: Vec<u8>) -> Result<()> {
        let headers = [("content-type", media_type.to_string()), ("content-length", bytes.len().to_string())];
        let (status, response) = self
            .request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"), &headers, http::full(bytes))
            .await
            .map_err(|e| WorkshopError::invalid(format!("filling the room's registry: {e}"), ""))?;
        if status != StatusCode::CREATED {
            return Err(WorkshopError::invalid(
                format!(
                    "the registry refused the manifest {repo}:{reference} ({status}): {}",
                    String::from_utf8_lossy(response.body())
                ),
                "see registry.log in the room folder",
            ));
        }
        Ok(())
    }
}

/// The registry's configuration file.
pub fn config_yaml(storage: &Path, addr: SocketAddr, upstream: Option<&str>) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut yaml = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: false\nhttp:\n  addr: {}\n",
        quote(&storage.display().to_string()),
        quote(&addr.to_string())
    );
    if let Some(upstream) = upstream {
        yaml.push_str(&format!("proxy:\n  remoteurl: {}\n", quote(upstream)));
    }
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_quotes_paths_and_adds_the_proxy_only_when_asked() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let plain = config_yaml(Path::new("/tmp/a b: c"), addr, None);
        assert!(plain.contains("rootdirectory: \"/tmp/a b: c\""), "{plain}");
        assert!(!plain.contains("proxy"));
        let proxy = config_yaml(Path::new("/s"), addr, Some("https://registry-1.docker.io"));
        assert!(proxy.ends_with("proxy:\n  remoteurl: \"https://registry-1.docker.io\"\n"), "{proxy}");
    }
}
