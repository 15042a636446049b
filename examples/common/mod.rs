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
