//! Without a GPU, WebKitGTK's default DMA-BUF renderer composites every frame with Mesa's
//! software OpenGL: the window costs ≈ 2.5 % of a core while showing a page that does not change
//! (docs/benchmarks.md, "Desktop app idle"). Its shared-memory renderer draws the same window for
//! ≈ 0.9 %. WebKit reads its choice from `WEBKIT_DISABLE_DMABUF_RENDERER` when the first web view
//! is made, and the web process inherits the environment, so on Linux the app starts itself
//! again with the variable set when no GPU render node can be opened and the user set nothing
//! (`WEBKIT_DISABLE_DMABUF_RENDERER=0` keeps the DMA-BUF renderer). The variable is not set in
//! place because changing the environment of a running process is `unsafe` in Rust.
// Elsewhere only `choose` (which does nothing there) is used.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::ffi::OsStr;

/// The variable WebKitGTK reads: set and not `0` means the shared-memory renderer.
pub const WEBKIT_DISABLE_DMABUF_RENDERER: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Whether to start again with the shared-memory renderer: only when the user has not set the
/// variable (any value, `0` included, is their choice) and no render node can be used.
pub fn should_switch(user_value: Option<&OsStr>, render_node_usable: bool) -> bool {
    user_value.is_none() && !render_node_usable
}

/// Whether a GPU render node (`renderD*` in `dir`, normally /dev/dri) opens for reading and
/// writing, as WebKit's DMA-BUF renderer needs.
pub fn render_node_usable(dir: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        .any(|e| std::fs::OpenOptions::new().read(true).write(true).open(e.path()).is_ok())
}

/// On Linux without a usable render node: replaces this process with the same program, the same
/// arguments and the variable set (returns only if that fails, with the reason; the app then
/// goes on with WebKit's default renderer). Elsewhere, or when nothing is to change: `Ok`.
pub fn choose() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let user_value = std::env::var_os(WEBKIT_DISABLE_DMABUF_RENDERER);
        if !should_switch(user_value.as_deref(), render_node_usable(std::path::Path::new("/dev/dri"))) {
            return Ok(());
        }
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the app's own program: {e}"))?;
        let err = std::process::Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(WEBKIT_DISABLE_DMABUF_RENDERER, "1")
            .exec();
        Err(format!("cannot start {} again with {WEBKIT_DISABLE_DMABUF_RENDERER}=1: {err}", exe.display()))
    }
    #[cfg(not(target_os = "linux"))]
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_only_when_the_user_chose_nothing_and_there_is_no_gpu() {
        assert!(should_switch(None, false));
        assert!(!should_switch(None, true));
        assert!(!should_switch(Some(OsStr::new("0")), false));
        assert!(!should_switch(Some(OsStr::new("1")), false));
        assert!(!should_switch(Some(OsStr::new("")), false));
    }

    #[test]
    fn a_render_node_counts_only_if_it_opens() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(!render_node_usable(dir.path()), "an empty folder has no render node");
        assert!(!render_node_usable(&dir.path().join("missing")), "a missing folder has none");
        std::fs::write(dir.path().join("card0"), b"").expect("write");
        assert!(!render_node_usable(dir.path()), "card0 is not a render node");
        std::fs::write(dir.path().join("renderD128"), b"").expect("write");
        assert!(render_node_usable(dir.path()), "a render node that opens read-write");
    }
}
