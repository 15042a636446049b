//! Conformance: bpsim against real CPython asyncio, bit for bit.
//!
//! For each case, the latencies are written to a trace file, the CPython
//! harness (`conformance/harness.py`: the strategies on CPython's own
//! event loop with a virtual clock) runs them, and bpsim simulates the same
//! workload. Duration, loop iterations, peak live tasks and every request's
//! start and end time (as f64 bit patterns) and completion order must agree.
//!
//! The interpreters come from `BPSIM_PYTHONS` (comma-separated; default:
//! CPython 3.11, 3.12 and 3.13, each found as `python3.X` on the PATH or in
//! pyenv's `versions/3.X.*/bin`, whichever exist, else `python3`).
//! Without any, the test prints a SKIPPED line and passes, so a machine
//! without CPython can still run the suite; CI has them. Set
//! `BPSIM_CONFORMANCE_QUICK=1` to skip the 100,000-request case.
//!
//! This test has its own `main` (`harness = false`) so that what it checked
//! is always printed.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "common/python.rs"]
mod python;
use python::interpreters;
#[path = "common/harness.rs"]
mod harness;
use std::sync::Arc;

use bpsim::experiment::config_for_version;
use bpsim::scenario::PythonVersion;
use bpsim::strategy::{Outcome, StrategyKind, Workload, simulate};
use serde_json::Value;

/// A deterministic latency shape for a case.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Constant(f64),
    Uniform(f64, f64),
    /// `fast` with probability 1-p, else `slow`: many exact ties.
    Bimodal(f64, f64, f64),
    /// Exponential with this mean: a long tail.
    Exponential(f64),
    /// Uniform, but every k-th request has latency 0 (the `sleep(0)` path).
    WithZeros(f64, f64, u64),
    /// Latencies below the 1 ns clock resolution and around it.
    Nanoscale,
}

struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn latencies(shape: Shape, n: usize, seed: u64) -> Vec<f64> {
    let mut r = SplitMix(seed);
    (0..n)
        .map(|i| match shape {
            Shape::Constant(v) => v,
            Shape::Uniform(a, b) => a + (b - a) * r.next_f64(),
            Shape::Bimodal(fast, slow, p) => {
                if r.next_f64() < p {
                    slow
                } else {
                    fast
                }
            }
            Shape::Exponential(mean) => -mean * (1.0 - r.next_f64()).ln(),
            Shape::WithZeros(a, b, k) => {
                let v = a + (b - a) * r.next_f64();
                if (i as u64).is_multiple_of(k) { 0.0 } else { v }
            }
            Shape::Nanoscale => [0.5e-9, 1e-9, 1.5e-9, 2e-9, 1e-3][(r.next_f64() * 5.0) as usize],
        })
        .collect()
}

struct Case {
    name: &'static str,
    n: usize,
    c: u64,
    shape: Shape,
    big: bool,
}

fn cases() -> Vec<Case> {
    let case = |name, n, c, shape| Case {
        name,
        n,
        c,
        shape,
        big: false,
    };
    vec![
        case("no requests", 0, 1, Shape::Constant(0.1)),
        case("one request", 1, 1, Shape::Constant(0.5)),
        case("constant ties", 10, 3, Shape::Constant(1.0)),
        case("limit 1", 500, 1, Shape::Uniform(0.01, 0.02)),
        case("limit above N", 300, 1000, Shape::Uniform(0.1, 0.2)),
        case("bimodal ties", 2000, 7, Shape::Bimodal(0.1, 0.5, 0.1)),
        case("constant, limit 1000", 5000, 1000, Shape::Constant(0.25)),
        case("exponential tail", 5000, 50, Shape::Exponential(0.05)),
        case("zero latencies", 3000, 64, Shape::WithZeros(0.1, 0.2, 7)),
        case("within clock resolution", 2000, 16, Shape::Nanoscale),
        // Longer than asyncio's 24 h select cap: the loop wakes once a day.
        case(
            "latencies of days",
            40,
            3,
            Shape::Uniform(100_000.0, 400_000.0),
        ),
        case(
            "bimodal, limit 1000",
            20_000,
            1000,
            Shape::Bimodal(0.1, 1.0, 0.01),
        ),
        Case {
            name: "the blog: 100k, limit 500, uniform(0.1, 0.2)",
            n: 100_000,
            c: 500,
            shape: Shape::Uniform(0.1, 0.2),
            big: true,
        },
    ]
}

fn python_version(full: &str) -> PythonVersion {
    match full
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
        .as_str()
    {
        "3.11" => PythonVersion::V3_11,
        "3.13" => PythonVersion::V3_13,
        _ => PythonVersion::V3_12,
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

/// Compare one strategy; returns the first difference.
fn compare(py: &Value, ours: &Outcome) -> Result<(), String> {
    let r = &ours.report;
    let dur = f(&py["duration_s"]);
    if dur.to_bits() != r.duration_s.to_bits() {
        return Err(format!(
            "duration: CPython {dur:?}, bpsim {:?}",
            r.duration_s
        ));
    }
    let it = py["loop_iterations"].as_u64().unwrap();
    if it != r.loop_iterations {
        return Err(format!(
            "loop iterations: CPython {it}, bpsim {}",
            r.loop_iterations
        ));
    }
    let live = py["peak_live_tasks"].as_u64().unwrap();
    if live != r.peak_live_tasks {
        return Err(format!(
            "peak live tasks: CPython {live}, bpsim {}",
            r.peak_live_tasks
        ));
    }
    let reqs = py["requests"].as_array().unwrap();
    if reqs.len() != ours.requests.len() {
        return Err(format!(
            "completed: CPython {}, bpsim {}",
            reqs.len(),
            ours.requests.len()
        ));
    }
    for (k, (p, o)) in reqs.iter().zip(&ours.requests).enumerate() {
        let (i, s, e) = (p[0].as_u64().unwrap(), f(&p[1]), f(&p[2]));
        if i != o.request || s.to_bits() != o.start_s.to_bits() || e.to_bits() != o.end_s.to_bits()
        {
            return Err(format!(
                "completion #{k}: CPython request {i} [{s:?}, {e:?}], bpsim request {} [{:?}, {:?}]",
                o.request, o.start_s, o.end_s
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let pythons = interpreters();
    if pythons.is_empty() {
        println!(
            "conformance: SKIPPED: no CPython found (tried BPSIM_PYTHONS or python3.11-3.13, python3)"
        );
        println!("0 passed, 0 failed, 1 skipped");
        return ExitCode::SUCCESS;
    }
    let quick = std::env::var_os("BPSIM_CONFORMANCE_QUICK").is_some();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut passed, mut failed) = (0, 0);
    for (ci, case) in cases().iter().enumerate() {
        if case.big && quick {
            println!(
                "conformance: skipping '{}' (BPSIM_CONFORMANCE_QUICK)",
                case.name
            );
            continue;
        }
        let lat = latencies(case.shape, case.n, 1000 + ci as u64);
        let trace: PathBuf = dir.path().join(format!("case{ci}.txt"));
        let text: String = lat.iter().map(|v| format!("{v:?}\n")).collect();
        std::fs::write(&trace, text).expect("write trace");
        let (kinds, params) = harness::plan(case.n, case.c, &lat);
        let workload = Workload::new(Arc::from(lat), case.c).with_params(params);
        // The big case runs on the first interpreter only, to keep CI short.
        let run_on = if case.big {
            &pythons[..1]
        } else {
            &pythons[..]
        };
        for python in run_on {
            let json = match harness::run(python, &trace, case.c, &kinds, &params, &[]) {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {} [{python}]: {e}", case.name);
                    failed += 1;
                    continue;
                }
            };
            let full = json["python"].as_str().unwrap_or("?").to_string();
            let config = config_for_version(python_version(&full));
            for res in json["results"].as_array().unwrap() {
                let name = res["strategy"].as_str().unwrap();
                let kind = StrategyKind::parse(name).expect("harness strategy names are bpsim's");
                let ours = simulate(kind, &workload, &config).expect("simulation completes");
                match compare(res, &ours) {
                    Ok(()) => {
                        passed += 1;
                        println!(
                            "ok   {:<46} {:<21} CPython {full}: {} requests, {:.6} s, {} iterations",
                            case.name,
                            name,
                            ours.requests.len(),
                            ours.report.duration_s,
                            ours.report.loop_iterations
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        println!("FAIL {:<46} {:<21} CPython {full}: {e}", case.name, name);
                    }
                }
            }
        }
    }
    println!("conformance: {passed} passed, {failed} failed");
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
