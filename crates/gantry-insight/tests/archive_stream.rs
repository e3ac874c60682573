//! The archive reader streams: a `docker save` archive with a 1 GiB layer file (made on the fly,
//! never in memory) is read with the process's peak memory growing by far less than the file.
//! Its own test binary, so no other test's allocations count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Read};

use gantry_insight::image::archive::{NoContent, read_saved_image};
use gantry_insight::image::layers::ImageLayers;

const BIG: u64 = 1 << 30;

fn header(path: &str, size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    header.as_bytes().to_vec()
}

fn padding(size: u64) -> Vec<u8> {
    vec![0; ((512 - size % 512) % 512) as usize]
}

fn small_file(path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = header(path, body.len() as u64);
    out.extend_from_slice(body);
    out.extend(padding(body.len() as u64));
    out
}

/// A Docker-layout archive whose only layer holds `big.bin` of `BIG` zero bytes.
fn synthetic_archive() -> impl Read {
    let layer_size = 512 + BIG + padding(BIG).len() as u64 + 1024;
    let mut head = header("abc/layer.tar", layer_size);
    head.extend(header("big.bin", BIG));
    let mut tail = padding(BIG);
    tail.extend(vec![0; 1024]);
    tail.extend(padding(layer_size));
    let config = br#"{"architecture":"amd64","os":"linux","history":[{"created_by":"/bin/sh -c make big"}],"rootfs":{"diff_ids":["sha256:0"]}}"#;
    tail.extend(small_file("0123.json", config));
    let manifest = br#"[{"Config":"0123.json","RepoTags":["synthetic:1"],"Layers":["abc/layer.tar"]}]"#;
    tail.extend(small_file("manifest.json", manifest));
    tail.extend(vec![0; 1024]);
    Cursor::new(head).chain(std::io::repeat(0).take(BIG)).chain(Cursor::new(tail))
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_gigabyte_layer_streams_in_bounded_memory() {
    let before = peak_memory_kib();
    let mut archive = Counting { inner: synthetic_archive(), read: 0 };
    let image = read_saved_image(&mut archive, &mut NoContent).expect("the archive reads");
    let grown = peak_memory_kib() - before;
    assert!(archive.read > BIG, "every byte went through the reader: {}", archive.read);
    assert!(grown < 64 * 1024, "peak memory grew by {grown} KiB while reading a {BIG}-byte layer");
    let report = ImageLayers::new("synthetic:1", image).report(5);
    assert_eq!(report.tags, ["synthetic:1"]);
    assert_eq!(report.size_bytes, BIG);
    assert_eq!(report.biggest_files[0].path, "/big.bin");
    assert_eq!(report.layers[0].instruction, "RUN make big");
    eprintln!("archive stream: {} bytes read, peak memory grew by {grown} KiB", archive.read);
}
