//! The rpm package database.
//!
//! rpm keeps one "header" blob per installed package (name, version, release, epoch, arch,
//! license, source rpm) in one of three stores:
//! - SQLite (`rpmdb.sqlite`; Fedora 33+, RHEL/Rocky/Alma 9, Amazon Linux 2023): **read here**,
//!   with a small reader of the SQLite file format (table b-trees and overflow pages), no SQLite
//!   library needed;
//! - NDB (`Packages.db`; SUSE) and Berkeley DB (`Packages`; RHEL/CentOS 7–8, Amazon Linux 2):
//!   **not read**: the result says so in its notes instead of listing nothing silently.

use std::io::{Read, Seek, SeekFrom};

use super::{Ecosystem, Package, purl};

/// The three rpm database formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpmDatabaseKind {
    Sqlite,
    Ndb,
    BerkeleyDb,
}

/// Where rpm keeps its database, and in which format.
pub const RPM_DATABASES: [(&str, RpmDatabaseKind); 6] = [
    ("var/lib/rpm/rpmdb.sqlite", RpmDatabaseKind::Sqlite),
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", RpmDatabaseKind::Sqlite),
    ("var/lib/rpm/Packages.db", RpmDatabaseKind::Ndb),
    ("usr/lib/sysimage/rpm/Packages.db", RpmDatabaseKind::Ndb),
    ("var/lib/rpm/Packages", RpmDatabaseKind::BerkeleyDb),
    ("usr/lib/sysimage/rpm/Packages", RpmDatabaseKind::BerkeleyDb),
];

/// Lists the packages of an rpm database file; `Err` is a note for the user.
pub fn read_rpm_database(
    kind: RpmDatabaseKind,
    file: &mut (impl Read + Seek),
    location: &str,
) -> Result<Vec<Package>, String> {
    match kind {
        RpmDatabaseKind::Sqlite => {
            let blobs = sqlite_table_blobs(file, "Packages")
                .map_err(|e| format!("{location}: cannot read this rpm SQLite database: {e}"))?;
            Ok(blobs.iter().filter_map(|blob| package_from_header(blob, location)).collect())
        }
        RpmDatabaseKind::Ndb => Err(format!(
            "{location} is an rpm database in NDB format (SUSE); Gantry reads only rpm's SQLite format, so its packages are not listed"
        )),
        RpmDatabaseKind::BerkeleyDb => Err(format!(
            "{location} is an rpm database in Berkeley DB format (RHEL/CentOS 7-8, Amazon Linux 2); Gantry reads only rpm's SQLite format, so its packages are not listed"
        )),
    }
}

// --- rpm headers ----------------------------------------------------------------------------

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// The tags of an rpm header blob (as stored in the database: index count, data length, index
/// entries of tag/type/offset/count, then the data).
pub fn header_tags(blob: &[u8]) -> Option<Vec<(u32, RpmValue)>> {
    let be = |o: usize| -> Option<u32> { Some(u32::from_be_bytes(blob.get(o..o + 4)?.try_into().ok()?)) };
    let entries = be(0)? as usize;
    let data_length = be(4)? as usize;
    let data_start = 8 + entries.checked_mul(16)?;
    let data = blob.get(data_start..data_start.checked_add(data_length)?)?;
    let mut tags = Vec::with_capacity(entries);
    for i in 0..entries {
        let base = 8 + i * 16;
        let (tag, kind, offset) = (be(base)?, be(base + 4)?, be(base + 8)? as usize);
        let value = match kind {
            TYPE_STRING | TYPE_I18NSTRING => {
                let text = data.get(offset..)?;
                let end = text.iter().position(|b| *b == 0)?;
                RpmValue::Text(String::from_utf8_lossy(&text[..end]).into_owned())
            }
            TYPE_INT32 => RpmValue::Number(u32::from_be_bytes(data.get(offset..offset + 4)?.try_into().ok()?)),
            _ => continue,
        };
        tags.push((tag, value));
    }
    Some(tags)
}

/// A header value Gantry reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpmValue {
    Text(String),
    Number(u32),
}

fn package_from_header(blob: &[u8], location: &str) -> Option<Package> {
    let tags = header_tags(blob)?;
    let text = |tag: u32| {
        tags.iter().find_map(|(t, v)| match v {
            RpmValue::Text(s) if *t == tag => Some(s.clone()),
            _ => None,
        })
    };
    let epoch = tags.iter().find_map(|(t, v)| match v {
        RpmValue::Number(n) if *t == TAG_EPOCH => Some(*n),
        _ => None,
    });
    let name = text(TAG_NAME)?;
    // The gpg-pubkey pseudo-packages are keys, not software.
    if name == "gpg-pubkey" {
        return None;
    }
    let version = match (text(TAG_VERSION), text(TAG_RELEASE)) {
        (Some(v), Some(r)) => format!("{v}-{r}"),
        (Some(v), None) => v,
        _ => return None,
    };
    let version = match epoch.filter(|e| *e > 0) {
        Some(e) => format!("{e}:{version}"),
        None => version,
    };
    let arch = text(TAG_ARCH);
    let source = text(TAG_SOURCERPM);
    let purl = purl(Ecosystem::Rpm, None, &name, &version, &[("arch", arch.as_deref().unwrap_or(""))]);
    Some(Package {
        name,
        version,
        ecosystem: Ecosystem::Rpm,
        source,
        source_version: None,
        arch,
        license: text(TAG_LICENSE),
        purl,
        location: location.to_string(),
        layer: None,
    })
}

// --- SQLite ---------------------------------------------------------------------------------

type Io<T> = std::io::Result<T>;

fn bad(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

struct Db<'a, F: Read + Seek> {
    file: &'a mut F,
    page_size: u64,
    usable: u64,
}

impl<F: Read + Seek> Db<'_, F> {
    fn page(&mut self, number: u64) -> Io<Vec<u8>> {
        if number == 0 {
            return Err(bad("page 0"));
        }
        let mut page = vec![0u8; self.page_size as usize];
        self.file.seek(SeekFrom::Start((number - 1) * self.page_size))?;
        self.file.read_exact(&mut page)?;
        Ok(page)
    }

    /// Every row's payload of the table b-tree rooted at `root`.
    fn rows(&mut self, root: u64, out: &mut Vec<Vec<u8>>, depth: usize) -> Io<()> {
        if depth > 64 {
            return Err(bad("the b-tree is too deep"));
        }
        let page = self.page(root)?;
        let header = if root == 1 { 100 } else { 0 };
        let kind = *page.get(header).ok_or_else(|| bad("short page"))?;
        let cells = u16::from_be_bytes([page[header + 3], page[header + 4]]) as usize;
        let pointers = header + if kind == 0x05 { 12 } else { 8 };
        for i in 0..cells {
            let at = u16::from_be_bytes([page[pointers + 2 * i], page[pointers + 2 * i + 1]]) as usize;
            match kind {
                0x05 => {
                    let child = u32::from_be_bytes(
                        page.get(at..at + 4).ok_or_else(|| bad("cell"))?.try_into().map_err(|_| bad("cell"))?,
                    );
                    self.rows(u64::from(child), out, depth + 1)?;
                }
                0x0d => out.push(self.payload(&page, at)?),
                _ => return Err(bad("not a table b-tree page")),
            }
        }
        if kind == 0x05 {
            let right = u32::from_be_bytes(page[header + 8..header + 12].try_into().map_err(|_| bad("page"))?);
            self.rows(u64::from(right), out, depth + 1)?;
        }
        Ok(())
    }

    /// A leaf cell's payload, following overflow pages.
    fn payload(&mut self, page: &[u8], at: usize) -> Io<Vec<u8>> {
        let (size, used) = varint(page.get(at..).ok_or_else(|| bad("cell"))?);
        let (_, rowid_len) = varint(&page[at + used..]);
        let start = at + used + rowid_len;
        let (u, p) = (self.usable, size);
        let max_local = u - 35;
        let min_local = ((u - 12) * 32 / 255) - 23;
        let local = if p <= max_local {
            p
        } else {
            let k = min_local + (p - min_local) % (u - 4);
            if k <= max_local { k } else { min_local }
        } as usize;
        let mut data = page.get(start..start + local).ok_or_else(|| bad("cell payload"))?.to_vec();
        if (local as u64) < p {
            let mut next = u64::from(u32::from_be_bytes(
                page.get(start + local..start + local + 4)
                    .ok_or_else(|| bad("overflow"))?
                    .try_into()
                    .map_err(|_| bad("overflow"))?,
            ));
            let mut guard = 0;
            while next != 0 && (data.len() as u64) < p {
                guard += 1;
                if guard > 1_000_000 {
                    return Err(bad("overflow chain loops"));
                }
                let overflow = self.page(next)?;
                next = u64::from(u32::from_be_bytes(overflow[..4].try_into().map_err(|_| bad("overflow"))?));
                let take = ((p - data.len() as u64).min(u - 4)) as usize;
                data.extend_from_slice(&overflow[4..4 + take]);
            }
        }
        Ok(data)
    }
}

/// SQLite's big-endian variable-length integer: (value, bytes used).
fn varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return ((value << 8) | u64::from(*byte), 9);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, bytes.len().max(1))
}

/// The columns of a record: text, blob, integer or null.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
    Other,
}

fn record(payload: &[u8]) -> Vec<Column> {
    let (header_size, mut at) = varint(payload);
    let mut types = Vec::new();
    while (at as u64) < header_size && at < payload.len() {
        let (t, used) = varint(&payload[at..]);
        types.push(t);
        at += used;
    }
    let mut body = header_size as usize;
    types
        .into_iter()
        .map(|t| {
            let (length, column) = match t {
                0 => (0, Some(Column::Null)),
                1..=6 => {
                    let length = [0, 1, 2, 3, 4, 6, 8][t as usize];
                    let bytes = payload.get(body..body + length).unwrap_or_default();
                    let mut value: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) { -1 } else { 0 };
                    for byte in bytes {
                        value = (value << 8) | i64::from(*byte);
                    }
                    (length, Some(Column::Integer(value)))
                }
                7 => (8, Some(Column::Other)),
                8 => (0, Some(Column::Integer(0))),
                9 => (0, Some(Column::Integer(1))),
                n if n >= 12 && n % 2 == 0 => ((n as usize - 12) / 2, None),
                n if n >= 13 => ((n as usize - 13) / 2, None),
                _ => (0, Some(Column::Other)),
            };
            let bytes = payload.get(body..body + length).unwrap_or_default();
            body += length;
            column.unwrap_or_else(|| {
                if t % 2 == 0 {
                    Column::Blob(bytes.to_vec())
                } else {
                    Column::Text(String::from_utf8_lossy(bytes).into_owned())
                }
            })
        })
        .collect()
}

/// The `blob` column of every row of `table` in an SQLite database file.
pub fn sqlite_table_blobs(file: &mut (impl Read + Seek), table: &str) -> Io<Vec<Vec<u8>>> {
    let mut header = [0u8; 100];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut header)?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(bad("not an SQLite database"));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n if n >= 512 && n.is_power_of_two() => u64::from(n),
        _ => return Err(bad("bad page size")),
    };
    let usable = page_size - u64::from(header[20]);
    let mut db = Db { file, page_size, usable };
    let mut schema = Vec::new();
    db.rows(1, &mut schema, 0)?;
    // sqlite_schema rows: type, name, tbl_name, rootpage, sql.
    let root = schema
        .iter()
        .map(|row| record(row))
        .find(|columns| {
            columns.first() == Some(&Column::Text("table".into()))
                && columns.get(1) == Some(&Column::Text(table.into()))
        })
        .and_then(|columns| match columns.get(3) {
            Some(Column::Integer(n)) if *n > 0 => Some(*n as u64),
            _ => None,
        })
        .ok_or_else(|| bad("no such table"))?;
    let mut rows = Vec::new();
    db.rows(root, &mut rows, 0)?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            record(row).into_iter().find_map(|c| match c {
                Column::Blob(b) => Some(b),
                _ => None,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An rpm header blob with the given string tags and an epoch.
    pub(crate) fn header_blob(strings: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        let mut count = 0u32;
        if let Some(e) = epoch {
            index.extend(TAG_EPOCH.to_be_bytes());
            index.extend(TYPE_INT32.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend(e.to_be_bytes());
            count += 1;
        }
        for (tag, text) in strings {
            index.extend(tag.to_be_bytes());
            index.extend(TYPE_STRING.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(1u32.to_be_bytes());
            data.extend(text.as_bytes());
            data.push(0);
            count += 1;
        }
        let mut blob = count.to_be_bytes().to_vec();
        blob.extend((data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    #[test]
    fn headers() {
        let blob = header_blob(
            &[
                (TAG_NAME, "curl"),
                (TAG_VERSION, "8.0.1"),
                (TAG_RELEASE, "1.fc38"),
                (TAG_ARCH, "x86_64"),
                (TAG_LICENSE, "curl"),
            ],
            Some(1),
        );
        let package = package_from_header(&blob, "/var/lib/rpm/rpmdb.sqlite").expect("package");
        assert_eq!((package.name.as_str(), package.version.as_str()), ("curl", "1:8.0.1-1.fc38"));
        assert_eq!(package.purl, "pkg:rpm/curl@1%3A8.0.1-1.fc38?arch=x86_64");
        assert!(header_tags(&blob[..10]).is_none());
        assert!(
            package_from_header(&header_blob(&[(TAG_NAME, "gpg-pubkey"), (TAG_VERSION, "1")], None), "x").is_none()
        );
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]), (5, 1));
        assert_eq!(varint(&[0x81, 0x00]), (128, 2));
        assert_eq!(varint(&[0xff; 9]), (u64::MAX, 9));
    }
}
