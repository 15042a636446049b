//! Running `conformance/harness.py` for the tests against CPython: which
//! strategies, with which parameters, and the harness call that gives
//! CPython the same ones.

use std::path::Path;
use std::process::Command;

use bpsim::server::client::attempt_draws;
use bpsim::server::{BackoffKind, Discipline, Jitter, ServerSpec};
use bpsim::strategy::{StrategyKind, StrategyParams};
use serde_json::Value;

/// The strategies a case of `n` requests at limit `c` runs, and their
/// parameters: a rate that binds (80% of what the limit alone allows) and a
/// latency target that moves the adaptive limit both ways.
pub(crate) fn plan(n: usize, c: u64, lat: &[f64]) -> (Vec<StrategyKind>, StrategyParams) {
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().sum::<f64>() / lat.len() as f64
    };
    let mut params = StrategyParams::defaults();
    params.max_per_second = if mean > 0.0 {
        0.8 * c as f64 / mean
    } else {
        1000.0
    };
    params.adaptive.target_latency = 1.2 * mean;
    params.adaptive.decrease = 0.75;
    // asyncio.wait is O(C) per call in CPython: keep its cases short.
    let kinds = StrategyKind::ALL
        .into_iter()
        .filter(|&k| k != StrategyKind::SlidingWindow || n as u64 * c <= 2_000_000)
        .collect();
    (kinds, params)
}

/// Run the harness with `python` on `trace` at limit `c` for `kinds` with
/// `params` (and any `extra` flags, such as `--tracemalloc`), and parse the
/// JSON it prints.
pub(crate) fn run(
    python: &str,
    trace: &Path,
    c: u64,
    kinds: &[StrategyKind],
    params: &StrategyParams,
    extra: &[&str],
) -> Result<Value, String> {
    run_padded(python, trace, c, kinds, params, extra, None)
}

/// The heap paddings [`run_padded`] tries: how many objects the process
/// keeps before the harness starts (`conformance/difftest.py`'s
/// `SPREAD_PADS`).
#[allow(dead_code)] // Used by the memory test, not by the conformance test.
pub(crate) const SPREAD_PADS: [u32; 5] = [0, 300, 1000, 3000, 5000];

/// [`run`], but with `pad`, in a process that first keeps `pad` objects
/// of assorted sizes (through `python -c`, which then runs the harness as
/// `__main__`), so that the objects the traced run allocates land at other
/// addresses. CPython's traced peak depends on where they land, by a few
/// KB at small peaks: a set of tasks (a TaskGroup's, asyncio's task
/// registry) resizes its table by its keys' address hashes. The memory
/// test judges bpsim against the peaks of several paddings (CPython's
/// spread), as `conformance/difftest.py` does.
pub(crate) fn run_padded(
    python: &str,
    trace: &Path,
    c: u64,
    kinds: &[StrategyKind],
    params: &StrategyParams,
    extra: &[&str],
    pad: Option<u32>,
) -> Result<Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/harness.py");
    let mut cmd = Command::new(python);
    if let Some(pad) = pad {
        cmd.arg("-c").arg(format!(
            "import runpy, sys; _pad = [bytes(j % 480) for j in range({pad})]; \
             sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
        ));
    }
    cmd.arg(script)
        .arg("--trace")
        .arg(trace)
        .arg("--concurrency")
        .arg(c.to_string())
        .args(extra);
    for k in kinds {
        cmd.arg("--strategy").arg(k.name());
    }
    let a = &params.adaptive;
    for (flag, v) in [
        ("--max-per-second", params.max_per_second),
        ("--target-latency", a.target_latency),
        ("--min-limit", a.min_limit),
        ("--max-limit", a.max_limit_at(c)),
        ("--increase", a.increase),
        ("--decrease", a.decrease),
    ] {
        cmd.arg(flag).arg(format!("{v:?}"));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python} harness failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad harness JSON: {e}"))
}

/// Line `i`: request `i`'s `(coin, jitter)` for each of its attempts, as
/// bpsim draws them with run seed `seed`.
pub(crate) fn write_draws(path: &Path, spec: &ServerSpec, seed: u64, n: usize) {
    let mut text = String::new();
    for i in 0..n as u64 {
        let draws = attempt_draws(spec, seed, i).take(spec.retries as usize + 1);
        let line: Vec<String> = draws
            .flat_map(|(coin, jitter)| [format!("{coin:?}"), format!("{jitter:?}")])
            .collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write draws");
}

/// The harness flags that describe `spec`, with the file of draws.
pub(crate) fn server_args(spec: &ServerSpec, draws: Option<&Path>) -> Vec<String> {
    let mut args = vec!["--server".to_string()];
    let mut push = |flag: &str, v: String| {
        args.push(flag.to_string());
        args.push(v);
    };
    if let Some(k) = spec.capacity {
        push("--server-capacity", k.to_string());
    }
    let discipline = match spec.discipline {
        Discipline::Fifo => "fifo",
        Discipline::ProcessorSharing => "processor_sharing",
    };
    push("--discipline", discipline.into());
    push("--error-rate", format!("{:?}", spec.error_rate));
    if let Some(t) = spec.timeout {
        push("--timeout", format!("{t:?}"));
    }
    push("--retries", spec.retries.to_string());
    let b = &spec.backoff;
    let kind = match b.kind {
        BackoffKind::Fixed => "fixed",
        BackoffKind::Exponential => "exponential",
    };
    push("--backoff", kind.into());
    push("--backoff-base", format!("{:?}", b.base));
    push("--backoff-max", format!("{:?}", b.max));
    let jitter = match b.jitter {
        Jitter::None => "none",
        Jitter::Full => "full",
        Jitter::Equal => "equal",
    };
    push("--jitter", jitter.into());
    if let Some(d) = draws {
        push("--draws", d.to_string_lossy().into_owned());
    }
    args
}
