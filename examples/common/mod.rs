//! What the timing examples share.

/// `n` latencies in [0.1, 0.2) from a fixed 64-bit LCG: a workload with
/// the blog's shape that costs nothing to generate (the examples time the
/// engine, not the ChaCha streams).
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
