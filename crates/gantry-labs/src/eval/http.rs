//! The `http` check: one small HTTP/1.0 GET to a published port, bounded in time and size.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CheckResult, Context};
use crate::check::HttpCheck;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the whole exchange may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Most bytes of an answer read.
const MAX_ANSWER: usize = 256 * 1024;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

/// GETs `path` from `host:port`. Err says why nothing usable came back.
pub async fn http_get(host: &str, port: u16, path: &str) -> Result<HttpAnswer, String> {
    let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let connect = tokio::net::TcpStream::connect(&address);
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("nothing answers on {address}: {e}")),
        Err(_) => return Err(format!("connecting to {address} took longer than {CONNECT_TIMEOUT:?}")),
    };
    let exchange = async {
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\nUser-Agent: gantry-lab-check\r\nAccept: */*\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 || raw.len() >= MAX_ANSWER {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(raw)
    };
    let raw = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => return Err(format!("{address} closed the connection: {e}")),
        Err(_) => return Err(format!("{address} did not answer within {REQUEST_TIMEOUT:?}")),
    };
    parse_answer(&raw).ok_or_else(|| format!("{address} did not answer with HTTP"))
}

/// Parses a status line, headers and body (de-chunked when the server chunked it).
pub(crate) fn parse_answer(raw: &[u8]) -> Option<HttpAnswer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/") {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    Some(HttpAnswer { status, body: String::from_utf8_lossy(&body).into_owned() })
}

/// Decodes a chunked body as far as it is well formed.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16) else { break };
        data = &data[end + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}

pub async fn check(check: &HttpCheck, ctx: &Context) -> CheckResult {
    let path = check.path.as_deref().unwrap_or("/");
    let Some(port) = ctx.values.ports.get(&check.port).copied() else {
        return CheckResult::fail(
            format!("the lab declares no port `{}`", check.port),
            format!("в лабораторной не объявлен порт `{}`", check.port),
        );
    };
    let url = format!("http://localhost:{port}{path}");
    let answer = match http_get(&ctx.http_host, port, path).await {
        Ok(a) => a,
        Err(why) => return CheckResult::fail(format!("{url}: {why}"), format!("{url}: нет ответа ({why})")),
    };
    let status_ok = match check.status {
        Some(want) => answer.status == want,
        None => (200..400).contains(&answer.status),
    };
    if !status_ok {
        let want = check.status.map_or_else(|| "2xx or 3xx".to_string(), |s| s.to_string());
        return CheckResult::fail(
            format!("{url} answered with status {}, not {want}", answer.status),
            format!("{url} ответил статусом {}, а не {want}", answer.status),
        );
    }
    match &check.contains {
        Some(text) if !answer.body.contains(text.as_str()) => CheckResult::fail(
            format!("the page at {url} does not contain `{text}`"),
            format!("на странице {url} нет текста `{text}`"),
        ),
        _ => CheckResult::pass(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello</h1>").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (200, "<h1>Hello</h1>"));
        let chunked = parse_answer(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((chunked.status, chunked.body.as_str()), (404, "Wikipedia"));
        assert_eq!(parse_answer(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(parse_answer(b"HTTP/1.1 200"), None);
        assert_eq!(dechunk(b"zz\r\n"), b"");
        assert_eq!(dechunk(b"ff\r\nshort"), b"short");
    }
}
