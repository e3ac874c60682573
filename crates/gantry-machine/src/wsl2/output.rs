//! What `wsl.exe` prints. Its own messages and lists are UTF-16LE when written to a pipe (with
//! or without a byte-order mark); with `WSL_UTF8=1` (newer WSL) or from a Linux program run with
//! `--exec` they are UTF-8. [`decode`] tells them apart by content, never by the localized words.

/// The text of `wsl.exe` output: UTF-16LE or UTF-8 detected from the bytes, carriage returns
/// and NULs removed, invalid sequences replaced (never an error: a message must reach the user).
pub fn decode(bytes: &[u8]) -> String {
    let text = if looks_utf16le(bytes) {
        let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
        char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect::<String>()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    text.trim_start_matches('\u{feff}').chars().filter(|c| *c != '\r' && *c != '\0').collect()
}

/// UTF-16LE: the byte-order mark, or mostly NULs in the odd bytes (the high byte of the Latin,
/// digit and punctuation characters every wsl.exe message has).
fn looks_utf16le(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xff, 0xfe]) {
        return true;
    }
    let pairs = bytes.len() / 2;
    if pairs == 0 {
        return false;
    }
    let high_nuls = bytes.chunks_exact(2).filter(|pair| pair[1] == 0 && pair[0] != 0).count();
    high_nuls * 2 >= pairs
}

/// `text` as `wsl.exe` writes it to a pipe (UTF-16LE, CRLF line ends): what the fake `wsl.exe`
/// of the tests answers with.
pub fn encode_utf16le(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use gantry_testkit::prop::{self, proptest::prelude::*};

    use super::*;

    #[test]
    fn utf16le_with_and_without_bom_and_utf8() {
        let listed = "Ubuntu\ngantry\ngantry-data\n";
        assert_eq!(decode(&encode_utf16le(listed)), listed);
        let mut with_bom = vec![0xff, 0xfe];
        with_bom.extend(encode_utf16le(listed));
        assert_eq!(decode(&with_bom), listed);
        assert_eq!(decode(listed.as_bytes()), listed);
        // German and Russian headers, decoded as they are: nothing depends on their words
        let localized = "  NAME      STATUS         VERSION\n* gantry    Wird ausgeführt 2\n  Имя  Состояние  Версия\n";
        assert_eq!(decode(&encode_utf16le(localized)), localized);
        assert_eq!(decode(localized.as_bytes()), localized);
        assert_eq!(decode(b""), "");
        // an odd trailing byte of a cut stream is dropped, not an error
        let mut cut = encode_utf16le("gantry");
        cut.push(b'x');
        assert_eq!(decode(&cut), "gantry");
    }

    #[test]
    fn any_text_survives_the_round_trip_and_any_bytes_decode() {
        prop::check(
            "wsl2: wsl.exe output decoder (UTF-16LE / UTF-8)",
            file!(),
            0,
            (
                "[ -~\\n\u{e4}\u{f6}\u{fc}\u{430}-\u{44f}\u{4e00}-\u{4e10}]{0,60}",
                prop::proptest::collection::vec(any::<u8>(), 0..200),
            ),
            |(text, bytes)| {
                // ASCII-led text (as every wsl.exe message is) comes back unchanged
                let text = format!("wsl {text}");
                prop_assert_eq!(decode(&encode_utf16le(&text)), text.clone());
                prop_assert_eq!(decode(text.as_bytes()), text);
                let _ = decode(&bytes);
                Ok(())
            },
        );
    }
}
