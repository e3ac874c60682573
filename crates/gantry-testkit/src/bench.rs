//! The statistics every benchmark prints (`benches/*.rs`): percentiles of timings and
//! milliseconds for the tables of docs/benchmarks.md.

use std::time::Duration;

/// The `p`-th percentile (0.0..=1.0, nearest rank) of `values`; zero when there are none.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let Some(last) = sorted.len().checked_sub(1) else { return Duration::ZERO };
    sorted[((last as f64 * p.clamp(0.0, 1.0)).round() as usize).min(last)]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let values: Vec<Duration> = [5, 1, 4, 2, 3].into_iter().map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 0.5), Duration::from_millis(3));
        assert_eq!(percentile(&values, 0.95), Duration::from_millis(5));
        assert_eq!(percentile(&values, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert!((ms(Duration::from_micros(1500)) - 1.5).abs() < 1e-9);
    }
}
