//! What the timing examples share.

/// `n` latencies in [0.1, 0.2) from a fixed 64-bit LCG: a workload with
/// the blog's shape that costs nothing to generate (the examples time the
/// engine, not the ChaCha streams).
#[allow(dead_code)] // Not every example draws them.
pub(crate) fn blog_latencies(n: usize) -> Vec<f64> {
    let mut x: u64 = 1;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.1 + 0.1 * ((x >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The arguments most examples start with, `[strategy] [N] [C]`
/// (defaults: `semaphore_in_task`, 100,000 requests, limit 500), and the
/// rest of them.
#[allow(dead_code)] // Not every example takes them.
pub(crate) fn strategy_n_c() -> (
    bpsim::strategy::StrategyKind,
    usize,
    u64,
    impl Iterator<Item = String>,
) {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "semaphore_in_task".into());
    let kind = bpsim::strategy::StrategyKind::parse(&name).expect("strategy");
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let c: u64 = args.next().map_or(500, |s| s.parse().expect("C"));
    (kind, n, c, args)
}

/// `BPSIM_HEAP_SHIFT=<bytes>`: leak an allocation of that size first, which
/// moves everything the process allocates after it. One binary's time
/// depends on where its buffers fall (see `bpsim bench`'s `--processes`);
/// this moves them by hand. Call it first thing in `main`.
#[allow(dead_code)] // Not every example is timed across layouts.
pub(crate) fn shift_heap() {
    if let Ok(shift) = std::env::var("BPSIM_HEAP_SHIFT") {
        let bytes: usize = shift.parse().expect("BPSIM_HEAP_SHIFT: a number of bytes");
        std::mem::forget(std::hint::black_box(vec![0u8; bytes]));
    }
}
