//! The lines of `docker compose logs --timestamps --no-color`: `web-1  | 2026-…Z text`, every
//! service's containers interleaved as compose receives them.

use serde::{Deserialize, Serialize};

/// One log line with the service (and replica) it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ComposeLogLine {
    /// The service; empty for compose's own messages (`web-1 exited with code 0`).
    pub service: String,
    /// The container's number within its service (`web-1` → 1), when the prefix has one.
    pub replica: Option<u32>,
    /// The engine's RFC 3339 timestamp of the line, when there is one.
    pub timestamp: Option<String>,
    pub text: String,
}

/// `text` without terminal escape sequences (compose erases the line, `ESC [2K`, even with
/// `--no-color`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // parameters and intermediates, then one final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Whether `word` looks like the engine's timestamp (`2026-12-02T04:38:40.866753659Z`).
fn is_timestamp(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && (word.ends_with('Z') || b[19..].iter().any(|&c| c == b'+' || c == b'-'))
}

/// `web-1` → (`web`, Some(1)); a prefix without a number is the whole service name.
fn split_replica(prefix: &str) -> (String, Option<u32>) {
    match prefix.rsplit_once('-') {
        Some((service, n)) if !service.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (service.to_string(), n.parse().ok())
        }
        _ => (prefix.to_string(), None),
    }
}

/// Reads one line of compose's log output; empty lines give `None`.
pub fn parse_log_line(raw: &str) -> Option<ComposeLogLine> {
    let line = strip_ansi(raw);
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return None;
    }
    let Some((prefix, rest)) = line.split_once('|').filter(|(p, _)| !p.trim().is_empty() && !p.trim().contains(' '))
    else {
        return Some(ComposeLogLine { service: String::new(), replica: None, timestamp: None, text: line.to_string() });
    };
    let (service, replica) = split_replica(prefix.trim());
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (timestamp, text) = match rest.split_once(' ') {
        Some((word, text)) if is_timestamp(word) => (Some(word.to_string()), text.to_string()),
        None if is_timestamp(rest) => (Some(rest.to_string()), String::new()),
        _ => (None, rest.to_string()),
    };
    Some(ComposeLogLine { service, replica, timestamp, text })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_service_replica_timestamp_and_text() {
        let line = parse_log_line("\u{1b}[2Kweb-1  | 2026-12-02T04:38:40.866753659Z web up | ok").unwrap();
        assert_eq!(line.service, "web");
        assert_eq!(line.replica, Some(1));
        assert_eq!(line.timestamp.as_deref(), Some("2026-12-02T04:38:40.866753659Z"));
        assert_eq!(line.text, "web up | ok");
        let dashed = parse_log_line("api-gateway-12  | no time here").unwrap();
        assert_eq!((dashed.service.as_str(), dashed.replica), ("api-gateway", Some(12)));
        assert_eq!(dashed.text, "no time here");
        let named = parse_log_line("mydb  | 2026-12-02T04:38:40+02:00 ready").unwrap();
        assert_eq!((named.service.as_str(), named.replica), ("mydb", None));
        assert_eq!(named.timestamp.as_deref(), Some("2026-12-02T04:38:40+02:00"));
        let own = parse_log_line("web-1 exited with code 0").unwrap();
        assert_eq!(own.service, "");
        assert_eq!(own.text, "web-1 exited with code 0");
        assert_eq!(parse_log_line("\u{1b}[2K\n"), None);
        assert_eq!(strip_ansi("\u{1b}[1;32mgreen\u{1b}[0m"), "green");
    }

    proptest! {
        /// A line compose writes for service `s` reads back as `s` with its text.
        #[test]
        fn round_trips_what_compose_writes(s in "[a-z][a-z0-9_-]{0,12}", n in 1u32..99, pad in 1usize..6, text in "[^\r\n\u{1b}]{0,40}") {
            let raw = format!("\u{1b}[2K{s}-{n}{}| 2026-12-02T04:38:40.123Z {text}", " ".repeat(pad));
            let line = parse_log_line(&raw).unwrap();
            prop_assert_eq!(line.service, s);
            prop_assert_eq!(line.replica, Some(n));
            prop_assert_eq!(line.text, text);
        }

        #[test]
        fn any_text_parses_without_panicking(raw in "\\PC{0,60}|[\u{1b}\\[|0-9a-zT:Z .-]{0,60}") {
            if let Some(line) = parse_log_line(&raw) {
                let escape = '\x1b';
                prop_assert!(!line.text.contains(escape), "escape left in {:?}", line.text);
            }
        }
    }
}
