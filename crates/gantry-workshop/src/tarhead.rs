//! The few tar facts bundles need: ustar headers for regular files (written and read strictly),
//! padding to 512-byte blocks, and the end-of-archive marker. Bundles and the archives sent to
//! `docker load` are written with these; a bundle is read back with [`parse_header`].

/// Size of a tar block.
pub const BLOCK: u64 = 512;
/// The end of an archive: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];
/// Longest member name written (ustar's name field; bundle names are at most 78 bytes).
pub const MAX_NAME: usize = 100;

/// A ustar header for a regular file `name` of `size` bytes (mode 0644, owner root, time 0, so
/// the same content always gives the same bytes).
pub fn file_header(name: &str, size: u64) -> Result<[u8; 512], String> {
    if name.is_empty() || name.len() > MAX_NAME || name.starts_with('/') || name.split('/').any(|c| c == "..") {
        return Err(format!("{name:?} cannot be a member name"));
    }
    let mut header = tar::Header::new_ustar();
    header.set_path(name).map_err(|e| format!("{name}: {e}"))?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut bytes = [0u8; 512];
    bytes.copy_from_slice(header.as_bytes());
    Ok(bytes)
}

/// Zero bytes that pad `size` bytes of content up to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK - size % BLOCK) % BLOCK) as usize
}

/// The bytes a member of `size` bytes takes: header, content and padding.
pub fn member_len(size: u64) -> u64 {
    BLOCK + size + padding(size) as u64
}

/// What a header block says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A regular file.
    File { name: String, size: u64 },
    /// A zero block: the end of the archive.
    End,
}

/// Reads one header block strictly: the checksum must match, and only regular files with a
/// plain name (no `..`, not absolute) are accepted. `Err` says what is wrong.
pub fn parse_header(block: &[u8; 512]) -> Result<Block, String> {
    if block.iter().all(|b| *b == 0) {
        return Ok(Block::End);
    }
    let stored = octal(&block[148..156]).ok_or("the header checksum is not a number")?;
    let computed: u64 =
        block.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u64::from(*b) }).sum();
    if stored != computed {
        return Err(format!(
            "a header's checksum is wrong ({stored} written, {computed} computed): the file is damaged"
        ));
    }
    match block[156] {
        b'0' | 0 => {}
        other => return Err(format!("a member of type {:?} (only plain files belong in a bundle)", other as char)),
    }
    let field = |range: std::ops::Range<usize>| {
        let raw = &block[range];
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        std::str::from_utf8(&raw[..end]).map(str::to_string).map_err(|_| "a member name is not UTF-8".to_string())
    };
    let name = field(0..100)?;
    let prefix = if &block[257..262] == b"ustar" { field(345..500)? } else { String::new() };
    let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
    if name.is_empty() || name.starts_with('/') || name.split('/').any(|c| c == "..") {
        return Err(format!("a member is named {name:?}"));
    }
    let size = octal(&block[124..136]).ok_or("a member's size is not a number")?;
    Ok(Block::File { name, size })
}

/// An octal number field (NUL- or space-terminated, leading spaces allowed).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() || digits.len() > 22 {
        return None;
    }
    u64::from_str_radix(digits, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_match_what_tar_reads() {
        let h = file_header("blobs/sha256/abc", 1234).expect("valid");
        assert_eq!(parse_header(&h), Ok(Block::File { name: "blobs/sha256/abc".into(), size: 1234 }));
        let mut archive = Vec::new();
        archive.extend_from_slice(&h);
        archive.extend(std::iter::repeat_n(7u8, 1234));
        archive.extend(std::iter::repeat_n(0u8, padding(1234)));
        archive.extend_from_slice(&END);
        assert_eq!(archive.len() as u64, member_len(1234) + 1024);
        let mut tar = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, u64)> = tar
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (e.path().expect("path").display().to_string(), e.size())
            })
            .collect();
        assert_eq!(entries, [("blobs/sha256/abc".to_string(), 1234)]);
        assert_eq!(parse_header(&[0; 512]), Ok(Block::End));
    }

    #[test]
    fn damaged_or_foreign_headers_are_refused() {
        let mut h = file_header("index.json", 10).expect("valid");
        h[0] = b'j';
        assert!(parse_header(&h).expect_err("checksum").contains("checksum"));
        for bad in ["", "/etc/passwd", "a/../b"] {
            assert!(file_header(bad, 1).is_err(), "{bad}");
        }
        assert!(file_header(&"x".repeat(101), 1).is_err());
        let mut link = tar::Header::new_ustar();
        link.set_path("x").expect("path");
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_cksum();
        let mut block = [0u8; 512];
        block.copy_from_slice(link.as_bytes());
        assert!(parse_header(&block).expect_err("symlink").contains("plain files"));
        assert_eq!(padding(0), 0);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}
