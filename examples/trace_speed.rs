//! Wall time of each strategy on a latency trace, best of 5, one line per
//! strategy: `name seconds` (used by bench/peers/run.py):
//! `cargo run --release --example trace_speed -- TRACE [C]`.

use bpsim::asyncio::Config;
use bpsim::latency::Trace;
use bpsim::strategy::{StrategyKind, Workload, simulate};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .expect("usage: trace_speed TRACE [C]");
    let c: u64 = std::env::args().nth(2).map_or(Ok(500), |s| s.parse())?;
    let trace = Trace::load(&path)?;
    let w = Workload::new(trace.values().to_vec().into(), c);
    for k in StrategyKind::ALL {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            simulate(k, &w, &Config::default())?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{} {best}", k.name());
    }
    Ok(())
}
