//! The join code a trainer shows the room: the server's address, the first 12 bytes of its TLS
//! certificate's SHA-256 (the pin: a participant's Gantry trusts that certificate and no other)
//! and the room secret (only those who saw the code can join), with a check byte that catches
//! typing mistakes. Written in base32 (no 0/1/8 look-alikes to confuse), in groups of five:
//! `GW1-ABCDE-FGHIJ-…`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::digest::Digest;

/// What every code starts with (and its format version).
pub const PREFIX: &str = "GW1";
/// Bytes of the certificate digest a code carries.
pub const PIN_BYTES: usize = 12;
/// Bytes of the room secret.
pub const SECRET_BYTES: usize = 8;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A decoded join code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode {
    pub addr: SocketAddr,
    pub pin: [u8; PIN_BYTES],
    pub secret: [u8; SECRET_BYTES],
}

impl JoinCode {
    /// The code for a server at `addr` whose certificate has `cert_digest`.
    pub fn new(addr: SocketAddr, cert_digest: &Digest, secret: [u8; SECRET_BYTES]) -> Self {
        Self { addr, pin: pin_of(cert_digest), secret }
    }

    /// Whether a certificate with `cert_digest` is the one the code pins.
    pub fn pins(&self, cert_digest: &Digest) -> bool {
        self.pin == pin_of(cert_digest)
    }

    /// The room secret as text (what a participant sends when joining).
    pub fn secret_text(&self) -> String {
        hex(&self.secret)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        match self.addr.ip() {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
        out.extend_from_slice(&self.pin);
        out.extend_from_slice(&self.secret);
        out.push(check_byte(&out));
        out
    }

    /// Parses a code as typed: case, spaces and dashes do not matter. `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cleaned: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let body = cleaned.strip_prefix(PREFIX).ok_or_else(|| format!("a join code starts with {PREFIX}-"))?;
        let bytes = base32_decode(body).ok_or("a join code has only the letters A-Z and digits 2-7")?;
        let (&check, data) = bytes.split_last().ok_or("the join code is empty")?;
        let addr_len = match data.first() {
            Some(4) => 4,
            Some(6) => 16,
            _ => return Err("the join code is mistyped (check it letter by letter)".into()),
        };
        if data.len() != 1 + addr_len + 2 + PIN_BYTES + SECRET_BYTES || check_byte(data) != check {
            return Err("the join code is mistyped or incomplete (check it letter by letter)".into());
        }
        let ip = if addr_len == 4 {
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&data[1..5]).map_err(|e| e.to_string())?))
        } else {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&data[1..17]).map_err(|e| e.to_string())?))
        };
        let rest = &data[1 + addr_len..];
        let port = u16::from_be_bytes([rest[0], rest[1]]);
        if port == 0 {
            return Err("the join code names port 0".into());
        }
        let pin = <[u8; PIN_BYTES]>::try_from(&rest[2..2 + PIN_BYTES]).map_err(|e| e.to_string())?;
        let secret = <[u8; SECRET_BYTES]>::try_from(&rest[2 + PIN_BYTES..]).map_err(|e| e.to_string())?;
        Ok(Self { addr: SocketAddr::new(ip, port), pin, secret })
    }
}

impl fmt::Display for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = base32_encode(&self.bytes());
        f.write_str(PREFIX)?;
        for chunk in encoded.as_bytes().chunks(5) {
            write!(f, "-{}", String::from_utf8_lossy(chunk))?;
        }
        Ok(())
    }
}

fn pin_of(digest: &Digest) -> [u8; PIN_BYTES] {
    let mut pin = [0u8; PIN_BYTES];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digest.hex()[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    pin
}

fn check_byte(data: &[u8]) -> u8 {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref()[0]
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // The unused low bits of the last letter must be zero: another letter there is a typo.
    if bits >= 5 || buffer & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> JoinCode {
        JoinCode::new("192.168.1.20:5443".parse().expect("addr"), &Digest::of(b"cert"), [7; SECRET_BYTES])
    }

    #[test]
    fn round_trips_and_tolerates_how_people_type() {
        let code = sample();
        let text = code.to_string();
        assert!(text.starts_with("GW1-") && text.len() < 64, "{text}");
        assert_eq!(JoinCode::parse(&text), Ok(code.clone()));
        assert_eq!(JoinCode::parse(&text.to_lowercase().replace('-', " ")), Ok(code.clone()));
        assert!(code.pins(&Digest::of(b"cert")) && !code.pins(&Digest::of(b"other")));
        let v6 = JoinCode::new("[fe80::1]:443".parse().expect("addr"), &Digest::of(b"c"), [1; SECRET_BYTES]);
        assert_eq!(JoinCode::parse(&v6.to_string()), Ok(v6));
    }

    #[test]
    fn typing_mistakes_are_caught() {
        let text = sample().to_string();
        for at in 4..text.len() {
            let mut bytes = text.clone().into_bytes();
            if bytes[at] == b'-' {
                continue;
            }
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let typo = String::from_utf8(bytes).expect("ascii");
            assert!(JoinCode::parse(&typo).is_err(), "{typo} was taken");
        }
        assert!(JoinCode::parse("").is_err());
        assert!(JoinCode::parse("GW1-").is_err());
        assert!(JoinCode::parse(&text[..text.len() - 3]).is_err());
        assert!(JoinCode::parse("GW1-0000").is_err());
        // The last letter's unused bits: every other letter there is refused too.
        let stem = &text[..text.len() - 1];
        let taken = ALPHABET.iter().filter(|&&c| JoinCode::parse(&format!("{stem}{}", c as char)).is_ok()).count();
        assert_eq!(taken, 1);
    }
}
