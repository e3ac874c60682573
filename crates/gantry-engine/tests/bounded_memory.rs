//! Memory stays bounded whatever the size of what flows through: a 1 GiB log line and a 1 GiB
//! raw answer from a mock engine; a 256 MiB build context, volume import, listing and export
//! against the real engine at `DOCKER_HOST`. Each scenario resets the process's peak RSS
//! (`/proc/self/clear_refs`), runs, and reads the new peak (`VmHWM`): the growth must stay far
//! below the size of the data. One test function, so nothing else runs in this process meanwhile.
#![cfg(unix)] // a unix-socket mock engine and /proc (peak RSS): built on unix only
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mock;

use std::io::Write;
use std::path::Path;

use gantry_engine::{BuildSpec, Engine, LogOptions};
use gantry_testkit::reliability;

const MIB: u64 = 1024 * 1024;
/// Most a scenario may add to the peak RSS.
const BOUND: u64 = 96 * MIB;

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// Runs `scenario` and returns how much it raised the peak RSS.
async fn peak_growth<F: std::future::Future<Output = ()>>(scenario: F) -> u64 {
    let before = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS (Linux >= 4.0)");
    scenario.await;
    peak_rss().saturating_sub(before.unwrap_or(0) * 1024)
}

fn check(name: &str, data: u64, growth: u64) {
    check_within(name, data, growth, BOUND);
}

fn check_within(name: &str, data: u64, growth: u64, bound: u64) {
    println!("{name}: {} MiB of data, peak RSS grew by {} MiB (bound {} MiB)", data / MIB, growth / MIB, bound / MIB);
    assert!(growth < bound, "{name}: peak RSS grew by {} MiB for {} MiB of data", growth / MIB, data / MIB);
    reliability::fault(
        &format!("{name} ({} MiB)", data / MIB),
        &format!("streamed: peak memory grows by less than {} MiB", bound / MIB),
        &format!("peak RSS +{} MiB", growth / MIB),
    );
}

/// Writes a file of `size` bytes in 1 MiB blocks.
fn big_file(path: &Path, size: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let block = vec![b'g'; MIB as usize];
    for _ in 0..size / MIB {
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded() {
    // --- a mock engine: a 1 GiB log line, a 1 GiB answer without Content-Length ---
    const GIB: u64 = 1 << 30;
    let frame_len: u32 = 32 * 1024 - 8;
    let mut frame = vec![1u8, 0, 0, 0];
    frame.extend_from_slice(&frame_len.to_be_bytes());
    frame.extend(std::iter::repeat_n(b'x', frame_len as usize));
    let log_frames = frame.clone();
    let mock = mock::start(move |_, path| {
        if path.contains("/logs") {
            mock::Reply::Stream {
                head: "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream".into(),
                total: GIB,
                pattern: log_frames.clone(),
            }
        } else {
            mock::Reply::Stream {
                head: "HTTP/1.1 200 OK\r\nContent-Type: application/json".into(),
                total: GIB,
                pattern: b" ".to_vec(),
            }
        }
    });
    let engine = Engine::connect(&mock.endpoint()).await.unwrap();
    let growth = peak_growth(async {
        let lines = engine.read_logs("c0ffee", &LogOptions::default()).await.unwrap();
        assert_eq!(lines.len(), 1, "one line, cut");
        assert!(lines[0].truncated && lines[0].text.len() == gantry_engine::logs::MAX_LINE_BYTES);
    })
    .await;
    check("container log: one line without a newline, from a mock engine", GIB, growth);
    let growth = peak_growth(async {
        let err = engine.disk_usage().await.unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    })
    .await;
    // The raw client keeps at most its 64 MiB answer limit.
    check_within("raw engine answer without Content-Length, from a mock engine", GIB, growth, BOUND + 64 * MIB);
    drop(mock);

    // --- the real engine ---
    if std::env::var_os("DOCKER_HOST").is_none() {
        println!("SKIPPED: memory_stays_bounded (real-engine part): DOCKER_HOST is not set");
        return;
    }
    let engine = Engine::from_env().await.unwrap();
    const SIZE: u64 = 256 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("context");
    std::fs::create_dir(&context).unwrap();
    big_file(&context.join("big.bin"), SIZE);
    std::fs::write(context.join("Dockerfile"), "FROM gantry-test/busybox:latest\nLABEL gantry.test=bounded-memory\n")
        .unwrap();
    let tag = format!("gantry-test/bounded-memory:{}", std::process::id());
    let growth = peak_growth(async {
        let spec = BuildSpec { context: context.clone(), tag: Some(tag.clone()), ..Default::default() };
        let mut stream = engine.build_image(&spec);
        let mut done = false;
        while let Some(event) = futures_util::StreamExt::next(&mut stream).await {
            done |= matches!(event.unwrap(), gantry_engine::BuildEvent::Done { .. });
        }
        assert!(done);
    })
    .await;
    let _ = engine.remove_image(&tag, true).await;
    check("build context with one large file", SIZE, growth);

    // A volume filled from an archive, listed, exported.
    let archive = dir.path().join("volume.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        b.append_path_with_name(context.join("big.bin"), "big.bin").unwrap();
        b.finish().unwrap();
    }
    std::fs::remove_file(context.join("big.bin")).unwrap();
    let volume = format!("gantry-test-bounded-{}", std::process::id());
    engine.create_volume(&volume, &[]).await.unwrap();
    let growth = peak_growth(async { engine.import_volume(&volume, &archive).await.unwrap() }).await;
    check("volume import of a large archive", SIZE, growth);
    std::fs::remove_file(&archive).unwrap();
    let growth = peak_growth(async {
        let listing = engine.list_volume_files(&volume).await.unwrap();
        assert_eq!(listing.entries.iter().map(|e| (e.path.as_str(), e.size)).collect::<Vec<_>>(), [("big.bin", SIZE)]);
    })
    .await;
    check("volume listing of a volume with a large file", SIZE, growth);
    let exported = dir.path().join("export.tar");
    let growth = peak_growth(async {
        assert!(engine.export_volume(&volume, &exported, gantry_engine::Existing::Keep).await.unwrap() > SIZE);
    })
    .await;
    check("volume export of a large file", SIZE, growth);
    engine.remove_volume(&volume, true).await.unwrap();
}
