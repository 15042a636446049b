//! Memory accuracy: bpsim's predicted `tracemalloc` peak against real CPython.
//!
//! For a grid of request counts and limits, the CPython harness runs all
//! eight strategies (with the parameters the conformance test gives them,
//! `common/harness.rs`) uninstrumented, each in a fresh interpreter, with
//! `tracemalloc` started just before the loop is created
//! (`conformance/harness.py --tracemalloc`), and bpsim predicts the peak
//! from the version's memory profile. Every prediction must be within
//! `BPSIM_MEMORY_TOLERANCE` percent (default 3) of the measured peak. The
//! table of errors is always printed. No point has a bound of its own any
//! more ("Retired gaps" below tells which had one, and why).
//!
//! CPython's peak itself moves with where its objects land: a set of tasks
//! resizes its table by its keys' address hashes, so the same program gives
//! peaks some KB apart from one heap layout to another (sliding_window at
//! 1,000 zero latencies, C = 100, on 3.12: 220,057 or 228,201 B). A point
//! farther off than the tolerance is run again for that strategy alone with
//! the heap padded first ([`harness::SPREAD_PADS`]), and judged by bpsim's
//! distance from the range of peaks seen (CPython's spread), as
//! `conformance/difftest.py` judges memory.
//!
//! Then the `[server]` grid ([`server_cases`]): the same with each request
//! sent to a downstream service (`--server --tracemalloc`: the harness
//! records the service's decisions in an untraced run and replays them
//! traced, so that only the client program's objects are counted; see
//! `conformance/README.md`), against bpsim's `[server]` with the same
//! failure draws.
//!
//! Interpreters are found as in the conformance test. Without any, the test
//! prints a SKIPPED line and passes. `BPSIM_CONFORMANCE_QUICK=1` skips the
//! 100,000-request point; `BPSIM_MEMORY_SERVER_ONLY=1` runs the `[server]`
//! grid alone.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "common/harness.rs"]
mod harness;
#[path = "common/python.rs"]
mod python;

use bpsim::asyncio::Config;
use bpsim::experiment::config_for_version;
use bpsim::scenario::PythonVersion;
use bpsim::server::{Backoff, BackoffKind, Discipline, Jitter, ServerSpec};
use bpsim::strategy::{StrategyKind, StrategyParams, Workload, simulate};

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

// Retired gaps. Until 2026-12-07 some points were known gaps, each held
// to a bound of its own above the tolerance, with its reason printed
// beside it. Since then every point is held to the tolerance, against
// CPython's spread where its first run is farther. The `[server]` grid's
// are told at `server_cases`; the plain grid's were:
// - `adaptive_limit` and `sliding_window` at C = 1 (bound 5 %), within the
//   tolerance since the baseline gained asyncio.Runner's 144 B SIGINT
//   handler (that day -0.2 .. -1.8 % and -2.2 .. +0.5 %). What they leave
//   out is still left out. `adaptive_limit`: CPython's peak is at the end
//   of main's step, which creates the next task while the finished one is
//   still alive (its TaskGroup callback runs after main's wake-up),
//   1.1-1.2 KB above both ends of that iteration; bpsim credits the handle
//   that woke main and its future (296 B on 3.12) as main resumes, where
//   CPython holds them until the next handle is popped, and models no
//   loop locals (112 B) (profiles/README.md, "Handles alive while they
//   run"). `sliding_window`: CPython's peak is inside a task's last step,
//   up to 272 B above both ends of its iteration; bpsim models none of
//   these transients inside a step (112-568 B by phase).
//   `python3.X profiles/probe_memory.py timeline` shows both.
// - The zero latencies (`C/0s` in the table, bound 7 %): 4-10 % under
//   before `asyncio.sleep(0)`'s `__sleep0` generator was charged
//   (`sleep_zero`); `semaphore_in_task` at C = 1,000 4 % under before the
//   bound `__aexit__` of `async with sem` (`async_with_exit`); at C = 100,
//   2-6 % under before CPython's 1-tuple, 2-tuple and float free lists
//   were modelled (`src/memory/free_lists.rs`); `sliding_window` at C =
//   100 on 3.12, -3.6 %, is the task WeakSet's table doubling (512 ->
//   1,024 slots, 8,192 B) in CPython's run and not in another heap
//   layout: within CPython's spread (profiles/README.md, "Zero latencies
//   at high concurrency").

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
    // (N, C, every latency 0): the last two are `asyncio.sleep(0)` runs.
    let mut grid: Vec<(usize, u64, bool)> = Vec::new();
    for n in [1000, 10_000] {
        for c in [1, 10, 100, 1000] {
            grid.push((n, c, false));
        }
    }
    grid.push((1000, 100, true));
    grid.push((1000, 1000, true));
    if !quick {
        grid.push((100_000, 500, false));
    }
    if std::env::var_os("BPSIM_MEMORY_SERVER_ONLY").is_some() {
        grid.clear();
    }
    let mut tally = Tally::default();
    println!(
        "{:<8} {:>7} {:>5}  {:<21} {:>13} {:>13} {:>7}",
        "python", "N", "C", "strategy", "tracemalloc", "bpsim", "error"
    );
    for (k, &(n, c, zero)) in grid.iter().enumerate() {
        let lat = if zero {
            vec![0.0; n]
        } else {
            latencies(n, 7 + k as u64)
        };
        let trace = dir.path().join(format!("mem{k}.txt"));
        std::fs::write(
            &trace,
            lat.iter().map(|v| format!("{v:?}\n")).collect::<String>(),
        )
        .expect("write trace");
        let (kinds, params) = harness::plan(n, c, &lat);
        let workload = Workload::new(Arc::from(lat), c).with_params(params);
        let runs = python::each_at_once(&pythons, |py| {
            harness::run(py, &trace, c, &kinds, &params, &["--tracemalloc"])
        });
        for (py, run) in pythons.iter().zip(runs) {
            let json = match run {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {py} N={n} C={c}: {e}");
                    tally.failed += 1;
                    continue;
                }
            };
            let full = json["python"].as_str().unwrap_or("?").to_string();
            // The harness reads its latencies from a list: no float a request.
            let config = Config {
                drawn_latencies: false,
                ..config_for_version(version(&full))
            };
            for r in json["results"].as_array().expect("results") {
                let name = r["strategy"].as_str().expect("strategy");
                let real = r["peak_memory_bytes"].as_i64().expect("peak") as f64;
                let kind = StrategyKind::parse(name).expect("known strategy");
                let ours = simulate(kind, &workload, &config)
                    .expect("simulation completes")
                    .report
                    .peak_memory_bytes as f64;
                let spread = || spread_peaks(py, &trace, c, kind, &params, &["--tracemalloc"]);
                let (err, verdict) = tally.judge(ours, real, tolerance, spread);
                println!(
                    "{:<8} {:>7} {:>5}  {:<21} {:>13} {:>13} {:>+6.2}%{verdict}",
                    full,
                    n,
                    if zero {
                        format!("{c}/0s")
                    } else {
                        c.to_string()
                    },
                    name,
                    real,
                    ours,
                    err,
                );
            }
        }
    }
    println!(
        "memory: worst error {:.2}% (tolerance {tolerance}%); judged against CPython's spread: {}",
        tally.worst, tally.spread
    );
    let srv = server(&pythons, dir.path(), tolerance);
    println!(
        "memory [server]: worst error {:.2}% (tolerance {tolerance}%); judged against CPython's spread: {}",
        srv.worst, srv.spread
    );
    let (passed, failed) = (tally.passed + srv.passed, tally.failed + srv.failed);
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A `[server]` case: `n` requests at limit `c` against `spec`.
struct ServerCase {
    name: &'static str,
    n: usize,
    c: u64,
    spec: ServerSpec,
}

/// The seed of the server cases' failure draws.
const SERVER_SEED: u64 = 7;

/// FIFO at a capacity of half the limit (requests queue about as long as
/// they are served), with a timeout that the slower ones miss, one retry
/// after a fixed pause; and failures retried with exponential backoff and
/// full jitter under a timeout that never fires (its timer is still armed
/// and cancelled). Latencies uniform in [0.1, 0.2) s.
///
/// Known gaps of this grid until 2026-12-07 (see "Retired gaps"):
/// `batching`, `sliding_window` and `adaptive_limit` with timeouts at
/// C = 10 (-1.5 .. -5.3 %, bounds 3.5-6 %) until a fresh interpreter's first, larger Timeouts were
/// charged (`timeout_first`, profiles/README.md); and `rate_limited` there,
/// -3.5 % on 3.13 only (bound 5 %), where the task sets' tables were
/// rebuilt larger over CPython's run (TaskGroup._tasks 512 -> 1,024 B, the
/// task WeakSet +432 B), which bpsim does not model. That depends on the
/// tasks' addresses: over six heap layouts CPython peaks at 33,739-34,763
/// B there, and bpsim's 33,723 is 0.05 % below the range (-2.99 % against
/// the first run), so the point is judged like the others.
fn server_cases() -> Vec<ServerCase> {
    let timeouts = |c: u64| ServerSpec {
        capacity: Some(c / 2),
        discipline: Discipline::Fifo,
        error_rate: 0.0,
        timeout: Some(0.3),
        retries: 1,
        backoff: Backoff {
            kind: BackoffKind::Fixed,
            base: 0.05,
            max: 0.05,
            jitter: Jitter::None,
        },
    };
    let errors = ServerSpec {
        capacity: Some(40),
        discipline: Discipline::Fifo,
        error_rate: 0.3,
        timeout: Some(1.0),
        retries: 3,
        backoff: Backoff {
            kind: BackoffKind::Exponential,
            base: 0.01,
            max: 0.08,
            jitter: Jitter::Full,
        },
    };
    vec![
        ServerCase {
            name: "FIFO",
            n: 1000,
            c: 20,
            spec: ServerSpec {
                capacity: Some(10),
                timeout: None,
                retries: 0,
                ..timeouts(20)
            },
        },
        ServerCase {
            name: "FIFO, timeouts",
            n: 1000,
            c: 10,
            spec: timeouts(10),
        },
        ServerCase {
            name: "FIFO, timeouts",
            n: 1000,
            c: 100,
            spec: timeouts(100),
        },
        ServerCase {
            name: "errors, retries",
            n: 1000,
            c: 20,
            spec: errors,
        },
        ServerCase {
            name: "errors, retries",
            n: 5000,
            c: 200,
            spec: errors,
        },
    ]
}

/// The `[server]` grid: each case's harness run under `tracemalloc` (the
/// service's decisions recorded untraced, then replayed traced) against
/// bpsim's prediction.
fn server(pythons: &[String], dir: &Path, tolerance: f64) -> Tally {
    let mut tally = Tally::default();
    println!(
        "{:<8} {:<16} {:>6} {:>4}  {:<21} {:>11} {:>11} {:>7} {:>9}",
        "python",
        "[server] case",
        "N",
        "C",
        "strategy",
        "tracemalloc",
        "bpsim",
        "error",
        "timeouts"
    );
    for (k, case) in server_cases().iter().enumerate() {
        let lat = latencies(case.n, 100 + k as u64);
        let trace = dir.join(format!("server{k}.txt"));
        std::fs::write(
            &trace,
            lat.iter().map(|v| format!("{v:?}\n")).collect::<String>(),
        )
        .expect("write trace");
        let spec = &case.spec;
        let draws = (spec.error_rate > 0.0 || spec.retries > 0).then(|| {
            let path = dir.join(format!("server{k}.draws"));
            harness::write_draws(&path, spec, SERVER_SEED, case.n);
            path
        });
        let mut args = harness::server_args(spec, draws.as_deref());
        args.push("--tracemalloc".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (kinds, params) = harness::plan(case.n, case.c, &lat);
        let workload = Workload::new(Arc::from(lat), case.c)
            .with_params(params)
            .with_server(Some(*spec), SERVER_SEED);
        let runs = python::each_at_once(pythons, |py| {
            harness::run(py, &trace, case.c, &kinds, &params, &args)
        });
        for (py, run) in pythons.iter().zip(runs) {
            let json = match run {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {py} [server] {} C={}: {e}", case.name, case.c);
                    tally.failed += 1;
                    continue;
                }
            };
            let full = json["python"].as_str().unwrap_or("?").to_string();
            let config = config_for_version(version(&full));
            for r in json["results"].as_array().expect("results") {
                let name = r["strategy"].as_str().expect("strategy");
                let real = r["peak_memory_bytes"].as_i64().expect("peak") as f64;
                let kind = StrategyKind::parse(name).expect("known strategy");
                let out = simulate(kind, &workload, &config).expect("simulation completes");
                let ours = out.report.peak_memory_bytes as f64;
                let timeouts: u64 = out.requests.iter().map(|q| u64::from(q.timeouts)).sum();
                let spread = || spread_peaks(py, &trace, case.c, kind, &params, &args);
                let (err, verdict) = tally.judge(ours, real, tolerance, spread);
                println!(
                    "{:<8} {:<16} {:>6} {:>4}  {:<21} {:>11} {:>11} {:>+6.2}% {:>9}{verdict}",
                    full, case.name, case.n, case.c, name, real, ours, err, timeouts,
                );
            }
        }
    }
    tally
}

/// CPython's traced peaks for `kind` alone, run as [`harness::run`] runs
/// it, in each heap layout of [`harness::SPREAD_PADS`] (a failed run is
/// left out).
fn spread_peaks(
    python: &str,
    trace: &Path,
    c: u64,
    kind: StrategyKind,
    params: &StrategyParams,
    extra: &[&str],
) -> Vec<f64> {
    harness::SPREAD_PADS
        .iter()
        .filter_map(|&pad| {
            let json = harness::run_padded(python, trace, c, &[kind], params, extra, Some(pad));
            json.ok()?["results"][0]["peak_memory_bytes"].as_f64()
        })
        .collect()
}

/// One grid's comparisons so far.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// The largest error, in percent, against CPython's spread where it
    /// was measured.
    worst: f64,
    /// Points judged against CPython's spread (farther off than the
    /// tolerance from its first run).
    spread: usize,
}

impl Tally {
    /// Count bpsim's peak `ours` against CPython's `real`: within
    /// `tolerance`, or, for a point farther off, within `tolerance` of the
    /// range of `real` and the peaks that `spread` measures (the same run
    /// in other heap layouts). Returns the error against `real` in percent
    /// and what to print after it.
    fn judge(
        &mut self,
        ours: f64,
        real: f64,
        tolerance: f64,
        spread: impl FnOnce() -> Vec<f64>,
    ) -> (f64, String) {
        let err = 100.0 * (ours - real) / real;
        let mut judged = err;
        let mut note = String::new();
        if err.abs() > tolerance {
            self.spread += 1;
            let peaks = spread();
            let lo = peaks.iter().copied().fold(real, f64::min);
            let hi = peaks.iter().copied().fold(real, f64::max);
            judged = if ours < lo {
                100.0 * (ours - lo) / lo
            } else if ours > hi {
                100.0 * (ours - hi) / hi
            } else {
                0.0
            };
            note = format!(
                "  CPython's spread {lo}..{hi} over {} layouts: {judged:+.2}%",
                peaks.len() + 1
            );
        }
        self.worst = self.worst.max(judged.abs());
        if judged.abs() <= tolerance {
            self.passed += 1;
            (err, note)
        } else {
            self.failed += 1;
            (err, format!("{note}  FAIL"))
        }
    }
}
