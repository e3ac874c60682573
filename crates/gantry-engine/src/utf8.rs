//! Text from a byte stream (exec and terminal output) without breaking characters that arrive
//! split across chunks.

/// Turns byte chunks into text. The result of all `push`es plus `finish` is exactly
/// `String::from_utf8_lossy` of all the bytes together, however they were chunked: only an
/// incomplete character at the very end of a chunk (at most 3 bytes) waits for the next one.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    carry: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes a chunk; invalid bytes become U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.carry.extend_from_slice(bytes);
        let keep = incomplete_tail(&self.carry);
        let rest = self.carry.split_off(self.carry.len() - keep);
        let text = String::from_utf8_lossy(&self.carry).into_owned();
        self.carry = rest;
        text
    }

    /// The end of the stream: what was held back (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.carry).into_owned();
        self.carry.clear();
        text
    }
}

/// Length of an incomplete but so far valid UTF-8 sequence at the end of `bytes` (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let tail = &bytes[bytes.len() - back..];
        if tail[0] & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: the character starts further back
        }
        return match std::str::from_utf8(tail) {
            Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => back,
            _ => 0,
        };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_split_characters() {
        let mut d = Utf8Decoder::default();
        let bytes = "hé!".as_bytes();
        assert_eq!(d.push(&bytes[..2]), "h");
        assert_eq!(d.push(&bytes[2..]), "é!");
    }

    #[test]
    fn invalid_bytes_before_a_split_character() {
        // Found by the property test: an invalid byte used to make the whole chunk lossy,
        // breaking the character split at its end.
        let euro = "€".as_bytes();
        let mut d = Utf8Decoder::default();
        let mut out = d.push(&[b'a', 0xff, euro[0]]);
        out.push_str(&d.push(&euro[1..]));
        out.push_str(&d.finish());
        assert_eq!(out, "a\u{fffd}€");
    }
}
