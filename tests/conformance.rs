//! Conformance: bpsim against real CPython asyncio, bit for bit.
//!
//! For each case, the latencies are written to a trace file, the CPython
//! harness (`conformance/harness.py`: the strategies on CPython's own
//! event loop with a virtual clock) runs them, and bpsim simulates the same
//! workload. Duration, loop iterations, peak live tasks and every request's
//! start and end time (as f64 bit patterns) and completion order must agree.
//!
//! Then the `[server]` cases: the same, with each request sent to a
//! downstream service (the harness's `--server`: bpsim's station ported to
//! Python, responses delivered as I/O events through the selector, the
//! client in real `asyncio.timeout` and `asyncio.sleep`), the error coins
//! and jitters drawn by bpsim ([`attempt_draws`](bpsim::server::client::attempt_draws)) and handed over in a
//! file, and every request's status, attempts, errors and timeouts compared
//! too. Each case names what it must exercise (timeouts, timeouts that beat
//! a response already in, errors, retries, heap compactions); a case whose
//! strategies never did on CPython fails.
//!
//! The interpreters come from `BPSIM_PYTHONS` (comma-separated; default:
//! CPython 3.11, 3.12 and 3.13, each found as `python3.X` on the PATH or in
//! pyenv's `versions/3.X.*/bin`, whichever exist, else `python3`).
//! Without any, the test prints a SKIPPED line and passes, so a machine
//! without CPython can still run the suite; CI has them. Set
//! `BPSIM_CONFORMANCE_QUICK=1` to skip the 100,000-request case,
//! `BPSIM_CONFORMANCE_SERVER_ONLY=1` to run the `[server]` cases alone.
//!
//! This test has its own `main` (`harness = false`) so that what it checked
//! is always printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "common/python.rs"]
mod python;
use python::interpreters;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/server_spec.rs"]
mod server_spec;
use server_spec::SPEC;
use std::sync::Arc;

use bpsim::experiment::config_for_version;
use bpsim::scenario::PythonVersion;
use bpsim::server::client::Status;
use bpsim::server::{Backoff, BackoffKind, Discipline, Jitter, ServerSpec};
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
    /// One of these values, uniformly.
    Choice(&'static [f64]),
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
            Shape::Choice(values) => values[(r.next_f64() * values.len() as f64) as usize],
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
        // With a [server]: how it ended, and its attempts, errors and
        // timeouts.
        if let Some(status) = p.get(3) {
            let theirs = (
                status.as_str().unwrap_or("?"),
                p[4].as_u64().unwrap(),
                p[5].as_u64().unwrap(),
                p[6].as_u64().unwrap(),
            );
            let mine = (
                status_name(o.status),
                u64::from(o.attempts),
                u64::from(o.errors),
                u64::from(o.timeouts),
            );
            if theirs != mine {
                return Err(format!(
                    "completion #{k} (request {i}): CPython (status, attempts, errors, timeouts) {theirs:?}, bpsim {mine:?}"
                ));
            }
        }
    }
    Ok(())
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Error => "error",
        Status::Timeout => "timeout",
    }
}

/// A case against a `[server]`: the plain case's workload sent to a
/// downstream service, with what it must exercise on CPython.
struct ServerCase {
    name: &'static str,
    n: usize,
    c: u64,
    shape: Shape,
    spec: ServerSpec,
    must: &'static [Feature],
}

/// Something a server case is built to exercise; the test fails if CPython
/// (summed over the case's strategies) never saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    /// Attempts timed out.
    Timeouts,
    /// A timeout fired after the response was in (its wake-up queued):
    /// `Task._must_cancel` turns it into `TimeoutError` all the same.
    Races,
    /// Attempts failed with an error.
    Errors,
    /// Requests retried.
    Retries,
    /// `_run_once` rebuilt the timer heap (more than half of over 100
    /// timers cancelled).
    Compactions,
}

const fn backoff(kind: BackoffKind, base: f64, max: f64, jitter: Jitter) -> Backoff {
    Backoff {
        kind,
        base,
        max,
        jitter,
    }
}

/// Latencies at a timeout of 0.1 s (no capacity limit, so a response is
/// due `latency` after the attempt, as its deadline is `timeout` after):
/// exactly on the deadline, or 0.3 ns before it (the loop wakes for the
/// response, the timer is within the 1 ns clock resolution, so both fire
/// in one iteration, the response first, and the timeout still wins);
/// 0.3 ns after (the timeout fires alone); 2 ns before (the response
/// wins); and well clear either side.
const AROUND_TIMEOUT: &[f64] = &[0.1, 0.1 - 3e-10, 0.1 + 3e-10, 0.1 - 2e-9, 0.05, 0.2];

fn server_cases() -> Vec<ServerCase> {
    use BackoffKind::{Exponential, Fixed};
    use Feature::*;
    vec![
        ServerCase {
            name: "FIFO, limit below capacity",
            n: 2000,
            c: 20,
            shape: Shape::Uniform(0.01, 0.1),
            spec: ServerSpec {
                capacity: Some(50),
                ..SPEC
            },
            must: &[],
        },
        ServerCase {
            name: "FIFO, limit above capacity",
            n: 2000,
            c: 200,
            shape: Shape::Uniform(0.01, 0.1),
            spec: ServerSpec {
                capacity: Some(20),
                ..SPEC
            },
            must: &[],
        },
        ServerCase {
            name: "timeouts: exact ties, 1 ns races",
            n: 1500,
            c: 60,
            shape: Shape::Choice(AROUND_TIMEOUT),
            spec: ServerSpec {
                timeout: Some(0.1),
                retries: 2,
                backoff: backoff(Fixed, 0.05, 0.05, Jitter::None),
                ..SPEC
            },
            must: &[Timeouts, Races, Retries],
        },
        ServerCase {
            name: "timeouts at a saturated FIFO, exp. backoff",
            n: 2000,
            c: 100,
            shape: Shape::Uniform(0.01, 0.05),
            spec: ServerSpec {
                capacity: Some(10),
                timeout: Some(0.25),
                retries: 2,
                backoff: backoff(Exponential, 0.01, 0.1, Jitter::Full),
                ..SPEC
            },
            must: &[Timeouts, Retries, Compactions],
        },
        ServerCase {
            name: "errors, exponential backoff, full jitter",
            n: 2000,
            c: 50,
            shape: Shape::Exponential(0.02),
            spec: ServerSpec {
                capacity: Some(30),
                error_rate: 0.3,
                timeout: Some(1.0),
                retries: 3,
                backoff: backoff(Exponential, 0.005, 0.04, Jitter::Full),
                ..SPEC
            },
            must: &[Errors, Retries],
        },
        ServerCase {
            name: "errors, fixed backoff, equal jitter",
            n: 1500,
            c: 40,
            shape: Shape::Uniform(0.01, 0.03),
            spec: ServerSpec {
                error_rate: 0.25,
                retries: 2,
                backoff: backoff(Fixed, 0.02, 0.02, Jitter::Equal),
                ..SPEC
            },
            must: &[Errors, Retries],
        },
        ServerCase {
            name: "errors, immediate retries (sleep(0))",
            n: 1000,
            c: 30,
            shape: Shape::Bimodal(0.01, 0.05, 0.2),
            spec: ServerSpec {
                capacity: Some(20),
                error_rate: 0.4,
                retries: 4,
                backoff: backoff(Exponential, 0.0, 0.0, Jitter::None),
                ..SPEC
            },
            must: &[Errors, Retries],
        },
        ServerCase {
            name: "compaction, then equal deadlines fire",
            n: 1200,
            c: 400,
            shape: Shape::Constant(0.01),
            spec: ServerSpec {
                capacity: Some(100),
                timeout: Some(0.035),
                retries: 1,
                backoff: backoff(Fixed, 0.01, 0.01, Jitter::None),
                ..SPEC
            },
            must: &[Timeouts, Compactions],
        },
        ServerCase {
            name: "compaction, long timeouts",
            n: 4000,
            c: 300,
            shape: Shape::Uniform(0.001, 0.01),
            spec: ServerSpec {
                timeout: Some(10.0),
                ..SPEC
            },
            must: &[Compactions],
        },
        ServerCase {
            name: "processor sharing, limit below capacity",
            n: 1000,
            c: 8,
            shape: Shape::Uniform(0.01, 0.05),
            spec: ServerSpec {
                capacity: Some(10),
                discipline: Discipline::ProcessorSharing,
                ..SPEC
            },
            must: &[],
        },
        ServerCase {
            name: "processor sharing, overloaded, timeouts",
            n: 1500,
            c: 60,
            shape: Shape::Uniform(0.01, 0.05),
            spec: ServerSpec {
                capacity: Some(4),
                discipline: Discipline::ProcessorSharing,
                timeout: Some(0.4),
                retries: 1,
                backoff: backoff(Exponential, 0.05, 1.0, Jitter::Full),
                ..SPEC
            },
            must: &[Timeouts, Retries],
        },
        ServerCase {
            name: "zero latencies, timeouts",
            n: 500,
            c: 10,
            shape: Shape::WithZeros(0.01, 0.02, 5),
            spec: ServerSpec {
                capacity: Some(8),
                timeout: Some(0.015),
                retries: 1,
                backoff: backoff(Fixed, 0.0, 0.0, Jitter::None),
                ..SPEC
            },
            must: &[Timeouts],
        },
        ServerCase {
            name: "latencies and timeouts of days",
            n: 40,
            c: 3,
            shape: Shape::Uniform(100_000.0, 400_000.0),
            spec: ServerSpec {
                capacity: Some(2),
                timeout: Some(300_000.0),
                retries: 1,
                backoff: backoff(Fixed, 50_000.0, 50_000.0, Jitter::None),
                ..SPEC
            },
            must: &[Timeouts],
        },
        ServerCase {
            name: "timeout below the clock's float step",
            n: 200,
            c: 10,
            shape: Shape::Uniform(0.01, 0.02),
            spec: ServerSpec {
                capacity: Some(5),
                timeout: Some(1e-18),
                retries: 1,
                backoff: backoff(Fixed, 0.01, 0.01, Jitter::None),
                ..SPEC
            },
            must: &[Timeouts],
        },
    ]
}

/// The seed of the server cases' failure draws.
const SERVER_SEED: u64 = 7;

/// Passed and failed comparisons.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

fn plain(pythons: &[String], quick: bool, dir: &Path, tally: &mut Tally) {
    for (ci, case) in cases().iter().enumerate() {
        if case.big && quick {
            println!(
                "conformance: skipping '{}' (BPSIM_CONFORMANCE_QUICK)",
                case.name
            );
            continue;
        }
        let lat = latencies(case.shape, case.n, 1000 + ci as u64);
        let trace: PathBuf = dir.join(format!("case{ci}.txt"));
        write_trace(&trace, &lat);
        let (kinds, params) = harness::plan(case.n, case.c, &lat);
        let workload = Workload::new(Arc::from(lat), case.c).with_params(params);
        // The big case runs on the first interpreter only, to keep CI short.
        let run_on = if case.big { &pythons[..1] } else { pythons };
        let runs = python::each_at_once(run_on, |py| {
            harness::run(py, &trace, case.c, &kinds, &params, &[])
        });
        for (python, run) in run_on.iter().zip(runs) {
            let json = match run {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {} [{python}]: {e}", case.name);
                    tally.failed += 1;
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
                        tally.passed += 1;
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
                        tally.failed += 1;
                        println!("FAIL {:<46} {:<21} CPython {full}: {e}", case.name, name);
                    }
                }
            }
        }
    }
}

fn write_trace(path: &Path, lat: &[f64]) {
    let text: String = lat.iter().map(|v| format!("{v:?}\n")).collect();
    std::fs::write(path, text).expect("write trace");
}

fn server(pythons: &[String], dir: &Path, tally: &mut Tally) {
    for (ci, case) in server_cases().iter().enumerate() {
        let lat = latencies(case.shape, case.n, 2000 + ci as u64);
        let trace = dir.join(format!("server{ci}.txt"));
        write_trace(&trace, &lat);
        let spec = &case.spec;
        let draws = (spec.error_rate > 0.0 || spec.retries > 0).then(|| {
            let path = dir.join(format!("server{ci}.draws"));
            harness::write_draws(&path, spec, SERVER_SEED, case.n);
            path
        });
        let args = harness::server_args(spec, draws.as_deref());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (kinds, params) = harness::plan(case.n, case.c, &lat);
        let workload = Workload::new(Arc::from(lat), case.c)
            .with_params(params)
            .with_server(Some(*spec), SERVER_SEED);
        let runs = python::each_at_once(pythons, |py| {
            harness::run(py, &trace, case.c, &kinds, &params, &args)
        });
        for (python, run) in pythons.iter().zip(runs) {
            let json = match run {
                Ok(j) => j,
                Err(e) => {
                    println!("FAIL {} [{python}]: {e}", case.name);
                    tally.failed += 1;
                    continue;
                }
            };
            let full = json["python"].as_str().unwrap_or("?").to_string();
            let config = config_for_version(python_version(&full));
            let mut seen: Vec<Feature> = Vec::new();
            for res in json["results"].as_array().unwrap() {
                let name = res["strategy"].as_str().unwrap();
                let kind = StrategyKind::parse(name).expect("harness strategy names are bpsim's");
                let ours = simulate(kind, &workload, &config).expect("simulation completes");
                let races = res["races"].as_u64().unwrap_or(0);
                let compactions = res["compactions"].as_u64().unwrap_or(0);
                let (mut timeouts, mut errors, mut retried) = (0u64, 0u64, 0u64);
                for r in ours.requests.iter() {
                    timeouts += u64::from(r.timeouts);
                    errors += u64::from(r.errors);
                    retried += u64::from(r.attempts > 1);
                }
                for (feature, count) in [
                    (Feature::Timeouts, timeouts),
                    (Feature::Races, races),
                    (Feature::Errors, errors),
                    (Feature::Retries, retried),
                    (Feature::Compactions, compactions),
                ] {
                    if count > 0 && !seen.contains(&feature) {
                        seen.push(feature);
                    }
                }
                match compare(res, &ours) {
                    Ok(()) => {
                        tally.passed += 1;
                        println!(
                            "ok   {:<46} {:<21} CPython {full}: {} requests, {:.6} s, {} iterations; \
                             {timeouts} timeouts ({races} races), {errors} errors, {retried} retried, \
                             {compactions} compactions",
                            case.name,
                            name,
                            ours.requests.len(),
                            ours.report.duration_s,
                            ours.report.loop_iterations
                        );
                    }
                    Err(e) => {
                        tally.failed += 1;
                        println!("FAIL {:<46} {:<21} CPython {full}: {e}", case.name, name);
                    }
                }
            }
            for feature in case.must {
                if !seen.contains(feature) {
                    tally.failed += 1;
                    println!(
                        "FAIL {} [CPython {full}]: the case never exercised {feature:?}",
                        case.name
                    );
                }
            }
        }
    }
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
    let only_server = std::env::var_os("BPSIM_CONFORMANCE_SERVER_ONLY").is_some();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut tally = Tally::default();
    if !only_server {
        plain(&pythons, quick, dir.path(), &mut tally);
    }
    let plain_passed = tally.passed;
    server(&pythons, dir.path(), &mut tally);
    let Tally { passed, failed } = tally;
    println!(
        "conformance: {passed} passed ({plain_passed} plain, {} [server]), {failed} failed",
        passed - plain_passed
    );
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
