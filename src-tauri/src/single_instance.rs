//! One app per instance: the first launch listens on `desktop.sock` in the instance directory
//! (a named pipe derived from that path on Windows, `gantry_core::vm::local`); a later launch
//! connects, asks it to show its window and to open the files it was given ("Open with" a
//! workshop bundle), and exits. Lines: `show`, then `open PATH` per file (absolute; paths that
//! cannot be one UTF-8 line are left out); the first launch checks every path itself.

use std::path::{Path, PathBuf};

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

/// The most a second launch may send (its files' paths): more is ignored.
const MAX_MESSAGE: u64 = 64 * 1024;

/// Becomes the primary instance, or tells the running one to show itself and open `files`.
pub fn acquire(dir: &Path, files: &[PathBuf]) -> std::io::Result<Acquired> {
    std::fs::create_dir_all(dir)?;
    let endpoint = LocalEndpoint::for_path(&dir.join("desktop.sock"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let knocked = runtime.block_on(async {
        let mut running = local::connect(&endpoint).await.ok()?;
        running.write_all(message(files).as_bytes()).await.ok()?;
        running.shutdown().await.ok()
    });
    if knocked.is_some() {
        return Ok(Acquired::Secondary);
    }
    // Nobody answers: a stale socket from a crash is replaced.
    let listener = runtime.block_on(async { LocalListener::bind(&endpoint) }).map_err(std::io::Error::other)?;
    Ok(Acquired::Primary(Guard { runtime, listener }))
}

/// What a second launch sends.
fn message(files: &[PathBuf]) -> String {
    let mut m = String::from("show\n");
    for f in files {
        let absolute = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        if let Some(p) = absolute.to_str().filter(|p| !p.contains(['\n', '\r'])) {
            m.push_str(&format!("open {p}\n"));
        }
    }
    m
}

/// The files a second launch's message asks to open.
fn files_in(message: &str) -> Vec<PathBuf> {
    message.lines().filter_map(|l| l.strip_prefix("open ")).map(PathBuf::from).collect()
}

impl Guard {
    /// Calls `show` whenever another launch knocks, then `open` with each file it names; keeps
    /// the endpoint until the process ends.
    pub fn listen(self, show: impl Fn() + Send + 'static, open: impl Fn(PathBuf) + Send + 'static) {
        let Self { runtime, mut listener } = self;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                while let Ok(knock) = listener.accept().await {
                    let mut buf = Vec::new();
                    // bounded, and a launch that never finishes writing cannot block the next
                    let mut limited = knock.take(MAX_MESSAGE);
                    let read = limited.read_to_end(&mut buf);
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
                    show();
                    for f in files_in(&String::from_utf8_lossy(&buf)) {
                        open(f);
                    }
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
        let Acquired::Primary(guard) = acquire(dir.path(), &[]).unwrap() else { panic!("the first launch is primary") };
        let (shown, knocks) = mpsc::channel();
        let (opened, files) = mpsc::channel();
        guard.listen(move || shown.send(()).unwrap(), move |f| opened.send(f).unwrap());
        for _ in 0..2 {
            assert!(matches!(acquire(dir.path(), &[]).unwrap(), Acquired::Secondary));
            knocks.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        // "Open with": the second launch's files reach the first, absolute, in order
        let given = [PathBuf::from("/w/a.gantry-workshop"), PathBuf::from("b.gantry-workshop")];
        assert!(matches!(acquire(dir.path(), &given).unwrap(), Acquired::Secondary));
        knocks.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(files.recv_timeout(Duration::from_secs(10)).unwrap(), given[0]);
        assert_eq!(files.recv_timeout(Duration::from_secs(10)).unwrap(), std::path::absolute(&given[1]).unwrap());

        #[cfg(unix)]
        {
            let crashed = tempfile::tempdir().unwrap();
            drop(std::os::unix::net::UnixListener::bind(crashed.path().join("desktop.sock")).unwrap());
            assert!(crashed.path().join("desktop.sock").exists());
            assert!(matches!(acquire(crashed.path(), &[]).unwrap(), Acquired::Primary(_)));
        }
    }
}
