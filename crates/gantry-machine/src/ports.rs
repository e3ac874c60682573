//! Published ports → QEMU `hostfwd` rules.
//!
//! A container publishing host port P is published by dockerd on the guest's port P, so the
//! rule is `hostfwd_add net0 tcp:<bind>:P-:P` (guest port = host port). The desired set is
//! computed from the engine's containers; [`PortForwarder::reconcile`] adds what is missing
//! and removes what is no longer wanted, and reports host ports that are taken.
//!
//! The address on this computer ([`effective_bind`]) never widens what the container asked
//! for: the setting is the default for ports published on every address and a ceiling for the
//! rest (`-p 127.0.0.1:5432:5432` stays on loopback even with the setting `0.0.0.0`). A port
//! the container published on the guest's loopback is forwarded to the guest's loopback
//! (the guest accepts such packets on its network interface: `route_localnet`).
//!
//! After an agent restart the forwarder is seeded with the rules QEMU already has (HMP
//! `info usernet`, [`parse_usernet`]), so nothing is added twice and stale rules are removed.
//!
//! The rules are installed in a [`ForwardTable`]: QEMU's user network through QMP for the QEMU
//! driver (the agent reaches it only through [`crate::driver::Driver::reconcile_forwards`]).

use std::collections::BTreeSet;
use std::future::Future;
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
    /// The guest listens on its loopback only (the container published on 127.0.0.1 / ::1).
    #[serde(default)]
    pub guest_loopback: bool,
}

/// The guest's loopback address, as a `hostfwd` target.
const GUEST_LOOPBACK: &str = "127.0.0.1";

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
        let guest = if self.guest_loopback { GUEST_LOOPBACK } else { "" };
        format!("{}:{}:{}-{guest}:{}", self.proto.name(), addr(self.bind), self.port, self.port)
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
    /// The address the container asked for (`None`: every address).
    pub host_ip: Option<IpAddr>,
}

/// The host address for a port the container published on `requested`, with the setting
/// `setting`: the narrower of the two, never wider than either.
///
/// | requested \ setting | 127.0.0.1 | 0.0.0.0 | an address A of this computer |
/// |---|---|---|---|
/// | unset or 0.0.0.0 / :: | 127.0.0.1 | 0.0.0.0 | A |
/// | 127.0.0.1 / ::1 | 127.0.0.1 | 127.0.0.1 | 127.0.0.1 |
/// | an address B | 127.0.0.1 | B | A if B = A, else 127.0.0.1 |
pub fn effective_bind(requested: Option<IpAddr>, setting: IpAddr) -> IpAddr {
    let loopback = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    match requested {
        None => setting,
        Some(r) if r.is_unspecified() => setting,
        Some(r) if r.is_loopback() => loopback,
        Some(_) if setting.is_loopback() => loopback,
        Some(r) if setting.is_unspecified() => r,
        Some(r) if r == setting => r,
        Some(_) => loopback,
    }
}

/// The rules wanted for a set of published ports, with the bind-address setting `setting`.
pub fn desired(published: impl IntoIterator<Item = Published>, setting: IpAddr) -> BTreeSet<PortRule> {
    let mut rules: BTreeSet<PortRule> = published
        .into_iter()
        .filter(|p| p.host_port != 0)
        .filter_map(|p| {
            let proto = Proto::parse(&p.proto)?;
            let guest_loopback = p.host_ip.is_some_and(|ip| ip.is_loopback());
            Some(PortRule { proto, bind: effective_bind(p.host_ip, setting), port: p.host_port, guest_loopback })
        })
        .collect();
    // one host port is one rule: a port also published on the guest's every address wins over
    // its loopback-only twin (docker lists 0.0.0.0 and :: separately; QEMU binds IPv4 only)
    let all: Vec<PortRule> = rules.iter().copied().collect();
    rules.retain(|r| {
        !all.iter().any(|o| {
            o != r && o.proto == r.proto && o.port == r.port && (rank(o) > rank(r) || (rank(o) == rank(r) && o < r))
        })
    });
    rules
}

/// Which of two rules for one host port is kept: the one reaching the guest on every address,
/// then the narrower host address.
fn rank(r: &PortRule) -> (bool, bool) {
    (!r.guest_loopback, r.bind.is_loopback())
}

/// The `hostfwd` rules QEMU has, from HMP `info usernet`
/// (`  TCP[HOST_FORWARD]  13  127.0.0.1  8080  10.0.2.15  8080  0  0`, source `*` for every
/// address); `engine_port`'s own forward is left out. Lines it cannot read are skipped.
pub fn parse_usernet(text: &str, engine_port: u16) -> BTreeSet<PortRule> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let proto = match f.first() {
            Some(&"TCP[HOST_FORWARD]") => Proto::Tcp,
            Some(&"UDP[HOST_FORWARD]") => Proto::Udp,
            _ => continue,
        };
        // Protocol[State] FD SrcAddr SrcPort DstAddr DstPort RecvQ SendQ
        let (Some(src), Some(sport), Some(dst), Some(dport)) = (f.get(2), f.get(3), f.get(4), f.get(5)) else {
            continue;
        };
        // an every-address rule's source is shown as `*`
        let bind = if *src == "*" { Ok(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)) } else { src.parse::<IpAddr>() };
        let (Ok(bind), Ok(port), Ok(guest), Ok(guest_port)) =
            (bind, sport.parse::<u16>(), dst.parse::<IpAddr>(), dport.parse::<u16>())
        else {
            continue;
        };
        if proto == Proto::Tcp && port == engine_port {
            continue;
        }
        if port != guest_port {
            continue; // not a rule of ours (ours keep the port number)
        }
        out.insert(PortRule { proto, bind, port, guest_loopback: guest.is_loopback() });
    }
    out
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

/// Where forwarding rules are installed: QEMU's user network (through QMP) for the QEMU driver.
pub trait ForwardTable {
    /// Installs `rule`; the error is the reason in the table's own words (a port taken).
    fn add(&mut self, rule: &PortRule) -> impl Future<Output = Result<(), String>> + Send;
    /// Removes `rule`.
    fn remove(&mut self, rule: &PortRule) -> impl Future<Output = Result<(), String>> + Send;
}

impl ForwardTable for Qmp {
    async fn add(&mut self, rule: &PortRule) -> Result<(), String> {
        self.hostfwd_add(NETDEV, &rule.add_arg()).await
    }
    async fn remove(&mut self, rule: &PortRule) -> Result<(), String> {
        self.hostfwd_remove(NETDEV, &rule.remove_arg()).await
    }
}

/// Keeps a [`ForwardTable`]'s rules in line with the wanted set.
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

    /// A forwarder that knows the rules QEMU already has (a restarted agent).
    pub fn seeded(active: BTreeSet<PortRule>) -> Self {
        Self { active }
    }

    /// Removes every installed rule (errors ignored: after a VM restart they are gone anyway)
    /// and forgets them.
    pub async fn clear(&mut self, table: &mut impl ForwardTable) {
        for r in std::mem::take(&mut self.active) {
            let _ = table.remove(&r).await;
        }
    }

    /// Applies the difference; returns the rules that could not be added (host port taken).
    pub async fn reconcile(&mut self, table: &mut impl ForwardTable, want: &BTreeSet<PortRule>) -> Vec<PortConflict> {
        let (add, remove) = diff(&self.active, want);
        for r in remove {
            match table.remove(&r).await {
                Ok(()) => tracing::info!(port = r.port, "port forward removed"),
                Err(e) => tracing::warn!(port = r.port, error = %e, "hostfwd_remove failed"),
            }
            self.active.remove(&r);
        }
        let mut conflicts = Vec::new();
        for r in add {
            match table.add(&r).await {
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

    const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    fn p(port: u16, proto: &str) -> Published {
        Published { host_port: port, proto: proto.into(), host_ip: None }
    }

    fn rule(port: u16, bind: IpAddr) -> PortRule {
        PortRule { proto: Proto::Tcp, bind, port, guest_loopback: false }
    }

    #[test]
    fn rules_text() {
        let r = rule(8080, LO);
        assert_eq!(r.add_arg(), "tcp:127.0.0.1:8080-:8080");
        assert_eq!(r.remove_arg(), "tcp:127.0.0.1:8080");
        let u = PortRule { proto: Proto::Udp, bind: ANY, port: 53, guest_loopback: false };
        assert_eq!(u.add_arg(), "udp:0.0.0.0:53-:53");
        let v6 = rule(1, "::1".parse().unwrap_or(LO));
        assert_eq!(v6.remove_arg(), "tcp:127.0.0.1:1");
        let guest_lo = PortRule { guest_loopback: true, ..rule(5432, LO) };
        assert_eq!(guest_lo.add_arg(), "tcp:127.0.0.1:5432-127.0.0.1:5432");
    }

    /// HostIp {unset, 127.0.0.1, 0.0.0.0} × setting {127.0.0.1, 0.0.0.0}: never wider than either.
    #[test]
    fn the_bind_address_matrix() {
        let lan: IpAddr = "192.168.1.5".parse().unwrap_or(LO);
        let cases = [
            (None, LO, LO),
            (None, ANY, ANY),
            (Some(LO), LO, LO),
            (Some(LO), ANY, LO),
            (Some(ANY), LO, LO),
            (Some(ANY), ANY, ANY),
            (None, lan, lan),
            (Some(LO), lan, LO),
            (Some(lan), ANY, lan),
            (Some(lan), LO, LO),
            (Some("10.9.9.9".parse().unwrap_or(LO)), lan, LO),
            (Some("::1".parse().unwrap_or(LO)), ANY, LO),
            (Some("::".parse().unwrap_or(LO)), ANY, ANY),
        ];
        for (requested, setting, want) in cases {
            assert_eq!(effective_bind(requested, setting), want, "{requested:?} with {setting}");
        }
        // a port on the guest's loopback is forwarded to it, on this computer's loopback
        let want = desired([Published { host_ip: Some(LO), ..p(5432, "tcp") }], ANY);
        assert_eq!(want.into_iter().collect::<Vec<_>>(), vec![PortRule { guest_loopback: true, ..rule(5432, LO) }]);
        // docker lists every-address ports twice (0.0.0.0 and ::): one rule
        let v6any = "::".parse().ok();
        let want = desired(
            [Published { host_ip: Some(ANY), ..p(80, "tcp") }, Published { host_ip: v6any, ..p(80, "tcp") }],
            LO,
        );
        assert_eq!(want.len(), 1);
    }

    /// As QEMU 7.2 prints it (captured from `info usernet`): an every-address rule shows `*`.
    #[test]
    fn usernet_lists_the_rules_qemu_has() {
        let text = "Hub -1 (net0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n\
            \x20 TCP[HOST_FORWARD]  13       127.0.0.1 41234       10.0.2.15  2376     0     0\r\n\
            \x20 TCP[HOST_FORWARD]  15               *  8080       10.0.2.15  8080     0     0\r\n\
            \x20 TCP[HOST_FORWARD]  16       127.0.0.1  5432       127.0.0.1  5432     0     0\r\n\
            \x20 UDP[HOST_FORWARD]  17       127.0.0.1    53       10.0.2.15    53     0     0\r\n\
            \x20 TCP[ESTABLISHED]   18       127.0.0.1 50000       10.0.2.15  2376     0     0\r\n\
            \x20 TCP[HOST_FORWARD]  garbage\r\n";
        let got: Vec<_> = parse_usernet(text, 41234).into_iter().collect();
        assert_eq!(
            got,
            vec![
                PortRule { proto: Proto::Tcp, bind: ANY, port: 8080, guest_loopback: false },
                PortRule { proto: Proto::Tcp, bind: LO, port: 5432, guest_loopback: true },
                PortRule { proto: Proto::Udp, bind: LO, port: 53, guest_loopback: false },
            ]
        );
    }

    /// A table that refuses the ports in `taken` and records what it was told.
    #[derive(Default)]
    struct Table {
        taken: BTreeSet<u16>,
        rules: BTreeSet<PortRule>,
    }

    impl ForwardTable for Table {
        async fn add(&mut self, rule: &PortRule) -> Result<(), String> {
            if self.taken.contains(&rule.port) {
                return Err("Could not set up host forwarding rule".into());
            }
            self.rules.insert(*rule);
            Ok(())
        }
        async fn remove(&mut self, rule: &PortRule) -> Result<(), String> {
            if self.rules.remove(rule) { Ok(()) } else { Err("invalid host forwarding rule".into()) }
        }
    }

    #[tokio::test]
    async fn reconcile_installs_the_difference_and_reports_taken_ports() {
        let mut table = Table { taken: [5432].into(), ..Table::default() };
        let mut fwd = PortForwarder::new();
        let want: BTreeSet<_> = [rule(8080, LO), rule(5432, LO)].into();
        let conflicts = fwd.reconcile(&mut table, &want).await;
        assert_eq!(conflicts.len(), 1);
        assert_eq!((conflicts[0].port, conflicts[0].bind), (5432, LO));
        assert!(conflicts[0].hint.contains("already in use"), "{}", conflicts[0].hint);
        assert_eq!(fwd.active(), &BTreeSet::from([rule(8080, LO)]));
        assert_eq!(table.rules, BTreeSet::from([rule(8080, LO)]));
        // the port is free again and 8080 is no longer wanted
        table.taken.clear();
        let want: BTreeSet<_> = [rule(5432, LO)].into();
        assert!(fwd.reconcile(&mut table, &want).await.is_empty());
        assert_eq!(table.rules, want);
        assert_eq!(fwd.active(), &want);
        fwd.clear(&mut table).await;
        assert!(fwd.active().is_empty() && table.rules.is_empty());
    }

    #[test]
    fn desired_and_diff() {
        let want = desired([p(8080, "tcp"), p(8080, "tcp"), p(0, "tcp"), p(53, "udp"), p(1, "sctp")], LO);
        assert_eq!(want.len(), 2);
        let cur: BTreeSet<_> = [rule(9000, LO)].into();
        let (add, rm) = diff(&cur, &want);
        assert_eq!(add.len(), 2);
        assert_eq!(rm, vec![rule(9000, LO)]);
        let (add, rm) = diff(&want, &want);
        assert!(add.is_empty() && rm.is_empty());
    }
}
