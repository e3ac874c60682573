//! Where a start's time goes (`gantry start --timings`), from what the host and the guest
//! already say: the host's own marks (QEMU launched, first console output, "engine ready" seen,
//! TLS answered, socket served, context written, forwards set) and the guest init's console
//! lines, each stamped with the guest's uptime (`gantry-init: containerd: up (pid 248) [38.25s]`).
//!
//! Guest stamps are placed on the host's timeline through the first console line: the host saw
//! it at `console_alive` and the guest stamped it at its uptime `u`, so guest time `t` is host
//! time `console_alive - u + t` (the kernel prints nothing before the init: `quiet`). Both
//! functions are pure and tested with canned consoles.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::image;

/// One phase of a start and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootPhase {
    /// e.g. `kernel`, `dockerd`, `TLS answer`.
    pub name: String,
    pub ms: u64,
}

/// When the host saw each mark, measured from the start's beginning (`None`: not reached).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostMarks {
    /// The boot step began (settings checked, TLS material and data disk ready).
    pub boot_step: Option<Duration>,
    /// QEMU was launched for the boot that succeeded (after any accelerator test or fall-back).
    pub launched: Option<Duration>,
    /// The guest's console printed its first output.
    pub console_alive: Option<Duration>,
    /// The guest's "engine ready" line was seen.
    pub engine_ready: Option<Duration>,
    /// QEMU read the VM's saved state (restore instead of a boot; the vCPUs still paused).
    pub state_loaded: Option<Duration>,
    /// The VM's saved state was restored instead of a boot (the guest runs, clock set, shares
    /// mounted).
    pub restored: Option<Duration>,
    /// `docker version` answered over mutual TLS.
    pub tls_answered: Option<Duration>,
    /// The host's docker socket is served.
    pub socket_served: Option<Duration>,
    /// The docker context is written.
    pub context_written: Option<Duration>,
    /// Published ports are forwarded: the start is complete.
    pub forwards_set: Option<Duration>,
}

/// The guest init's stamps (its uptime, seconds) for the lines the phases need.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GuestMarks {
    /// The first stamped line (the init's first: the kernel is done).
    pub first: Option<f64>,
    /// containerd was launched: its own `containerd: started` line, or (an older init, which
    /// printed none) the last stamped line before containerd was up.
    pub containerd_launched: Option<f64>,
    pub containerd_up: Option<f64>,
    pub dockerd_answers: Option<f64>,
}

/// Reads the init's stamps from the console text.
pub fn guest_marks(console: &str) -> GuestMarks {
    let mut g = GuestMarks::default();
    let mut last = None;
    let mut started = None;
    for line in console.lines() {
        let Some(rest) = line.trim_end().strip_prefix(image::LINE_PREFIX) else { continue };
        let Some(t) = stamp(rest) else { continue };
        g.first.get_or_insert(t);
        if rest.starts_with("containerd: started") && g.containerd_up.is_none() {
            started = Some(t);
        } else if rest.starts_with("containerd: up") && g.containerd_up.is_none() {
            g.containerd_up = Some(t);
            g.containerd_launched = started.or(last);
        } else if rest.starts_with("dockerd: answers") && g.dockerd_answers.is_none() {
            g.dockerd_answers = Some(t);
        }
        last = Some(t);
    }
    g
}

/// `... [38.25s]` → 38.25.
fn stamp(line: &str) -> Option<f64> {
    let inner = line.strip_suffix("s]")?;
    let (_, num) = inner.rsplit_once('[')?;
    num.parse().ok().filter(|t: &f64| t.is_finite() && *t >= 0.0)
}

/// The phases, in order, each from the previous mark reached to its own (a phase whose marks
/// are missing is left out; its time goes to the next phase that has one).
pub fn phases(host: &HostMarks, guest: &GuestMarks) -> Vec<BootPhase> {
    // guest uptime → host time, anchored at the first console line
    let on_host = |t: Option<f64>| -> Option<Duration> {
        let (alive, first, t) = (host.console_alive?, guest.first?, t?);
        let secs = alive.as_secs_f64() - first + t;
        Some(Duration::from_secs_f64(secs.max(0.0)))
    };
    let kernel_start = guest.first.and_then(|first| Some(host.console_alive?.saturating_sub(secs(first))));
    let marks: [(&str, Option<Duration>); 14] = [
        ("prepare (settings, TLS material, data disk)", host.boot_step),
        ("QEMU launch (accelerator test included)", host.launched),
        ("firmware, kernel load and decompression", kernel_start),
        ("kernel", on_host(guest.first)),
        ("init (modules, network, data disk, shares)", on_host(guest.containerd_launched)),
        ("containerd", on_host(guest.containerd_up)),
        ("dockerd", on_host(guest.dockerd_answers)),
        ("engine ready seen", host.engine_ready),
        ("saved state loaded (QEMU reads the file)", host.state_loaded),
        ("saved state restored (guest runs, clock set, shares mounted)", host.restored),
        ("TLS answer", host.tls_answered),
        ("socket served", host.socket_served),
        ("docker context", host.context_written),
        ("port forwards", host.forwards_set),
    ];
    let mut out = Vec::new();
    let mut prev = Duration::ZERO;
    for (name, at) in marks {
        let Some(at) = at else { continue };
        let at = at.max(prev); // clocks read at different moments never make a phase negative
        out.push(BootPhase { name: name.to_owned(), ms: ms(at - prev) });
        prev = at;
    }
    out
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The phases as an aligned table with a total, for people.
pub fn table(phases: &[BootPhase]) -> String {
    let width = phases.iter().map(|p| p.name.chars().count()).max().unwrap_or(0).max(5);
    let mut s = String::new();
    for p in phases {
        s.push_str(&format!("  {:<width$}  {:>7.2} s\n", p.name, p.ms as f64 / 1000.0));
    }
    let total: u64 = phases.iter().map(|p| p.ms).sum();
    s.push_str(&format!("  {:<width$}  {:>7.2} s\n", "total", total as f64 / 1000.0));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A real first boot under TCG (this machine, 2026-12-02, load ≈ 15).
    const CONSOLE: &str = "gantry-init: stage1: 6.12.118+deb13-amd64 [6.17s]
gantry-init: modules: loaded [6.43s]
gantry-init: root: /dev/vda [6.45s]
gantry-init: stage1: switch_root [6.58s]
gantry-init: stage2: mounts done (root /dev/vda) [11.22s]
gantry-init: modules: loaded [20.79s]
gantry-init: network: eth0 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 [22.39s]
gantry-init: data: /dev/vdb mounted at /var/lib/docker (59G total) [30.00s]
gantry-init: share: share1 at /tmp [30.52s]
gantry-init: containerd: up (pid 248) [38.25s]
gantry-init: dockerd: started (pid 277), tcp port 2376 [38.27s]
gantry-init: dockerd: answers on /var/run/docker.sock [82.84s]
gantry-init: network: ports published on 127.0.0.1 answer through the forward [84.49s]
gantry-init: engine ready
";

    fn s(x: f64) -> Option<Duration> {
        Some(Duration::from_secs_f64(x))
    }

    #[test]
    fn the_inits_stamps_are_read() {
        let g = guest_marks(CONSOLE);
        assert_eq!(g.first, Some(6.17));
        assert_eq!(g.containerd_launched, Some(30.52));
        assert_eq!(g.containerd_up, Some(38.25));
        assert_eq!(g.dockerd_answers, Some(82.84));
    }

    /// Lines as this init prints them (excerpt): containerd and dockerd are launched
    /// together; dockerd waits for containerd.
    const CONSOLE_TOGETHER: &str = "gantry-init: stage1: 6.12.118+deb13-amd64 [3.40s]
gantry-init: data: /var/lib/docker: 58.8 GiB (63088377856 bytes) trimmed [10.85s]
gantry-init: share: hid /tmp/x [11.09s]
gantry-init: containerd: started (pid 263) [11.25s]
gantry-init: dockerd: started (pid 291), tcp 10.0.2.15:2376 [11.61s]
gantry-init: containerd: up (pid 263) [14.97s]
gantry-init: dockerd: answers on /var/run/docker.sock [26.34s]
gantry-init: engine ready
";

    #[test]
    fn containerd_launched_with_dockerd_is_timed_from_its_own_line() {
        let g = guest_marks(CONSOLE_TOGETHER);
        assert_eq!(g.containerd_launched, Some(11.25), "not dockerd's line, printed later");
        assert_eq!(g.containerd_up, Some(14.97));
        assert_eq!(g.dockerd_answers, Some(26.34));
    }

    #[test]
    fn lines_without_a_stamp_or_prefix_are_ignored() {
        let g = guest_marks(
            "[    0.000000] Linux version 6.1\ngantry-init: engine ready\ngantry-init: x [nan s]\nnoise [3.0s]\n",
        );
        assert_eq!(g, GuestMarks::default());
        assert_eq!(stamp("dockerd: answers [1e3s]"), Some(1000.0));
        assert_eq!(stamp("x [-1s]"), None);
        assert_eq!(stamp("x [s]"), None);
    }

    #[test]
    fn phases_follow_the_host_timeline_and_add_up() {
        let host = HostMarks {
            boot_step: s(0.7),
            launched: s(3.4),
            console_alive: s(22.8), // the host saw the first line (guest 6.17 s) here
            engine_ready: s(101.3),
            tls_answered: s(106.4),
            socket_served: s(106.41),
            context_written: s(106.42),
            forwards_set: s(106.7),
            state_loaded: None,
            restored: None,
        };
        let p = phases(&host, &guest_marks(CONSOLE));
        let get = |n: &str| p.iter().find(|x| x.name.starts_with(n)).map(|x| x.ms).unwrap();
        assert_eq!(get("prepare"), 700);
        assert_eq!(get("QEMU launch"), 2700);
        assert_eq!(get("firmware"), 13_230); // 22.8 - 6.17 - 3.4
        assert_eq!(get("kernel"), 6170);
        assert_eq!(get("init"), 24_350); // 30.52 - 6.17
        assert_eq!(get("containerd"), 7730);
        assert_eq!(get("dockerd"), 44_590);
        assert_eq!(get("TLS answer"), 5100);
        let total: u64 = p.iter().map(|x| x.ms).sum();
        assert_eq!(total, 106_700, "the phases add up to the whole start: {p:?}");
        let t = table(&p);
        assert!(t.contains("dockerd") && t.contains("44.59 s") && t.contains("total"), "{t}");
    }

    #[test]
    fn missing_marks_fold_into_the_next_phase() {
        // an image without stamps: only the host's marks
        let host = HostMarks {
            boot_step: s(1.0),
            launched: s(2.0),
            engine_ready: s(30.0),
            forwards_set: s(31.0),
            ..Default::default()
        };
        let p = phases(&host, &GuestMarks::default());
        let names: Vec<&str> = p.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert_eq!(p[2].ms, 28_000, "launch → engine ready in one phase");
        assert_eq!(p.iter().map(|x| x.ms).sum::<u64>(), 31_000);
    }

    #[test]
    fn a_restore_is_two_phases_after_the_launch() {
        let host = HostMarks {
            boot_step: s(0.1),
            launched: s(0.3),
            state_loaded: s(1.2),
            restored: s(2.8),
            tls_answered: s(3.5),
            forwards_set: s(3.6),
            ..Default::default()
        };
        let p = phases(&host, &GuestMarks::default());
        let names: Vec<&str> = p.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names[2], "saved state loaded (QEMU reads the file)", "{names:?}");
        assert_eq!(names[3], "saved state restored (guest runs, clock set, shares mounted)", "{names:?}");
        assert_eq!((p[2].ms, p[3].ms), (900, 1600));
        assert_eq!(p.iter().map(|x| x.ms).sum::<u64>(), 3600);
    }

    #[test]
    fn a_late_anchor_never_makes_a_phase_negative() {
        let host = HostMarks { launched: s(5.0), console_alive: s(5.1), ..Default::default() };
        let g = GuestMarks { first: Some(9.0), ..Default::default() };
        assert!(phases(&host, &g).iter().all(|p| p.ms < 10_000));
    }
}
