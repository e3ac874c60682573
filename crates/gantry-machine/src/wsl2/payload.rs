//! What the engine's keep-alive process reads on its standard input at start: the same files
//! the QEMU guest reads from fw_cfg (`ca.pem`, `server-cert.pem`, `server-key.pem`, `config`),
//! so the TLS material never lands on a disk Windows and other distributions can read. Framed
//! for a POSIX shell reader (`read` a header line, then `head -c LEN`):
//!
//! ```text
//! gantry-wsl 1
//! file ca.pem 1234
//! <1234 bytes>
//! ...
//! end
//! ```
//! The input then stays open: when it closes (the agent ended), the guest stops the engine.

/// The first line: format and version.
pub const MAGIC: &str = "gantry-wsl 1";
/// The file names the guest accepts (as in the fw_cfg contract of vm-images/README.md).
pub const FILES: [&str; 4] = ["ca.pem", "server-cert.pem", "server-key.pem", "config"];

/// A refused payload (the parser is the guest's reader written in Rust, for the tests).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the payload does not start with {MAGIC:?}")]
    BadMagic,
    #[error("unknown file {0:?} in the payload")]
    UnknownFile(String),
    #[error("malformed payload line {0:?}")]
    BadLine(String),
    #[error("the payload ends before its `end` line")]
    Truncated,
}

/// The payload for `files` (name, content); names outside [`FILES`] are refused.
pub fn encode(files: &[(&str, &[u8])]) -> Result<Vec<u8>, PayloadError> {
    let mut out = format!("{MAGIC}\n").into_bytes();
    for (name, content) in files {
        if !FILES.contains(name) {
            return Err(PayloadError::UnknownFile((*name).to_owned()));
        }
        out.extend(format!("file {name} {}\n", content.len()).as_bytes());
        out.extend_from_slice(content);
        out.push(b'\n');
    }
    out.extend(b"end\n");
    Ok(out)
}

/// Reads a payload as the guest does: the files in order.
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, PayloadError> {
    let mut rest = bytes;
    if take_line(&mut rest)? != MAGIC {
        return Err(PayloadError::BadMagic);
    }
    let mut files = Vec::new();
    loop {
        let header = take_line(&mut rest)?;
        if header == "end" {
            return Ok(files);
        }
        let mut words = header.split(' ');
        let (Some("file"), Some(name), Some(len), None) = (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(PayloadError::BadLine(header));
        };
        if !FILES.contains(&name) {
            return Err(PayloadError::UnknownFile(name.to_owned()));
        }
        let Ok(len) = len.parse::<usize>() else {
            return Err(PayloadError::BadLine(header));
        };
        if rest.len() <= len {
            return Err(PayloadError::Truncated);
        }
        if rest[len] != b'\n' {
            return Err(PayloadError::BadLine(header));
        }
        files.push((name.to_owned(), rest[..len].to_vec()));
        rest = &rest[len + 1..];
    }
}

/// The next line of `rest` (without its newline), advancing past it.
fn take_line(rest: &mut &[u8]) -> Result<String, PayloadError> {
    let end = rest.iter().position(|b| *b == b'\n').ok_or(PayloadError::Truncated)?;
    let text = String::from_utf8_lossy(&rest[..end]).into_owned();
    *rest = &rest[end + 1..];
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use gantry_testkit::prop::{self, proptest::prelude::*};

    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let files = [("ca.pem", &pem[..]), ("server-cert.pem", pem), ("server-key.pem", b"key\n"), ("config", b"")];
        let bytes = encode(&files).unwrap();
        assert!(bytes.starts_with(b"gantry-wsl 1\nfile ca.pem 59\n-----BEGIN"));
        assert!(bytes.ends_with(b"file config 0\n\nend\n"));
        let back = decode(&bytes).unwrap();
        assert_eq!(back.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect::<Vec<_>>(), files);
        assert_eq!(encode(&[("../../etc/passwd", b"x")]), Err(PayloadError::UnknownFile("../../etc/passwd".into())));
        assert_eq!(decode(b"hello\n"), Err(PayloadError::BadMagic));
        assert_eq!(decode(b"gantry-wsl 1\nfile ca.pem 10\nabc"), Err(PayloadError::Truncated));
        assert_eq!(
            decode(b"gantry-wsl 1\nfile ca.pem 3\nabcd\nend\n"),
            Err(PayloadError::BadLine("file ca.pem 3".into()))
        );
        assert_eq!(decode(b"gantry-wsl 1\nfile x 1\na\nend\n"), Err(PayloadError::UnknownFile("x".into())));
        assert_eq!(decode(b"gantry-wsl 1\nfile ca.pem\n"), Err(PayloadError::BadLine("file ca.pem".into())));
    }

    /// The guest's POSIX sh reader (vm-images/init/payload.sh, run by busybox sh as in the
    /// guest) reads what the Rust encoder writes, byte for byte, and refuses what it must.
    #[cfg(unix)]
    #[test]
    fn the_guest_shell_reader_agrees() {
        let busybox = std::path::Path::new("/bin/busybox");
        if !busybox.exists() {
            gantry_testkit::skip::skipped("wsl2: guest payload reader", "no /bin/busybox (busybox-static)");
            return;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vm-images/init/payload.sh");
        let run = |input: &[u8], dir: &std::path::Path| {
            use std::io::Write;
            let mut child = std::process::Command::new(busybox)
                .args(["sh", "-c", ". \"$0\" && gantry_read_payload \"$1\"", script])
                .arg(dir)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            let out = child.wait_with_output().unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let dir = tempfile::tempdir().unwrap();
        // content with newlines, an "end" line and binary bytes inside
        let key: Vec<u8> = (0..=255u8).chain(*b"\nend\nfile config 3\n").collect();
        let files =
            [("ca.pem", &b"CA\n"[..]), ("server-cert.pem", b""), ("server-key.pem", &key), ("config", b"SHARES=/a\n")];
        let (ok, said) = run(&encode(&files).unwrap(), dir.path());
        assert!(ok, "{said}");
        for (name, content) in files {
            assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), content, "{name}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("server-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        for (bad, why) in [
            (&b"hello\n"[..], "not a Gantry start payload"),
            (b"gantry-wsl 1\nfile ../x 1\na\nend\n", "unknown payload file"),
            (b"gantry-wsl 1\nfile ca.pem 9\nabc", "cut short"),
            (b"gantry-wsl 1\nfile ca.pem x\n", "bad payload length"),
            (b"gantry-wsl 1\nfile ca.pem 1\na\n", "cut short"),
        ] {
            let (ok, said) = run(bad, tempfile::tempdir().unwrap().path());
            assert!(!ok && said.contains(why), "{said}");
        }
    }

    #[test]
    fn any_files_round_trip_and_any_bytes_are_read_safely() {
        let file =
            (prop::proptest::sample::select(FILES.to_vec()), prop::proptest::collection::vec(any::<u8>(), 0..64));
        prop::check(
            "wsl2: start payload (TLS material on stdin)",
            file!(),
            0,
            (prop::proptest::collection::vec(file, 0..5), prop::proptest::collection::vec(any::<u8>(), 0..128)),
            |(files, junk)| {
                let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
                let back = decode(&encode(&refs).unwrap()).unwrap();
                prop_assert_eq!(back.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect::<Vec<_>>(), refs);
                let mut prefixed = format!("{MAGIC}\n").into_bytes();
                prefixed.extend(&junk);
                let _ = decode(&prefixed);
                let _ = decode(&junk);
                Ok(())
            },
        );
    }
}
