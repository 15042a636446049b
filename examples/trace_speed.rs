//! Wall time of each strategy on a latency trace, best of 5, one line per
//! strategy: `name seconds floor_seconds`, the last being the time of
//! [`bpsim::bench::floor`] for the same makespan (`-` where the floor has no
//! model). Used by bench/peers/run.py:
//! `cargo run --release --example trace_speed -- TRACE [C]`.
//! `BPSIM_HEAP_SHIFT=<bytes>` moves its heap first (see `common::shift_heap`).

mod common;

use bpsim::asyncio::Config;
use bpsim::bench::floor;
use bpsim::latency::Trace;
use bpsim::strategy::{StrategyKind, Workload, simulate};

fn main() -> anyhow::Result<()> {
    common::shift_heap();
    let path = std::env::args()
        .nth(1)
        .expect("usage: trace_speed TRACE [C]");
    let c: u64 = std::env::args().nth(2).map_or(Ok(500), |s| s.parse())?;
    let trace = Trace::load(&path)?;
    // As `bpsim run` runs it: requests summed up as they finish, not logged.
    let w = Workload::new(trace.values().to_vec().into(), c).with_request_log(false);
    for k in StrategyKind::ALL {
        let mut best = f64::INFINITY;
        let mut makespan = 0.0;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            makespan = simulate(k, &w, &Config::default())?.report.duration_s;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let floor = match floor::time(k, trace.values(), c, 5) {
            Some((m, d)) if m.to_bits() == makespan.to_bits() => d.as_secs_f64().to_string(),
            Some((m, _)) => anyhow::bail!("{}: floor makespan {m}, bpsim {makespan}", k.name()),
            None => "-".to_owned(),
        };
        println!("{} {best} {floor}", k.name());
    }
    Ok(())
}
