//! Bundles the desktop is asked to open: a `*.gantry-workshop` file dropped on the window, or
//! named on the app's command line ("Open with", a second launch). The desktop shell hands each
//! path to [`Gantry::workshop_open_file`] (not a webview command: the webview never names a path
//! here), which checks it; the Workshops panel follows [`Gantry::workshop_opened`] and imports
//! what arrives with the existing import stream.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{ApiError, ApiResult, Gantry, GantryErrorCode, StreamMsg};

/// A workshop bundle's file extension (without the dot).
pub const BUNDLE_EXTENSION: &str = "gantry-workshop";

/// A file the desktop was asked to open: the bundle to import, or why it cannot be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenedBundle {
    /// The path as checked (absolute).
    pub path: String,
    /// Why this file is not imported (not a bundle, not a regular file).
    pub error: Option<ApiError>,
}

/// Files opened before the Workshops panel follows them, and the followers.
pub(super) struct OpenedBundles {
    pending: Mutex<Vec<OpenedBundle>>,
    tx: broadcast::Sender<OpenedBundle>,
}

impl Default for OpenedBundles {
    fn default() -> Self {
        Self { pending: Mutex::new(Vec::new()), tx: broadcast::channel(16).0 }
    }
}

/// Checks a path the desktop was given: a `.gantry-workshop` file (any case) that is a regular
/// file (a symlink to one counts). Returns it absolute.
pub fn check_bundle_path(path: &Path) -> Result<PathBuf, ApiError> {
    let shown = path.display();
    let is_bundle = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case(BUNDLE_EXTENSION));
    if !is_bundle {
        return Err(ApiError::new(
            GantryErrorCode::InvalidName,
            format!("{shown} is not a workshop bundle (a .{BUNDLE_EXTENSION} file)"),
            "drop the .gantry-workshop file the trainer sent",
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        ApiError::new(GantryErrorCode::Io, format!("cannot read {shown}: {e}"), "check the file is still there")
    })?;
    if !meta.is_file() {
        return Err(ApiError::new(
            GantryErrorCode::Io,
            format!("{shown} is not a regular file"),
            "drop the bundle file itself, not a folder or a device",
        ));
    }
    std::path::absolute(path).map_err(|e| {
        ApiError::new(GantryErrorCode::Io, format!("cannot resolve {shown}: {e}"), "open the file from its folder")
    })
}

impl Gantry {
    /// A file the desktop was asked to open (dropped on the window, or on the command line):
    /// checked, then passed to the Workshops panel (kept until it follows, when it does not yet).
    /// Not a webview command. Returns what the panel receives.
    pub fn workshop_open_file(&self, path: &Path) -> OpenedBundle {
        let opened = match check_bundle_path(path) {
            Ok(p) => OpenedBundle { path: p.display().to_string(), error: None },
            Err(e) => OpenedBundle { path: path.display().to_string(), error: Some(e) },
        };
        tracing::info!(path = %opened.path, ok = opened.error.is_none(), "bundle opened in the desktop");
        if self.opened.tx.send(opened.clone()).is_err()
            && let Ok(mut pending) = self.opened.pending.lock()
        {
            pending.push(opened.clone());
        }
        opened
    }

    /// The bundles the desktop is asked to open, as they come (those opened before first).
    pub async fn workshop_opened(
        &self,
        sink: impl Fn(StreamMsg<OpenedBundle>) + Send + Sync + 'static,
    ) -> ApiResult<u64> {
        let mut rx = self.opened.tx.subscribe();
        let earlier: Vec<OpenedBundle> =
            self.opened.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        Ok(self.streams.spawn_task(move |id, token| async move {
            sink(StreamMsg::Started { id });
            if !earlier.is_empty() {
                sink(StreamMsg::Items { items: earlier });
            }
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    got = rx.recv() => match got {
                        Ok(item) => sink(StreamMsg::Items { items: vec![item] }),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
            sink(StreamMsg::End);
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use super::*;

    #[test]
    fn only_regular_bundle_files_are_accepted() {
        let t = tempfile::tempdir().unwrap();
        let bundle = t.path().join("Docker-101.GANTRY-WORKSHOP");
        std::fs::write(&bundle, b"x").unwrap();
        assert_eq!(check_bundle_path(&bundle).unwrap(), bundle);
        let other = t.path().join("notes.txt");
        std::fs::write(&other, b"x").unwrap();
        let e = check_bundle_path(&other).unwrap_err();
        assert!(e.message.contains("not a workshop bundle"), "{e:?}");
        let folder = t.path().join("dir.gantry-workshop");
        std::fs::create_dir(&folder).unwrap();
        assert!(check_bundle_path(&folder).unwrap_err().message.contains("not a regular file"));
        assert!(check_bundle_path(&t.path().join("gone.gantry-workshop")).unwrap_err().message.contains("cannot read"));
        #[cfg(unix)]
        {
            let link = t.path().join("link.gantry-workshop");
            std::os::unix::fs::symlink(&bundle, &link).unwrap();
            assert!(check_bundle_path(&link).is_ok(), "a link to a bundle is the bundle");
            assert!(check_bundle_path(Path::new("/dev/null.gantry-workshop")).is_err());
        }
    }

    #[tokio::test]
    async fn files_opened_before_the_panel_follows_are_kept_for_it() {
        let t = tempfile::tempdir().unwrap();
        let api = Gantry::with_paths(
            t.path().join("settings.json"),
            crate::credentials::CredentialStore::new(t.path().join("docker")),
        );
        let bundle = t.path().join("a.gantry-workshop");
        std::fs::write(&bundle, b"x").unwrap();
        api.workshop_open_file(&bundle);
        let got = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = {
            let got = Arc::clone(&got);
            move |m: StreamMsg<OpenedBundle>| {
                if let StreamMsg::Items { items } = m {
                    got.lock().unwrap().extend(items);
                    let _ = tx.send(());
                }
            }
        };
        let id = api.workshop_opened(sink).await.unwrap();
        rx.recv().await.unwrap();
        let dropped = api.workshop_open_file(&t.path().join("notes.txt"));
        assert!(dropped.error.is_some());
        rx.recv().await.unwrap();
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].path.as_str(), got[0].error.is_none()), (bundle.to_str().unwrap(), true));
        assert!(got[1].error.as_ref().unwrap().message.contains("not a workshop bundle"));
        api.streams().cancel(id);
    }
}
