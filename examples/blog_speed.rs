//! Times the four blog strategies on N requests (default 100,000, limit
//! 500, uniform(0.1, 0.2) latencies) and prints wall time, ns per request
//! and ns per loop iteration, best of 5 runs:
//! `cargo run --release --example blog_speed [N] [C]`.

mod common;

use bpsim::asyncio::Config;
use bpsim::strategy::{StrategyKind, Workload, simulate};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("N"));
    let c: u64 = std::env::args()
        .nth(2)
        .map_or(500, |s| s.parse().expect("C"));
    let lat = common::blog_latencies(n);
    let w = Workload::new(lat.into(), c);
    let cfg = Config::default();
    println!(
        "{:<22} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "strategy", "virtual (s)", "iterations", "wall (ms)", "ns/request", "ns/iter"
    );
    for k in StrategyKind::ALL {
        let mut best = std::time::Duration::MAX;
        let mut report = None;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let o = simulate(k, &w, &cfg).expect("runs");
            best = best.min(t.elapsed());
            report = Some(o.report);
        }
        let r = report.expect("ran");
        let ns = best.as_nanos() as f64;
        println!(
            "{:<22} {:>12.3} {:>12} {:>10.2} {:>12.1} {:>10.1}",
            k.name(),
            r.duration_s,
            r.loop_iterations,
            ns / 1e6,
            ns / n.max(1) as f64,
            ns / r.loop_iterations as f64
        );
    }
}
