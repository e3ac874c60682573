//! Published ports → QEMU `hostfwd` rules.
//!
//! A container publishing host port P is published by dockerd on the guest's port P, so the
//! rule is `hostfwd_add net0 tcp:<bind>:P-:P` (guest port = host port). The desired set is
//! computed from the engine's containers; [`PortForwarder::reconcile`] adds what is missing
//! and removes what is no longer wanted, and reports host ports that are taken.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::qmp::Qmp;

/// The user-network device name in the QEMU command line.
pub const NETDEV: &str = "net0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// One forwarded host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRule {
    pub proto: Proto,
    pub bind: IpAddr,
    pub port: u16,
}

fn addr(ip: IpAddr) -> String {
    match ip {
        // QEMU's slirp hostfwd binds IPv4 only; map :: / ::1 to their IPv4 equivalents.
        IpAddr::V6(v6) if v6.is_loopback() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "0.0.0.0".into(),
        ip => ip.to_string(),
    }
}

impl PortRule {
    /// The `hostfwd_add` argument: `tcp:127.0.0.1:8080-:8080`.
    pub fn add_arg(&self) -> String {
        format!("{}:{}:{}-:{}", self.proto.name(), addr(self.bind), self.port, self.port)
    }
    /// The `hostfwd_remove` argument: `tcp:127.0.0.1:8080`.
    pub fn remove_arg(&self) -> String {
        format!("{}:{}:{}", self.proto.name(), addr(self.bind), self.port)
    }
}

/// A published port as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_port: u16,
    pub proto: String,
}

/// The rules wanted for a set of published ports.
pub fn desired(published: impl IntoIterator<Item = Published>, bind: IpAddr) -> BTreeSet<PortRule> {
    published
        .into_iter()
        .filter(|p| p.host_port != 0)
        .filter_map(|p| Proto::parse(&p.proto).map(|proto| PortRule { proto, bind, port: p.host_port }))
        .collect()
}

/// What to change to go from `current` to `want`.
pub fn diff(current: &BTreeSet<PortRule>, want: &BTreeSet<PortRule>) -> (Vec<PortRule>, Vec<PortRule>) {
    let add = want.difference(current).copied().collect();
    let remove = current.difference(want).copied().collect();
    (add, remove)
}

/// A rule that could not be added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("cannot forward {bind}:{port}/{proto:?}: {detail}")]
pub struct PortConflict {
    pub proto: Proto,
    pub bind: IpAddr,
    pub port: u16,
    pub detail: String,
    pub hint: String,
}

/// Keeps QEMU's forwards in line with the wanted set.
#[derive(Debug, Default)]
pub struct PortForwarder {
    active: BTreeSet<PortRule>,
}

impl PortForwarder {
    pub fn new() -> Self {
        Self::default()
    }
    /// The rules currently installed.
    pub fn active(&self) -> &BTreeSet<PortRule> {
        &self.active
    }
    /// Forgets installed rules (after QEMU restarted: its rules are gone).
    pub fn reset(&mut self) {
        self.active.clear();
    }

    /// Applies the difference; returns the rules that could not be added (host port taken).
    pub async fn reconcile(&mut self, qmp: &mut Qmp, want: &BTreeSet<PortRule>) -> Vec<PortConflict> {
        let (add, remove) = diff(&self.active, want);
        for r in remove {
            match qmp.hostfwd_remove(NETDEV, &r.remove_arg()).await {
                Ok(()) => tracing::info!(port = r.port, "port forward removed"),
                Err(e) => tracing::warn!(port = r.port, error = %e, "hostfwd_remove failed"),
            }
            self.active.remove(&r);
        }
        let mut conflicts = Vec::new();
        for r in add {
            match qmp.hostfwd_add(NETDEV, &r.add_arg()).await {
                Ok(()) => {
                    tracing::info!(port = r.port, bind = %r.bind, "port forward added");
                    self.active.insert(r);
                }
                Err(detail) => conflicts.push(PortConflict {
                    proto: r.proto,
                    bind: r.bind,
                    port: r.port,
                    hint: format!(
                        "host port {} is already in use on {}: stop the program using it or publish another port",
                        r.port, r.bind
                    ),
                    detail,
                }),
            }
        }
        conflicts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn p(port: u16, proto: &str) -> Published {
        Published { host_port: port, proto: proto.into() }
    }

    #[test]
    fn rules_text() {
        let r = PortRule { proto: Proto::Tcp, bind: LO, port: 8080 };
        assert_eq!(r.add_arg(), "tcp:127.0.0.1:8080-:8080");
        assert_eq!(r.remove_arg(), "tcp:127.0.0.1:8080");
        let u = PortRule { proto: Proto::Udp, bind: "0.0.0.0".parse().unwrap_or(LO), port: 53 };
        assert_eq!(u.add_arg(), "udp:0.0.0.0:53-:53");
        let v6 = PortRule { proto: Proto::Tcp, bind: "::1".parse().unwrap_or(LO), port: 1 };
        assert_eq!(v6.remove_arg(), "tcp:127.0.0.1:1");
    }

    #[test]
    fn desired_and_diff() {
        let want = desired([p(8080, "tcp"), p(8080, "tcp"), p(0, "tcp"), p(53, "udp"), p(1, "sctp")], LO);
        assert_eq!(want.len(), 2);
        let cur: BTreeSet<_> = [PortRule { proto: Proto::Tcp, bind: LO, port: 9000 }].into();
        let (add, rm) = diff(&cur, &want);
        assert_eq!(add.len(), 2);
        assert_eq!(rm, vec![PortRule { proto: Proto::Tcp, bind: LO, port: 9000 }]);
        let (add, rm) = diff(&want, &want);
        assert!(add.is_empty() && rm.is_empty());
    }
}
