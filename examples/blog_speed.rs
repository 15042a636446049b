//! Times the four blog strategies on 100,000 requests (a quick profiling
//! target: `cargo run --release --example blog_speed [N] [C]`).
use bpsim::asyncio::Config;
use bpsim::strategy::{StrategyKind, Workload, simulate};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("N"));
    let c: u64 = std::env::args()
        .nth(2)
        .map_or(500, |s| s.parse().expect("C"));
    let mut x: u64 = 1;
    let lat: Vec<f64> = (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.1 + 0.1 * ((x >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    let w = Workload::new(lat.into(), c);
    let cfg = Config::default();
    for k in StrategyKind::ALL {
        let t = std::time::Instant::now();
        let o = simulate(k, &w, &cfg).expect("runs");
        println!(
            "{:22} {:>10.3} s  {:>9} it  {:?}",
            k.name(),
            o.report.duration_s,
            o.report.loop_iterations,
            t.elapsed()
        );
    }
}
