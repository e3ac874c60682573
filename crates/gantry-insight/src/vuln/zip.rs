//! Just enough of the zip format to read osv.dev's exports: the central directory, stored and
//! deflated entries.

use std::io::Read;

/// Entries larger than this (uncompressed) are not single advisories.
const MAX_ENTRY: u64 = 64 * 1024 * 1024;

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, String> {
    bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).ok_or_else(|| "truncated zip".to_string())
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| "truncated zip".to_string())
}

/// Every file in a zip archive: (name, contents).
pub fn entries(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let search_from = bytes.len().saturating_sub(65_557);
    let end = (search_from..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
        .ok_or("no zip central directory (is the file complete?)")?;
    let count = usize::from(u16_at(bytes, end + 10)?);
    let mut at = u32_at(bytes, end + 16)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if !bytes.get(at..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
            return Err("damaged zip central directory".into());
        }
        let method = u16_at(bytes, at + 10)?;
        let compressed = u32_at(bytes, at + 20)? as usize;
        let size = u64::from(u32_at(bytes, at + 24)?);
        let name_length = usize::from(u16_at(bytes, at + 28)?);
        let extra_length = usize::from(u16_at(bytes, at + 30)?);
        let comment_length = usize::from(u16_at(bytes, at + 32)?);
        let local = u32_at(bytes, at + 42)? as usize;
        let name =
            String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_length).ok_or("truncated zip")?).into_owned();
        at += 46 + name_length + extra_length + comment_length;
        if name.ends_with('/') {
            continue;
        }
        if size > MAX_ENTRY {
            return Err(format!("{name} is larger than {MAX_ENTRY} bytes"));
        }
        let data_start = local + 30 + usize::from(u16_at(bytes, local + 26)?) + usize::from(u16_at(bytes, local + 28)?);
        let data = bytes.get(data_start..data_start + compressed).ok_or("truncated zip entry")?;
        let content = match method {
            0 => data.to_vec(),
            8 => {
                let mut content = Vec::with_capacity(size as usize);
                flate2::read::DeflateDecoder::new(data)
                    .take(MAX_ENTRY)
                    .read_to_end(&mut content)
                    .map_err(|e| format!("{name}: {e}"))?;
                content
            }
            other => {
                return Err(format!("{name} uses zip compression method {other}; only stored and deflate are read"));
            }
        };
        out.push((name, content));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    /// A zip archive of `files`, deflated when `deflate`.
    pub(crate) fn make_zip(files: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, content) in files {
            let data = if deflate {
                let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(content).unwrap_or_default();
                encoder.finish().unwrap_or_default()
            } else {
                content.to_vec()
            };
            let method: u16 = if deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            let header = |sig: &[u8], central_entry: bool| {
                let mut h = sig.to_vec();
                if central_entry {
                    h.extend(20u16.to_le_bytes());
                }
                h.extend(20u16.to_le_bytes());
                h.extend(0u16.to_le_bytes());
                h.extend(method.to_le_bytes());
                h.extend([0u8; 4]);
                h.extend(0u32.to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((content.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h.extend(0u16.to_le_bytes());
                if central_entry {
                    // comment length, disk number, internal attributes; external attributes
                    h.extend([0u8; 6]);
                    h.extend(0u32.to_le_bytes());
                    h.extend(offset.to_le_bytes());
                }
                h.extend(name.as_bytes());
                h
            };
            out.extend(header(b"PK\x03\x04", false));
            out.extend(&data);
            central.extend(header(b"PK\x01\x02", true));
        }
        let central_offset = out.len() as u32;
        out.extend(&central);
        out.extend(b"PK\x05\x06");
        out.extend([0u8; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(central_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn stored_and_deflated() {
        for deflate in [false, true] {
            let zip = make_zip(&[("a.json", b"{\"id\":\"A\"}"), ("dir/b.json", b"[]")], deflate);
            let files = super::entries(&zip).expect("readable");
            assert_eq!(
                files,
                vec![("a.json".to_string(), b"{\"id\":\"A\"}".to_vec()), ("dir/b.json".to_string(), b"[]".to_vec())]
            );
        }
        assert!(super::entries(b"PK\x03\x04 not really").is_err());
    }
}
