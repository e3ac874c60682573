//! Loopback helpers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// An HTTP answer as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status code (0 when the status line could not be read).
    pub status: u16,
    /// The first line, e.g. `HTTP/1.0 200 OK`.
    pub status_line: String,
    pub body: String,
}

/// One HTTP/1.0 GET of `path` on 127.0.0.1:`port`, with a 5 s read timeout.
pub fn http_get_once(port: u16, path: &str) -> std::io::Result<HttpAnswer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let response = String::from_utf8_lossy(&raw);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status_line = head.lines().next().unwrap_or("").to_string();
    let status = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok(HttpAnswer { status, status_line, body: body.to_string() })
}

/// [`http_get_once`], retried until a status line arrives or `within` has passed (a server that
/// is still starting). The last error when nothing answered.
pub fn http_get(port: u16, path: &str, within: Duration) -> std::io::Result<HttpAnswer> {
    let deadline = Instant::now() + within;
    loop {
        let attempt = http_get_once(port, path);
        match attempt {
            Ok(a) if a.status != 0 => return Ok(a),
            other if Instant::now() >= deadline => return other,
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
