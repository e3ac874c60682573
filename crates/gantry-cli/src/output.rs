//! Human output helpers: tables that fit a terminal, sizes, ages.

use std::time::{SystemTime, UNIX_EPOCH};

/// Makes a closed stdout (`gantry ps | head -1`) end the program quietly with success, as other
/// command-line tools do, instead of a panic message: `println!` panics when the reader has gone,
/// and this hook recognises that one panic. Every other panic is reported as before.
pub fn exit_quietly_on_closed_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_pipe_panic(message) {
            std::process::exit(0);
        }
        previous(info);
    }));
}

/// True for the standard library's panic when stdout's reader has gone ("failed printing to
/// stdout: Broken pipe (os error 32)"; on Windows the pipe errors 109 and 232).
fn is_closed_pipe_panic(message: &str) -> bool {
    const CLOSED_PIPE_ERRORS: &[i32] = if cfg!(windows) { &[109, 232] } else { &[32] };
    message.starts_with("failed printing to stdout")
        && CLOSED_PIPE_ERRORS.iter().any(|code| message.contains(&std::io::Error::from_raw_os_error(*code).to_string()))
}

/// Prints rows as aligned columns; the last column is cut to fit the terminal width.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let width = terminal_width();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{:<w$}   ", cell, w = widths[i]));
            }
        }
        truncate(&out, width)
    };
    println!("{}", line(headers.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.trim_end().to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The terminal's width in columns (`COLUMNS`, else 120 when not a terminal).
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w: &usize| *w >= 40).unwrap_or(120)
}

/// `1536` → `1.5 kB` (decimal units, as `docker` prints them).
pub fn size(bytes: i64) -> String {
    if bytes < 0 {
        return "-".into();
    }
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

/// Seconds-since-epoch → "3 minutes ago".
pub fn ago(epoch_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let secs = (now - epoch_secs).max(0);
    let (n, unit) = match secs {
        0..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        _ => (secs / 2_592_000, "month"),
    };
    if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") }
}

/// First 12 characters of an ID, without `sha256:`.
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_500), "1.5 kB");
        assert_eq!(size(4_200_000_000), "4.2 GB");
        assert_eq!(size(-1), "-");
    }

    #[test]
    fn only_a_closed_stdout_is_quiet() {
        let closed = format!("failed printing to stdout: {}", std::io::Error::from_raw_os_error(32));
        assert_eq!(is_closed_pipe_panic(&closed), cfg!(unix));
        assert!(!is_closed_pipe_panic("failed printing to stdout: No space left on device (os error 28)"));
        assert!(!is_closed_pipe_panic("index out of bounds"));
    }

    #[test]
    fn ids_and_truncation() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
