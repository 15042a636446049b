//! `bpsim bench`: how fast the engine runs, in numbers.
//!
//! Times every strategy on the blog's workload (uniform(0.1, 0.2) latencies,
//! one seeded stream per request) at several request counts, and prints wall
//! time per run (best of several), nanoseconds per request and per loop
//! iteration, and bpsim's own memory: the peak of the bytes the run holds
//! (from an [`AllocProbe`], when the binary installs one) and per live
//! simulated task, and the growth of the resident set. A second table varies
//! the concurrency limit at a fixed request count, to show how the cost
//! depends on it. Next to bpsim's time, the [`floor`]'s: the same makespan
//! from a bare binary heap of deadlines and nothing else. A third table
//! takes the limit table less the floor run on bpsim's own timer heap: what
//! bpsim spends beyond the heap, whose log factor the cost may grow by.
//! Wall-clock readings appear only here, never in simulation results.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::asyncio::Config;
use crate::experiment::{self, ExperimentError};
use crate::latency::{self, Distribution, LatencySource};
use crate::scenario::PythonVersion;
use crate::strategy::{self, StrategyKind, Workload};

pub mod floor;

/// Reads the heap bytes this thread holds, as counted by a global allocator
/// (the `bpsim` binary installs one; see `src/main.rs`).
#[derive(Clone, Copy, Debug)]
pub struct AllocProbe {
    /// Bytes allocated by this thread and not yet freed.
    pub current: fn() -> i64,
    /// Highest value of `current` since the last `reset_peak`.
    pub peak: fn() -> i64,
    /// Restart the peak from `current`.
    pub reset_peak: fn(),
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Request counts.
    pub sizes: Vec<u64>,
    /// Concurrency limit of the size table.
    pub concurrency: u64,
    /// Limits of the concurrency table (at the first size).
    pub limits: Vec<u64>,
    /// Runs per measurement below 1M requests (the best is kept).
    pub repeat: u32,
    /// Counts the bytes a run allocates, if available.
    pub probe: Option<AllocProbe>,
    /// The strategies to time, in this order.
    pub strategies: Vec<StrategyKind>,
}

/// Peak resident set size of this process since the last [`reset_peak`],
/// in bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak RSS counter (Linux: `5` into `/proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time this thread has spent in the kernel (Linux: `getrusage` with
/// `RUSAGE_THREAD`; `None` elsewhere). Under a run, nearly all of it is the
/// kernel mapping and zeroing the fresh pages the run touches.
fn thread_system_time() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `getrusage` only writes the `rusage` it is given, which is
        // plain data for which all zeroes is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage`.
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
            return None;
        }
        let t = usage.ru_stime;
        Some(Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// One measurement.
struct Measured {
    best: Duration,
    /// Kernel time within the best run.
    system: Option<Duration>,
    iterations: u64,
    /// Virtual time the run took (its makespan).
    makespan: f64,
    peak_live: u64,
    /// Peak RSS above the RSS before the first run, in bytes.
    rss: Option<u64>,
    /// Peak of the bytes the first run allocated above what was allocated
    /// before it.
    heap: Option<u64>,
}

fn measure(
    kind: StrategyKind,
    latencies: &std::sync::Arc<[f64]>,
    limit: u64,
    config: &Config,
    repeat: u32,
    probe: Option<AllocProbe>,
) -> Result<Measured, ExperimentError> {
    // As `bpsim run` without `--requests-csv` runs it: each request is
    // counted into the run's totals and percentiles as it finishes, not
    // logged.
    let workload = Workload::new(latencies.clone(), limit).with_request_log(false);
    let mut best = Duration::MAX;
    let mut system = None;
    let mut out = None;
    let mut max_rss = None;
    let mut max_heap = None;
    for run in 0..repeat.max(1) {
        // Memory is measured on the first run, from a cold start: without
        // the buffers an earlier run left to this thread.
        if run == 0 {
            crate::asyncio::free_thread_cache();
        }
        let before = current_rss();
        reset_peak();
        let heap_before = probe.map(|p| {
            (p.reset_peak)();
            (p.current)()
        });
        let system_before = thread_system_time();
        let t = Instant::now();
        let o =
            strategy::simulate(kind, &workload, config).map_err(|source| ExperimentError::Run {
                strategy: kind.name(),
                source,
            })?;
        let elapsed = t.elapsed();
        if elapsed < best {
            best = elapsed;
            system = thread_system_time()
                .zip(system_before)
                .map(|(after, before)| after.saturating_sub(before));
        }
        // The first run's growth is the honest one: later runs reuse the
        // buffers and pages earlier runs kept.
        if run == 0 {
            max_rss = match (peak_rss(), before) {
                (Some(p), Some(b)) => Some(p.saturating_sub(b)),
                _ => None,
            };
            if let (Some(p), Some(b)) = (probe, heap_before) {
                max_heap = Some(u64::try_from((p.peak)() - b).unwrap_or(0));
            }
        }
        out = Some(Measured {
            best,
            system,
            iterations: o.report.loop_iterations,
            makespan: o.report.duration_s,
            peak_live: o.report.peak_live_tasks,
            rss: max_rss,
            heap: max_heap,
        });
        drop(o);
    }
    Ok(out.expect("at least one run"))
}

/// How this binary was built, for the bench's header: timings of a debug
/// build mean nothing, and a PGO build (`scripts/pgo-build`, which sets
/// `BPSIM_BUILD=pgo`) takes 13-24 % less time than a plain release build.
fn build_kind() -> &'static str {
    match (cfg!(debug_assertions), option_env!("BPSIM_BUILD")) {
        (true, _) => "debug (timings meaningless)",
        (false, Some("pgo")) => "release + PGO",
        (false, _) => "release",
    }
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".to_owned(), |b| format!("{:.1}", b as f64 / 1e6))
}

/// Runs the benchmark and returns the printed tables.
pub fn run(options: &Options, mut progress: impl FnMut(&str)) -> Result<String, ExperimentError> {
    let config = experiment::config_for_version(PythonVersion::V3_12);
    let source = LatencySource::Distribution(Distribution::Uniform {
        low: 0.1,
        high: 0.2,
    });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bpsim bench: uniform(0.1, 0.2) latencies, seed 1, pure virtual time, one thread, {} build\n",
        build_kind()
    );
    let _ = writeln!(
        out,
        "{:<22} {:>11} {:>6} {:>10} {:>8} {:>11} {:>9} {:>9} {:>8} {:>11} {:>10} {:>10} {:>10} {:>10}",
        "strategy",
        "requests",
        "limit",
        "ms/run",
        "sys ms",
        "ns/request",
        "ns/iter",
        "floor ns",
        "x floor",
        "peak tasks",
        "heap (MB)",
        "RSS (MB)",
        "B/task heap",
        "B/task RSS"
    );
    for &n in &options.sizes {
        let latencies: std::sync::Arc<[f64]> = latency::workload(&source, 1, n)?.into();
        let repeat = if n >= 1_000_000 { 1 } else { options.repeat };
        for &kind in &options.strategies {
            progress(&format!("{} at {n} requests", kind.name()));
            let m = measure(
                kind,
                &latencies,
                options.concurrency,
                &config,
                repeat,
                options.probe,
            )?;
            let ns = m.best.as_nanos() as f64;
            // The floor's makespan must be bpsim's (its tests check that):
            // a time for another makespan would be no floor.
            let floor = floor::time(kind, &latencies, options.concurrency, repeat)
                .map(|(makespan, d)| (makespan.to_bits() == m.makespan.to_bits(), d));
            let (floor_ns, x_floor) = match floor {
                Some((true, d)) => {
                    let f = d.as_nanos() as f64;
                    (
                        format!("{:.1}", f / n.max(1) as f64),
                        format!("{:.1}", ns / f),
                    )
                }
                Some((false, _)) => ("differs".to_owned(), String::new()),
                None => (String::new(), String::new()),
            };
            // Per live task only where live tasks dominate the memory.
            let per_task = |bytes: Option<u64>| {
                bytes
                    .filter(|_| m.peak_live >= 100_000)
                    .map_or("".to_owned(), |b| {
                        format!("{:.0}", b as f64 / m.peak_live as f64)
                    })
            };
            let _ = writeln!(
                out,
                "{:<22} {:>11} {:>6} {:>10.2} {:>8} {:>11.1} {:>9.1} {:>9} {:>8} {:>11} {:>10} {:>10} {:>11} {:>10}",
                kind.name(),
                n,
                options.concurrency,
                ns / 1e6,
                m.system.map_or("n/a".to_owned(), |d| format!(
                    "{:.0}",
                    d.as_secs_f64() * 1e3
                )),
                ns / n.max(1) as f64,
                ns / m.iterations.max(1) as f64,
                floor_ns,
                x_floor,
                m.peak_live,
                mb(m.heap),
                mb(m.rss),
                per_task(m.heap),
                per_task(m.rss)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nfloor ns: ns/request of the same makespan from a bare heap of \
         deadlines and nothing else \
         (`bench::floor`; blank where it has no model); x floor: ms/run \
         over the floor's. \
         sys ms: the part of ms/run spent in the kernel, nearly all of it \
         mapping and zeroing fresh pages (page faults); \
         heap: peak bytes the run allocated above what was held before it \
         (engine, coroutines, the totals and percentile histograms of the requests; a vector's unused capacity counts); \
         RSS: growth of the resident set (memory actually touched); B/task: \
         either per live task at the peak, shown from 100,000 live tasks on."
    );
    if let Some(&n) = options.sizes.first()
        && !options.limits.is_empty()
    {
        let latencies: std::sync::Arc<[f64]> = latency::workload(&source, 1, n)?.into();
        let _ = writeln!(
            out,
            "\ncost against the concurrency limit, {n} requests (ns/request):\n"
        );
        let mut header = format!("{:<22}", "strategy");
        for l in &options.limits {
            let _ = write!(header, " {:>9}", format!("C={l}"));
        }
        let _ = writeln!(out, "{header}");
        let per_request = |d: Duration| d.as_nanos() as f64 / n.max(1) as f64;
        let mut engine = Vec::new();
        for &kind in &options.strategies {
            let mut line = format!("{:<22}", kind.name());
            let mut row = Vec::new();
            for &l in &options.limits {
                progress(&format!("{} at limit {l}", kind.name()));
                let m = measure(kind, &latencies, l, &config, options.repeat, None)?;
                let ns = per_request(m.best);
                row.push(ns);
                let _ = write!(line, " {ns:>9.1}");
            }
            engine.push((kind, row));
            let _ = writeln!(out, "{line}");
        }
        // The floor's two models on both heaps: the timer heap's own share of
        // the growth.
        let mut on_heapq = Vec::new();
        for (heap, prefix) in [(floor::Heap::Bare, "floor"), (floor::Heap::Heapq, "heapq")] {
            for (name, model) in [
                ("batching", floor::Model::Batches),
                ("limit servers", floor::Model::Servers),
            ] {
                let mut line = format!("{:<22}", format!("{prefix}: {name}"));
                let mut row = Vec::new();
                for &l in &options.limits {
                    let (_, d) = floor::time_on(heap, model, &latencies, l, options.repeat);
                    let ns = per_request(d);
                    row.push(ns);
                    let _ = write!(line, " {ns:>9.1}");
                }
                if heap == floor::Heap::Heapq {
                    on_heapq.push((model, row));
                }
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(
            out,
            "\nfloor: the same makespans from a bare heap of deadlines (std's \
             BinaryHeap); heapq: the same floor on bpsim's own timer heap (CPython's \
             heapq moves, entries of bpsim's size), the timer queue's own cost."
        );
        let _ = write!(out, "{}", beyond_the_heap(options, &engine, &on_heapq));
    }
    Ok(out)
}

/// The limit table less the timer heap's own cost: for each strategy the
/// floor models, bpsim's ns/request less the floor's on bpsim's heap (with
/// the strategy's model), and the spread across limits (max/min). Empty if
/// the floor models none of the strategies.
fn beyond_the_heap(
    options: &Options,
    engine: &[(StrategyKind, Vec<f64>)],
    on_heapq: &[(floor::Model, Vec<f64>)],
) -> String {
    let mut rows = String::new();
    for (kind, row) in engine {
        let Some(heap) = floor::model(*kind)
            .and_then(|model| on_heapq.iter().find(|(m, _)| *m == model))
            .map(|(_, heap)| heap)
        else {
            continue;
        };
        let beyond: Vec<f64> = row.iter().zip(heap).map(|(e, h)| e - h).collect();
        let _ = write!(rows, "{:<22}", kind.name());
        for b in &beyond {
            let _ = write!(rows, " {b:>9.1}");
        }
        let (min, max) = beyond
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &b| {
                (lo.min(b), hi.max(b))
            });
        // Timing noise on a tiny run could leave nothing beyond the heap.
        let spread = if min > 0.0 {
            format!("{:.2}", max / min)
        } else {
            "n/a".to_owned()
        };
        let _ = writeln!(rows, " {spread:>9}");
    }
    if rows.is_empty() {
        return rows;
    }
    let mut header = format!("{:<22}", "strategy");
    for l in &options.limits {
        let _ = write!(header, " {:>9}", format!("C={l}"));
    }
    format!(
        "\ncost beyond the timer heap (ns/request: bpsim less the floor on bpsim's heap):\n\n\
         {header} {:>9}\n{rows}",
        "max/min"
    )
}

/// The sweep timed by [`sweep_scaling`]: the shipped `variance_sweep`'s
/// shape (latency width against duration, the four blog strategies, 100,000
/// requests each) with fewer points, in pure virtual time.
const SCALING_SWEEP: &str = r#"
name = "bench_scaling"
seed = 1
requests = 100_000
concurrency = 500

[latency]
distribution = "uniform"
mean = 0.15
width = 0.1

[sweep]
latency.width = { from = 0.0, to = 0.1, steps = 6 }
replications = 2

[model]
python = "3.12"
cpu = "none"
"#;

/// How a sweep scales with threads: the same sweep through `bpsim sweep`'s
/// own code path (rayon pool, journal, CSV) on 1 thread and on `threads`,
/// best of `repeat`, in a temporary directory. Returns the printed table.
///
/// # Errors
/// If the temporary directory or the sweep's files cannot be written.
pub fn sweep_scaling(threads: usize, repeat: u32) -> anyhow::Result<String> {
    // Removed on Ctrl-C too (see `output::remove_unfinished`).
    let dir = crate::output::TempFolder::new()?;
    let path = dir.path().join("bench_scaling.toml");
    std::fs::write(&path, SCALING_SWEEP)?;
    let scenario = crate::scenario::Scenario::load(&path)?;
    let runs = scenario.sweep.as_ref().map_or(0, |s| {
        s.points.len() * s.replications as usize * scenario.strategies.len()
    });
    let interrupted = std::sync::atomic::AtomicBool::new(false);
    let time = |jobs: usize| -> anyhow::Result<Duration> {
        let options = crate::sweep::Options {
            output_dir: dir.path().join("out"),
            jobs: Some(jobs),
            fresh: true,
            ..crate::sweep::Options::default()
        };
        let t = Instant::now();
        crate::sweep::run(&scenario, &options, &interrupted)?;
        Ok(t.elapsed())
    };
    // One thread and many, alternated: a machine whose speed drifts (a
    // shared VM) then weighs on both alike.
    let (mut one, mut many) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeat.max(1) {
        one = one.min(time(1)?);
        many = many.min(time(threads)?);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsweep scaling: `bpsim sweep` of {runs} runs of 100000 requests \
         (6 latency widths x 2 replications x 4 strategies), best of {repeat}:\n"
    );
    let _ = writeln!(out, "{:>8} {:>10} {:>12}", "threads", "seconds", "speedup");
    let _ = writeln!(out, "{:>8} {:>10.3} {:>12}", 1, one.as_secs_f64(), "1.00x");
    let _ = writeln!(
        out,
        "{:>8} {:>10.3} {:>11.2}x",
        threads,
        many.as_secs_f64(),
        one.as_secs_f64() / many.as_secs_f64()
    );
    Ok(out)
}
