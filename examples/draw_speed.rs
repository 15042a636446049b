//! Times the drawing of the blog's workload (uniform(0.1, 0.2), seed 1):
//! `cargo run --release --example draw_speed -- [N]` (default 100000)
//! prints the best of 5 draws of N latencies, in ms and ns per request.
//!
//! `bpsim run` draws the workload once, before its strategies run; this is
//! that step alone (one ChaCha8 stream per request, see
//! `src/latency/stream.rs`).

use bpsim::latency::{self, Distribution, LatencySource};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("N: a request count"));
    let source = LatencySource::Distribution(Distribution::Uniform {
        low: 0.1,
        high: 0.2,
    });
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let latencies = latency::workload(&source, 1, n).expect("the blog's workload");
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(latencies);
    }
    println!(
        "{n} latencies: best {:.2} ms, {:.1} ns/request",
        best * 1e3,
        best * 1e9 / n as f64
    );
}
