//! Memory accuracy: bpsim's predicted `tracemalloc` peak against real CPython.
//!
//! For a grid of request counts and limits, the CPython harness runs all
//! eight strategies (with the parameters the conformance test gives them,
//! `common/harness.rs`) uninstrumented, each in a fresh interpreter, with
//! `tracemalloc` started just before the loop is created
//! (`conformance/harness.py --tracemalloc`), and bpsim predicts the peak
//! from the version's memory profile. Every prediction must be within
//! `BPSIM_MEMORY_TOLERANCE` percent (default 3) of the measured peak. The
//! table of errors is always printed. [`KNOWN_GAPS`] lists the points that
//! are understood to fall outside it, each with its reason and its own bound.
//!
//! Interpreters are found as in the conformance test. Without any, the test
//! prints a SKIPPED line and passes. `BPSIM_CONFORMANCE_QUICK=1` skips the
//! 100,000-request point.

use std::process::ExitCode;
use std::sync::Arc;

#[path = "common/harness.rs"]
mod harness;
#[path = "common/python.rs"]
mod python;

use bpsim::experiment::config_for_version;
use bpsim::scenario::PythonVersion;
use bpsim::strategy::{StrategyKind, Workload, simulate};

fn latencies(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            0.1 + 0.1 * ((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// Points outside the tolerance that are understood and not yet modelled,
/// on every version, with why: (strategy, C, bound in percent, why). They
/// are still printed; they must stay within their own bound.
const KNOWN_GAPS: [(&str, u64, f64, &str); 3] = [
    ("adaptive_limit", 1, 5.0, ADAPTIVE_GAP),
    ("adaptive_limit", 10, 5.0, ADAPTIVE_GAP),
    ("sliding_window", 1, 5.0, WAIT_GAP),
];

const ADAPTIVE_GAP: &str = "0.1-1.1 KB under at peaks of 18-28 KB, not yet pinned down: CPython's float and tuple free lists, which keep freed objects traced, are not modelled";
const WAIT_GAP: &str = "0.1-0.5 KB under at a peak of 12 KB, not yet pinned down";

fn known_gap(strategy: &str, c: u64) -> Option<(f64, &'static str)> {
    KNOWN_GAPS
        .iter()
        .find(|(s, gc, _, _)| *s == strategy && *gc == c)
        .map(|(_, _, bound, why)| (*bound, *why))
}

fn version(full: &str) -> PythonVersion {
    PythonVersion::ALL
        .into_iter()
        .find(|v| full.starts_with(&format!("{}.", v.as_str())))
        .unwrap_or(PythonVersion::V3_12)
}

fn main() -> ExitCode {
    let pythons = python::interpreters();
    if pythons.is_empty() {
        println!("memory: SKIPPED: no CPython found");
        println!("0 passed, 0 failed, 1 skipped");
        return ExitCode::SUCCESS;
    }
    let tolerance: f64 = std::env::var("BPSIM_MEMORY_TOLERANCE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let quick = std::env::var_os("BPSIM_CONFORMANCE_QUICK").is_some();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut grid: Vec<(usize, u64)> = Vec::new();
    for n in [1000, 10_000] {
        for c in [1, 10, 100, 1000] {
            grid.push((n, c));
        }
    }
    if !quick {
        grid.push((100_000, 500));
    }
    let (mut passed, mut failed) = (0, 0);
    let mut worst: f64 = 0.0;
    println!(
        "{:<8} {:>7} {:>5}  {:<21} {:>13} {:>13} {:>7}",
        "python", "N", "C", "strategy", "tracemalloc", "bpsim", "error"
    );
    for (k, &(n, c)) in grid.iter().enumerate() {
        let lat = latencies(n, 7 + k as u64);
        let trace = dir.path().join(format!("mem{k}.txt"));
        std::fs::write(
            &trace,
            lat.iter().map(|v| format!("{v:?}\n")).collect::<String>(),
        )
        .expect("write trace");
        let (kinds, params) = harness::plan(n, c, &lat);
        let workload = Workload::new(Arc::from(lat), c).with_params(params);
        for py in &pythons {
            let json = match harness::run(py, &trace, c, &kinds, &params, &["--tracemalloc"]) {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {py} N={n} C={c}: {e}");
                    failed += 1;
                    continue;
                }
            };
            let full = json["python"].as_str().unwrap_or("?").to_string();
            let config = config_for_version(version(&full));
            for r in json["results"].as_array().expect("results") {
                let name = r["strategy"].as_str().expect("strategy");
                let real = r["peak_memory_bytes"].as_i64().expect("peak") as f64;
                let kind = StrategyKind::parse(name).expect("known strategy");
                let ours = simulate(kind, &workload, &config)
                    .expect("simulation completes")
                    .report
                    .peak_memory_bytes as f64;
                let err = 100.0 * (ours - real) / real;
                let gap = known_gap(name, c);
                let bound = gap.map_or(tolerance, |(b, _)| b);
                if gap.is_none() {
                    worst = worst.max(err.abs());
                }
                let ok = err.abs() <= bound;
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
                println!(
                    "{:<8} {:>7} {:>5}  {:<21} {:>13} {:>13} {:>+6.2}%{}",
                    full,
                    n,
                    c,
                    name,
                    real,
                    ours,
                    err,
                    match (ok, gap) {
                        (false, _) => "  FAIL".to_string(),
                        (true, Some((_, why))) => format!("  known gap: {why}"),
                        (true, None) => String::new(),
                    }
                );
            }
        }
    }
    println!("memory: worst error outside known gaps {worst:.2}% (tolerance {tolerance}%)");
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
