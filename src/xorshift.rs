//! Marsaglia's xorshift64 (shifts 13, 7, 17): a seeded stream of test
//! inputs, for the unit tests that compare a fast path with a plain model
//! over many values. Tests only: the workload's draws come from ChaCha
//! ([`crate::latency`]).

/// Advance the state `x` one step, and return it (the next value).
pub(crate) fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}
