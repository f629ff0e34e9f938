//! Timing helpers: operations per second over a fixed wall-clock window, medians.

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `op` once to warm up, then as often as fits in `window`; returns operations per
/// second (wall clock).
pub fn rate(window: Duration, mut op: impl FnMut()) -> f64 {
    op();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        op();
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= window {
            return n as f64 / elapsed.as_secs_f64();
        }
    }
}

/// [`rate`] for an async operation, awaited one at a time.
pub async fn rate_async<F, Fut>(window: Duration, mut op: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    op().await;
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        op().await;
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= window {
            return n as f64 / elapsed.as_secs_f64();
        }
    }
}

/// Seconds `f` takes.
pub fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// The median (mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Whether round `r` runs the peer first (alternating, so neither side always goes first).
pub fn peer_first(round: usize) -> bool {
    round % 2 == 1
}
