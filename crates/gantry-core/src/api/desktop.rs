//! Small desktop integrations: saving a download, opening a published port in the browser,
//! starting at login.

use std::path::PathBuf;

use super::Gantry;
use super::error::{ApiError, ApiResult, GantryErrorCode};

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

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
    let mut path = dir.join(name);
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{stem} ({n}){ext}"));
        n += 1;
    }
    std::fs::write(&path, contents).map_err(io)?;
    Ok(path.display().to_string())
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

impl Gantry {
    /// Saves text (a log) in the user's download folder; returns the path.
    pub async fn download_save(&self, file_name: String, contents: String) -> ApiResult<String> {
        save_download(&file_name, &contents)
    }

    /// Opens a published port (`http://localhost:PORT/...`) in the default browser; other
    /// addresses are refused so the UI cannot be used to launch arbitrary programs.
    pub async fn url_open(&self, url: String) -> ApiResult<()> {
        let local = ["http://localhost:", "http://127.0.0.1:", "https://localhost:", "https://127.0.0.1:"];
        if !local.iter().any(|p| url.starts_with(p)) || url.chars().any(|c| c.is_whitespace() || c == '"') {
            return Err(ApiError::new(
                GantryErrorCode::InvalidUrl,
                format!("{url} is not a local address."),
                "Only published ports on localhost can be opened.",
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
    fn download_names_cannot_escape_the_folder() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let first = save_download_in(dir.path().to_path_buf(), "../../etc/evil.log", "x")?;
        let second = save_download_in(dir.path().to_path_buf(), "../../etc/evil.log", "y")?;
        assert_eq!(first, dir.path().join("_.._etc_evil.log").display().to_string());
        assert_eq!(second, dir.path().join("_.._etc_evil (1).log").display().to_string());
        assert!(save_download_in(dir.path().to_path_buf(), "...", "z").is_err());
        Ok(())
    }
}
