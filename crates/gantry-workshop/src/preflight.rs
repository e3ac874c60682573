//! `gantry doctor --workshop [BUNDLE]`: is this laptop ready for the workshop? Facts are gathered
//! by small functions here (ports, proxy settings, the bundle, the import) and by the caller (the
//! VM's accelerator, free disk); [`evaluate`] turns them into checks and a short summary a
//! participant can send to the trainer, as text or JSON.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::Bundle;
use crate::digest::Digest;

/// Room for the engine's copy of the images next to the bundle, and some more.
const DISK_MARGIN: u64 = 2 << 30;
/// Memory the host keeps for itself next to the VM.
const MEMORY_MARGIN: u64 = 1 << 30;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "PreflightLevel"))]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PreflightCheck {
    pub name: String,
    pub level: Level,
    pub detail: String,
    pub hint: Option<String>,
}

/// The VM's accelerator as the machine crate chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceleratorFact {
    pub name: String,
    pub hardware: bool,
    pub warning: Option<String>,
}

/// Proxy settings from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyFacts {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

/// What the bundle says and whether it is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleFacts {
    pub path: PathBuf,
    pub title: String,
    pub id: Option<Digest>,
    pub size: u64,
    /// Host ports its labs publish.
    pub ports: Vec<u16>,
    pub memory_mib: Option<u64>,
    /// `Err` says what is wrong with the file.
    pub verified: Result<(), String>,
}

/// Whether the bundle is imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ImportFacts {
    NotImported,
    /// Imported; images the engine no longer has (removed since).
    Imported {
        missing_images: Vec<String>,
    },
}

/// Everything the checks look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreflightFacts {
    pub accelerator: Option<AcceleratorFact>,
    pub free_disk: Option<u64>,
    pub available_memory: Option<u64>,
    pub bundle: Option<BundleFacts>,
    /// Ports the labs publish that something on this machine already uses.
    pub busy_ports: Vec<u16>,
    pub proxy: ProxyFacts,
    pub import: Option<ImportFacts>,
}

/// The checks and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PreflightReport {
    pub ready: bool,
    pub checks: Vec<PreflightCheck>,
    /// A few lines to send to the trainer.
    pub summary: String,
}

fn check(name: &str, level: Level, detail: String, hint: Option<&str>) -> PreflightCheck {
    PreflightCheck { name: name.into(), level, detail, hint: hint.map(str::to_string) }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Turns facts into checks (pure: unit-tested with made-up facts).
pub fn evaluate(facts: &PreflightFacts) -> PreflightReport {
    let mut checks = Vec::new();
    if let Some(a) = &facts.accelerator {
        checks.push(match (&a.warning, a.hardware) {
            (None, true) => check("virtualization", Level::Ok, format!("hardware ({})", a.name), None),
            (warning, _) => check(
                "virtualization",
                Level::Warn,
                format!("{} (emulation{})", a.name, warning.as_ref().map_or(String::new(), |w| format!(": {w}"))),
                Some("containers run several times slower without hardware virtualization: enable VT-x/AMD-V (or Hyper-V) in the firmware settings, or tell the trainer"),
            ),
        });
    }
    let bundle_size = facts.bundle.as_ref().map_or(0, |b| b.size);
    if let Some(free) = facts.free_disk {
        let needed = bundle_size.saturating_mul(2).saturating_add(DISK_MARGIN);
        let detail = format!("{} free, the workshop needs about {}", gib(free), gib(needed));
        checks.push(if free >= needed {
            check("disk", Level::Ok, detail, None)
        } else {
            check(
                "disk",
                Level::Fail,
                detail,
                Some("free disk space (empty the trash, `docker system prune`), then check again"),
            )
        });
    }
    if let Some(available) = facts.available_memory {
        let suggested = facts.bundle.as_ref().and_then(|b| b.memory_mib).map(|m| m << 20);
        let needed = suggested.unwrap_or(2 << 30).saturating_add(MEMORY_MARGIN);
        let detail = format!(
            "{} available{}",
            gib(available),
            suggested.map_or(String::new(), |s| format!(", the trainer suggests {} for the VM", gib(s)))
        );
        checks.push(if available >= needed {
            check("memory", Level::Ok, detail, None)
        } else {
            check(
                "memory",
                Level::Warn,
                detail,
                Some("close other applications on the day (browsers with many tabs, IDEs)"),
            )
        });
    }
    if let Some(bundle) = &facts.bundle {
        checks.push(match &bundle.verified {
            Ok(()) => {
                check("bundle", Level::Ok, format!("{} is whole and every digest matches", bundle.path.display()), None)
            }
            Err(e) => check("bundle", Level::Fail, e.clone(), Some("copy the bundle again from the trainer")),
        });
        if !bundle.ports.is_empty() {
            let list = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
            checks.push(if facts.busy_ports.is_empty() {
                check("ports", Level::Ok, format!("{} free", list(&bundle.ports)), None)
            } else {
                check(
                    "ports",
                    Level::Warn,
                    format!("{} already in use (the labs publish {})", list(&facts.busy_ports), list(&bundle.ports)),
                    Some("stop what listens there on the day (another web server, a dev server), or the labs' containers cannot publish"),
                )
            });
        }
    }
    let proxy = facts.proxy.https_proxy.as_ref().or(facts.proxy.http_proxy.as_ref());
    checks.push(match proxy {
        None => check("proxy", Level::Ok, "no proxy configured".into(), None),
        Some(p) => check(
            "proxy",
            Level::Warn,
            format!("a proxy is configured ({})", redact(p)),
            Some("if your company's proxy inspects TLS, its certificate must be in the system's certificate store for pulls to work; the room's registry on the local network needs no proxy (add its address to NO_PROXY)"),
        ),
    });
    match &facts.import {
        None => {}
        Some(ImportFacts::NotImported) => checks.push(check(
            "imported",
            Level::Fail,
            "the bundle is not imported yet".into(),
            Some("run gantry workshop import BUNDLE"),
        )),
        Some(ImportFacts::Imported { missing_images }) if missing_images.is_empty() => {
            checks.push(check("imported", Level::Ok, "imported; every image is in the engine".into(), None));
        }
        Some(ImportFacts::Imported { missing_images }) => checks.push(check(
            "imported",
            Level::Fail,
            format!("imported, but the engine lacks {}", missing_images.join(", ")),
            Some("run gantry workshop import BUNDLE again (it loads only what is missing)"),
        )),
    }
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let ready = count(Level::Fail) == 0;
    let title = facts.bundle.as_ref().map_or("the workshop".to_string(), |b| b.title.clone());
    let mut summary = format!(
        "Gantry preflight for {title}: {} ({} ok, {} warning, {} failed)\n",
        if ready { "ready" } else { "NOT ready" },
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Fail)
    );
    for c in &checks {
        let tag = match c.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        summary.push_str(&format!("{tag:<4} {}: {}\n", c.name, c.detail));
    }
    PreflightReport { ready, checks, summary }
}

/// A proxy URL without its password.
fn redact(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| rest.split_once('@').map(|(_, host)| (scheme, host))) {
        Some((scheme, host)) => format!("{scheme}://…@{host}"),
        None => url.to_string(),
    }
}

/// Proxy settings from the environment (upper or lower case, as curl and Docker read them).
pub fn proxy_from_env() -> ProxyFacts {
    let var = |name: &str| {
        std::env::var(name.to_uppercase()).ok().or_else(|| std::env::var(name).ok()).filter(|v| !v.is_empty())
    };
    ProxyFacts { https_proxy: var("https_proxy"), http_proxy: var("http_proxy"), no_proxy: var("no_proxy") }
}

/// Of `ports`, those that cannot be bound on 127.0.0.1 right now (something uses them).
pub fn busy_ports(ports: &[u16]) -> Vec<u16> {
    ports.iter().copied().filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_err()).collect()
}

/// Opens and verifies the bundle at `path` (every digest), and reads what the checks need.
pub fn bundle_facts(path: &Path) -> BundleFacts {
    let mut facts = BundleFacts {
        path: path.to_owned(),
        title: path.display().to_string(),
        id: None,
        size: std::fs::metadata(path).map_or(0, |m| m.len()),
        ports: vec![],
        memory_mib: None,
        verified: Ok(()),
    };
    let bundle = match Bundle::open(path) {
        Ok(b) => b,
        Err(e) => {
            facts.verified = Err(e.to_string());
            return facts;
        }
    };
    facts.title = bundle.manifest.title.clone();
    facts.id = Some(bundle.id.clone());
    facts.memory_mib = bundle.manifest.settings.memory_mib;
    if let Ok(labs) = crate::room::bundle_labs(&bundle) {
        let mut ports: Vec<u16> = labs.iter().flat_map(|l| l.ports.iter().copied()).collect();
        ports.sort_unstable();
        ports.dedup();
        facts.ports = ports;
    }
    facts.verified = bundle.verify_parts().map_err(|e| e.to_string());
    facts
}

/// Whether the bundle `id` is imported (per the record in `workshops_dir`) and the engine still
/// has its images.
pub async fn import_facts(engine: &gantry_engine::Engine, workshops_dir: &Path, id: &Digest) -> ImportFacts {
    let Some(report) = crate::import::imported(workshops_dir).into_iter().find(|r| r.id == *id) else {
        return ImportFacts::NotImported;
    };
    let mut missing = Vec::new();
    for image in &report.images {
        match engine.inspect_image(&image.name).await {
            Ok(found) if found.id == image.id => {}
            _ => missing.push(image.name.clone()),
        }
    }
    ImportFacts::Imported { missing_images: missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> BundleFacts {
        BundleFacts {
            path: "/tmp/d.gantry-workshop".into(),
            title: "Docker 101".into(),
            id: None,
            size: 1 << 30,
            ports: vec![8080, 8081],
            memory_mib: Some(4096),
            verified: Ok(()),
        }
    }

    #[test]
    fn a_ready_laptop() {
        let facts = PreflightFacts {
            accelerator: Some(AcceleratorFact { name: "kvm".into(), hardware: true, warning: None }),
            free_disk: Some(100 << 30),
            available_memory: Some(16 << 30),
            bundle: Some(bundle()),
            import: Some(ImportFacts::Imported { missing_images: vec![] }),
            ..Default::default()
        };
        let report = evaluate(&facts);
        assert!(report.ready, "{}", report.summary);
        assert!(report.checks.iter().all(|c| c.level == Level::Ok), "{:?}", report.checks);
        assert!(report.summary.starts_with("Gantry preflight for Docker 101: ready (7 ok"), "{}", report.summary);
    }

    #[test]
    fn problems_are_named_with_what_to_do() {
        let facts = PreflightFacts {
            accelerator: Some(AcceleratorFact {
                name: "tcg".into(),
                hardware: false,
                warning: Some("no /dev/kvm".into()),
            }),
            free_disk: Some(1 << 30),
            available_memory: Some(2 << 30),
            bundle: Some(BundleFacts { verified: Err("part 3 is corrupt".into()), ..bundle() }),
            busy_ports: vec![8080],
            proxy: ProxyFacts { https_proxy: Some("http://me:secret@proxy.corp:3128".into()), ..Default::default() },
            import: Some(ImportFacts::Imported { missing_images: vec!["busybox:1.36".into()] }),
        };
        let report = evaluate(&facts);
        assert!(!report.ready);
        let level = |name: &str| report.checks.iter().find(|c| c.name == name).map(|c| c.level);
        assert_eq!(level("virtualization"), Some(Level::Warn));
        assert_eq!(level("disk"), Some(Level::Fail));
        assert_eq!(level("memory"), Some(Level::Warn));
        assert_eq!(level("bundle"), Some(Level::Fail));
        assert_eq!(level("ports"), Some(Level::Warn));
        assert_eq!(level("proxy"), Some(Level::Warn));
        assert_eq!(level("imported"), Some(Level::Fail));
        assert!(!report.summary.contains("secret"), "passwords are not sent: {}", report.summary);
        assert!(report.checks.iter().filter(|c| c.level != Level::Ok).all(|c| c.hint.is_some()));
    }

    #[test]
    fn a_busy_port_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(busy_ports(&[port]), [port]);
        drop(listener);
        assert!(busy_ports(&[port]).is_empty());
    }
}
