//! Times the summary of one run: its requests counted into a
//! [`RequestTally`] (the totals and the two percentile histograms a run
//! keeps as its requests finish), here from a logged run's records, best
//! of 50: `cargo run --release --example summary_speed -- [strategy] [N] [C]`.

mod common;

use bpsim::asyncio::Config;
use bpsim::metrics::RequestTally;
use bpsim::server::client::Attempts;
use bpsim::strategy::{Workload, simulate};

fn main() {
    let (kind, n, c, _) = common::strategy_n_c();
    let w = Workload::new(common::blog_latencies(n).into(), c);
    let outcome = simulate(kind, &w, &Config::default()).expect("runs");
    let mut best = std::time::Duration::MAX;
    for _ in 0..50 {
        let t = std::time::Instant::now();
        let mut tally = RequestTally::default();
        for r in std::hint::black_box(&outcome.requests).iter() {
            let attempts = Attempts {
                status: r.status,
                attempts: r.attempts,
                errors: r.errors,
                timeouts: r.timeouts,
            };
            tally.record(r.created_s, r.start_s, r.end_s, &attempts);
        }
        let stats = std::hint::black_box(tally.finish());
        best = best.min(t.elapsed());
        assert_eq!(stats, outcome.stats);
    }
    println!(
        "{}: summary of {n} requests, best {:.3} ms ({:.1} ns/request)",
        kind.name(),
        best.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e9 / n.max(1) as f64
    );
}
