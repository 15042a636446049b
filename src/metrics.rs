//! What a run reports per strategy: the loop's measurements plus per-request
//! percentiles.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::server::client::{Attempts, Status};

use crate::strategy::Outcome;

/// Percentiles of a per-request time, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// Histogram resolution: 1 ns units, 3 significant digits (0.1 % relative
/// error), values up to about 100 days.
const SIGFIG: u8 = 3;
const NS: f64 = 1e9;
const MAX_NS: u64 = 10_000_000 * 1_000_000_000;

impl Percentiles {
    /// Percentiles of `values` (seconds) via an HDR histogram. Empty input
    /// gives zeros.
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut r = PercentileRecorder::new();
        for v in values {
            r.record(v);
        }
        r.finish()
    }
}

/// Builds [`Percentiles`] one value at a time, so that several can be
/// recorded in one pass over a run's requests.
#[derive(Debug)]
pub struct PercentileRecorder {
    histogram: Histogram<u64>,
    max: f64,
}

impl Default for PercentileRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl PercentileRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::for_values_up_to(MAX_NS as f64 / NS)
    }

    /// An empty recorder for values of at most `max_s` seconds (larger
    /// ones would be recorded as the largest it holds).
    ///
    /// Its buckets are those of [`PercentileRecorder::new`] (they depend on
    /// the lowest value and the precision only), so it gives the same
    /// percentiles; it just holds fewer counts to zero and scan: a run of a
    /// minute needs 26,000 where all of `MAX_NS` takes 46,000 (368 KB).
    pub fn for_values_up_to(max_s: f64) -> Self {
        let high = round_to_ns(max_s * NS).max(2);
        PercentileRecorder {
            histogram: Histogram::<u64>::new_with_bounds(1, high, SIGFIG)
                .expect("1 <= 2 <= high, and a valid precision"),
            max: 0.0,
        }
    }

    /// An empty recorder that grows to the largest value it is given: the
    /// buckets and percentiles of [`PercentileRecorder::new`], for values
    /// recorded while the run that produces them is still going (and its
    /// duration, the bound [`PercentileRecorder::for_values_up_to`] takes,
    /// is not known yet).
    pub fn growing() -> Self {
        let mut r = Self::for_values_up_to(1e-6);
        r.histogram.auto(true);
        r
    }

    /// Record one value, in seconds.
    #[inline]
    pub fn record(&mut self, v: f64) {
        self.max = self.max.max(v);
        let ns = round_to_ns(v * NS);
        // A growing recorder only fails to grow past what `usize` indexes,
        // which `MAX_NS` is far below; clamping is then the best it can do.
        if self.histogram.record(ns).is_err() {
            self.histogram.saturating_record(ns);
        }
    }

    /// The percentiles of what was recorded (zeros if nothing was).
    pub fn finish(self) -> Percentiles {
        let h = &self.histogram;
        if h.is_empty() {
            return Percentiles::default();
        }
        // One pass over the counts for all four, each exactly what
        // `value_at_quantile` gives.
        let mut q = h
            .value_at_quantiles([0.5, 0.9, 0.99, 0.999])
            .map(|v| v as f64 / NS);
        let mut next = || q.next().expect("one value per quantile, in order");
        Percentiles {
            p50: next(),
            p90: next(),
            p99: next(),
            p999: next(),
            max: self.max,
        }
    }
}

/// `(x.round().clamp(0.0, MAX_NS as f64)) as u64` without the `libm` call
/// that `f64::round` compiles to on baseline x86-64, and without a branch
/// on the fraction: the same integer for every input.
#[inline]
fn round_to_ns(x: f64) -> u64 {
    // NaN, zero and negatives round to at most zero, which the clamp makes 0.
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    if x >= MAX_NS as f64 {
        return MAX_NS;
    }
    // Truncation is exact, and so is `x - t`: below 2^52 it is the fraction,
    // from 2^52 on `x` is an integer and the difference is 0. Through `i64`,
    // which holds every value below `MAX_NS`: x86-64 converts between `f64`
    // and `i64` in one instruction each, and to and from `u64` only with
    // a compare, a branch or blend, and several more.
    let t = x as i64;
    let frac = x - t as f64;
    (t + i64::from(frac >= 0.5)) as u64
}

/// What a run's requests add up to: the counts and per-request percentiles
/// of a [`StrategyResult`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestStats {
    /// Requests that completed (succeeded or gave up).
    pub completed: u64,
    /// Requests whose last attempt succeeded.
    pub succeeded: u64,
    /// Attempts that failed with an error from the service.
    pub errors: u64,
    /// Attempts cut short by `asyncio.timeout`.
    pub timeouts: u64,
    /// Attempts beyond each request's first.
    pub retries: u64,
    /// From the creation of a request's task to the start of the request.
    pub wait_s: Percentiles,
    /// From the creation of a request's task to the end of the request.
    pub total_s: Percentiles,
}

/// Sums a run's requests up as they finish, into [`RequestStats`], without
/// keeping a record per request: a run summarised this way holds a few
/// hundred kilobytes of histogram instead of 20 bytes per request.
#[derive(Debug)]
pub struct RequestTally {
    completed: u64,
    succeeded: u64,
    errors: u64,
    timeouts: u64,
    retries: u64,
    wait: PercentileRecorder,
    total: PercentileRecorder,
}

impl Default for RequestTally {
    fn default() -> Self {
        RequestTally {
            completed: 0,
            succeeded: 0,
            errors: 0,
            timeouts: 0,
            retries: 0,
            wait: PercentileRecorder::growing(),
            total: PercentileRecorder::growing(),
        }
    }
}

impl RequestTally {
    /// Count one finished request: its task was created at `created_s`, it
    /// started at `start_s` and ended at `end_s` after `attempts`.
    #[inline]
    pub fn record(&mut self, created_s: f64, start_s: f64, end_s: f64, attempts: &Attempts) {
        self.completed += 1;
        self.succeeded += u64::from(attempts.status == Status::Ok);
        self.errors += u64::from(attempts.errors);
        self.timeouts += u64::from(attempts.timeouts);
        self.retries += u64::from(attempts.attempts.saturating_sub(1));
        self.wait.record(start_s - created_s);
        self.total.record(end_s - created_s);
    }

    /// The totals and percentiles of what was counted.
    pub fn finish(self) -> RequestStats {
        RequestStats {
            completed: self.completed,
            succeeded: self.succeeded,
            errors: self.errors,
            timeouts: self.timeouts,
            retries: self.retries,
            wait_s: self.wait.finish(),
            total_s: self.total.finish(),
        }
    }
}

/// One strategy's result in a scenario run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// Strategy name.
    pub strategy: String,
    /// Virtual time at which the program's `main()` returned, in seconds.
    pub duration_s: f64,
    /// Most tasks alive at once (created by the strategy, not yet finished;
    /// the main task excluded).
    pub peak_live_tasks: u64,
    /// Predicted `tracemalloc` peak, in bytes.
    pub peak_memory_bytes: i64,
    /// Simulated allocations (objects and container growth).
    pub allocations: u64,
    /// Event-loop iterations from main's first step (1) to its return.
    pub loop_iterations: u64,
    /// Requests that completed (succeeded or gave up).
    pub completed: u64,
    /// Requests that succeeded (all of them without a `[server]`).
    #[serde(default)]
    pub succeeded: u64,
    /// Requests that gave up: their last attempt failed or timed out.
    #[serde(default)]
    pub failed: u64,
    /// Attempts that failed with an error from the service.
    #[serde(default)]
    pub errors: u64,
    /// Attempts cut short by `asyncio.timeout`.
    #[serde(default)]
    pub timeouts: u64,
    /// Retries made (attempts beyond each request's first).
    #[serde(default)]
    pub retries: u64,
    /// Tasks created by the strategy.
    pub tasks_created: u64,
    /// Simulated memory still held when main returned, in bytes.
    pub final_memory_bytes: i64,
    /// Most timers scheduled at once.
    pub peak_timers: u64,
    /// Per request: from the creation of its task to the start of the
    /// request, in seconds.
    pub wait_s: Percentiles,
    /// Per request: from the creation of its task to the end of the request,
    /// in seconds.
    pub total_s: Percentiles,
}

impl StrategyResult {
    /// Summarise a simulated run.
    pub fn from_outcome(o: &Outcome) -> Self {
        let r = &o.report;
        let t = &o.stats;
        StrategyResult {
            strategy: o.strategy.name().to_string(),
            duration_s: r.duration_s,
            peak_live_tasks: r.peak_live_tasks,
            peak_memory_bytes: r.peak_memory_bytes,
            allocations: r.allocations,
            loop_iterations: r.loop_iterations,
            completed: t.completed,
            succeeded: t.succeeded,
            failed: t.completed - t.succeeded,
            errors: t.errors,
            timeouts: t.timeouts,
            retries: t.retries,
            tasks_created: r.tasks_created,
            final_memory_bytes: r.final_memory_bytes,
            peak_timers: r.peak_timers,
            wait_s: t.wait_s,
            total_s: t.total_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_growing_recorders_give_the_full_range_ones() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for scale in [1e-9, 1e-3, 0.2, 40.0, 1e6, 1e7, 1e9] {
            let values: Vec<f64> = (0..10_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 11) as f64 / (1u64 << 53) as f64 * scale
                })
                .collect();
            let largest = values.iter().copied().fold(0.0, f64::max);
            let mut bounded = PercentileRecorder::for_values_up_to(largest);
            let mut full = PercentileRecorder::new();
            let mut growing = PercentileRecorder::growing();
            for &v in &values {
                bounded.record(v);
                full.record(v);
                growing.record(v);
            }
            assert!(
                bounded.histogram.distinct_values() < full.histogram.distinct_values()
                    || scale >= 1e7
            );
            assert_eq!(
                growing.histogram.distinct_values(),
                bounded.histogram.distinct_values()
            );
            let full = full.finish();
            assert_eq!(bounded.finish(), full, "values up to {scale} s");
            assert_eq!(growing.finish(), full, "values up to {scale} s");
        }
    }

    #[test]
    fn percentiles_are_those_of_one_quantile_at_a_time() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for n in [1usize, 2, 7, 1_000, 100_000] {
            let mut r = PercentileRecorder::new();
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                r.record((x >> 11) as f64 / (1u64 << 53) as f64 * 40.0);
            }
            let q = |q: f64| r.histogram.value_at_quantile(q) as f64 / NS;
            let expected = (q(0.5), q(0.9), q(0.99), q(0.999));
            let p = r.finish();
            assert_eq!((p.p50, p.p90, p.p99, p.p999), expected, "{n} values");
        }
    }

    #[test]
    fn rounding_matches_f64_round() {
        let reference = |v: f64| v.round().clamp(0.0, MAX_NS as f64) as u64;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let check = |v: f64| assert_eq!(round_to_ns(v), reference(v), "{v:e}");
        for v in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            MAX_NS as f64 - 0.5,
            MAX_NS as f64 - 2.0,
            MAX_NS as f64,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            1e-300,
        ] {
            check(v);
        }
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(f64::from_bits(x));
            check((x >> 11) as f64 / (1u64 << 53) as f64 * 2e10);
            check((x % 2_000_001) as f64 / 2.0 - 500_000.0);
            check((x >> 8) as f64 / 16.0);
        }
    }

    #[test]
    fn percentiles_within_histogram_precision() {
        let p = Percentiles::of((1..=1000).map(|i| i as f64 / 1000.0));
        assert!((p.p50 - 0.5).abs() < 0.5 * 1e-3, "{p:?}");
        assert!((p.p99 - 0.99).abs() < 0.99 * 1e-3, "{p:?}");
        assert_eq!(p.max, 1.0);
        assert_eq!(Percentiles::of(std::iter::empty()), Percentiles::default());
    }
}
