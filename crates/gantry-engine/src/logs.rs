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

/// Splits framed engine output into whole lines, keeping one partial-line buffer per stream.
#[derive(Debug, Default)]
pub struct LineSplitter {
    timestamps: bool,
    partial: Vec<(OutputStream, BytesMut)>,
}

impl LineSplitter {
    /// A splitter; with `timestamps`, each line's leading RFC 3339 stamp is split off.
    pub fn new(timestamps: bool) -> Self {
        Self { timestamps, partial: Vec::new() }
    }

    /// Feeds one frame and returns the lines it completed.
    pub fn push(&mut self, stream: OutputStream, bytes: &[u8]) -> Vec<LogLine> {
        let idx = match self.partial.iter().position(|(s, _)| *s == stream) {
            Some(i) => i,
            None => {
                self.partial.push((stream, BytesMut::new()));
                self.partial.len() - 1
            }
        };
        let mut out = Vec::new();
        let buf = &mut self.partial[idx].1;
        buf.extend_from_slice(bytes);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line = buf.split_to(pos + 1);
            out.push(make_line(stream, &line[..pos], self.timestamps));
        }
        out
    }

    /// Returns whatever incomplete lines remain at the end of the stream.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let timestamps = self.timestamps;
        self.partial.drain(..).filter(|(_, b)| !b.is_empty()).map(|(s, b)| make_line(s, &b, timestamps)).collect()
    }
}

fn make_line(stream: OutputStream, raw: &[u8], timestamps: bool) -> LogLine {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = String::from_utf8_lossy(raw);
    if timestamps
        && let Some((stamp, rest)) = text.split_once(' ')
        && stamp.len() >= 20
        && stamp.as_bytes().get(4) == Some(&b'-')
    {
        return LogLine { stream, timestamp: Some(stamp.to_string()), text: rest.to_string() };
    }
    LogLine { stream, timestamp: None, text: text.into_owned() }
}

pub(crate) fn split_output(output: LogOutput) -> (OutputStream, Bytes) {
    match output {
        LogOutput::StdOut { message } => (OutputStream::Stdout, message),
        LogOutput::StdErr { message } => (OutputStream::Stderr, message),
        LogOutput::Console { message } => (OutputStream::Console, message),
        LogOutput::StdIn { message } => (OutputStream::Stdin, message),
    }
}

impl Engine {
    /// Streams a container's logs line by line. Drop the stream (or wrap it with
    /// [`crate::cancellable`]) to stop following.
    pub fn logs(&self, id: &str, options: &LogOptions) -> EngineStream<LogLine> {
        let raw_options = RawLogsOptions {
            follow: options.follow,
            stdout: options.stdout,
            stderr: options.stderr,
            since: options.since.unwrap_or(0).try_into().unwrap_or(i32::MAX),
            until: options.until.unwrap_or(0).try_into().unwrap_or(i32::MAX),
            timestamps: options.timestamps,
            tail: options.tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
        };
        let engine = self.clone();
        let id = id.to_string();
        let raw = self.docker.logs(&id, Some(raw_options));
        let splitter = LineSplitter::new(options.timestamps);
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
                                return Some((
                                    Err(engine.err(e, ResourceKind::Container, &id)),
                                    (raw, splitter, pending, done),
                                ));
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
        assert_eq!(err, vec![LogLine { stream: OutputStream::Stderr, timestamp: None, text: "oops".into() }]);
        let out = s.push(OutputStream::Stdout, b"lo\r\nworld\npart");
        assert_eq!(out.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["hello", "world"]);
        let rest = s.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, "part");
    }

    #[test]
    fn splits_timestamps() {
        let mut s = LineSplitter::new(true);
        let out = s.push(OutputStream::Stdout, b"2026-11-22T10:00:00.123456789Z hello there\n");
        assert_eq!(out[0].timestamp.as_deref(), Some("2026-11-22T10:00:00.123456789Z"));
        assert_eq!(out[0].text, "hello there");
    }
}
