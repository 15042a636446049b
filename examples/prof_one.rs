//! Runs one strategy many times, for profilers:
//! `cargo run --release --example prof_one -- <strategy> [N] [C] [runs]`.
//!
//! `BPSIM_HEAP_SHIFT=<bytes>` first leaks an allocation of that size, which
//! moves everything the run allocates after it: the time of one binary
//! depends on where its buffers fall (see `bpsim bench`'s `--processes`).
//!
//! `BPSIM_PROF_CPU=cpython-3.12` (or another `cpu = "..."` of a scenario)
//! times the run with that profile's CPU costs, as `bpsim run
//! scenarios/blog.toml` runs its strategies (a timed run).

mod common;

use bpsim::asyncio::Config;
use bpsim::strategy::{Workload, simulate};

fn main() {
    common::shift_heap();
    let (kind, n, c, mut args) = common::strategy_n_c();
    let runs: u32 = args.next().map_or(20, |s| s.parse().expect("runs"));
    let lat = common::blog_latencies(n);
    // As `bpsim bench` and `bpsim run` without `--requests-csv` run it.
    let w = Workload::new(lat.into(), c).with_request_log(false);
    let cfg = match std::env::var("BPSIM_PROF_CPU") {
        Ok(spec) => Config {
            cpu: bpsim::profiles::cpu_costs(&spec, std::path::Path::new("."))
                .unwrap_or_else(|(what, fix)| panic!("BPSIM_PROF_CPU: {what}; {fix}")),
            ..Config::default()
        },
        Err(_) => Config::default(),
    };
    let mut best = std::time::Duration::MAX;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let o = simulate(kind, &w, &cfg).expect("runs");
        best = best.min(t.elapsed());
        std::hint::black_box(o);
    }
    println!("{}: best {:.2} ms", kind.name(), best.as_secs_f64() * 1e3);
}
