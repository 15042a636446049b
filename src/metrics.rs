//! What a run reports per strategy: the loop's measurements plus per-request
//! percentiles.

use hdrhistogram::Histogram;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Serialize, Serializer};

use crate::server::client::{Attempts, Status};

use crate::strategy::Outcome;

/// The mean of `values` (0 for none), summed with Neumaier's compensation:
/// the sum is as good as one rounding of the exact sum allows, so that,
/// say, the mean of 100,000 latencies of 0.1 s is 0.1, not the
/// 0.09999999999999981 a plain running sum gives. The order of `values`
/// is kept, so the result is reproducible.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let (mut sum, mut compensation) = (0.0_f64, 0.0_f64);
    for &x in values {
        let t = sum + x;
        compensation += if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
        sum = t;
    }
    (sum + compensation) / values.len() as f64
}

/// Percentiles of a per-request time, in seconds.
///
/// Serialises its [`Percentiles::fields`], in their order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
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

impl Percentiles {
    /// Every percentile with its name, in the one order `summary.json`
    /// (`"p50"`) and the CSVs (`total_p50_s`) list them.
    pub fn fields(&self) -> [(&'static str, f64); 5] {
        // Destructured, so that a new field cannot be left out unnoticed.
        let Percentiles {
            p50,
            p90,
            p99,
            p999,
            max,
        } = *self;
        [
            ("p50", p50),
            ("p90", p90),
            ("p99", p99),
            ("p999", p999),
            ("max", max),
        ]
    }
}

impl Serialize for Percentiles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(serializer, "Percentiles", self.fields())
    }
}

/// A struct serialised as its named `fields`, in their order (the one list
/// that `summary.csv` and `summary.json` share).
fn serialize_fields<S: Serializer, T: Serialize, const N: usize>(
    serializer: S,
    name: &'static str,
    fields: [(&'static str, T); N],
) -> Result<S::Ok, S::Error> {
    let mut s = serializer.serialize_struct(name, N)?;
    for (key, value) in fields {
        s.serialize_field(key, &value)?;
    }
    s.end()
}

/// Histogram resolution: 3 significant digits (0.1 % relative error), in
/// nanoseconds while every value is below 2^62 ns (146 years, `MAX_NS`),
/// in coarser units from the first value that is not (see
/// [`PercentileRecorder`]).
const SIGFIG: u8 = 3;
const NS: f64 = 1e9;
/// The most units a histogram holds: 2^62, which `i64` and `f64` both
/// hold exactly (hdrhistogram takes up to 2^63).
const MAX_NS: u64 = 1 << 62;

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
/// recorded in one pass over a run's requests, or while the run goes.
///
/// Values are counted in nanoseconds, in an HDR histogram that grows to the
/// largest value it is given. A value of 146 years or more (a wait behind
/// a million day-long requests) switches it to microseconds, then
/// milliseconds, and so on: each step re-counts what was recorded in units
/// a thousand times coarser, so that no percentile is capped, and every
/// one of at least a 4.6e12th of the largest value keeps three
/// significant digits.
#[derive(Debug)]
pub struct PercentileRecorder {
    /// Counts not yet in `histogram`, at the histogram's own bucket
    /// indexes ([`bucket_index`]): counting is one shift and one add, where
    /// `Histogram::record` checks ranges and bounds and resizes on every
    /// value. Moved into `histogram` by [`PercentileRecorder::settle`].
    counts: Vec<u64>,
    histogram: Histogram<u64>,
    /// Histogram units per second: 1e9 until a value needs coarser ones.
    per_second: f64,
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
        PercentileRecorder {
            counts: Vec::new(),
            histogram: Self::histogram(),
            per_second: NS,
            max: 0.0,
        }
    }

    /// An empty histogram that grows as values come: its buckets depend on
    /// the lowest value and the precision only, not on how far it has grown.
    fn histogram() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 1000, SIGFIG)
            .expect("1 <= 2 <= 1000, and a valid precision");
        h.auto(true);
        h
    }

    /// Record one value, in seconds.
    #[inline]
    pub fn record(&mut self, v: f64) {
        // `self.max.max(v)` without its NaN handling (7 instructions, run
        // for every request): the same for every `v`, since `max` starts at
        // 0.0 and a NaN `v` is never above it.
        if v > self.max {
            self.max = v;
        }
        let mut units = v * self.per_second;
        if units >= MAX_NS as f64 {
            units = self.coarsen_for(v);
        }
        let i = bucket_index(round_to_ns(units));
        // One bounds test: the count's own (a test before growing, then the
        // index's, was two).
        match self.counts.get_mut(i) {
            Some(count) => *count += 1,
            None => self.grow_to(i),
        }
    }

    /// Make room for the count at index `i`, and count one there.
    #[cold]
    fn grow_to(&mut self, i: usize) {
        self.counts.resize(i + 1, 0);
        self.counts[i] = 1;
    }

    /// Move the pending counts into the histogram: each bucket's count
    /// recorded at the bucket's lowest value, which is in the bucket, so
    /// the histogram's counts are those recording every value would give.
    fn settle(&mut self) {
        for (i, &n) in self.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let value = bucket_value(i);
            // A growing histogram only fails to grow past what `usize`
            // indexes, which `MAX_NS` is far below; clamping is then the
            // best it can do.
            if self.histogram.record_n(value, n).is_err() {
                self.histogram.saturating_record_n(value, n);
            }
        }
        self.counts.clear();
    }

    /// Switch to units a thousand times coarser until `v` seconds fits,
    /// re-counting what was recorded; `v` in the new units. Gives up past
    /// units of 1,000 s (values of 1e19 s, beyond any run's duration).
    #[cold]
    fn coarsen_for(&mut self, v: f64) -> f64 {
        self.settle();
        while v * self.per_second >= MAX_NS as f64 && self.per_second > 1e-3 {
            let mut coarser = Self::histogram();
            for bucket in self.histogram.iter_recorded() {
                let value = round_to_ns(bucket.value_iterated_to() as f64 / 1000.0);
                if coarser.record_n(value, bucket.count_at_value()).is_err() {
                    coarser.saturating_record_n(value, bucket.count_at_value());
                }
            }
            self.histogram = coarser;
            self.per_second /= 1000.0;
        }
        v * self.per_second
    }

    /// The percentiles of what was recorded (zeros if nothing was).
    pub fn finish(mut self) -> Percentiles {
        self.settle();
        let h = &self.histogram;
        if h.is_empty() {
            return Percentiles::default();
        }
        // One pass over the counts for all four, each exactly what
        // `value_at_quantile` gives: the highest value of its bucket, which
        // can lie above every value recorded, so no more than the largest
        // (a p99 longer than the whole run, found by a hostile-input pass).
        let max = self.max;
        let mut q = h
            .value_at_quantiles([0.5, 0.9, 0.99, 0.999])
            .map(|v| (v as f64 / self.per_second).min(max));
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

/// Where a [`PercentileRecorder`] counts `units`: its index in
/// the counts of an HDR histogram of lowest value 1 and 3 significant
/// digits (2,048 sub-buckets, the lower half of them used by bucket 0
/// only), as `Histogram::index_for` computes it.
#[inline]
fn bucket_index(units: u64) -> usize {
    /// `Histogram::leading_zero_count_base`: 64 less the unit magnitude
    /// (0), the sub-bucket half count's magnitude (10) and 1.
    const BASE: u32 = 53;
    const SUB_BUCKET_MASK: u64 = 2047;
    let bucket = BASE - (units | SUB_BUCKET_MASK).leading_zeros();
    let sub = (units >> bucket) as usize;
    // `((bucket + 1) << 10) + sub - 1024`.
    ((bucket as usize) << 10) + sub
}

/// The lowest value counted at `index`, as `Histogram::value_for` computes
/// it: the inverse of [`bucket_index`].
fn bucket_value(index: usize) -> u64 {
    let (bucket, sub) = match index >> 10 {
        0 => (0, index as u64),
        b => (b - 1, (index as u64 & 1023) + 1024),
    };
    sub << bucket
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
    // a compare, a branch or blend, and several more. Unchecked: `as`
    // would test again for NaN and for values past `i64::MAX` (five more
    // instructions for each of two values per request), which the tests
    // above rule out.
    // SAFETY: `x` is not NaN, above 0 and below `MAX_NS`, which is below
    // 2^63, so its truncation is an `i64`.
    let t: i64 = unsafe { x.to_int_unchecked() };
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
#[derive(Debug, Default)]
pub struct RequestTally {
    completed: u64,
    succeeded: u64,
    errors: u64,
    timeouts: u64,
    retries: u64,
    /// Wait and total times not yet in the histograms: recorded a batch at
    /// a time, so that the histograms' counts (hundreds of kilobytes) do
    /// not compete with the running simulation for the cache at every
    /// request.
    pending: Vec<(f64, f64)>,
    wait: PercentileRecorder,
    total: PercentileRecorder,
}

/// Requests a [`RequestTally`] holds before it records them (16 KB).
const TALLY_BATCH: usize = 1024;

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
        if self.pending.len() == TALLY_BATCH {
            self.flush();
        } else if self.pending.capacity() == 0 {
            self.pending.reserve_exact(TALLY_BATCH);
        }
        self.pending.push((start_s - created_s, end_s - created_s));
    }

    /// Records the pending times, in the order they came.
    #[inline(never)]
    fn flush(&mut self) {
        for &(wait, total) in &self.pending {
            self.wait.record(wait);
            self.total.record(total);
        }
        self.pending.clear();
    }

    /// The totals and percentiles of what was counted.
    pub fn finish(mut self) -> RequestStats {
        self.flush();
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
///
/// Serialises its [`StrategyResult::fields`], in their order: the one
/// list that both `summary.csv` and `summary.json` are written from.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
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

/// The value of one of a [`StrategyResult`]'s fields (see
/// [`StrategyResult::fields`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field<'a> {
    /// A name (the strategy's).
    Text(&'a str),
    /// A count.
    Count(u64),
    /// Bytes (signed: memory is a difference from when tracing started).
    Bytes(i64),
    /// Seconds.
    Seconds(f64),
    /// Percentiles of a per-request time: one nested object in
    /// `summary.json` (`"total_s": {"p50": ...}`), a column per percentile
    /// in the CSVs (`total_p50_s`, see [`Field::percentile_column`]).
    Percentiles(&'a Percentiles),
}

impl Field<'_> {
    /// The CSV column of percentile `p` (`"p50"`) of the field `name`
    /// (`"total_s"`): `total_p50_s`.
    pub fn percentile_column(name: &str, p: &str) -> String {
        let stem = name.strip_suffix("_s").unwrap_or(name);
        format!("{stem}_{p}_s")
    }
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Field::Text(text) => serializer.serialize_str(text),
            Field::Count(n) => serializer.serialize_u64(n),
            Field::Bytes(n) => serializer.serialize_i64(n),
            Field::Seconds(x) => serializer.serialize_f64(x),
            Field::Percentiles(p) => p.serialize(serializer),
        }
    }
}

impl Serialize for StrategyResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(serializer, "StrategyResult", self.fields())
    }
}

impl StrategyResult {
    /// Every field with its name (as `summary.json` names it), in the one
    /// order in which `summary.csv` and `summary.json` both list them, so
    /// that the two cannot drift apart: the scalar fields as in the table
    /// (duration, peak memory, peak live tasks, loop iterations), the
    /// counts, then the per-request percentiles.
    pub fn fields(&self) -> [(&'static str, Field<'_>); 17] {
        // Destructured, so that a new field cannot be left out unnoticed.
        let StrategyResult {
            strategy,
            duration_s,
            peak_live_tasks,
            peak_memory_bytes,
            allocations,
            loop_iterations,
            completed,
            succeeded,
            failed,
            errors,
            timeouts,
            retries,
            tasks_created,
            final_memory_bytes,
            peak_timers,
            wait_s,
            total_s,
        } = self;
        [
            ("strategy", Field::Text(strategy)),
            ("duration_s", Field::Seconds(*duration_s)),
            ("peak_memory_bytes", Field::Bytes(*peak_memory_bytes)),
            ("peak_live_tasks", Field::Count(*peak_live_tasks)),
            ("loop_iterations", Field::Count(*loop_iterations)),
            ("allocations", Field::Count(*allocations)),
            ("completed", Field::Count(*completed)),
            ("succeeded", Field::Count(*succeeded)),
            ("failed", Field::Count(*failed)),
            ("errors", Field::Count(*errors)),
            ("timeouts", Field::Count(*timeouts)),
            ("retries", Field::Count(*retries)),
            ("tasks_created", Field::Count(*tasks_created)),
            ("final_memory_bytes", Field::Bytes(*final_memory_bytes)),
            ("peak_timers", Field::Count(*peak_timers)),
            ("wait_s", Field::Percentiles(wait_s)),
            ("total_s", Field::Percentiles(total_s)),
        ]
    }

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

    /// `n` pseudo-random values in `[0, scale)`.
    fn values(x: &mut u64, n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                (*x >> 11) as f64 / (1u64 << 53) as f64 * scale
            })
            .collect()
    }

    #[test]
    fn bucket_indexes_are_the_histograms_own() {
        let h = PercentileRecorder::histogram();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let check = |units: u64| {
            let i = bucket_index(units);
            assert_eq!(bucket_value(i), h.lowest_equivalent(units), "{units}");
            assert_eq!(bucket_index(bucket_value(i)), i, "{units}");
        };
        for units in (0..5000).chain([MAX_NS - 1, MAX_NS, u64::MAX >> 1]) {
            check(units);
        }
        for _ in 0..100_000 {
            crate::xorshift::next(&mut x);
            check(x >> (x % 64).max(1));
        }
    }

    #[test]
    fn below_1e7_s_a_growing_recorder_is_a_full_range_nanosecond_histogram() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for scale in [1e-9, 1e-3, 0.2, 40.0, 1e6, 1e9] {
            let values = values(&mut x, 10_000, scale);
            let mut full = Histogram::<u64>::new_with_bounds(1, MAX_NS, SIGFIG).unwrap();
            let mut growing = PercentileRecorder::new();
            for &v in &values {
                full.saturating_record(round_to_ns(v * NS));
                growing.record(v);
            }
            assert_eq!(growing.per_second, NS);
            let largest = values.iter().copied().fold(0.0, f64::max);
            let q = |q: f64| (full.value_at_quantile(q) as f64 / NS).min(largest);
            let p = growing.finish();
            assert_eq!(
                (p.p50, p.p90, p.p99, p.p999),
                (q(0.5), q(0.9), q(0.99), q(0.999)),
                "values up to {scale} s"
            );
        }
    }

    #[test]
    fn long_waits_keep_three_significant_digits() {
        // Found by a hostile-input pass: 10,000 requests of 10,000 s at
        // limit 1 wait up to 1e8 s, and every percentile read 1e7 s.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for (small, scale) in [(0, 1e8), (5_000, 1e12), (9_000, 1e16), (100, 1e18)] {
            // Small values as small as the precision allows: a 4.6e12th
            // of the largest.
            let mut v: Vec<f64> = values(&mut x, small, 1.0)
                .into_iter()
                .map(|u| (1.0 + u) * scale / 4.6e12)
                .collect();
            v.extend(values(&mut x, 10_000 - small, scale));
            let mut r = PercentileRecorder::new();
            for &value in &v {
                r.record(value);
            }
            v.sort_by(f64::total_cmp);
            let exact = |q: f64| v[((q * v.len() as f64).ceil() as usize).max(1) - 1];
            let p = r.finish();
            for (got, q) in [(p.p50, 0.5), (p.p90, 0.9), (p.p99, 0.99), (p.p999, 0.999)] {
                let want = exact(q);
                assert!(
                    (got - want).abs() <= 2e-3 * want + 1e-6,
                    "p{q} of values up to {scale} s: {got} against {want}"
                );
            }
            assert_eq!(p.max, v[v.len() - 1]);
        }
    }

    #[test]
    fn a_mean_is_compensated() {
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(mean(&vec![0.1; 100_000]), 0.1);
        assert_eq!(mean(&[30.119724; 5]), 30.119724);
        // Large and small terms: the small ones are not lost.
        assert_eq!(mean(&[1e16, 1.0, -1e16, 1.0]), 0.5);
    }

    #[test]
    fn percentiles_are_those_of_one_quantile_at_a_time() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for n in [1usize, 2, 7, 1_000, 100_000] {
            let mut r = PercentileRecorder::new();
            for _ in 0..n {
                crate::xorshift::next(&mut x);
                r.record((x >> 11) as f64 / (1u64 << 53) as f64 * 40.0);
            }
            r.settle();
            let q = |q: f64| (r.histogram.value_at_quantile(q) as f64 / NS).min(r.max);
            let expected = (q(0.5), q(0.9), q(0.99), q(0.999));
            let p = r.finish();
            assert_eq!((p.p50, p.p90, p.p99, p.p999), expected, "{n} values");
            assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max);
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
            crate::xorshift::next(&mut x);
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
