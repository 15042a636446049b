//! Command-line interface.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::plot::{Canvas, ImageFormat};
use crate::report::Format;
use crate::strategy::StrategyKind;

/// Deterministic simulator of Python asyncio backpressure strategies.
#[derive(Debug, Parser)]
#[command(name = "bpsim", version, about, long_about = None)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every strategy of a scenario and print the blog-style table.
    ///
    /// Results are also written to `OUTPUT_DIR/<name>/summary.csv` and
    /// summary.json.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// How to print the results.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also write every request (strategy, request, start_s, end_s,
        /// status, attempts; in completion order) to this CSV file.
        #[arg(long, value_name = "PATH")]
        requests_csv: Option<PathBuf>,
        /// Where to write summary.csv and summary.json.
        #[arg(long, value_name = "DIR", default_value = "output")]
        output_dir: PathBuf,
        /// Print only: write no summary.csv or summary.json (the charts of
        /// --plot are still drawn into `OUTPUT_DIR/<name>/`).
        #[arg(long)]
        no_write: bool,
        /// Refuse to run if bpsim's own memory would exceed this, and
        /// simulate fewer strategies at once than -j asks if together they
        /// would (e.g. 512M, 8G; default: half the machine's memory). K, M, G
        /// and T are powers of 1000, as bpsim prints sizes (800M is 800 MB);
        /// KiB, MiB, GiB and TiB are powers of 1024.
        #[arg(long, value_name = "SIZE", value_parser = crate::guard::parse_size)]
        max_memory: Option<u64>,
        /// Also draw the run's charts into `OUTPUT_DIR/<name>/`: peak memory,
        /// timeline, per-request total time.
        #[arg(long)]
        plot: bool,
        /// Strategies simulated at once, each on its own thread (default:
        /// one per core). Results do not depend on it. Fewer run at once if
        /// their memory together would exceed --max-memory.
        #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Chart options.
        #[command(flatten)]
        chart: ChartArgs,
    },
    /// Run every point of a scenario's `[sweep]` for every strategy, in
    /// parallel, and write `OUTPUT_DIR/<name>/sweep.csv`.
    ///
    /// Results do not depend on the thread count. Interrupting (Ctrl-C)
    /// keeps the finished points; `--resume` finishes the rest.
    Sweep {
        /// The scenario file (TOML) with a `[sweep]` table.
        scenario: PathBuf,
        /// Where to write sweep.csv (under a folder named after the
        /// scenario).
        #[arg(long, value_name = "DIR", default_value = "output")]
        output_dir: PathBuf,
        /// Worker threads (default: one per core; at most 16 per core, and one
        /// per run).
        #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Finish an interrupted sweep: run only the points it had not done.
        #[arg(long, conflicts_with = "fresh")]
        resume: bool,
        /// Discard an interrupted sweep's finished points and start over.
        #[arg(long)]
        fresh: bool,
        /// Do not draw the progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Stop as if interrupted after this many runs (for testing).
        #[arg(long, value_name = "RUNS", hide = true)]
        stop_after: Option<usize>,
        /// Refuse to run if one run's memory would exceed this (e.g. 8G;
        /// default: half the machine's memory, shared by the worker threads).
        /// K, M, G and T are powers of 1000, as bpsim prints sizes (800M is
        /// 800 MB); KiB, MiB, GiB and TiB are powers of 1024.
        #[arg(long, value_name = "SIZE", value_parser = crate::guard::parse_size)]
        max_memory: Option<u64>,
        /// Also draw the sweep's chart into `OUTPUT_DIR/<name>/`.
        #[arg(long)]
        plot: bool,
        /// Chart options.
        #[command(flatten)]
        chart: ChartArgs,
    },
    /// Draw a scenario's charts into `OUTPUT_DIR/<name>/`: for a scenario with
    /// a `[sweep]`, the sweep's chart (from the sweep.csv that `bpsim sweep`
    /// left for this same scenario, if it is there; else the sweep is run,
    /// or resumed); else the run's charts (peak memory, timeline,
    /// per-request total time).
    Plot {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Where to write the charts (under a folder named after the
        /// scenario).
        #[arg(long, value_name = "DIR", default_value = "output")]
        output_dir: PathBuf,
        /// Worker threads (default: one per core): for a sweep, runs at once
        /// (at most 16 per core, and one per run); else strategies
        /// simulated at once (fewer if their memory together would exceed
        /// --max-memory). Results do not depend on it.
        #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Refuse to run if one run's memory would exceed this; without a
        /// sweep, also simulate fewer strategies at once than -j asks if
        /// together they would (e.g. 8G; default: half the machine's memory,
        /// shared by a sweep's worker threads). K, M, G and T are powers of
        /// 1000, as bpsim prints sizes (800M is 800 MB); KiB, MiB, GiB and TiB
        /// are powers of 1024.
        #[arg(long, value_name = "SIZE", value_parser = crate::guard::parse_size)]
        max_memory: Option<u64>,
        /// Chart options.
        #[command(flatten)]
        chart: ChartArgs,
    },
    /// Measure a CPython interpreter on this machine and write its profile:
    /// memory sizes and per-operation CPU costs.
    ///
    /// A scenario uses it with `cpu = "PATH"` (the costs) and `memory =
    /// "PATH"` (the sizes) in `[model]`.
    Calibrate {
        /// The CPython interpreter (3.11, 3.12 or 3.13).
        #[arg(long, value_name = "PATH")]
        python: PathBuf,
        /// Measure CPU costs with tracemalloc tracing on (as the blog's
        /// timings were taken).
        #[arg(long)]
        tracemalloc: bool,
        /// Passes per CPU micro-benchmark; the median is kept.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeat: u32,
        /// The profile file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Seconds the whole calibration may take (it takes about a
        /// minute at the default --repeat); past them the running script
        /// and every process it started are ended, and bpsim exits 1. 0: no
        /// limit. Default: 120 per --repeat, at least 600 (600 up to
        /// --repeat 5, 1200 at 10, 12000 at 100).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// Time the engine: every strategy at several request counts (ms per
    /// run, ns per request and per loop iteration, bpsim's peak memory), next
    /// to the floor (the same makespan from a bare heap of deadlines), and
    /// against the concurrency limit, with and without the timer heap's own
    /// cost; last, where each speed target stands by this run's figures.
    Bench {
        /// Request counts.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        requests: Vec<u64>,
        /// The concurrency limit for the request-count table.
        #[arg(long, default_value_t = 500)]
        concurrency: u64,
        /// Limits for the concurrency table (at the first request count).
        #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000")]
        limits: Vec<u64>,
        /// Runs per measurement below 1M requests; the best is kept.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
        /// Fresh processes per measurement; the median is kept and the
        /// spread shown. A process's memory layout, drawn at random when it
        /// starts, moves its time by up to about 10 %, and where the page
        /// cache put the binary's code by up to 2x, so each round starts
        /// its own copy of the binary; 1 times everything in this process,
        /// in one layout.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        processes: u32,
        /// Also time 10,000,000 requests, one process per strategy (about
        /// 15 s more for all eight; `semaphore_in_task` then holds 10
        /// million live tasks, 0.9 GB).
        #[arg(long)]
        ten_million: bool,
        /// The strategies to time (default: all of them).
        #[arg(long, value_delimiter = ',', value_parser = parse_strategy)]
        strategies: Vec<StrategyKind>,
        /// Threads for the scaling tables: the blog table's strategies at
        /// once (`bpsim run -j`) and a sweep's runs (default: one per core;
        /// 0 skips both tables).
        #[arg(long)]
        sweep_threads: Option<usize>,
    },
    /// One measurement of `bpsim bench --processes`, in a fresh process:
    /// prints one line for the parent to read.
    #[command(hide = true)]
    BenchChild {
        /// The strategy to time.
        #[arg(long, value_parser = parse_strategy)]
        strategy: StrategyKind,
        /// Requests of the blog's workload.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        requests: u64,
        /// The concurrency limit.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// Runs; the best is kept.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
        /// Time the floor on the same workload too.
        #[arg(long)]
        floor: bool,
        /// Bytes to allocate (and keep) first, to move everything after.
        #[arg(long, default_value_t = 0)]
        heap_shift: usize,
    },
    /// The blog table of `bpsim bench --processes`, in a fresh process:
    /// prints one line for the parent to read.
    #[command(hide = true)]
    BenchTableChild {
        /// Threads for the `-j` run.
        #[arg(long, value_parser = clap::value_parser!(usize))]
        threads: usize,
        /// Runs; the best is kept.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat: u32,
        /// Bytes to allocate (and keep) first, to move everything after.
        #[arg(long, default_value_t = 0)]
        heap_shift: usize,
    },
    /// Write the scenario's workload as a latency trace: line i is the
    /// latency of request i in seconds (shortest round-trip form; an
    /// exponent outside 1e-5 <= |x| < 1e16, as in bpsim's CSVs).
    Workload {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The trace file to write (gzip-compressed if its name ends in .gz).
        #[arg(short, long, value_name = "PATH")]
        output: PathBuf,
        /// Refuse to start if bpsim's own memory would exceed this (8 bytes
        /// per request, e.g. 512M, 8G; default: half the machine's memory).
        /// K, M, G and T are powers of 1000, as bpsim prints sizes (800M is
        /// 800 MB); KiB, MiB, GiB and TiB are powers of 1024.
        #[arg(long, value_name = "SIZE", value_parser = crate::guard::parse_size)]
        max_memory: Option<u64>,
    },
    /// List the strategies and latency distributions.
    List,
}

/// How charts are drawn.
#[derive(Debug, Clone, clap::Args)]
pub struct ChartArgs {
    /// Image format of the charts.
    #[arg(long = "image-format", value_enum, default_value = "png")]
    pub image_format: ImageFormat,
    /// Chart size in pixels, WIDTHxHEIGHT, from 400x300 (smaller charts
    /// cannot hold their text legibly) to 10000x10000.
    #[arg(long, value_name = "WxH", default_value = "1200x800", value_parser = parse_size)]
    pub size: (u32, u32),
}

impl Command {
    /// The `--max-memory` given to this command, if it takes one.
    pub fn max_memory(&self) -> Option<u64> {
        match self {
            Command::Run { max_memory, .. }
            | Command::Sweep { max_memory, .. }
            | Command::Plot { max_memory, .. }
            | Command::Workload { max_memory, .. } => *max_memory,
            _ => None,
        }
    }
}

impl ChartArgs {
    /// The canvas these options describe.
    pub fn canvas(&self) -> Canvas {
        Canvas {
            width: self.size.0,
            height: self.size.1,
            format: self.image_format,
        }
    }
}

fn parse_strategy(text: &str) -> Result<StrategyKind, String> {
    StrategyKind::parse(text).ok_or_else(|| {
        let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown strategy `{text}`; expected one of: {}",
            names.join(", ")
        )
    })
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (least, most) = (crate::plot::SMALLEST, crate::plot::LARGEST);
    let bad = || {
        format!(
            "expected WIDTHxHEIGHT between {}x{} and {most}x{most}, e.g. 1200x800, found {text:?} \
             (smaller charts cannot hold their text legibly)",
            least.0, least.1
        )
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(least.0..=most).contains(&w) || !(least.1..=most).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// Parse arguments (from the process or a test).
pub fn parse<I, T>(args: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Args::try_parse_from(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_sizes_from_400x300_to_10000x10000() {
        assert_eq!(parse_size("400x300"), Ok((400, 300)));
        assert_eq!(parse_size("1200X800"), Ok((1200, 800)));
        assert_eq!(parse_size("10000x10000"), Ok((10_000, 10_000)));
        for bad in ["399x300", "400x299", "200x150", "10001x800", "1200", "axb"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("between 400x300 and 10000x10000"), "{bad}: {e}");
        }
    }
}
