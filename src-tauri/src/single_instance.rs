//! One app per instance: the first launch listens on `desktop.sock` in the instance directory
//! (a named pipe derived from that path on Windows, `gantry_core::vm::local`); a later launch
//! connects, asks it to show its window, and exits.

use std::path::Path;

use gantry_core::vm::local::{self, LocalEndpoint, LocalListener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub enum Acquired {
    Primary(Guard),
    Secondary,
}

/// The listening endpoint and the small runtime it belongs to.
pub struct Guard {
    runtime: tokio::runtime::Runtime,
    listener: LocalListener,
}

/// Becomes the primary instance, or tells the running one to show itself.
pub fn acquire(dir: &Path) -> std::io::Result<Acquired> {
    std::fs::create_dir_all(dir)?;
    let endpoint = LocalEndpoint::for_path(&dir.join("desktop.sock"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let knocked = runtime.block_on(async {
        let mut running = local::connect(&endpoint).await.ok()?;
        running.write_all(b"show\n").await.ok()
    });
    if knocked.is_some() {
        return Ok(Acquired::Secondary);
    }
    // Nobody answers: a stale socket from a crash is replaced.
    let listener = runtime.block_on(async { LocalListener::bind(&endpoint) }).map_err(std::io::Error::other)?;
    Ok(Acquired::Primary(Guard { runtime, listener }))
}

impl Guard {
    /// Calls `show` whenever another launch knocks; keeps the endpoint until the process ends.
    pub fn listen(self, show: impl Fn() + Send + 'static) {
        let Self { runtime, mut listener } = self;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while let Ok(mut knock) = listener.accept().await {
                    let mut buf = [0u8; 16];
                    let _ = knock.read(&mut buf).await;
                    show();
                }
            });
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// The first launch is primary; later ones knock (the primary's `show` runs each time) and
    /// are secondary; a stale socket left by a crash does not block the next primary.
    #[test]
    fn later_launches_knock_on_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let Acquired::Primary(guard) = acquire(dir.path()).unwrap() else { panic!("the first launch is primary") };
        let (shown, knocks) = mpsc::channel();
        guard.listen(move || shown.send(()).unwrap());
        for _ in 0..2 {
            assert!(matches!(acquire(dir.path()).unwrap(), Acquired::Secondary));
            knocks.recv_timeout(Duration::from_secs(10)).unwrap();
        }

        #[cfg(unix)]
        {
            let crashed = tempfile::tempdir().unwrap();
            drop(std::os::unix::net::UnixListener::bind(crashed.path().join("desktop.sock")).unwrap());
            assert!(crashed.path().join("desktop.sock").exists());
            assert!(matches!(acquire(crashed.path()).unwrap(), Acquired::Primary(_)));
        }
    }
}
