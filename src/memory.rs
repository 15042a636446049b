//! Simulated Python memory: what `tracemalloc` would see.
//!
//! Every object the modelled program allocates (a Task and its coroutine, a
//! Handle in the ready queue, a TimerHandle, a Future, a done-callback
//! closure, ...) is charged to a [`Ledger`] when CPython would allocate it and
//! credited back when CPython would free it. Object sizes come from a
//! per-version [`Profile`] measured with `tracemalloc` (see
//! `profiles/README.md`). The containers that hold those objects grow and
//! shrink by CPython's own rules ([`container`]), because at 100,000 tasks
//! their over-allocation is a visible share of the peak.

pub mod blocks;
pub mod container;
pub mod profile;

pub use profile::{Obj, Profile};

/// Running totals of simulated Python memory.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    current: i64,
    peak: i64,
    allocations: u64,
}

impl Ledger {
    /// A ledger that starts at `baseline` bytes (memory the loop itself holds
    /// once tracing starts).
    pub fn with_baseline(baseline: i64) -> Self {
        Ledger {
            current: baseline,
            peak: baseline,
            allocations: 0,
        }
    }

    /// Charge an allocation of `bytes`.
    #[inline]
    pub fn alloc(&mut self, bytes: i64) {
        self.current += bytes;
        self.allocations += 1;
        if self.current > self.peak {
            self.peak = self.current;
        }
    }

    /// Charge `count` allocations at once whose bytes total `bytes`, as if
    /// each were charged in turn: right only when nothing is freed between
    /// them, so the peak is reached after the last.
    #[inline]
    pub fn alloc_many(&mut self, bytes: i64, count: u64) {
        self.alloc(bytes);
        self.allocations += count.saturating_sub(1);
    }

    /// Credit a free of `bytes`.
    #[inline]
    pub fn free(&mut self, bytes: i64) {
        self.current -= bytes;
    }

    /// Apply a signed change in a container's footprint (a resize). Counts as
    /// one allocation when it grows.
    #[inline]
    pub fn resize(&mut self, delta: i64) {
        if delta > 0 {
            self.alloc(delta);
        } else {
            self.free(-delta);
        }
    }

    /// Bytes live now.
    pub fn current(&self) -> i64 {
        self.current
    }

    /// Highest value of [`Ledger::current`] so far.
    pub fn peak(&self) -> i64 {
        self.peak
    }

    /// Number of allocations charged (container growth included).
    pub fn allocations(&self) -> u64 {
        self.allocations
    }
}
