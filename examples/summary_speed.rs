//! Times the summary of one run (`StrategyResult::from_outcome`: one pass
//! over the request log into two percentile histograms), best of 50:
//! `cargo run --release --example summary_speed -- [strategy] [N] [C]`.

mod common;

use bpsim::asyncio::Config;
use bpsim::metrics::StrategyResult;
use bpsim::strategy::{Workload, simulate};

fn main() {
    let (kind, n, c, _) = common::strategy_n_c();
    let w = Workload::new(common::blog_latencies(n).into(), c);
    let outcome = simulate(kind, &w, &Config::default()).expect("runs");
    let mut best = std::time::Duration::MAX;
    for _ in 0..50 {
        let t = std::time::Instant::now();
        std::hint::black_box(StrategyResult::from_outcome(std::hint::black_box(&outcome)));
        best = best.min(t.elapsed());
    }
    println!(
        "{}: summary of {n} requests, best {:.3} ms ({:.1} ns/request)",
        kind.name(),
        best.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e9 / n.max(1) as f64
    );
}
