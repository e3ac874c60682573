//! Bounded, cancel-safe reading of newline-delimited messages (QMP, the agent's control
//! socket): a line longer than the bound is an error, never unbounded memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Lines of at most `max` bytes from a byte stream. Cancel-safe: a partly read line is kept
/// in the reader when the future reading it is dropped, and finished by the next call.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    partial: Vec<u8>,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        Self { inner, partial: Vec::new(), max }
    }

    /// The byte stream under the reader, for reading that is not by lines (e.g. up to a
    /// delimiter byte). Use it only between lines: a partly read line would be lost.
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The next line without its `\n` (and a `\r` before it); `None` at the end of the stream
    /// (an unfinished last line is dropped). A line over the bound is an `InvalidData` error;
    /// the stream is not usable after it.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if self.partial.len() + take > self.max {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line longer than {} bytes", self.max),
                ));
            }
            self.partial.extend_from_slice(&buf[..take]);
            self.inner.consume(take + usize::from(done));
            if done {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
        }
    }
}
