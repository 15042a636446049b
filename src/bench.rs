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
//! Last, [`targets`] judges the speed targets by the run's figures.
//! Wall-clock readings appear only here, never in simulation results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::asyncio::Config;
use crate::experiment::{self, ExperimentError};
use crate::latency::{self, Distribution, LatencySource};
use crate::scenario::PythonVersion;
use crate::strategy::{self, StrategyKind, Workload};

pub mod floor;
pub mod machine;
pub mod targets;

use targets::Targets;

/// Live tasks from which bytes per live task are shown (and judged): below
/// them, the engine's fixed buffers weigh on the figure.
const PER_TASK_FROM: u64 = 100_000;

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
    /// Where each of bpsim's measurements runs.
    pub isolation: Isolation,
    /// Threads for the blog table's `-j` (`bpsim run scenarios/blog.toml`
    /// one strategy at a time and this many at once); 0 skips it.
    pub table_threads: usize,
}

/// Where bpsim's measurements run.
///
/// The same binary on the same input can take 20-70 % longer in one
/// process than in the next, with the same instructions: where its buffers
/// fall, relative to each other and in physical memory, decides how the
/// hot data collide in the caches. That placement is fixed for a process's
/// life, and partly fixed by its arguments (their lengths move every heap
/// allocation after them). The best of several runs in one process keeps
/// that process's luck; the median over fresh processes, each with its heap
/// shifted by a different amount, does not. The binary's code has its own
/// placement, the page cache's, shared by every process started from one
/// file: each round starts its own copy (see `ExeCopies`).
#[derive(Clone, Debug)]
pub enum Isolation {
    /// In this process, one after another: one layout for every figure.
    InProcess,
    /// Each measurement in `count` fresh processes of `exe` (this binary's
    /// hidden `bench-child` command), interleaved across strategies so
    /// that a slow minute on a shared machine hits them all alike, the
    /// `r`th with its heap shifted by [`heap_shift`]`(r)` bytes; the median
    /// process is kept and the spread reported. Runs of 10 million
    /// requests or more take one process.
    Processes {
        /// The `bpsim` binary to start.
        exe: PathBuf,
        /// Processes per measurement.
        count: u32,
    },
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
#[derive(Clone, Debug, PartialEq)]
struct Measured {
    best: Duration,
    /// The first run: without the buffers an earlier run leaves to the
    /// thread, as the one run of a strategy in `bpsim run` starts.
    first: Duration,
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

/// A measurement of bpsim and, for the size table, of the floor on the
/// same workload (its makespan and best time).
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    bpsim: Measured,
    floor: Option<(f64, Duration)>,
}

impl Sample {
    /// The one line `bpsim bench-child` prints: space-separated fields, `-`
    /// for none, floats as their bits (exact through the pipe).
    fn to_line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let m = &self.bpsim;
        format!(
            "{} {} {} {} {} {} {} {} {} {}",
            m.best.as_nanos(),
            m.first.as_nanos(),
            opt(m.system.map(|d| d.as_nanos() as u64)),
            m.iterations,
            m.makespan.to_bits(),
            m.peak_live,
            opt(m.rss),
            opt(m.heap),
            opt(self.floor.map(|(makespan, _)| makespan.to_bits())),
            opt(self.floor.map(|(_, d)| d.as_nanos() as u64)),
        )
    }

    /// Reads [`Sample::to_line`]'s line back.
    fn from_line(line: &str) -> Option<Sample> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [
            best,
            first,
            system,
            iterations,
            makespan,
            peak_live,
            rss,
            heap,
            floor_makespan,
            floor_ns,
        ] = fields[..]
        else {
            return None;
        };
        let opt = |s: &str| -> Option<Option<u64>> {
            if s == "-" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        let floor = match (opt(floor_makespan)?, opt(floor_ns)?) {
            (Some(bits), Some(ns)) => Some((f64::from_bits(bits), Duration::from_nanos(ns))),
            _ => None,
        };
        Some(Sample {
            bpsim: Measured {
                best: Duration::from_nanos(best.parse().ok()?),
                first: Duration::from_nanos(first.parse().ok()?),
                system: opt(system)?.map(Duration::from_nanos),
                iterations: iterations.parse().ok()?,
                makespan: f64::from_bits(makespan.parse().ok()?),
                peak_live: peak_live.parse().ok()?,
                rss: opt(rss)?,
                heap: opt(heap)?,
            },
            floor,
        })
    }
}

/// The blog's workload: `n` uniform(0.1, 0.2) latencies, seed 1.
fn blog_workload(n: u64) -> Result<std::sync::Arc<[f64]>, ExperimentError> {
    let source = LatencySource::Distribution(Distribution::Uniform {
        low: 0.1,
        high: 0.2,
    });
    Ok(latency::workload(&source, 1, n)?.into())
}

/// One measurement in this process: bpsim's, and the floor's if asked.
fn sample(
    kind: StrategyKind,
    latencies: &std::sync::Arc<[f64]>,
    limit: u64,
    repeat: u32,
    with_floor: bool,
    probe: Option<AllocProbe>,
) -> Result<Sample, ExperimentError> {
    let config = experiment::config_for_version(PythonVersion::V3_12);
    let bpsim = measure(kind, latencies, limit, &config, repeat, probe)?;
    let floor = if with_floor {
        floor::time(kind, latencies, limit, repeat)
    } else {
        None
    };
    Ok(Sample { bpsim, floor })
}

/// `bpsim bench-child`: one measurement in a fresh process, for
/// [`Isolation::Processes`]. Returns the line to print.
///
/// # Errors
/// If the workload cannot be drawn or the run fails.
pub fn child(
    kind: StrategyKind,
    requests: u64,
    limit: u64,
    repeat: u32,
    with_floor: bool,
    probe: Option<AllocProbe>,
) -> Result<String, ExperimentError> {
    let latencies = blog_workload(requests)?;
    Ok(sample(kind, &latencies, limit, repeat, with_floor, probe)?.to_line())
}

/// Bytes the `round`th process of a measurement allocates first: 0, then
/// steps of 2,448 B (153 lines of 16 B) around a 4 KiB page, so that five
/// processes put the run's buffers at five offsets spread over the page
/// (0, 2448, 800, 3248, 1600) and no two rounds repeat within 256.
pub fn heap_shift(round: u32) -> usize {
    (round as usize * 2448) % 4096
}

/// Fresh copies of the `bpsim` executable, one per process round, in a
/// temporary folder removed when this is dropped, or on Ctrl-C
/// ([`crate::output::TempFolder`]).
///
/// Where the kernel puts a binary's code in physical memory changes its
/// time as much as the heap's placement does, and every process started
/// from one file shares that placement, the page cache's, for as long as
/// the file stays cached. On 2026-12-07 one copy of `prof_one` took
/// 15.2-16.6 ms per `gated_spawn` run (100k requests, limit 500) in every
/// process started from it, and another copy of the same bytes 7.9-8.2 ms;
/// of 16 copies made one after another, 2 were slow (11-13 ms) both times
/// each was run. Processes all started from this binary would repeat one
/// draw; each round starting its own copy makes the placement one more
/// thing the median over processes sees anew.
struct ExeCopies {
    /// The executable.
    original: PathBuf,
    /// The folder of the copies; none: every round starts `original`.
    dir: Option<crate::output::TempFolder>,
    /// The round whose copy is on disk, and the copy: one at a time (the
    /// binary is about 20 MB).
    current: Option<(u32, PathBuf)>,
    /// Why there are no copies.
    why_not: Option<String>,
    /// Copies stopped after the first round had one.
    gave_up: bool,
}

/// Attempts at starting a file just written, while `ETXTBSY` says that
/// another thread's child process still holds it open for writing (in
/// this process only tests start processes from several threads).
const BUSY_RETRIES: u32 = 20;

impl ExeCopies {
    /// Copies of `exe`, once a first one has been made and started; if
    /// that fails, none (with the reason), and the bench starts `exe`
    /// itself.
    fn new(exe: &Path) -> Self {
        let mut copies = ExeCopies {
            original: exe.to_owned(),
            dir: None,
            current: None,
            why_not: None,
            gave_up: false,
        };
        match crate::output::TempFolder::new() {
            Ok(dir) => {
                let check = dir.path().join("bpsim-check");
                copies.dir = Some(dir);
                match copies.copy_to(&check) {
                    Ok(()) => {
                        // A temporary folder mounted `noexec` takes the copy
                        // but will not start it.
                        if let Err(e) = start_when_not_busy(&check) {
                            copies.why_not = Some(format!(
                                "cannot start a copy in {} (mounted noexec?): {e}",
                                check.parent().unwrap_or(&check).display()
                            ));
                            copies.dir = None;
                        }
                        let _ = std::fs::remove_file(&check);
                    }
                    Err(why) => {
                        copies.why_not = Some(why);
                        copies.dir = None;
                    }
                }
            }
            Err(e) => copies.why_not = Some(format!("cannot make a temporary folder: {e}")),
        }
        copies
    }

    /// Copy the executable to `to`, written through to the disk, so that
    /// its write-back does not land in the middle of the timed runs.
    fn copy_to(&self, to: &Path) -> Result<(), String> {
        std::fs::copy(&self.original, to)
            .and_then(|_| std::fs::File::open(to)?.sync_all())
            .map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    self.original.display(),
                    to.display()
                )
            })
    }

    /// The executable round `round` starts: a fresh copy when the round
    /// changes (the last round's is removed), `original` without copies.
    fn for_round(&mut self, round: u32) -> PathBuf {
        let Some(dir) = &self.dir else {
            return self.original.clone();
        };
        if let Some((r, copy)) = &self.current {
            if *r == round {
                return copy.clone();
            }
            let _ = std::fs::remove_file(copy);
            self.current = None;
        }
        let copy = dir.path().join(format!("bpsim-{round}"));
        match self.copy_to(&copy) {
            Ok(()) => {
                self.current = Some((round, copy.clone()));
                copy
            }
            Err(why) => {
                self.give_up(why);
                self.original.clone()
            }
        }
    }

    /// A copy could not be made or started: start the original from now on.
    fn give_up(&mut self, why: String) {
        if let Some((_, copy)) = self.current.take() {
            let _ = std::fs::remove_file(copy);
        }
        self.dir = None;
        self.why_not = Some(why);
        self.gave_up = true;
    }
}

/// `exe --version`, retried while the file is busy (see [`BUSY_RETRIES`]).
fn start_when_not_busy(exe: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match std::process::Command::new(exe)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < BUSY_RETRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                return Err(std::io::Error::other(format!(
                    "--version exited with {}",
                    out.status
                )));
            }
        }
    }
}

/// One measurement in a fresh process of `exe` (`bpsim bench-child`).
fn in_child(
    exe: &std::path::Path,
    job: &Job,
    round: u32,
    repeat: u32,
    with_floor: bool,
) -> anyhow::Result<Sample> {
    let Job {
        kind,
        requests,
        limit,
    } = *job;
    let mut command = std::process::Command::new(exe);
    command.args([
        "bench-child",
        "--strategy",
        kind.name(),
        "--requests",
        &requests.to_string(),
        "--limit",
        &limit.to_string(),
        "--repeat",
        &repeat.to_string(),
        "--heap-shift",
        &heap_shift(round).to_string(),
    ]);
    if with_floor {
        command.arg("--floor");
    }
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("starting {} bench-child", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "timing {} at {requests} requests, limit {limit}, in a child process ({}) failed \
             ({}): {}",
            kind.name(),
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Sample::from_line(stdout.trim()).with_context(|| {
        format!(
            "{} bench-child printed {:?}, not a measurement (is it the same bpsim?)",
            exe.display(),
            stdout.trim()
        )
    })
}

/// The median sample (by bpsim's time; the lower middle of an even count)
/// and the spread of bpsim's times: (slowest - fastest) / median. Its
/// first-run time is the median of the samples' own (the same middle), so
/// it is never below the median time.
fn median(mut samples: Vec<Sample>) -> (Sample, f64) {
    let mid = (samples.len() - 1) / 2;
    let mut firsts: Vec<Duration> = samples.iter().map(|s| s.bpsim.first).collect();
    firsts.sort_unstable();
    samples.sort_by_key(|s| s.bpsim.best);
    let fastest = samples[0].bpsim.best.as_secs_f64();
    let slowest = samples[samples.len() - 1].bpsim.best.as_secs_f64();
    let mut middle = samples.swap_remove(mid);
    middle.bpsim.first = firsts[mid];
    let spread = (slowest - fastest) / middle.bpsim.best.as_secs_f64().max(f64::MIN_POSITIVE);
    (middle, spread)
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
    let mut first = Duration::ZERO;
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
        if run == 0 {
            first = elapsed;
        }
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
            first,
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

/// What one measurement times: a strategy on the blog's workload.
#[derive(Clone, Copy, Debug)]
struct Job {
    kind: StrategyKind,
    requests: u64,
    limit: u64,
}

/// Measures every job as `options.isolation` says, and returns, in the
/// jobs' order, the sample kept and the spread across processes (none in
/// this process). Processes go round by round over all the jobs, so a
/// slow spell of a shared machine falls on every job alike, each round
/// starting from its copy in `copies` (which [`run`] makes, once, for
/// [`Isolation::Processes`]).
fn measure_all(
    options: &Options,
    copies: Option<&mut ExeCopies>,
    jobs: &[Job],
    repeat: u32,
    with_floor: bool,
    progress: &mut impl FnMut(&str),
) -> anyhow::Result<Vec<(Sample, Option<f64>)>> {
    // The size table times the floor too, the limit table does not.
    let what = |job: &Job| {
        if with_floor {
            format!("{} at {} requests", job.kind.name(), job.requests)
        } else {
            format!("{} at limit {}", job.kind.name(), job.limit)
        }
    };
    match (&options.isolation, copies) {
        (Isolation::InProcess, _) | (Isolation::Processes { .. }, None) => {
            let mut latencies: Option<(u64, std::sync::Arc<[f64]>)> = None;
            let mut rows = Vec::with_capacity(jobs.len());
            for job in jobs {
                progress(&what(job));
                let workload = match &latencies {
                    Some((n, l)) if *n == job.requests => l.clone(),
                    _ => {
                        let l = blog_workload(job.requests)?;
                        latencies = Some((job.requests, l.clone()));
                        l
                    }
                };
                let s = sample(
                    job.kind,
                    &workload,
                    job.limit,
                    repeat,
                    with_floor,
                    options.probe,
                )?;
                rows.push((s, None));
            }
            Ok(rows)
        }
        (Isolation::Processes { count, .. }, Some(copies)) => {
            let rounds = |job: &Job| {
                if job.requests >= 10_000_000 {
                    1
                } else {
                    (*count).max(1)
                }
            };
            let most = jobs.iter().map(rounds).max().unwrap_or(1);
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); jobs.len()];
            for round in 0..most {
                for (job, taken) in jobs.iter().zip(&mut samples) {
                    if round >= rounds(job) {
                        continue;
                    }
                    progress(&format!(
                        "{} (process {} of {})",
                        what(job),
                        round + 1,
                        rounds(job)
                    ));
                    let exe = copies.for_round(round);
                    let sample = match in_child(&exe, job, round, repeat, with_floor) {
                        // A copy that would not start: the original from now on.
                        Err(e)
                            if exe != copies.original
                                && e.downcast_ref::<std::io::Error>().is_some() =>
                        {
                            copies.give_up(format!("{e:#}"));
                            in_child(&copies.original, job, round, repeat, with_floor)?
                        }
                        taken => taken?,
                    };
                    taken.push(sample);
                }
            }
            Ok(samples
                .into_iter()
                .map(|taken| {
                    let single = taken.len() == 1;
                    let (s, spread) = median(taken);
                    (s, (!single).then_some(spread))
                })
                .collect())
        }
    }
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
pub fn run(options: &Options, mut progress: impl FnMut(&str)) -> anyhow::Result<(String, Targets)> {
    let mut out = String::new();
    let mut targets = Targets::default();
    let mut copies = match &options.isolation {
        Isolation::Processes { exe, .. } => Some(ExeCopies::new(exe)),
        Isolation::InProcess => None,
    };
    let _ = writeln!(
        out,
        "bpsim bench: uniform(0.1, 0.2) latencies, seed 1, pure virtual time, one thread, {} build",
        build_kind()
    );
    let _ = match &options.isolation {
        Isolation::InProcess => writeln!(
            out,
            "ms/run: best of {} runs in this process (one memory layout for every figure)",
            options.repeat
        ),
        Isolation::Processes { count, .. } => writeln!(
            out,
            "ms/run: the median of {count} fresh processes, each the best of {} runs \
             (1 run from 1M requests, 1 process from 10M); spread: slowest less fastest \
             process over the median; {}",
            options.repeat,
            match copies.as_ref().and_then(|c| c.why_not.as_deref()) {
                None => "each process round starts its own copy of this binary".to_owned(),
                Some(why) => format!("every process starts this binary ({why})"),
            }
        ),
    };
    let _ = writeln!(out, "{}\n", machine::describe());
    let _ = writeln!(
        out,
        "{:<22} {:>11} {:>6} {:>10} {:>9} {:>8} {:>11} {:>9} {:>9} {:>8} {:>11} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "strategy",
        "requests",
        "limit",
        "ms/run",
        "first ms",
        "sys ms",
        "ns/request",
        "ns/iter",
        "floor ns",
        "x floor",
        "peak tasks",
        "heap (MB)",
        "RSS (MB)",
        "B/task heap",
        "B/task RSS",
        "spread"
    );
    for &n in &options.sizes {
        let repeat = if n >= 1_000_000 { 1 } else { options.repeat };
        let jobs: Vec<Job> = options
            .strategies
            .iter()
            .map(|&kind| Job {
                kind,
                requests: n,
                limit: options.concurrency,
            })
            .collect();
        let rows = measure_all(options, copies.as_mut(), &jobs, repeat, true, &mut progress)?;
        for (kind, (sample, spread)) in options.strategies.iter().zip(rows) {
            let m = &sample.bpsim;
            let ns = m.best.as_nanos() as f64;
            targets.record(*kind, n, options.concurrency, m);
            // The floor's makespan must be bpsim's (its tests check that):
            // a time for another makespan would be no floor.
            let (floor_ns, x_floor) = match sample.floor {
                Some((makespan, d)) if makespan.to_bits() == m.makespan.to_bits() => {
                    let f = d.as_nanos() as f64;
                    (
                        format!("{:.1}", f / n.max(1) as f64),
                        format!("{:.1}", ns / f),
                    )
                }
                Some(_) => ("differs".to_owned(), String::new()),
                None => (String::new(), String::new()),
            };
            // Per live task only where live tasks dominate the memory.
            let per_task = |bytes: Option<u64>| {
                bytes
                    .filter(|_| m.peak_live >= PER_TASK_FROM)
                    .map_or("".to_owned(), |b| {
                        format!("{:.0}", b as f64 / m.peak_live as f64)
                    })
            };
            let _ = writeln!(
                out,
                "{:<22} {:>11} {:>6} {:>10.2} {:>9.2} {:>8} {:>11.1} {:>9.1} {:>9} {:>8} {:>11} {:>10} {:>10} {:>11} {:>10} {:>8}",
                kind.name(),
                n,
                options.concurrency,
                ns / 1e6,
                m.first.as_secs_f64() * 1e3,
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
                per_task(m.rss),
                spread.map_or(String::new(), |s| format!("{:.1}%", s * 100.0))
            );
        }
    }
    let _ = writeln!(
        out,
        "\nfloor ns: ns/request of the same makespan from a bare heap of \
         deadlines and nothing else \
         (`bench::floor`; blank where it has no model); x floor: ms/run \
         over the floor's. \
         first ms: the first of a measurement's runs, which starts \
         without the buffers earlier runs leave to the thread, as `bpsim \
         run` runs a strategy once (the median over the processes, as \
         ms/run). \
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
        let latencies = blog_workload(n)?;
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
        let jobs: Vec<Job> = options
            .strategies
            .iter()
            .flat_map(|&kind| {
                options.limits.iter().map(move |&limit| Job {
                    kind,
                    requests: n,
                    limit,
                })
            })
            .collect();
        // Each cell: ns per request, and loop iterations per request (the
        // program's own work, which some strategies change with the limit).
        let mut cells = measure_all(
            options,
            copies.as_mut(),
            &jobs,
            options.repeat,
            false,
            &mut progress,
        )?
        .into_iter()
        .map(|(sample, _)| {
            (
                per_request(sample.bpsim.best),
                sample.bpsim.iterations as f64 / n.max(1) as f64,
            )
        });
        let mut engine = Vec::new();
        for &kind in &options.strategies {
            let mut line = format!("{:<22}", kind.name());
            let row: Vec<(f64, f64)> = cells.by_ref().take(options.limits.len()).collect();
            for (ns, _) in &row {
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
        let (text, spreads) = beyond_the_heap(options, &engine, &on_heapq);
        let _ = write!(out, "{text}");
        targets.limits.clone_from(&options.limits);
        targets.limit_spreads = spreads;
    }
    if options.table_threads > 0 {
        progress(&format!(
            "the blog table on 1 and {} threads",
            options.table_threads
        ));
        let count = match &options.isolation {
            Isolation::Processes { count, .. } => *count,
            Isolation::InProcess => 1,
        };
        let (text, one, many, threads) = table_section(
            copies.as_mut(),
            count,
            options.table_threads,
            options.repeat,
        )?;
        let _ = write!(out, "{text}");
        targets.blog_table = Some((one.as_secs_f64() * 1e3, many.as_secs_f64() * 1e3, threads));
    }
    if let Some(ExeCopies {
        gave_up: true,
        why_not: Some(why),
        ..
    }) = &copies
    {
        let _ = writeln!(
            out,
            "\nnote: a copy of this binary would not start, so later processes started \
             the binary itself ({why})"
        );
    }
    Ok((out, targets))
}

/// The limit table less the timer heap's own cost: for each strategy the
/// floor models, bpsim's ns/request less the floor's on bpsim's heap (with
/// the strategy's model), and the spread across limits (max/min); then the
/// same divided by the loop iterations per request. Empty if the floor
/// models none of the strategies. Also returns each strategy's spread per
/// loop iteration (where it has one).
fn beyond_the_heap(
    options: &Options,
    engine: &[(StrategyKind, Vec<(f64, f64)>)],
    on_heapq: &[(floor::Model, Vec<f64>)],
) -> (String, Vec<(StrategyKind, f64)>) {
    // Per request, and per loop iteration: `batching` at C=1 runs a
    // TaskGroup per request, 1.7 times the iterations it runs at C=100.
    let (mut per_request, mut per_iteration) = (String::new(), String::new());
    let mut spreads = Vec::new();
    for (kind, row) in engine {
        let Some(heap) = floor::model(*kind)
            .and_then(|model| on_heapq.iter().find(|(m, _)| *m == model))
            .map(|(_, heap)| heap)
        else {
            continue;
        };
        let beyond: Vec<(f64, f64)> = row
            .iter()
            .zip(heap)
            .map(|(&(ns, iterations), h)| (ns - h, (ns - h) / iterations))
            .collect();
        spread_row(&mut per_request, kind, beyond.iter().map(|b| b.0));
        if let Some(spread) = spread_row(&mut per_iteration, kind, beyond.iter().map(|b| b.1)) {
            spreads.push((*kind, spread));
        }
    }
    if per_request.is_empty() {
        return (per_request, spreads);
    }
    let mut header = format!("{:<22}", "strategy");
    for l in &options.limits {
        let _ = write!(header, " {:>9}", format!("C={l}"));
    }
    let _ = write!(header, " {:>9}", "max/min");
    let text = format!(
        "\ncost beyond the timer heap (ns/request: bpsim less the floor on bpsim's heap):\n\n\
         {header}\n{per_request}\n\
         the same per loop iteration (ns/iteration: the programs run more iterations per \
         request at some limits):\n\n{header}\n{per_iteration}"
    );
    (text, spreads)
}

/// Appends `kind`'s row of `values`, one per limit, and their max/min,
/// which it returns (none if a value is not above 0).
fn spread_row(
    rows: &mut String,
    kind: &StrategyKind,
    values: impl Iterator<Item = f64>,
) -> Option<f64> {
    let _ = write!(rows, "{:<22}", kind.name());
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        let _ = write!(rows, " {v:>9.1}");
        (min, max) = (min.min(v), max.max(v));
    }
    // Timing noise on a tiny run could leave nothing beyond the heap.
    let spread = (min > 0.0).then(|| max / min);
    let _ = writeln!(
        rows,
        " {:>9}",
        spread.map_or("n/a".to_owned(), |s| format!("{s:.2}"))
    );
    spread
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

/// `scenarios/blog.toml`, as shipped: the table `bpsim run` prints first.
const BLOG_SCENARIO: &str = include_str!("../scenarios/blog.toml");

/// How `bpsim run` of the blog scenario scales with threads: its four
/// strategies on 100,000 requests one at a time, then up to `threads` at
/// once (the `-j` of `bpsim run`), alternated, best of `repeat` each, in
/// this process. The workload is drawn once, before the timing. Returns
/// the best times on one thread and on `threads`, and the threads used.
///
/// # Errors
/// If the scenario cannot be read or a run fails.
pub fn time_table(threads: usize, repeat: u32) -> anyhow::Result<(Duration, Duration, usize)> {
    let scenario = crate::scenario::Scenario::from_str(BLOG_SCENARIO, "scenarios/blog.toml")?;
    // What `bpsim run -j` would use: never more threads than strategies.
    let threads = threads.clamp(1, scenario.strategies.len());
    let latencies = experiment::draw(&scenario)?;
    let time = |threads: usize| -> anyhow::Result<Duration> {
        let t = Instant::now();
        let run = experiment::run_on(
            &scenario,
            latencies.clone(),
            experiment::Requests::Summed,
            threads,
        )?;
        let elapsed = t.elapsed();
        std::hint::black_box(run);
        Ok(elapsed)
    };
    let (one, many) = best_of(repeat, time, threads)?;
    Ok((one, many, threads))
}

/// `bpsim bench-table-child`: [`time_table`] in a fresh process, as one
/// line for the parent to read (ns on one thread, ns on `threads`, the
/// threads used).
///
/// # Errors
/// As [`time_table`].
pub fn table_child(threads: usize, repeat: u32) -> anyhow::Result<String> {
    let (one, many, threads) = time_table(threads, repeat)?;
    Ok(format!("{} {} {threads}", one.as_nanos(), many.as_nanos()))
}

/// The blog table's timing in fresh processes, one per round from each
/// round's copy of the binary: the medians of the one-thread and of the
/// many-thread times, and the threads used.
fn table_in_children(
    copies: &mut ExeCopies,
    count: u32,
    threads: usize,
    repeat: u32,
) -> anyhow::Result<(Duration, Duration, usize)> {
    let mut ones = Vec::new();
    let mut manys = Vec::new();
    let mut used = threads;
    for round in 0..count.max(1) {
        let exe = copies.for_round(round);
        let start = |exe: &Path| {
            std::process::Command::new(exe)
                .args([
                    "bench-table-child",
                    "--threads",
                    &threads.to_string(),
                    "--repeat",
                    &repeat.to_string(),
                    "--heap-shift",
                    &heap_shift(round).to_string(),
                ])
                .stdin(std::process::Stdio::null())
                .output()
                .with_context(|| format!("starting {} bench-table-child", exe.display()))
        };
        let out = match start(&exe) {
            Err(e) if exe != copies.original => {
                copies.give_up(format!("{e:#}"));
                start(&copies.original)
                    .with_context(|| format!("after a copy would not start ({e:#})"))
            }
            out => out,
        }?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            anyhow::bail!(
                "timing the blog table in a child process failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let fields: Vec<u64> = stdout
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()
            .filter(|f: &Vec<u64>| f.len() == 3)
            .with_context(|| {
                format!(
                    "bench-table-child printed {:?}, not a measurement (is it the same bpsim?)",
                    stdout.trim()
                )
            })?;
        ones.push(Duration::from_nanos(fields[0]));
        manys.push(Duration::from_nanos(fields[1]));
        used = fields[2] as usize;
    }
    let middle = |mut v: Vec<Duration>| {
        v.sort();
        v[(v.len() - 1) / 2]
    };
    Ok((middle(ones), middle(manys), used))
}

/// The blog table's section of the bench: timed in fresh processes when
/// `copies` is given (`count` of them, medians), else in this one. Also
/// returns the times on one thread and on `threads`, and the threads used.
fn table_section(
    copies: Option<&mut ExeCopies>,
    count: u32,
    threads: usize,
    repeat: u32,
) -> anyhow::Result<(String, Duration, Duration, usize)> {
    let (one, many, threads, how) = match copies {
        Some(copies) => {
            let (one, many, threads) = table_in_children(copies, count, threads, repeat)?;
            (
                one,
                many,
                threads,
                format!("the median of {count} fresh processes, each the best of {repeat}"),
            )
        }
        None => {
            let (one, many, threads) = time_table(threads, repeat)?;
            (one, many, threads, format!("best of {repeat}"))
        }
    };
    let scenario = crate::scenario::Scenario::from_str(BLOG_SCENARIO, "scenarios/blog.toml")?;
    let title = format!(
        "blog table: `bpsim run scenarios/blog.toml`'s {} strategies on {} requests \
         (CPU costs of CPython 3.12), one at a time and up to {threads} at once (-j), {how}",
        scenario.strategies.len(),
        scenario.requests
    );
    let text = format_scaling(&title, threads, one, many, Unit::Milliseconds);
    Ok((text, one, many, threads))
}

/// How a sweep scales with threads: the same sweep through `bpsim sweep`'s
/// own code path (rayon pool, journal, CSV) on 1 thread and on `threads`,
/// best of `repeat`, in a temporary directory. Returns the printed table,
/// the speedup and the threads used.
///
/// # Errors
/// If the temporary directory or the sweep's files cannot be written.
pub fn sweep_scaling(threads: usize, repeat: u32) -> anyhow::Result<(String, f64, usize)> {
    // Removed on Ctrl-C too (see `output::remove_unfinished`).
    let dir = crate::output::TempFolder::new()?;
    let path = dir.path().join("bench_scaling.toml");
    std::fs::write(&path, SCALING_SWEEP)?;
    let scenario = crate::scenario::Scenario::load(&path)?;
    let units = scenario
        .sweep
        .as_ref()
        .map_or(0, |s| s.points.len() * s.replications as usize);
    let runs = units * scenario.strategies.len();
    // What `bpsim sweep -j` would use: never more threads than units.
    let threads = crate::sweep::worker_threads(Some(threads), units);
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
    let title = format!(
        "sweep scaling: `bpsim sweep` of {runs} runs of 100000 requests \
         (6 latency widths x 2 replications x 4 strategies), best of {repeat}"
    );
    let (one, many) = best_of(repeat, time, threads)?;
    let text = format_scaling(&title, threads, one, many, Unit::Seconds);
    Ok((text, one.as_secs_f64() / many.as_secs_f64(), threads))
}

/// How [`format_scaling`] prints its times.
#[derive(Clone, Copy)]
enum Unit {
    Milliseconds,
    Seconds,
}

/// The best of `repeat` times on one thread and on `threads`, alternated
/// (a machine whose speed drifts, a shared VM, then weighs on both alike).
fn best_of(
    repeat: u32,
    mut time: impl FnMut(usize) -> anyhow::Result<Duration>,
    threads: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let (mut one, mut many) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeat.max(1) {
        one = one.min(time(1)?);
        many = many.min(time(threads)?);
    }
    Ok((one, many))
}

/// A scaling table: the time on one thread and on `threads`, and the
/// speedup.
fn format_scaling(
    title: &str,
    threads: usize,
    one: Duration,
    many: Duration,
    unit: Unit,
) -> String {
    let (name, scale, digits) = match unit {
        Unit::Milliseconds => ("ms", 1e3, 2),
        Unit::Seconds => ("seconds", 1.0, 3),
    };
    let mut out = String::new();
    let _ = writeln!(out, "\n{title}:\n");
    let _ = writeln!(out, "{:>8} {name:>10} {:>12}", "threads", "speedup");
    for (n, t) in [(1, one), (threads, many)] {
        let speedup = format!("{:.2}x", one.as_secs_f64() / t.as_secs_f64());
        let _ = writeln!(
            out,
            "{n:>8} {:>10.digits$} {speedup:>12}",
            t.as_secs_f64() * scale
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(best_ms: u64, floor: Option<(f64, Duration)>) -> Sample {
        Sample {
            bpsim: Measured {
                best: Duration::from_millis(best_ms),
                first: Duration::from_millis(2 * best_ms),
                system: None,
                iterations: 12_345,
                makespan: 0.1 + 0.2,
                peak_live: 500,
                rss: Some(1 << 20),
                heap: None,
            },
            floor,
        }
    }

    #[test]
    fn each_round_starts_its_own_copy_one_at_a_time_and_the_copies_go_with_the_bench() {
        let exe = Path::new("/bin/true");
        if !exe.exists() {
            eprintln!("SKIP: no /bin/true to copy");
            return;
        }
        let mut copies = ExeCopies::new(exe);
        if let Some(why) = &copies.why_not {
            eprintln!("SKIP: copies of /bin/true cannot be started here: {why}");
            return;
        }
        let dir = copies.dir.as_ref().unwrap().path().to_owned();
        let first = copies.for_round(0);
        assert_ne!(first, exe);
        assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(exe).unwrap());
        // The same round, the same copy.
        assert_eq!(copies.for_round(0), first);
        // The next round: a new copy, the last one gone.
        let second = copies.for_round(1);
        assert_ne!(second, first);
        assert!(second.exists() && !first.exists());
        // A round seen before gets a fresh copy too.
        let again = copies.for_round(0);
        assert!(again.exists() && !second.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        drop(copies);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn without_copies_every_round_starts_the_binary_itself() {
        let missing = Path::new("/nonexistent/bpsim");
        let mut copies = ExeCopies::new(missing);
        assert!(
            copies
                .why_not
                .as_deref()
                .is_some_and(|w| w.starts_with("cannot copy /nonexistent/bpsim to ")),
            "{:?}",
            copies.why_not
        );
        assert_eq!(copies.for_round(3), missing);
        // A file that copies but does not start: no copies, and why.
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut copies = ExeCopies::new(&manifest);
        assert!(
            copies
                .why_not
                .as_deref()
                .is_some_and(|w| w.starts_with("cannot start a copy in ")),
            "{:?}",
            copies.why_not
        );
        assert!(copies.dir.is_none());
        assert_eq!(copies.for_round(0), manifest);
        assert!(!copies.gave_up);
        // Giving up later removes the round's copy.
        if Path::new("/bin/true").exists() {
            let mut copies = ExeCopies::new(Path::new("/bin/true"));
            if copies.why_not.is_none() {
                let copy = copies.for_round(0);
                copies.give_up("would not start".into());
                assert!(!copy.exists());
                assert_eq!(copies.for_round(1), Path::new("/bin/true"));
                assert!(copies.gave_up);
            }
        }
    }

    #[test]
    fn a_child_line_reads_back_exactly() {
        for s in [
            sample(9, None),
            sample(
                11,
                Some((30.119_724_000_000_01, Duration::from_nanos(2_123_457))),
            ),
        ] {
            let line = s.to_line();
            assert_eq!(Sample::from_line(&line), Some(s), "{line}");
        }
        for bad in ["", "1 2 3", "1 2 - 3 4 5 6 7 - - 9", "x 2 - 3 4 5 6 7 - -"] {
            assert_eq!(Sample::from_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn heap_shifts_spread_over_a_page_without_repeating() {
        let shifts: Vec<usize> = (0..256).map(heap_shift).collect();
        assert_eq!(&shifts[..5], &[0, 2448, 800, 3248, 1600]);
        assert!(shifts.iter().all(|&s| s < 4096 && s % 16 == 0));
        let mut distinct = shifts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), shifts.len());
    }

    #[test]
    fn the_median_process_is_kept_with_the_spread() {
        let (m, spread) = median(vec![sample(12, None), sample(9, None), sample(10, None)]);
        assert_eq!(m.bpsim.best, Duration::from_millis(10));
        assert!((spread - 0.3).abs() < 1e-12, "{spread}");
        // An even count keeps the lower middle: a time some process took.
        let (m, _) = median(vec![
            sample(8, None),
            sample(9, None),
            sample(11, None),
            sample(20, None),
        ]);
        assert_eq!(m.bpsim.best, Duration::from_millis(9));
        let (m, spread) = median(vec![sample(7, None)]);
        assert_eq!((m.bpsim.best, spread), (Duration::from_millis(7), 0.0));
        // The first-run time is the median of the first runs, whichever
        // process took it.
        let mut late = sample(10, None);
        late.bpsim.first = Duration::from_millis(50);
        let (m, _) = median(vec![sample(12, None), late, sample(9, None)]);
        assert_eq!(m.bpsim.best, Duration::from_millis(10));
        assert_eq!(m.bpsim.first, Duration::from_millis(24));
    }
}
