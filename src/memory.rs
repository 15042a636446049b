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
pub mod free_lists;
pub mod profile;
pub mod task_names;

pub use profile::{Batches, Obj, Profile};
pub use task_names::{TaskNames, TaskNumbers};

/// Running totals of simulated Python memory.
///
/// Kept as the peak and the headroom below it (`peak - current`) rather
/// than as the current total and the peak: an allocation then subtracts
/// from the headroom and tests its sign in one instruction, instead of
/// adding to the total and comparing it with the peak, and a free adds to
/// the headroom. About ten allocations and ten frees per request make
/// this 1-2 % of a run's instructions. Integer arithmetic, so the figures
/// are the same either way.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Highest total so far.
    peak: i64,
    /// `peak` less the bytes live now: never negative.
    headroom: i64,
    allocations: u64,
}

impl Ledger {
    /// A ledger that starts at `baseline` bytes (memory the loop itself holds
    /// once tracing starts).
    pub fn with_baseline(baseline: i64) -> Self {
        Ledger {
            peak: baseline,
            headroom: 0,
            allocations: 0,
        }
    }

    /// Charge an allocation of `bytes`.
    #[inline]
    pub fn alloc(&mut self, bytes: i64) {
        self.allocations += 1;
        self.alloc_uncounted(bytes);
    }

    /// Charge `bytes` for an allocation that the caller counts itself (the
    /// loop counts the objects it charges, and so learns how many are live
    /// from the same counter, instead of counting each twice).
    #[inline]
    pub fn alloc_uncounted(&mut self, bytes: i64) {
        self.headroom -= bytes;
        if self.headroom < 0 {
            self.peak -= self.headroom;
            self.headroom = 0;
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
        self.headroom += bytes;
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
        self.peak - self.headroom
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

#[cfg(test)]
mod tests {
    use super::Ledger;

    /// The ledger agrees with the plain running total and its maximum on
    /// every step of a long random sequence of allocations, frees and
    /// resizes, the running total dipping below its baseline included.
    #[test]
    fn headroom_gives_the_running_total_and_its_peak() {
        let mut ledger = Ledger::with_baseline(1_000);
        let (mut current, mut peak, mut allocations) = (1_000_i64, 1_000_i64, 0_u64);
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..100_000 {
            crate::xorshift::next(&mut x);
            let bytes = (x >> 40) as i64 % 5_000;
            match x % 5 {
                4 => {
                    ledger.alloc_uncounted(bytes);
                    current += bytes;
                }
                0 => {
                    ledger.alloc(bytes);
                    current += bytes;
                    allocations += 1;
                }
                1 => {
                    ledger.free(bytes);
                    current -= bytes;
                }
                2 => {
                    let delta = bytes - 2_500;
                    ledger.resize(delta);
                    current += delta;
                    allocations += u64::from(delta > 0);
                }
                _ => {
                    ledger.alloc_many(bytes, 3);
                    current += bytes;
                    allocations += 3;
                }
            }
            peak = peak.max(current);
            assert_eq!(
                (ledger.current(), ledger.peak(), ledger.allocations()),
                (current, peak, allocations)
            );
        }
    }
}
