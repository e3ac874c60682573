//! A small, bounded HTTP/1.1 request reader for the engine-socket proxy: it finds where each
//! request's head and body end on a keep-alive connection (Content-Length or chunked bodies),
//! so the proxy can read the bodies of the few requests it checks and pass every byte of the
//! others through unchanged. Upgrades and hijacked streams (attach, exec) end the parsing: the
//! rest of the connection is raw bytes.
//!
//! It is stricter than nothing and never looser than dockerd's Go server where that matters for
//! request smuggling: a request with both Content-Length and Transfer-Encoding, differing
//! Content-Lengths, a transfer coding other than `chunked`, folded header lines or a head over
//! [`MAX_HEAD`] bytes is refused.

/// Largest request head (Go's net/http default `MaxHeaderBytes`).
pub const MAX_HEAD: usize = 1 << 20;
/// Longest chunk-size line (hex digits plus extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// A malformed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad HTTP request: {0}")]
pub struct BadRequest(pub String);

fn bad<T>(m: impl Into<String>) -> Result<T, BadRequest> {
    Err(BadRequest(m.into()))
}

/// A request's head as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (`/v1.43/containers/create?name=x`, or absolute-form).
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// Length of the head in bytes, final empty line included.
    pub len: usize,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

impl Head {
    /// Every value of header `name` (case-insensitive).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body's framing (requests without Content-Length or Transfer-Encoding have none).
    pub fn framing(&self) -> Result<Framing, BadRequest> {
        let te: Vec<&str> = self.values("transfer-encoding").collect();
        let cl: Vec<&str> = self.values("content-length").collect();
        if !te.is_empty() {
            if !cl.is_empty() {
                return bad("both Content-Length and Transfer-Encoding");
            }
            if te.len() == 1 && te[0].trim().eq_ignore_ascii_case("chunked") {
                return Ok(Framing::Chunked);
            }
            return bad(format!("unsupported Transfer-Encoding {:?}", te.join(", ")));
        }
        let mut len: Option<u64> = None;
        for v in cl.iter().flat_map(|v| v.split(',')) {
            let v = v.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 18 {
                return bad(format!("bad Content-Length {v:?}"));
            }
            let n: u64 = v.parse().map_err(|_| BadRequest(format!("bad Content-Length {v:?}")))?;
            if len.is_some_and(|l| l != n) {
                return bad("differing Content-Length values");
            }
            len = Some(n);
        }
        Ok(match len {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        })
    }

    /// Whether the connection becomes a raw stream after this request: an `Upgrade` (attach,
    /// exec start, BuildKit sessions) or an endpoint that dockerd hijacks without one.
    pub fn switches_to_raw(&self) -> bool {
        let upgrade = self.values("connection").any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
            || self.values("upgrade").next().is_some();
        let p = api_path(&self.target);
        upgrade
            || (p.starts_with("/containers/") && p.ends_with("/attach"))
            || (p.starts_with("/exec/") && p.ends_with("/start"))
            || p == "/session"
            || p == "/grpc"
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.values("expect").any(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// The head's bytes without `Expect` headers (the proxy answered `100 Continue` itself).
    pub fn without_expect(&self, raw: &[u8]) -> Vec<u8> {
        let head = &raw[..self.len];
        let mut out = Vec::with_capacity(head.len());
        for line in head.split_inclusive(|b| *b == b'\n') {
            let name = line.split(|b| *b == b':').next().unwrap_or_default();
            if line.contains(&b':') && name.eq_ignore_ascii_case(b"expect") {
                continue;
            }
            out.extend_from_slice(line);
        }
        out
    }
}

/// Parses a request head at the start of `buf`: `Ok(None)` when more bytes are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, BadRequest> {
    // leading empty lines are ignored (RFC 9112 2.2), as Go does
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") || buf[start..].starts_with(b"\n") {
        start += if buf[start] == b'\r' { 2 } else { 1 };
    }
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut pos = start;
    loop {
        let Some(nl) = buf[pos..].iter().position(|b| *b == b'\n') else {
            if buf.len() > MAX_HEAD {
                return bad(format!("request head longer than {MAX_HEAD} bytes"));
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if pos > MAX_HEAD {
            return bad(format!("request head longer than {MAX_HEAD} bytes"));
        }
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let Some((first, rest)) = lines.split_first() else { return bad("empty request") };
    let first = std::str::from_utf8(first).map_err(|_| BadRequest("request line is not UTF-8".into()))?;
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad(format!("bad request line {first:?}"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return bad(format!("bad method {method:?}"));
    }
    if target.is_empty() {
        return bad("empty request target");
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return bad(format!("unsupported version {version:?}"));
    }
    let mut headers = Vec::with_capacity(rest.len());
    for line in rest {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return bad("folded header line");
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else { return bad("header line without ':'") };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(b)) {
            return bad("bad header name");
        }
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim_matches([' ', '\t']).to_owned();
        headers.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    Ok(Some(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
        len: pos,
    }))
}

/// The API path of a request target: absolute-form reduced to its path, the query dropped,
/// percent-escapes decoded, `.`/`..`/`//` resolved and a `/v1.NN` version prefix removed
/// (`/v1.43/containers/create?name=x` → `/containers/create`), as dockerd's router sees it.
pub fn api_path(target: &str) -> String {
    let mut t = target;
    if let Some(i) = t.find("://") {
        let after = &t[i + 3..];
        t = after.find('/').map_or("/", |j| &after[j..]);
    }
    let t = t.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(t);
    let mut segs: Vec<&str> = Vec::new();
    for s in decoded.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    format!("/{}", segs.join("/"))
}

fn is_version(s: &str) -> bool {
    let Some(v) = s.strip_prefix('v').or_else(|| s.strip_prefix('V')) else { return false };
    let mut it = v.splitn(2, '.');
    let major = it.next().unwrap_or("");
    let minor = it.next().unwrap_or("0");
    !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor.bytes().all(|b| b.is_ascii_digit())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Where a chunked body ends, found incrementally; the body's decoded bytes on the way.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// What one [`Chunked::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Raw bytes of the input that belong to this body (the rest is the next request's).
    pub consumed: usize,
    /// Whether the body ended within them.
    pub done: bool,
}

impl Chunked {
    /// Reads as much of `input` as belongs to the body; decoded data goes to `data` when given.
    /// Lines are read only when complete: a partial line is left unconsumed for the next call
    /// (with more bytes appended).
    pub fn feed(&mut self, input: &[u8], mut data: Option<&mut Vec<u8>>) -> Result<Step, BadRequest> {
        let mut pos = 0;
        loop {
            match self.state {
                ChunkState::Done => return Ok(Step { consumed: pos, done: true }),
                ChunkState::Size | ChunkState::Trailer => {
                    let Some(nl) = input[pos..].iter().position(|b| *b == b'\n') else {
                        if input.len() - pos > MAX_CHUNK_LINE {
                            return bad("chunk line too long");
                        }
                        return Ok(Step { consumed: pos, done: false });
                    };
                    if nl > MAX_CHUNK_LINE {
                        return bad("chunk line too long");
                    }
                    let line = &input[pos..pos + nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    pos += nl + 1;
                    if self.state == ChunkState::Trailer {
                        if line.is_empty() {
                            self.state = ChunkState::Done;
                        }
                        continue;
                    }
                    let size = line.split(|b| *b == b';').next().unwrap_or_default();
                    let size = size.strip_suffix(b" ").unwrap_or(size);
                    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
                        return bad(format!("bad chunk size {:?}", String::from_utf8_lossy(size)));
                    }
                    let n = u64::from_str_radix(&String::from_utf8_lossy(size), 16)
                        .map_err(|_| BadRequest("bad chunk size".into()))?;
                    self.state = if n == 0 { ChunkState::Trailer } else { ChunkState::Data(n) };
                }
                ChunkState::Data(left) => {
                    let avail = input.len() - pos;
                    if avail == 0 {
                        return Ok(Step { consumed: pos, done: false });
                    }
                    let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
                    if let Some(d) = data.as_deref_mut() {
                        d.extend_from_slice(&input[pos..pos + take]);
                    }
                    pos += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    if input.len() - pos < 2 {
                        return Ok(Step { consumed: pos, done: false });
                    }
                    if &input[pos..pos + 2] != b"\r\n" {
                        return bad("chunk data not followed by CRLF");
                    }
                    pos += 2;
                    self.state = ChunkState::Size;
                }
            }
        }
    }
}

/// A `400`/`413` answer with a JSON `message`, as dockerd writes errors (the docker CLI prints it).
pub fn error_response(status: u16, reason: &str, message: &str, close: bool) -> Vec<u8> {
    let body = serde_json::json!({ "message": message }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_heads_and_framing() {
        let raw = b"POST /v1.43/containers/create?name=x HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}GET";
        let h = parse_head(raw).unwrap().unwrap();
        assert_eq!((h.method.as_str(), h.version.as_str()), ("POST", "HTTP/1.1"));
        assert_eq!(&raw[h.len..], b"{}GET");
        assert_eq!(h.framing().unwrap(), Framing::Length(2));
        assert_eq!(api_path(&h.target), "/containers/create");
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        let chunked = parse_head(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap().unwrap();
        assert_eq!(chunked.framing().unwrap(), Framing::Chunked);
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        for raw in [
            &b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
        ] {
            let h = parse_head(raw).unwrap().unwrap();
            assert!(h.framing().is_err(), "{}", String::from_utf8_lossy(raw));
        }
        for raw in [
            &b"POST /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"[..],
            b"POST /x HTTP/1.1\r\nno colon\r\n\r\n",
            b"POST /x HTTP/2\r\n\r\n",
            b"POST  /x HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nBad Name: v\r\n\r\n",
        ] {
            assert!(parse_head(raw).is_err(), "{}", String::from_utf8_lossy(raw));
        }
        assert!(parse_head(&vec![b'a'; MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn api_paths_as_the_router_sees_them() {
        for (t, p) in [
            ("/containers/create", "/containers/create"),
            ("/v1.43/containers/create?name=a/b", "/containers/create"),
            ("/v1.24/volumes/create", "/volumes/create"),
            ("http://docker/v1.43/containers/create", "/containers/create"),
            ("/v1.43//containers/./create", "/containers/create"),
            ("/containers%2Fcreate", "/containers/create"),
            ("/v1.43/containers/abc/../create", "/containers/create"),
            ("/_ping", "/_ping"),
            ("/v1/x", "/x"),
        ] {
            assert_eq!(api_path(t), p, "{t}");
        }
    }

    #[test]
    fn upgrades_and_hijacks_switch_to_raw() {
        let h = |raw: &[u8]| parse_head(raw).unwrap().unwrap();
        assert!(h(b"POST /v1.43/exec/abc/start HTTP/1.1\r\n\r\n").switches_to_raw());
        assert!(
            h(b"POST /containers/abc/attach?stream=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                .switches_to_raw()
        );
        assert!(h(b"POST /session HTTP/1.1\r\nUpgrade: h2c\r\n\r\n").switches_to_raw());
        assert!(!h(b"GET /containers/json HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").switches_to_raw());
    }

    #[test]
    fn chunked_bodies_decode_across_splits() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for split in 0..body.len() {
            let mut c = Chunked::default();
            let mut data = Vec::new();
            let mut buf = body[..split].to_vec();
            let s = c.feed(&buf, Some(&mut data)).unwrap();
            buf.drain(..s.consumed);
            buf.extend_from_slice(&body[split..]);
            let s2 = c.feed(&buf, Some(&mut data)).unwrap();
            assert!(s2.done, "split {split}");
            assert_eq!(&buf[s2.consumed..], b"NEXT");
            assert_eq!(data, b"Wikipedia");
        }
        assert!(Chunked::default().feed(b"zz\r\n", None).is_err());
        assert!(Chunked::default().feed(b"1\r\nab\r\n", None).is_err());
    }

    #[test]
    fn expect_headers_are_dropped_from_the_forwarded_head() {
        let raw = b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
        let h = parse_head(raw).unwrap().unwrap();
        assert!(h.expects_continue());
        assert_eq!(h.without_expect(raw), b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
    }
}
