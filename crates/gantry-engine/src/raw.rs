//! A minimal HTTP/1.1 client for the few engine endpoints bollard does not cover (`POST /auth`)
//! or whose answer changed shape between API versions (e.g. `/system/df`), so Gantry can read
//! old and new engines alike.

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

/// Sends `request`, reads the whole answer; a non-200 status is an `Api` error with the engine's
/// `message`.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> Result<Vec<u8>> {
    let proto = |message: String| EngineError::Protocol { message };
    stream.write_all(request.as_bytes()).await.map_err(|e| proto(e.to_string()))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| proto(e.to_string()))?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| proto("no HTTP header end".into()))?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let body = &response[split + 4..];
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        return Err(EngineError::Api { status, message });
    }
    Ok(body)
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let bad = || EngineError::Protocol { message: "malformed chunked body".into() };
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(|_| bad())?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
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
}
