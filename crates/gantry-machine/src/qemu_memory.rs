//! Where QEMU's resident memory goes, from its `/proc/<pid>/smaps` (Linux): the guest's RAM,
//! TCG's translation cache, QEMU's own heap (malloc arenas, stacks, other anonymous memory) and
//! mapped files (QEMU's binary and libraries). `./scripts/bench idle` prints it for each variant
//! it compares ([`crate::qemu_tuning`]).

/// QEMU's resident memory by kind, KiB (each the sum of the `Rss:` of its mappings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QemuMemory {
    /// Anonymous mappings at least as large as the guest's memory: its RAM.
    pub guest_ram_kib: u64,
    /// Executable anonymous mappings (or QEMU's `tcg-jit` memfd, when it maps the cache twice):
    /// translated guest code.
    pub translation_cache_kib: u64,
    /// Every other anonymous mapping: malloc's heap and arenas, thread stacks, TCG's TLBs.
    pub heap_kib: u64,
    /// Mapped files: QEMU's binary, libraries, firmware.
    pub files_kib: u64,
}

impl QemuMemory {
    pub fn total_kib(&self) -> u64 {
        self.guest_ram_kib + self.translation_cache_kib + self.heap_kib + self.files_kib
    }
}

/// Sums `smaps` (the text of `/proc/<pid>/smaps`) by kind; `guest_mib`: the guest's memory size
/// (`-m`), which tells its RAM mapping apart. Lines it does not understand are skipped.
pub fn breakdown(smaps: &str, guest_mib: u64) -> QemuMemory {
    let mut m = QemuMemory::default();
    let mut current: Option<Kind> = None;
    for line in smaps.lines() {
        if let Some(kind) = mapping_kind(line, guest_mib) {
            current = Some(kind);
        } else if let Some(rest) = line.strip_prefix("Rss:") {
            let kib = rest.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0);
            let slot = match current {
                Some(Kind::GuestRam) => &mut m.guest_ram_kib,
                Some(Kind::TranslationCache) => &mut m.translation_cache_kib,
                Some(Kind::Heap) => &mut m.heap_kib,
                Some(Kind::File) => &mut m.files_kib,
                None => continue,
            };
            *slot = slot.saturating_add(kib);
        }
    }
    m
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GuestRam,
    TranslationCache,
    Heap,
    File,
}

/// The kind of the mapping a header line (`start-end perms offset dev inode [path]`) starts, or
/// None when the line is not a header.
fn mapping_kind(line: &str, guest_mib: u64) -> Option<Kind> {
    let mut f = line.split_whitespace();
    let (range, perms, _offset, dev, inode) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    let (start, end) = range.split_once('-')?;
    let (start, end) = (u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?);
    if perms.len() != 4 || !dev.contains(':') || inode.parse::<u64>().is_err() {
        return None;
    }
    let path = f.collect::<Vec<_>>().join(" ");
    let anonymous = inode == "0" && (path.is_empty() || path.starts_with('['));
    let size_mib = end.saturating_sub(start) / (1024 * 1024);
    Some(if path.contains("tcg-jit") || (anonymous && perms.contains('x')) {
        Kind::TranslationCache
    } else if anonymous && path.is_empty() && guest_mib > 0 && size_mib >= guest_mib {
        Kind::GuestRam
    } else if anonymous {
        Kind::Heap
    } else {
        Kind::File
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5581c0a00000-5581c0f00000 r-xp 00200000 fe:01 1234                       /usr/bin/qemu-system-x86_64
Size:               5120 kB
Rss:                4000 kB
Pss:                4000 kB
VmFlags: rd ex mr mw me dw sd
5581c2000000-5581c4000000 rw-p 00000000 00:00 0                          [heap]
Size:              32768 kB
Rss:               20000 kB
7f0000000000-7f0080000000 rw-p 00000000 00:00 0 
Size:            2097152 kB
Rss:              250000 kB
Anonymous:        250000 kB
7f0080000000-7f0082000000 rwxp 00000000 00:00 0 
Size:              32768 kB
Rss:               32768 kB
7f0082000000-7f0082100000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                 900 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Rss:                  40 kB
7f1000000000-7f1000200000 r--p 00000000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               2048 kB
Rss:                1500 kB
";

    #[test]
    fn sums_by_kind() {
        let m = breakdown(SMAPS, 2048);
        assert_eq!(
            m,
            QemuMemory { guest_ram_kib: 250_000, translation_cache_kib: 32_768, heap_kib: 20_940, files_kib: 5_500 }
        );
        assert_eq!(m.total_kib(), 250_000 + 32_768 + 20_940 + 5_500);
    }

    #[test]
    fn a_guest_larger_than_every_mapping_has_no_ram_mapping() {
        let m = breakdown(SMAPS, 4096);
        assert_eq!(m.guest_ram_kib, 0);
        assert_eq!(m.heap_kib, 20_940 + 250_000);
    }

    #[test]
    fn split_wx_cache_is_the_translation_cache() {
        let s = "7f0080000000-7f0082000000 rw-s 00000000 00:01 77   /memfd:tcg-jit (deleted)\nRss: 100 kB\n\
                 7f0090000000-7f0092000000 r-xs 00000000 00:01 77   /memfd:tcg-jit (deleted)\nRss: 100 kB\n";
        assert_eq!(breakdown(s, 2048).translation_cache_kib, 200);
    }

    #[test]
    fn garbage_is_skipped() {
        assert_eq!(
            breakdown("Rss: 5 kB\nnot a header at all\nzz-yy rw-p 0 0:0 0\nRss: x kB\n", 1),
            QemuMemory::default()
        );
        assert_eq!(breakdown("", 0), QemuMemory::default());
    }
}
