//! Small desktop integrations: saving a download, opening a published port in the browser,
//! starting at login.

use std::path::PathBuf;

use super::Gantry;
use super::error::{ApiError, ApiResult, GantryErrorCode};

use gantry_files::home_dir as home;

/// The user's download folder: `$XDG_DOWNLOAD_DIR`, else `~/Downloads`.
pub fn downloads_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DOWNLOAD_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join("Downloads")))
}

/// Writes `contents` to `file_name` in the download folder (never elsewhere: the name may not
/// contain a path); an existing file gets a numbered name. Returns the path written.
fn save_download(file_name: &str, contents: &str) -> ApiResult<String> {
    let dir = downloads_dir().ok_or_else(|| {
        ApiError::io("There is no download folder (HOME is not set).", "Set HOME, or XDG_DOWNLOAD_DIR, and try again.")
    })?;
    save_download_in(dir, file_name, contents)
}

fn save_download_in(dir: PathBuf, file_name: &str, contents: &str) -> ApiResult<String> {
    let name: String =
        file_name.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        return Err(ApiError::new(
            GantryErrorCode::InvalidName,
            "The file needs a name.",
            "Use a name such as web.log.",
        ));
    }
    let io = |e: std::io::Error| {
        ApiError::io(
            format!("Cannot write to {}: {e}.", dir.display()),
            "Check the folder's permissions and free space.",
        )
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    // A new file each time (`create_new`): an existing one, or a link planted under the name, is
    // never written through; the next free numbered name is used instead.
    let mut path = dir.join(name);
    for n in 1.. {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(io)?;
                return Ok(path.display().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => {
                path = dir.join(format!("{stem} ({n}){ext}"));
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("no free file name")))
}

/// Where the autostart entry lives (Linux: XDG autostart).
fn autostart_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(config.join("autostart").join("dev.gantry.desktop.desktop"))
}

/// Makes the app start (or not) when the user logs in. Linux writes an XDG autostart entry;
/// other systems are not supported yet and do nothing.
pub fn apply_start_at_login(enabled: bool) -> ApiResult<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let Some(file) = autostart_file() else { return Ok(()) };
    let io = |e: std::io::Error| {
        ApiError::io(format!("Cannot update {}: {e}.", file.display()), "Check the folder's permissions.")
    };
    if !enabled {
        return match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
    }
    let exe = std::env::current_exe()
        .map_err(|e| ApiError::io(format!("Cannot find this program: {e}."), "Reinstall Gantry."))?;
    let entry = format!(
        "[Desktop Entry]\nType=Application\nName=Gantry\nComment=Containers on your desktop\nExec=\"{}\"\nIcon=gantry\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        exe.display()
    );
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(&file, entry).map_err(io)
}

/// A link to a port on this computer, as [`local_url`] accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalUrl {
    pub https: bool,
    pub port: u16,
}

/// Parses `url` as `http(s)://HOST:PORT[/path][?query][#fragment]` where HOST is exactly
/// `localhost`, `127.0.0.1` or `[::1]`, and accepts nothing else: no user info (so
/// `http://localhost:80@evil.example/` is refused), no other host or scheme, no whitespace,
/// control characters, quotes or backslashes anywhere (they change how browsers and openers split
/// a URL).
pub fn local_url(url: &str) -> Option<LocalUrl> {
    if url.len() > 2048
        || url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '\'' | '`' | '<' | '>'))
    {
        return None;
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        (true, url.strip_prefix("https://")?)
    };
    // The authority ends at the first '/', '?' or '#' (as WHATWG URL parsing has it).
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let port = ["localhost:", "127.0.0.1:", "[::1]:"].iter().find_map(|host| authority.strip_prefix(host))?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    Some(LocalUrl { https, port })
}

impl Gantry {
    /// Saves text (a log) in the user's download folder; returns the path.
    pub async fn download_save(&self, file_name: String, contents: String) -> ApiResult<String> {
        save_download(&file_name, &contents)
    }

    /// Opens a published port (`http://localhost:PORT/...`) in the default browser; other
    /// addresses are refused (see [`local_url`]) so the UI cannot be used to open anything else.
    pub async fn url_open(&self, url: String) -> ApiResult<()> {
        if local_url(&url).is_none() {
            return Err(ApiError::new(
                GantryErrorCode::InvalidUrl,
                format!("{url:?} is not the address of a published port on this computer."),
                "Only http:// or https:// links to localhost or 127.0.0.1 with a port can be opened: open other links in your browser yourself.",
            ));
        }
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        };
        std::process::Command::new(opener).arg(&url).spawn().map(|_| ()).map_err(|e| {
            ApiError::io(format!("Cannot start {opener}: {e}."), format!("Open {url} in your browser yourself."))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_ports_on_this_computer_are_links() {
        for good in [
            "http://localhost:8080",
            "http://localhost:8080/",
            "https://127.0.0.1:443/a/b?c=d#e",
            "http://[::1]:3000/x",
            "http://localhost:80?q",
        ] {
            assert!(local_url(good).is_some(), "{good} should open");
        }
        assert_eq!(local_url("https://localhost:8443/x"), Some(LocalUrl { https: true, port: 8443 }));
        for bad in [
            "http://localhost:80@evil.example/",
            "http://localhost:80@evil.example",
            "http://127.0.0.1:80@evil.example/",
            "http://localhost@evil.example:80/",
            "http://localhost.evil.example:80/",
            "http://localhost:80.evil.example/",
            "http://localhost/",
            "http://localhost:/",
            "http://localhost:0/",
            "http://localhost:65536/",
            "http://localhost:123456/",
            "http://localhost:80\\@evil.example/",
            "http://localhost:80 evil",
            "http://localhost:80/\"--x",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "ftp://localhost:21/",
            "HTTP://evil.example:80/",
            "http://evil.example:80/?localhost:80",
            "",
        ] {
            assert!(local_url(bad).is_none(), "{bad} must be refused");
        }
    }

    /// Every link [`local_url`] accepts goes, for the WHATWG URL parser (what browsers use), to
    /// the same port on this computer, without user info.
    #[test]
    fn accepted_links_go_to_this_computer_for_a_browser_too() {
        use gantry_testkit::prop::proptest::prelude::*;
        let piece = prop_oneof![
            Just("http://"),
            Just("https://"),
            Just("localhost"),
            Just("127.0.0.1"),
            Just("[::1]"),
            Just(":"),
            Just("8080"),
            Just("80"),
            Just("0"),
            Just("65535"),
            Just("@"),
            Just("evil.example"),
            Just("/"),
            Just("?"),
            Just("#"),
            Just("%40"),
            Just("%2F"),
            Just("."),
            Just("\\"),
            Just("\t"),
            Just("a"),
            Just("[::ffff:7f00:1]"),
            Just("0x7f.1"),
            Just("\u{ff20}"),
            Just("%00"),
        ];
        gantry_testkit::prop::check(
            "open_url local link check (differential against the url crate)",
            file!(),
            0,
            prop::collection::vec(piece, 1..10).prop_map(|p| p.concat()),
            |text| {
                let Some(local) = local_url(&text) else { return Ok(()) };
                let fail = |why: String| Err(TestCaseError::fail(format!("{text:?}: {why}")));
                let parsed = match url::Url::parse(&text) {
                    Ok(parsed) => parsed,
                    Err(e) => return fail(format!("accepted, but a browser cannot parse it: {e}")),
                };
                let host = parsed.host_str().unwrap_or_default();
                if !["localhost", "127.0.0.1", "[::1]"].contains(&host) {
                    return fail(format!("goes to {host:?}"));
                }
                if parsed.port_or_known_default() != Some(local.port) {
                    return fail(format!("goes to port {:?}, not {}", parsed.port_or_known_default(), local.port));
                }
                if parsed.scheme() != if local.https { "https" } else { "http" } {
                    return fail(format!("scheme {}", parsed.scheme()));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return fail("has user info".into());
                }
                Ok(())
            },
        );
    }

    #[test]
    fn download_names_cannot_escape_the_folder() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let first = save_download_in(dir.path().to_path_buf(), "../../etc/evil.log", "x")?;
        let second = save_download_in(dir.path().to_path_buf(), "../../etc/evil.log", "y")?;
        assert_eq!(first, dir.path().join("_.._etc_evil.log").display().to_string());
        assert_eq!(second, dir.path().join("_.._etc_evil (1).log").display().to_string());
        assert!(save_download_in(dir.path().to_path_buf(), "...", "z").is_err());
        // A link planted under the next name is not written through.
        #[cfg(unix)]
        {
            let victim = dir.path().join("victim");
            std::fs::write(&victim, "precious")?;
            std::os::unix::fs::symlink(&victim, dir.path().join("_.._etc_evil (2).log"))?;
            let third = save_download_in(dir.path().to_path_buf(), "../../etc/evil.log", "z")?;
            assert_eq!(third, dir.path().join("_.._etc_evil (3).log").display().to_string());
            assert_eq!(std::fs::read_to_string(&victim)?, "precious");
        }
        Ok(())
    }
}
