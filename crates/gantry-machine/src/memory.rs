//! Giving the guest's start-up caches back to the host.
//!
//! Free page reporting (`virtio-balloon-pci,free-page-reporting=on`, [`crate::qemu`]) returns
//! memory the guest frees; but a guest that has just booted frees little: what it read to start
//! (the kernel modules, dockerd's and containerd's binaries decompressed from the squashfs root,
//! the compressed blocks under them) stays in its page cache, touched and so resident in QEMU,
//! though an idle engine never reads it again. [`give_back_caches`] inflates the balloon once
//! towards a low target — the guest drops clean cache pages to fill it, and QEMU discards every
//! page the balloon takes — then deflates it at once: the guest has all its memory again, and
//! what it does not use is no longer resident on the host. The balloon device has
//! `deflate-on-oom=on`, so a guest that needs memory while the balloon is inflated takes it back
//! from the balloon before it would kill a process; and the balloon driver only takes pages the
//! kernel can give without trying hard (it never pushes the guest into its OOM killer).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::{MachineError, Result};
use crate::qmp::Qmp;

const MIB: u64 = 1024 * 1024;
/// The lowest target the balloon asks for, whatever the guest's size: the kernel, dockerd and
/// containerd need about this much to keep running while the balloon is inflated.
pub const FLOOR_MIB: u64 = 192;
/// How often the balloon's progress is read while it inflates or deflates.
const POLL: Duration = Duration::from_millis(500);
/// The balloon counts as done when its size has not changed for this many reads in a row.
const STILL_READS: u32 = 4;

/// How low the balloon asks the guest to go: an eighth of its memory, at least [`FLOOR_MIB`].
pub fn squeeze_target_mib(guest_mib: u64) -> u64 {
    (guest_mib / 8).max(FLOOR_MIB).min(guest_mib)
}

/// Decides when the balloon has done what it can: the guest's size reached the target, or it
/// stopped moving (the guest has nothing more to give without trying hard).
#[derive(Debug, Clone)]
pub struct Settle {
    target: u64,
    last: Option<u64>,
    still: u32,
}

impl Settle {
    /// `target`: the size the balloon was asked to bring the guest to (bytes).
    pub fn new(target: u64) -> Self {
        Settle { target, last: None, still: 0 }
    }

    /// Feeds one reading of the guest's size (`query-balloon`'s `actual`, bytes); true when done.
    pub fn observe(&mut self, actual: u64) -> bool {
        if actual == self.target {
            return true;
        }
        if self.last == Some(actual) {
            self.still += 1;
        } else {
            self.still = 0;
        }
        self.last = Some(actual);
        self.still >= STILL_READS
    }
}

/// What one squeeze did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Squeezed {
    /// The smallest size the guest reached while the balloon was inflated (MiB).
    pub lowest_mib: u64,
    /// The guest's memory, given back in full afterwards (MiB).
    pub guest_mib: u64,
    /// Inflate and deflate, end to end.
    pub took: Duration,
}

/// The `actual` field of a `query-balloon` reply (bytes).
pub fn balloon_actual(reply: &Value) -> Result<u64> {
    reply
        .get("actual")
        .and_then(Value::as_u64)
        .ok_or_else(|| MachineError::Qmp { message: format!("query-balloon: no size in {reply}") })
}

/// Inflates the balloon towards [`squeeze_target_mib`], waits until it settles (at most `bound`),
/// then gives the guest all of its `guest_mib` back and waits for that too. `connect` opens a
/// monitor connection: one per step, because a QMP socket serves one client at a time and the
/// published-port rules need it meanwhile. The guest is given its memory back on every path
/// that can still reach QEMU.
pub async fn give_back_caches<F, Fut>(connect: F, guest_mib: u64, bound: Duration) -> Result<Squeezed>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Qmp>>,
{
    let started = Instant::now();
    let full = guest_mib * MIB;
    let target = squeeze_target_mib(guest_mib) * MIB;
    set_balloon(&connect, target).await?;
    let lowest = wait_settled(&connect, Settle::new(target), bound).await;
    // deflate whatever happened while inflating
    let restored = set_balloon(&connect, full).await;
    let lowest = lowest?;
    restored?;
    let _ = wait_settled(&connect, Settle::new(full), bound).await?;
    Ok(Squeezed { lowest_mib: lowest / MIB, guest_mib, took: started.elapsed() })
}

/// Gives the guest all of its memory back at once (the balloon's target set to the VM's base
/// memory, which `query-memory-size-summary` reports): a save must not keep a squeeze's inflated
/// balloon, or the resumed guest would run starved.
pub async fn deflate_fully(q: &mut Qmp) -> Result<()> {
    let summary = q.execute("query-memory-size-summary", None).await?;
    let base = summary.get("base-memory").and_then(Value::as_u64).ok_or_else(|| MachineError::Qmp {
        message: format!("query-memory-size-summary: no base-memory in {summary}"),
    })?;
    q.execute("balloon", Some(json!({ "value": base }))).await.map(|_| ())
}

async fn set_balloon<F, Fut>(connect: &F, bytes: u64) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Qmp>>,
{
    connect().await?.execute("balloon", Some(json!({ "value": bytes }))).await.map(|_| ())
}

/// Reads the balloon until `settle` says done or `bound` passes; returns the smallest size seen.
async fn wait_settled<F, Fut>(connect: &F, mut settle: Settle, bound: Duration) -> Result<u64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Qmp>>,
{
    let deadline = Instant::now() + bound;
    let mut lowest = u64::MAX;
    loop {
        tokio::time::sleep(POLL).await;
        let actual = balloon_actual(&connect().await?.execute("query-balloon", None).await?)?;
        lowest = lowest.min(actual);
        if settle.observe(actual) || Instant::now() >= deadline {
            return Ok(lowest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn target_is_an_eighth_with_a_floor() {
        assert_eq!(squeeze_target_mib(2048), 256);
        assert_eq!(squeeze_target_mib(8192), 1024);
        assert_eq!(squeeze_target_mib(1024), FLOOR_MIB);
        // a guest smaller than the floor is not asked for more than it has
        assert_eq!(squeeze_target_mib(128), 128);
    }

    #[test]
    fn settles_at_the_target_or_when_still() {
        let mut s = Settle::new(256);
        assert!(!s.observe(2048));
        assert!(!s.observe(1500));
        assert!(s.observe(256));

        let mut s = Settle::new(256);
        assert!(!s.observe(900));
        assert!(!s.observe(700));
        for _ in 0..STILL_READS - 1 {
            assert!(!s.observe(700));
        }
        assert!(s.observe(700), "stopped moving: as low as the guest goes");

        // moving again restarts the count
        let mut s = Settle::new(256);
        for i in 0..4 * STILL_READS {
            assert!(!s.observe(if i % 2 == 0 { 800 } else { 700 }));
        }
    }

    #[test]
    fn reads_the_balloon_size() {
        assert_eq!(balloon_actual(&json!({ "actual": 2147483648u64 })).unwrap(), 2048 * MIB);
        assert!(balloon_actual(&json!({})).is_err());
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod fake_monitor {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A monitor that follows `balloon` requests like QEMU with a guest that can shrink only to
    /// `lowest`: every connection gets a greeting, then each command its reply.
    async fn fake_qemu(sock: std::path::PathBuf, lowest: u64, log: Arc<Mutex<Vec<String>>>) {
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let size = Arc::new(Mutex::new(2048 * MIB));
        loop {
            let (s, _) = l.accept().await.unwrap();
            let (size, log) = (size.clone(), log.clone());
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n").await.unwrap();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    let reply = match v["execute"].as_str().unwrap() {
                        "balloon" => {
                            let want = v["arguments"]["value"].as_u64().unwrap();
                            log.lock().unwrap().push(format!("balloon {}", want / MIB));
                            *size.lock().unwrap() = want.max(lowest);
                            json!({ "return": {} })
                        }
                        "query-balloon" => json!({ "return": { "actual": *size.lock().unwrap() } }),
                        _ => json!({ "return": {} }),
                    };
                    w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
                }
            });
        }
    }

    #[tokio::test]
    async fn inflates_then_gives_everything_back() {
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("qmp.sock");
        let log = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(fake_qemu(sock.clone(), 600 * MIB, log.clone()));
        while !sock.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let s = give_back_caches(|| Qmp::connect(&sock), 2048, Duration::from_secs(20)).await.unwrap();
        assert_eq!(s.lowest_mib, 600, "as low as the guest could go");
        assert_eq!(s.guest_mib, 2048);
        assert_eq!(*log.lock().unwrap(), vec!["balloon 256".to_owned(), "balloon 2048".to_owned()]);
        server.abort();
    }
}
