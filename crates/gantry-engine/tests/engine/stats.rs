//! Stats: one sample and a following stream with real numbers.

use gantry_engine::StatsSample;

use crate::common::{next_within, setup};

#[tokio::test]
async fn one_sample_has_memory_and_pids() {
    let t = setup("stats-once").await;
    let mut spec = t.sh("busy", "while true; do :; done");
    spec.memory_bytes = Some(128 * 1024 * 1024);
    let id = t.run(&spec).await;
    let mut stream = t.engine.stats(&id, false);
    let s: StatsSample = next_within(30, &mut stream).await.expect("a sample").unwrap();
    assert!(s.memory_used > 0, "{s:?}");
    assert_eq!(s.memory_limit, 128 * 1024 * 1024, "{s:?}");
    assert!(s.pids >= 1, "{s:?}");
    assert!(s.memory_percent > 0.0 && s.memory_percent < 100.0, "{s:?}");
}

#[tokio::test]
async fn following_stats_tick_and_show_cpu_use() {
    let t = setup("stats-follow").await;
    let id = t.run_sh("busy", "while true; do :; done").await;
    let mut stream = t.engine.stats(&id, true);
    let mut samples = Vec::new();
    for _ in 0..3 {
        samples.push(next_within(30, &mut stream).await.expect("a sample").unwrap());
    }
    let last = samples.last().unwrap();
    assert!(last.cpu_percent > 5.0, "a busy loop uses CPU: {samples:?}");
    assert!(last.memory_used > 0);
    assert_ne!(samples[0].read, last.read, "samples are successive ticks");
}
