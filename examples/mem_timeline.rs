//! Prints bpsim's simulated traced memory after each loop iteration, to
//! set beside CPython's (`profiles/probe_memory.py timeline`):
//! `cargo run --release --example mem_timeline -- <strategy> <trace> <C> <3.11|3.12|3.13>`.
//!
//! The strategies' parameters are the memory test's (`plan` in
//! `tests/common/harness.rs`), as the probe sets them for CPython.

use std::sync::Arc;

use bpsim::experiment::config_for_version;
use bpsim::scenario::PythonVersion;
use bpsim::strategy::{StrategyKind, Workload, simulate};

#[allow(dead_code)]
#[path = "../tests/common/harness.rs"]
mod harness;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = StrategyKind::parse(&args.next().expect("strategy")).expect("a strategy");
    let trace = std::fs::read_to_string(args.next().expect("trace")).expect("trace file");
    let c: u64 = args.next().expect("C").parse().expect("C");
    let version = args.next().expect("version");
    let version = PythonVersion::ALL
        .into_iter()
        .find(|v| v.as_str() == version)
        .expect("3.11, 3.12 or 3.13");
    let lat: Vec<f64> = trace
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().expect("a latency per line"))
        .collect();
    let (_, params) = harness::plan(lat.len(), c, &lat);
    let w = Workload::new(Arc::from(lat), c).with_params(params);
    let mut config = config_for_version(version);
    config.timeline = true;
    let o = simulate(kind, &w, &config).expect("runs");
    for (i, s) in o.report.timeline.iter().enumerate() {
        println!("{} {} {}", i + 1, s.time_s, s.memory_bytes);
    }
    println!("peak {}", o.report.peak_memory_bytes);
}
