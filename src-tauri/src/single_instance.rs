//! One app per instance: the first launch listens on `desktop.sock` in the instance directory;
//! a later launch connects, asks it to show its window, and exits.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

pub enum Acquired {
    Primary(Guard),
    Secondary,
}

pub struct Guard {
    listener: UnixListener,
    path: PathBuf,
}

/// Becomes the primary instance, or tells the running one to show itself.
pub fn acquire(dir: &Path) -> std::io::Result<Acquired> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("desktop.sock");
    if let Ok(mut s) = UnixStream::connect(&path) {
        s.write_all(b"show\n")?;
        return Ok(Acquired::Secondary);
    }
    // Nobody answers: a stale socket from a crash.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    Ok(Acquired::Primary(Guard { listener, path }))
}

impl Guard {
    /// Calls `show` whenever another launch knocks; keeps the socket until the process ends.
    pub fn listen(self, show: impl Fn() + Send + 'static) {
        std::thread::spawn(move || {
            for mut stream in self.listener.incoming().flatten() {
                let mut buf = [0u8; 16];
                let _ = stream.read(&mut buf);
                show();
            }
            let _ = std::fs::remove_file(&self.path);
        });
    }
}
