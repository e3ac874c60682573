//! Windows test binaries run under Wine on Linux CI. Wine lacks a few things Windows has (pipe
//! security and `FILE_FLAG_FIRST_PIPE_INSTANCE`, `wsl.exe`, Hyper-V sockets): a test checks
//! those on real Windows only and, under Wine, says so with [`crate::skip::skipped`].

/// Whether this Windows program runs under Wine (its prefix has `winecfg.exe`; the cross-platform
/// stage also exports `WINEPREFIX`, which Wine passes on).
pub fn detected() -> bool {
    cfg!(windows)
        && (std::env::var_os("WINEPREFIX").is_some()
            || std::path::Path::new(r"C:\windows\system32\winecfg.exe").exists())
}
