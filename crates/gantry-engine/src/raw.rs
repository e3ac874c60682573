//! A minimal HTTP/1.1 client for the few engine endpoints bollard does not cover (`POST /auth`)
//! or whose answer changed shape between API versions (e.g. `/system/df`), so Gantry can read
//! old and new engines alike.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Engine;
use crate::connect::Endpoint;
use crate::error::{EngineError, Result};

impl Engine {
    /// GETs `path` (e.g. `/system/df`) at the negotiated API version and parses the JSON.
    /// Returns `Ok(None)` for endpoints this client cannot reach raw (TLS, named pipes).
    pub(crate) async fn raw_get_json(&self, path: &str) -> Result<Option<serde_json::Value>> {
        self.raw_json("GET", path, None).await
    }

    /// POSTs `body` as JSON to `path` and parses the JSON answer; `Ok(None)` as for GET.
    pub(crate) async fn raw_post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>> {
        self.raw_json("POST", path, Some(body)).await
    }

    async fn raw_json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>> {
        let versioned = format!("/v{}{path}", self.api_version());
        let request = request_text(method, &versioned, body);
        let unreachable = |e: std::io::Error| EngineError::Unreachable {
            endpoint: self.endpoint().to_string(),
            reason: e.to_string(),
        };
        let body = match self.endpoint() {
            #[cfg(unix)]
            Endpoint::Unix(socket) => {
                let stream = tokio::net::UnixStream::connect(socket).await.map_err(unreachable)?;
                exchange(stream, &request).await?
            }
            Endpoint::Tcp { address, tls: None } => {
                let stream = tokio::net::TcpStream::connect(address).await.map_err(unreachable)?;
                exchange(stream, &request).await?
            }
            _ => return Ok(None),
        };
        serde_json::from_slice(&body).map(Some).map_err(|e| EngineError::Protocol { message: format!("{path}: {e}") })
    }
}

fn request_text(method: &str, path: &str, body: Option<&serde_json::Value>) -> String {
    let head = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: gantry\r\nConnection: close\r\n");
    match body {
        Some(json) => {
            let text = json.to_string();
            format!("{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}", text.len())
        }
        None => format!("{head}\r\n"),
    }
}

/// Most bytes of response headers accepted.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most bytes of a response body accepted (the JSON answers read here are a few kB to a few MB).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Longest a whole exchange may take.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends `request` and reads the answer within [`EXCHANGE_TIMEOUT`], at most [`MAX_HEAD_BYTES`]
/// of headers and [`MAX_BODY_BYTES`] of body; a non-200 status is an `Api` error with the
/// engine's `message`.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: S, request: &str) -> Result<Vec<u8>> {
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange_unbounded_in_time(stream, request)).await {
        Ok(result) => result,
        Err(_) => Err(EngineError::Protocol {
            message: format!("no complete answer within {} s", EXCHANGE_TIMEOUT.as_secs()),
        }),
    }
}

async fn exchange_unbounded_in_time<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<Vec<u8>> {
    let proto = |message: String| EngineError::Protocol { message };
    stream.write_all(request.as_bytes()).await.map_err(|e| proto(e.to_string()))?;
    let mut response = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    // Headers first, bounded.
    let split = loop {
        if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if response.len() > MAX_HEAD_BYTES {
            return Err(proto(format!("the engine sent more than {} KiB of headers", MAX_HEAD_BYTES / 1024)));
        }
        let n = stream.read(&mut chunk).await.map_err(|e| proto(e.to_string()))?;
        if n == 0 {
            return Err(proto("the answer ended before its headers did".into()));
        }
        response.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let mut body = response.split_off(split + 4);
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
        })
    };
    let too_big = || proto(format!("the answer is larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)));
    if header("content-length").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_big());
    }
    // The request said `Connection: close`: the body ends with the connection.
    loop {
        if body.len() > MAX_BODY_BYTES + MAX_HEAD_BYTES {
            return Err(too_big());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| proto(e.to_string()))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let body = if chunked { dechunk(&body)? } else { body };
    if body.len() > MAX_BODY_BYTES {
        return Err(too_big());
    }
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().chars().take(500).collect());
        return Err(EngineError::Api { status, message });
    }
    Ok(body)
}

/// Decodes an HTTP/1.1 chunked body. Any malformed size (not hex, too large, longer than what
/// arrived) is a `Protocol` error, never a panic.
pub fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let bad = |what: &str| EngineError::Protocol { message: format!("malformed chunked body: {what}") };
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or_else(|| bad("a chunk size line has no end"))?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|_| bad("the chunk size is not text"))?;
        let digits = size_text.split(';').next().unwrap_or("").trim();
        if digits.is_empty() || digits.len() > 16 {
            return Err(bad("the chunk size is missing or too long"));
        }
        let size = usize::from_str_radix(digits, 16).map_err(|_| bad("the chunk size is not hexadecimal"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let end = size.checked_add(2).filter(|end| *end <= data.len()).ok_or_else(|| bad("a chunk is cut off"))?;
        if &data[size..end] != b"\r\n" {
            return Err(bad("a chunk does not end with CRLF"));
        }
        if out.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(bad("the body is too large"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_json_with_its_length() {
        let text = request_text("POST", "/v1.41/auth", Some(&serde_json::json!({"username": "é"})));
        assert!(text.starts_with("POST /v1.41/auth HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("Content-Length: 17\r\n\r\n{\"username\":\"é\"}"), "{text}");
        assert!(request_text("GET", "/x", None).ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn dechunks() {
        let body = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\n";
        assert_eq!(dechunk(body).expect("valid"), b"Wikipedia ");
        assert!(dechunk(b"zz\r\n").is_err());
    }

    #[test]
    fn malformed_chunk_sizes_are_errors_not_panics() {
        for bad in [
            &b"ffffffffffffffff\r\nxx"[..],
            b"fffffffffffffffff\r\n",
            b"10\r\nshort\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"-1\r\n",
            b"\r\n",
            b"5",
            b"\xff\r\n",
        ] {
            assert!(dechunk(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
