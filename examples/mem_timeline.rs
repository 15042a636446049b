//! Prints bpsim's simulated traced memory after each loop iteration, to
//! set beside CPython's (`profiles/probe_memory.py timeline`):
//! `cargo run --release --example mem_timeline -- <strategy> <trace> <C> <3.11|3.12|3.13>`.
//!
//! The strategies' parameters are the memory test's (`plan` in
//! `tests/common/harness.rs`), as the probe sets them for CPython. Or
//! `... -- <strategy> <scenario.toml>`: that scenario's workload, limit,
//! parameters and model (a differential test's case, whose harness command
//! gives CPython the same).

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
    let source = args.next().expect("a trace or a scenario");
    if source.ends_with(".toml") {
        let mut scenario = bpsim::scenario::Scenario::load(&source).expect("a valid scenario");
        scenario.strategies = vec![kind];
        let (_, outcomes) = bpsim::experiment::run_traced(&scenario, 1).expect("runs");
        print(&outcomes[0].report);
        return;
    }
    let trace = std::fs::read_to_string(source).expect("trace file");
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
    // The harness reads its latencies from a list: no float a request.
    config.drawn_latencies = false;
    let o = simulate(kind, &w, &config).expect("runs");
    print(&o.report);
}

/// Each iteration's number, time and memory, then the peak.
fn print(report: &bpsim::asyncio::Report) {
    for (i, s) in report.timeline.iter().enumerate() {
        println!("{} {} {}", i + 1, s.time_s, s.memory_bytes);
    }
    println!("peak {}", report.peak_memory_bytes);
}
