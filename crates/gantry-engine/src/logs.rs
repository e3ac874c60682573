//! Container logs as a cancellable stream of lines, stdout and stderr kept apart.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions as RawLogsOptions;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{ResourceKind, Result};
use crate::stream::EngineStream;

/// Which output a line came from. TTY containers merge both into `Console`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
    Console,
    Stdin,
}

/// One line of output (without its trailing newline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogLine {
    pub stream: OutputStream,
    /// RFC 3339 time the engine recorded, when asked for timestamps.
    pub timestamp: Option<String>,
    pub text: String,
    /// The line was longer than [`MAX_LINE_BYTES`]: `text` is its beginning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Which logs to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct LogOptions {
    /// Keep streaming new lines until cancelled.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<u64>,
    /// Only lines since this Unix time (seconds).
    pub since: Option<i64>,
    /// Only lines before this Unix time (seconds).
    pub until: Option<i64>,
    pub timestamps: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self { follow: false, tail: None, since: None, until: None, timestamps: false, stdout: true, stderr: true }
    }
}

/// Longest line kept, in bytes; a longer one is cut here and marked [`LogLine::truncated`] (the
/// rest of it, up to its newline, is skipped), so one huge line cannot take all memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The partial line of one output stream.
#[derive(Debug)]
struct Partial {
    stream: OutputStream,
    buf: BytesMut,
    /// How far `buf` has been searched for line ends (never searched twice).
    scanned: usize,
    /// The current line was cut at [`MAX_LINE_BYTES`]: drop bytes up to its newline.
    skipping: bool,
}

/// Splits framed engine output into whole lines, keeping one partial line per stream.
///
/// A `\r` that is not part of `\r\n` returns to the start of the line, as on a terminal: what
/// was before it is dropped, so a progress bar shows its last state, once, when its line ends.
/// Memory stays bounded by [`MAX_LINE_BYTES`] per stream, and the lines do not depend on how the
/// bytes were split into frames.
#[derive(Debug, Default)]
pub struct LineSplitter {
    timestamps: bool,
    partial: Vec<Partial>,
}

impl LineSplitter {
    /// A splitter; with `timestamps`, each line's leading RFC 3339 stamp is split off.
    pub fn new(timestamps: bool) -> Self {
        Self { timestamps, partial: Vec::new() }
    }

    /// Feeds one frame and returns the lines it completed.
    pub fn push(&mut self, stream: OutputStream, bytes: &[u8]) -> Vec<LogLine> {
        let idx = match self.partial.iter().position(|p| p.stream == stream) {
            Some(i) => i,
            None => {
                self.partial.push(Partial { stream, buf: BytesMut::new(), scanned: 0, skipping: false });
                self.partial.len() - 1
            }
        };
        let timestamps = self.timestamps;
        let p = &mut self.partial[idx];
        let mut out = Vec::new();
        let mut input = bytes;
        while !input.is_empty() {
            if p.skipping {
                match input.iter().position(|b| *b == b'\n') {
                    Some(end) => {
                        p.skipping = false;
                        input = &input[end + 1..];
                    }
                    None => input = &[],
                }
                continue;
            }
            // Take no more than the current line may still hold (plus one byte to see the cap).
            let room = (MAX_LINE_BYTES + 1).saturating_sub(p.buf.len()).max(1);
            let take = input.len().min(room);
            p.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            p.drain_lines(stream, timestamps, &mut out);
        }
        out
    }

    /// Bytes held for incomplete lines, all streams together (at most about
    /// [`MAX_LINE_BYTES`] per stream).
    pub fn buffered_bytes(&self) -> usize {
        self.partial.iter().map(|p| p.buf.len()).sum()
    }

    /// Returns whatever incomplete lines remain at the end of the stream.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let timestamps = self.timestamps;
        self.partial
            .drain(..)
            .filter(|p| !p.skipping && !p.buf.is_empty())
            .map(|p| make_line(p.stream, &p.buf, timestamps, false))
            .collect()
    }
}

impl Partial {
    /// Emits every complete line in `buf`, applies `\r`, and cuts a line that grew too long.
    fn drain_lines(&mut self, stream: OutputStream, timestamps: bool, out: &mut Vec<LogLine>) {
        loop {
            let limit = self.buf.len().min(MAX_LINE_BYTES + 1);
            let found = self.buf[self.scanned.min(limit)..limit].iter().position(|b| matches!(b, b'\n' | b'\r'));
            let Some(offset) = found else {
                self.scanned = limit;
                if self.buf.len() > MAX_LINE_BYTES {
                    let cut = char_boundary(&self.buf, MAX_LINE_BYTES);
                    out.push(make_line(stream, &self.buf[..cut], timestamps, true));
                    self.buf.clear();
                    self.scanned = 0;
                    self.skipping = true;
                }
                return;
            };
            let pos = self.scanned + offset;
            if self.buf[pos] == b'\n' {
                let line = self.buf.split_to(pos + 1);
                out.push(make_line(stream, &line[..pos], timestamps, false));
                self.scanned = 0;
                continue;
            }
            // A '\r': wait for the next byte to know whether it ends the line.
            match self.buf.get(pos + 1) {
                None => {
                    self.scanned = pos;
                    return;
                }
                Some(b'\n') => {
                    let line = self.buf.split_to(pos + 2);
                    out.push(make_line(stream, &line[..pos], timestamps, false));
                    self.scanned = 0;
                }
                Some(_) => {
                    // Back to the start of the line (after its timestamp): drop what was overwritten.
                    let keep = if timestamps { stamp_len(&self.buf) } else { 0 };
                    let tail = self.buf.split_off(pos + 1);
                    self.buf.truncate(keep);
                    self.buf.unsplit(tail);
                    self.scanned = keep;
                }
            }
            if self.skipping {
                return;
            }
        }
    }
}

/// The largest index <= `at` that does not split a UTF-8 character.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let mut i = at.min(bytes.len());
    while i > 0 && i < bytes.len() && (bytes[i] & 0b1100_0000) == 0b1000_0000 {
        i -= 1;
    }
    i
}

/// Length of a leading `2026-11-22T10:00:00.123456789Z ` stamp (with its space), else 0.
fn stamp_len(bytes: &[u8]) -> usize {
    let head = &bytes[..bytes.len().min(40)];
    match head.iter().position(|b| *b == b' ') {
        Some(space) if space >= 20 && head.get(4) == Some(&b'-') => space + 1,
        _ => 0,
    }
}

fn make_line(stream: OutputStream, raw: &[u8], timestamps: bool, truncated: bool) -> LogLine {
    let text = String::from_utf8_lossy(raw);
    if timestamps
        && let Some((stamp, rest)) = text.split_once(' ')
        && stamp.len() >= 20
        && stamp.as_bytes().get(4) == Some(&b'-')
    {
        return LogLine { stream, timestamp: Some(stamp.to_string()), text: rest.to_string(), truncated };
    }
    LogLine { stream, timestamp: None, text: text.into_owned(), truncated }
}

pub(crate) fn split_output(output: LogOutput) -> (OutputStream, Bytes) {
    match output {
        LogOutput::StdOut { message } => (OutputStream::Stdout, message),
        LogOutput::StdErr { message } => (OutputStream::Stderr, message),
        LogOutput::Console { message } => (OutputStream::Console, message),
        LogOutput::StdIn { message } => (OutputStream::Stdin, message),
    }
}

/// The engine's query for `options`.
pub(crate) fn raw_log_options(options: &LogOptions) -> RawLogsOptions {
    RawLogsOptions {
        follow: options.follow,
        stdout: options.stdout,
        stderr: options.stderr,
        since: options.since.unwrap_or(0).try_into().unwrap_or(i32::MAX),
        until: options.until.unwrap_or(0).try_into().unwrap_or(i32::MAX),
        timestamps: options.timestamps,
        tail: options.tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
    }
}

impl Engine {
    /// Streams a container's logs line by line. Drop the stream (or wrap it with
    /// [`crate::cancellable`]) to stop following.
    pub fn logs(&self, id: &str, options: &LogOptions) -> EngineStream<LogLine> {
        let raw = self.docker.logs(id, Some(raw_log_options(options)));
        self.log_lines(raw, options.timestamps, ResourceKind::Container, id)
    }

    /// Whole lines from a raw log stream (a container's or a swarm task's); errors name `id`.
    pub(crate) fn log_lines(
        &self,
        raw: impl futures_util::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send + 'static,
        timestamps: bool,
        kind: ResourceKind,
        id: &str,
    ) -> EngineStream<LogLine> {
        let engine = self.clone();
        let id = id.to_string();
        let splitter = LineSplitter::new(timestamps);
        let stream = futures_util::stream::unfold(
            (Box::pin(raw), splitter, std::collections::VecDeque::<LogLine>::new(), false),
            move |(mut raw, mut splitter, mut pending, mut done)| {
                let engine = engine.clone();
                let id = id.clone();
                async move {
                    loop {
                        if let Some(line) = pending.pop_front() {
                            return Some((Ok(line), (raw, splitter, pending, done)));
                        }
                        if done {
                            return None;
                        }
                        match raw.next().await {
                            Some(Ok(frame)) => {
                                let (stream, bytes) = split_output(frame);
                                pending.extend(splitter.push(stream, &bytes));
                            }
                            Some(Err(e)) => {
                                done = true;
                                return Some((Err(engine.err(e, kind, &id)), (raw, splitter, pending, done)));
                            }
                            None => {
                                done = true;
                                pending.extend(splitter.finish());
                            }
                        }
                    }
                }
            },
        );
        Box::pin(stream)
    }

    /// Reads a container's logs to the end (no follow) and returns every line.
    pub async fn read_logs(&self, id: &str, options: &LogOptions) -> Result<Vec<LogLine>> {
        let options = LogOptions { follow: false, ..options.clone() };
        let mut stream = self.logs(id, &options);
        let mut lines = Vec::new();
        while let Some(line) = stream.next().await {
            lines.push(line?);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partial_frames_per_stream() {
        let mut s = LineSplitter::new(false);
        assert!(s.push(OutputStream::Stdout, b"hel").is_empty());
        let err = s.push(OutputStream::Stderr, b"oops\n");
        assert_eq!(
            err,
            vec![LogLine { stream: OutputStream::Stderr, timestamp: None, text: "oops".into(), truncated: false }]
        );
        let out = s.push(OutputStream::Stdout, b"lo\r\nworld\npart");
        assert_eq!(out.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["hello", "world"]);
        let rest = s.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, "part");
    }

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn a_carriage_return_overwrites_like_a_terminal() {
        let mut s = LineSplitter::new(false);
        assert!(s.push(OutputStream::Stdout, b" 10%\r 50%\r").is_empty());
        assert_eq!(texts(&s.push(OutputStream::Stdout, b"100%\ndone\r\n")), ["100%", "done"]);
        let mut t = LineSplitter::new(true);
        let out = t.push(OutputStream::Stdout, b"2026-11-22T10:00:00.1Z 10%\r99%\n");
        assert_eq!((out[0].timestamp.as_deref(), out[0].text.as_str()), (Some("2026-11-22T10:00:00.1Z"), "99%"));
    }

    #[test]
    fn a_huge_line_is_cut_and_marked() {
        let mut s = LineSplitter::new(false);
        let mut out = Vec::new();
        for _ in 0..100 {
            out.extend(s.push(OutputStream::Stdout, &[b'x'; 10_000]));
        }
        out.extend(s.push(OutputStream::Stdout, b"xx\nnext\n"));
        assert_eq!(out.len(), 2, "{:?}", texts(&out).iter().map(|t| t.len()).collect::<Vec<_>>());
        assert!(out[0].truncated && out[0].text.len() == MAX_LINE_BYTES);
        assert_eq!((out[1].text.as_str(), out[1].truncated), ("next", false));
        assert!(s.partial.iter().all(|p| p.buf.capacity() <= 2 * MAX_LINE_BYTES + 16));
        // A cut never splits a character.
        let mut u = LineSplitter::new(false);
        let wide = "é".repeat(MAX_LINE_BYTES);
        let cut = u.push(OutputStream::Stdout, wide.as_bytes());
        assert!(cut[0].truncated && !cut[0].text.contains('\u{fffd}') && cut[0].text.len() == MAX_LINE_BYTES);
    }

    #[test]
    fn splits_timestamps() {
        let mut s = LineSplitter::new(true);
        let out = s.push(OutputStream::Stdout, b"2026-11-22T10:00:00.123456789Z hello there\n");
        assert_eq!(out[0].timestamp.as_deref(), Some("2026-11-22T10:00:00.123456789Z"));
        assert_eq!(out[0].text, "hello there");
    }
}
