//! The floor: a strategy's makespan from a bare heap of deadlines, the
//! least a heap-driven simulator can do, for comparison with bpsim.
//!
//! Under pure virtual time, the makespan of the strategies below depends on
//! the latencies alone, through a heap of deadlines:
//!
//! - `batching` starts `limit` requests, waits for the last, and repeats;
//! - the others keep `limit` requests in flight and start the next one, in
//!   request order, when one finishes: a `limit`-server queue. A freed
//!   semaphore permit, a done-callback, a task's own release and a worker
//!   pulling from the queue all start the next request at the same virtual
//!   time as the completion that freed the slot. So does `sliding_window`'s
//!   main task, refilling every slot freed when `asyncio.wait` returns.
//!
//! The floor keeps nothing else: no tasks, handles, futures, ready queue,
//! memory model or request log, and a deadline is the only thing a heap
//! entry holds. Its clock moves as bpsim's does, so its makespan is
//! bpsim's bit for bit; the tests check that on many workloads.
//! Its speed is about the least a heap-driven loop can cost (a faster
//! priority queue could shave a constant), and SimPy's time divided by it
//! is about the highest ratio such a loop can reach.
//!
//! The floor runs on either of two heaps ([`Heap`]): std's `BinaryHeap`,
//! the bare minimum, or bpsim's own timer heap (`asyncio::heapq`), which
//! makes exactly the element moves of CPython's `heapq` and so costs what
//! the timer queue costs bpsim. bpsim's time less the latter's is what
//! bpsim spends beyond its timer heap: `bpsim bench` prints it against the
//! concurrency limit.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

// The loop's timer heap, and its constants: the longest single wait, and
// how far past the clock a timer still fires with it.
use crate::asyncio::heapq::{Timer, TimerHeap};
use crate::asyncio::{CLOCK_RESOLUTION, MAXIMUM_SELECT_TIMEOUT};
use crate::strategy::StrategyKind;

/// The heap of deadlines the floor runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heap {
    /// std's `BinaryHeap` of the deadlines' bits: the least a heap costs.
    Bare,
    /// bpsim's timer heap, a port of CPython's `heapq` (its exact element
    /// moves, which fix the order of timers that share a deadline), with
    /// entries of bpsim's size: what the timer queue alone costs bpsim.
    Heapq,
}

/// The makespan the floor computes for `strategy` and the wall time of the
/// fastest of `repeat` runs (`None` for a strategy the floor does not
/// model).
pub fn time(
    strategy: StrategyKind,
    latencies: &[f64],
    limit: u64,
    repeat: u32,
) -> Option<(f64, Duration)> {
    Some(time_on(
        Heap::Bare,
        model(strategy)?,
        latencies,
        limit,
        repeat,
    ))
}

/// The makespan of `model` on `heap`, and the wall time of the fastest of
/// `repeat` runs.
pub fn time_on(
    heap: Heap,
    model: Model,
    latencies: &[f64],
    limit: u64,
    repeat: u32,
) -> (f64, Duration) {
    let mut best = Duration::MAX;
    let mut result = 0.0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let m = makespan_of(heap, model, std::hint::black_box(latencies), limit);
        best = best.min(t.elapsed());
        result = std::hint::black_box(m);
    }
    (result, best)
}

/// The makespan of `strategy` on `latencies` at `limit` requests in flight,
/// computed with a bare heap of deadlines (`None` for `rate_limited` and
/// `adaptive_limit`, which pace their starts by other rules).
pub fn makespan(strategy: StrategyKind, latencies: &[f64], limit: u64) -> Option<f64> {
    Some(makespan_of(Heap::Bare, model(strategy)?, latencies, limit))
}

/// How the floor computes a strategy's makespan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Batches of `limit` requests, each waiting for its last.
    Batches,
    /// A `limit`-server queue.
    Servers,
}

/// The floor's model of `strategy` (`None` for `rate_limited` and
/// `adaptive_limit`, which pace their starts by other rules).
pub fn model(strategy: StrategyKind) -> Option<Model> {
    match strategy {
        StrategyKind::Batching => Some(Model::Batches),
        StrategyKind::SemaphoreInTask
        | StrategyKind::GatedSpawnCallback
        | StrategyKind::GatedSpawn
        | StrategyKind::WorkerPool
        | StrategyKind::SlidingWindow => Some(Model::Servers),
        StrategyKind::RateLimited | StrategyKind::AdaptiveLimit => None,
    }
}

/// The makespan of `model` on `latencies` at `limit` requests in flight,
/// computed on `heap` (the same value on either).
pub fn makespan_of(heap: Heap, model: Model, latencies: &[f64], limit: u64) -> f64 {
    let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
    match (heap, model) {
        (Heap::Bare, Model::Batches) => batches::<BinaryHeap<Reverse<u64>>>(latencies, limit),
        (Heap::Bare, Model::Servers) => servers::<BinaryHeap<Reverse<u64>>>(latencies, limit),
        (Heap::Heapq, Model::Batches) => batches::<TimerHeap>(latencies, limit),
        (Heap::Heapq, Model::Servers) => servers::<TimerHeap>(latencies, limit),
    }
}

/// A min-heap of deadlines: the floor needs nothing more.
trait Deadlines {
    fn with_capacity(capacity: usize) -> Self;
    fn push(&mut self, when: f64);
    /// The earliest deadline.
    fn head(&self) -> Option<f64>;
    fn pop(&mut self);
    fn is_empty(&self) -> bool;
}

/// Deadlines as their bits: for the non-negative finite values a deadline
/// can be, the bits order as the values do.
impl Deadlines for BinaryHeap<Reverse<u64>> {
    #[inline]
    fn with_capacity(capacity: usize) -> Self {
        BinaryHeap::with_capacity(capacity)
    }
    #[inline]
    fn push(&mut self, when: f64) {
        // `+ 0.0` turns a -0.0 deadline into +0.0, which orders the same.
        BinaryHeap::push(self, Reverse((when + 0.0).to_bits()));
    }
    #[inline]
    fn head(&self) -> Option<f64> {
        self.peek().map(|&Reverse(bits)| f64::from_bits(bits))
    }
    #[inline]
    fn pop(&mut self) {
        BinaryHeap::pop(self);
    }
    #[inline]
    fn is_empty(&self) -> bool {
        BinaryHeap::is_empty(self)
    }
}

/// bpsim's timer heap, with entries as the loop makes them (their payload
/// unused here).
impl Deadlines for TimerHeap {
    #[inline]
    fn with_capacity(capacity: usize) -> Self {
        TimerHeap::from_buffer(Vec::with_capacity(capacity))
    }
    #[inline]
    fn push(&mut self, when: f64) {
        TimerHeap::push(self, Timer::new(when, 0, 0));
    }
    #[inline]
    fn head(&self) -> Option<f64> {
        self.peek().map(Timer::when)
    }
    #[inline]
    fn pop(&mut self) {
        TimerHeap::pop(self);
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The loop's `end_time` (`asyncio::event_loop`), in the form it had before the
/// loop took a branch instead: the same value for every `now` (the test
/// below, and the loop's own). In the floor's few instructions per timer
/// the branch made the floor 10-25 % slower (`bpsim bench`, 2026-12-07),
/// while it saved the loop 16 instructions per iteration; the floor keeps
/// the faster form for it, so that it stays the least a simulator needs.
#[inline]
fn end_time(now: f64) -> f64 {
    (now + CLOCK_RESOLUTION).max(now.next_up())
}

/// A min-heap of deadlines and the virtual clock, which moves as bpsim's
/// loop moves it under pure virtual time.
struct Clock<D> {
    now: f64,
    deadlines: D,
}

impl<D: Deadlines> Clock<D> {
    fn new(capacity: usize) -> Self {
        Clock {
            now: 0.0,
            deadlines: D::with_capacity(capacity),
        }
    }

    /// Start a request of `latency` seconds now (`call_at(now + latency)`).
    #[inline]
    fn start(&mut self, latency: f64) {
        self.deadlines.push(self.now + latency);
    }

    /// Wait for the next deadline and fire every timer due with it; returns
    /// how many fired (0 when no timer is left, or after a wait clamped to
    /// [`MAXIMUM_SELECT_TIMEOUT`]).
    #[inline]
    fn fire(&mut self) -> usize {
        let Some(when) = self.deadlines.head() else {
            return 0;
        };
        if when > self.now {
            self.now = if when - self.now > MAXIMUM_SELECT_TIMEOUT {
                self.now + MAXIMUM_SELECT_TIMEOUT
            } else {
                when
            };
        }
        let end = end_time(self.now);
        let mut fired = 0;
        while let Some(head) = self.deadlines.head() {
            if head >= end {
                break;
            }
            self.deadlines.pop();
            fired += 1;
        }
        fired
    }
}

/// `batching`: a batch of `limit` requests starts at once; the next batch
/// starts when the last of them has finished.
fn batches<D: Deadlines>(latencies: &[f64], limit: usize) -> f64 {
    let mut clock = Clock::<D>::new(limit.min(latencies.len()));
    for batch in latencies.chunks(limit) {
        for &latency in batch {
            clock.start(latency);
        }
        while !clock.deadlines.is_empty() {
            clock.fire();
        }
    }
    clock.now
}

/// A `limit`-server queue: the first `limit` requests start at once, and
/// each completion starts the next request, in order.
fn servers<D: Deadlines>(latencies: &[f64], limit: usize) -> f64 {
    let mut clock = Clock::<D>::new(limit.min(latencies.len()));
    let mut next = latencies.iter();
    for latency in next.by_ref().take(limit) {
        clock.start(*latency);
    }
    while !clock.deadlines.is_empty() {
        for latency in next.by_ref().take(clock.fire()) {
            clock.start(*latency);
        }
    }
    clock.now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asyncio::Config;
    use crate::strategy::{Workload, simulate};
    use proptest::prelude::*;

    /// The floor's end of an iteration is the loop's, bit for bit.
    #[test]
    fn the_floors_end_time_is_the_loops() {
        let mut now = 0.0_f64;
        for step in [1e-9, 0.1, 0.123_456_789, 3600.0, 1e6, 2e7, 1e9] {
            for _ in 0..1000 {
                assert_eq!(
                    end_time(now).to_bits(),
                    crate::asyncio::end_time(now).to_bits(),
                    "{now:e}"
                );
                now += step;
            }
        }
    }

    fn bpsim_makespan(kind: StrategyKind, latencies: &[f64], limit: u64) -> f64 {
        let w = Workload::new(latencies.to_vec().into(), limit);
        simulate(kind, &w, &Config::default())
            .expect("runs")
            .report
            .duration_s
    }

    /// The strategies the floor models.
    fn modelled() -> impl Iterator<Item = StrategyKind> {
        StrategyKind::ALL
            .into_iter()
            .filter(|&kind| model(kind).is_some())
    }

    fn assert_agrees(latencies: &[f64], limit: u64) {
        for kind in modelled() {
            let engine = bpsim_makespan(kind, latencies, limit);
            for heap in [Heap::Bare, Heap::Heapq] {
                let floor = makespan_of(heap, model(kind).expect("modelled"), latencies, limit);
                assert_eq!(
                    floor.to_bits(),
                    engine.to_bits(),
                    "{} at limit {limit} over {} requests: floor ({heap:?}) {floor}, bpsim {engine}",
                    kind.name(),
                    latencies.len()
                );
            }
        }
    }

    #[test]
    fn agrees_with_bpsim_on_the_blog_workload() {
        let source =
            crate::latency::LatencySource::Distribution(crate::latency::Distribution::Uniform {
                low: 0.1,
                high: 0.2,
            });
        let latencies = crate::latency::workload(&source, 1, 20_000).expect("samples");
        for limit in [1, 7, 500, 20_000, 50_000] {
            assert_agrees(&latencies, limit);
        }
    }

    #[test]
    fn agrees_with_bpsim_on_ties_zeros_and_near_ties() {
        // Equal deadlines, zero latencies, and deadlines within the clock's
        // resolution of each other (they fire together without moving it).
        let latencies = [
            0.5,
            0.5,
            0.0,
            0.25,
            0.5,
            0.5 + 4e-10,
            0.0,
            0.25,
            1.0,
            0.5 + 2e-9,
            0.125,
        ];
        for limit in 1..=12 {
            assert_agrees(&latencies, limit);
        }
        assert_agrees(&[], 3);
        // Waits longer than `MAXIMUM_SELECT_TIMEOUT`, taken in steps.
        assert_agrees(&[100_000.0, 0.5, 200_000.25, 86_400.0], 2);
    }

    #[test]
    fn the_floor_models_all_but_the_paced_strategies() {
        let names: Vec<&str> = modelled().map(StrategyKind::name).collect();
        assert_eq!(
            names,
            [
                "batching",
                "semaphore_in_task",
                "gated_spawn_callback",
                "gated_spawn",
                "worker_pool",
                "sliding_window"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Latencies on a coarse grid (many ties) or anywhere in [0, 2).
        #[test]
        fn agrees_with_bpsim_on_random_workloads(
            latencies in prop::collection::vec(
                prop_oneof![
                    (0u32..8).prop_map(|k| f64::from(k) * 0.125),
                    0.0f64..2.0,
                ],
                0..200,
            ),
            limit in 1u64..40,
        ) {
            assert_agrees(&latencies, limit);
        }
    }
}
