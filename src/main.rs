//! The `bpsim` command.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use bpsim::cli::{self, Command};
use bpsim::plot::charts;
use bpsim::report::{self, Format};
use bpsim::scenario::Scenario;
use bpsim::strategy::StrategyKind;
use bpsim::{bench, calibrate, experiment, guard, latency, output, sweep};

/// Exit status of a sweep stopped by Ctrl-C or SIGTERM (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// Exit status when stdout's reader has gone (`bpsim ... | head -1`) while
/// results were being printed: 128 + SIGPIPE, what a shell reports for a
/// program a closed pipe ended. Every file was written; only the printing
/// was cut short.
const READER_GONE: u8 = 141;

/// Prints `text` to stdout (see [`output::print`]); `false` if the reader
/// has gone and nothing more should be printed.
fn say(text: &str) -> anyhow::Result<bool> {
    let printed = output::print(text).context("cannot print the results to stdout")?;
    Ok(printed == output::Printed::Done)
}

/// The system allocator, counting the bytes each thread holds, so that
/// `bpsim bench` can report bpsim's own memory per run.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        /// Bytes allocated by this thread and not yet freed (frees of
        /// another thread's allocations count where they happen).
        static CURRENT: Cell<i64> = const { Cell::new(0) };
        /// Highest `CURRENT` since the last reset.
        static PEAK: Cell<i64> = const { Cell::new(0) };
    }

    /// Adds `delta` bytes to this thread's count. `try_with`: the counters
    /// need no destructor, but a thread's last frees may come after its
    /// thread-locals are gone.
    #[inline]
    fn count(delta: i64) {
        let _ = CURRENT.try_with(|c| {
            let now = c.get() + delta;
            c.set(now);
            if delta > 0 {
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            }
        });
    }

    fn size(bytes: usize) -> i64 {
        i64::try_from(bytes).unwrap_or(i64::MAX)
    }

    /// [`System`], counting.
    pub(crate) struct Counting;

    // SAFETY: every call is forwarded to `System` with the same arguments,
    // so `Counting` upholds `GlobalAlloc`'s contract exactly as `System`
    // does; the counting only touches thread-local integers and never
    // allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded from the caller.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                count(size(layout.size()));
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded from the caller.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                count(size(layout.size()));
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded from the caller.
            unsafe { System.dealloc(ptr, layout) };
            count(-size(layout.size()));
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded from the caller.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                count(size(new_size) - size(layout.size()));
            }
            new
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// The counters, for `bpsim bench`.
    pub(crate) const PROBE: bpsim::bench::AllocProbe = bpsim::bench::AllocProbe {
        current: || CURRENT.try_with(Cell::get).unwrap_or(0),
        peak: || PEAK.try_with(Cell::get).unwrap_or(0),
        reset_peak: || {
            let now = CURRENT.try_with(Cell::get).unwrap_or(0);
            let _ = PEAK.try_with(|p| p.set(now));
        },
    };
}

/// Set by Ctrl-C, SIGTERM or stdout's reader going away: the running
/// sweep takes no new runs.
static SWEEP_INTERRUPT: AtomicBool = AtomicBool::new(false);

/// Set with [`SWEEP_INTERRUPT`] when stdout's reader went away, to say why
/// the sweep stopped.
static SWEEP_STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Set when a sweep starts: Ctrl-C or SIGTERM then sets
/// [`SWEEP_INTERRUPT`] the first time instead of quitting (see
/// [`on_interrupt`]).
static SWEEP_RUNNING: AtomicBool = AtomicBool::new(false);

/// What `sweep` and `plot` do before a sweep starts: refuse one that would
/// not fit in memory ([`guard::check_sweep`]), refuse chart paths that
/// cannot be written (when `charts` is given: the scenario's output folder
/// and the chart options), then stop on Ctrl-C, SIGTERM or a reader of
/// stdout going away (`| head -1`, a pager quit, which would never read
/// the sweep's table): runs in progress finish, and every finished run
/// stays in the journal for `--resume`.
fn start_sweep(
    scenario: &Scenario,
    jobs: Option<u16>,
    max_memory: Option<u64>,
    charts: Option<(&std::path::Path, &cli::ChartArgs)>,
) -> anyhow::Result<()> {
    guard::check_sweep(scenario, threads(jobs), max_memory).map_err(anyhow::Error::msg)?;
    if let Some((dir, chart)) = charts {
        for path in charts::chart_paths(dir, &chart.canvas(), true) {
            output::check_file(&path)?;
        }
    }
    SWEEP_RUNNING.store(true, Ordering::SeqCst);
    std::thread::spawn(|| {
        while !output::stdout_reader_gone() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        SWEEP_STDOUT_GONE.store(true, Ordering::SeqCst);
        SWEEP_INTERRUPT.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// Why a sweep stopped before its last run, for its message.
fn why_stopped() -> &'static str {
    if SWEEP_STDOUT_GONE.load(Ordering::SeqCst) {
        "stopped (the reader of stdout has gone)"
    } else {
        "interrupted"
    }
}

/// Ctrl-C or SIGTERM: during a sweep, the first stops it taking new runs;
/// otherwise (or the second time) bpsim quits at once, 130, ending
/// `calibrate`'s measurement script and removing the temporary file of any
/// write in progress and any temporary folder. If no handler can be
/// installed, Ctrl-C simply ends the process, and a sweep's journal still
/// holds every finished run.
fn on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        let sweep = SWEEP_RUNNING.load(Ordering::SeqCst);
        if sweep && !SWEEP_INTERRUPT.swap(true, Ordering::SeqCst) {
            output::eprint(format_args!(
                "\nstopping once the runs in progress finish (interrupt again to quit now)"
            ));
            return;
        }
        if sweep {
            output::eprint(format_args!(
                "\ninterrupted again: quitting now (finished runs are kept in the journal)"
            ));
        }
        calibrate::stop_measuring();
        // A write cut short leaves its file as it was: say which, or a
        // user finds the summaries and no --requests-csv without a word
        // (found by a review).
        for path in output::remove_unfinished() {
            output::eprint(format_args!(
                "\ninterrupted: '{}' was not written (left as it was)",
                path.display()
            ));
        }
        std::process::exit(i32::from(INTERRUPTED));
    });
}

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os()) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    on_interrupt();
    match run(args) {
        Ok(code) => code,
        // Output into a pipe whose reader has gone (`-o /dev/stdout | head
        // -1`): end quietly, as printing does.
        Err(e) if reader_gone(&e) => ExitCode::from(READER_GONE),
        Err(e) => {
            output::eprint(format_args!("error: {}", describe(&e)));
            ExitCode::FAILURE
        }
    }
}

/// The worker threads a sweep will use: `-j`, else one per core (see
/// [`sweep::worker_threads`]; the memory guard caps them at the runs).
fn threads(jobs: Option<u16>) -> u64 {
    sweep::worker_threads(jobs.map(usize::from), usize::MAX) as u64
}

/// How many of `scenario`'s strategies `bpsim run` (or `plot`) simulates
/// at once: `jobs` (default one per core), fewer if their memory together
/// would exceed `max_memory` (default half the machine's), with the note to
/// print saying so when `jobs` was given. Refuses a scenario that does not
/// fit one strategy at a time.
fn strategies_at_once(
    scenario: &Scenario,
    logged: bool,
    max_memory: Option<u64>,
    jobs: Option<u16>,
) -> anyhow::Result<(usize, Option<String>)> {
    let limit = max_memory.unwrap_or_else(guard::default_limit);
    guard::check(scenario, logged, limit).map_err(anyhow::Error::msg)?;
    let wanted = jobs.map_or_else(sweep::cores, usize::from);
    let at_once = guard::strategies_at_once(scenario, logged, limit, wanted);
    let note = jobs
        .filter(|_| at_once < wanted.min(scenario.strategies.len()))
        .map(|jobs| {
            let how = if at_once == 1 {
                "one strategy at a time".to_string()
            } else {
                format!("{at_once} strategies at once")
            };
            let which = if max_memory.is_some() {
                format!("the limit of {} (--max-memory)", guard::human(limit))
            } else {
                format!(
                    "the default limit of {} (half this machine's memory; --max-memory sets \
                     another)",
                    guard::human(limit)
                )
            };
            format!(
                "note: -j {jobs}: simulating {how}: {} at once are estimated to need more \
                 than {which}",
                at_once + 1
            )
        });
    Ok((at_once, note))
}

/// Refuses a `bpsim bench` list (`flag`) that names a value twice.
fn bench_once<T: PartialEq + std::fmt::Display>(flag: &str, values: &[T]) -> anyhow::Result<()> {
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            anyhow::bail!(
                "{flag} lists {v} twice: each would be timed twice, in two identical rows\n  \
                 help: list each value once"
            );
        }
    }
    Ok(())
}

/// The files `scenario` was read from, which no output may replace.
fn inputs(scenario: &Scenario) -> Vec<(std::path::PathBuf, &'static str)> {
    let mut files = vec![(scenario.path.clone(), "the scenario file")];
    if let latency::LatencySource::Trace(trace) = &scenario.latency {
        files.push((trace.path().to_path_buf(), "the scenario's latency trace"));
    }
    files
}

/// [`output::check_files`] on owned paths.
fn check_outputs(
    outputs: &[(std::path::PathBuf, &str)],
    inputs: &[(std::path::PathBuf, &str)],
) -> Result<(), output::WriteError> {
    let outputs: Vec<_> = outputs.iter().map(|(p, w)| (p.as_path(), *w)).collect();
    let inputs: Vec<_> = inputs.iter().map(|(p, w)| (p.as_path(), *w)).collect();
    output::check_files(&outputs, &inputs)
}

/// Whether `e` comes from writing into a pipe whose reader has gone.
fn reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, `outer: inner: ...`, leaving out a cause whose
/// text the message already holds (bpsim's errors quote their source, as a
/// library's errors should when printed alone).
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Loads a scenario and prints its warnings (settings that change nothing)
/// on stderr, once.
fn load(path: &std::path::Path) -> Result<Scenario, bpsim::scenario::ScenarioError> {
    let scenario = Scenario::load(path)?;
    for warning in &scenario.warnings {
        output::eprint(format_args!("warning: {warning}"));
    }
    Ok(scenario)
}

fn run(args: cli::Args) -> anyhow::Result<ExitCode> {
    if let (Some(limit), Some(total)) = (args.command.max_memory(), guard::physical_memory())
        && limit > total
    {
        output::eprint(format_args!(
            "warning: --max-memory {} is above this machine's {} of memory: a run that needs \
             more than the machine has may be killed by the system instead of refused",
            guard::human(limit),
            guard::human(total)
        ));
    }
    match args.command {
        Command::Run {
            scenario,
            format,
            requests_csv,
            output_dir,
            no_write,
            max_memory,
            plot,
            jobs,
            chart,
        } => {
            let scenario = load(&scenario)?;
            if scenario.sweep.is_some() {
                output::eprint(format_args!(
                    "note: {} has a [sweep]; `bpsim run` runs the scenario itself, without \
                     it (`bpsim sweep` runs its points)",
                    scenario.path.display()
                ));
            }
            // The charts and the per-request CSV need every request's
            // record; the summary needs only their totals.
            let logged = plot || requests_csv.is_some();
            let (at_once, note) = strategies_at_once(&scenario, logged, max_memory, jobs)?;
            // Every destination is checked before the simulation, so that a
            // run that cannot write its output writes none of it.
            let dir = output_dir.join(&scenario.name);
            let mut outputs = Vec::new();
            if !no_write {
                outputs.push((dir.join("summary.csv"), "summary.csv"));
                outputs.push((dir.join("summary.json"), "summary.json"));
            }
            if plot {
                for path in charts::chart_paths(&dir, &chart.canvas(), false) {
                    outputs.push((path, "a chart"));
                }
            }
            if let Some(path) = &requests_csv {
                outputs.push((path.clone(), "--requests-csv"));
            }
            check_outputs(&outputs, &inputs(&scenario))?;
            if let Some(note) = note {
                output::eprint(format_args!("{note}"));
            }
            let (report, outcomes) = if plot {
                experiment::run_traced(&scenario, at_once)?
            } else if logged {
                experiment::run(&scenario, at_once)?
            } else {
                experiment::run_on(
                    &scenario,
                    experiment::draw(&scenario)?,
                    experiment::Requests::Summed,
                    at_once,
                )?
            };
            if plot {
                for path in charts::run_charts(&report, &outcomes, &dir, &chart.canvas())? {
                    output::eprint(format_args!("wrote {}", path.display()));
                }
            }
            if !no_write {
                output::write_atomic(
                    &dir.join("summary.csv"),
                    report.render(Format::Csv).as_bytes(),
                )?;
                output::write_atomic(
                    &dir.join("summary.json"),
                    report.render(Format::Json).as_bytes(),
                )?;
            }
            if let Some(path) = requests_csv {
                output::write_atomic(&path, report::requests_csv(&outcomes).as_bytes())?;
            }
            if !say(&report.render(format))? {
                return Ok(ExitCode::from(READER_GONE));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep {
            scenario,
            output_dir,
            jobs,
            resume,
            fresh,
            no_progress,
            stop_after,
            max_memory,
            plot,
            chart,
        } => {
            let scenario = load(&scenario)?;
            let chart_dir = output_dir.join(&scenario.name);
            start_sweep(
                &scenario,
                jobs,
                max_memory,
                plot.then(|| (&*chart_dir, &chart)),
            )?;
            let options = sweep::Options {
                output_dir: output_dir.clone(),
                jobs: jobs.map(usize::from),
                resume,
                fresh,
                progress: !no_progress,
                stop_after,
            };
            if let Some(s) = &scenario.sweep {
                output::eprint(format_args!(
                    "sweep {}: {}",
                    scenario.name,
                    sweep::describe(s)
                ));
            }
            match sweep::run(&scenario, &options, &SWEEP_INTERRUPT)? {
                sweep::Finished::Complete { rows, csv_path, .. } => {
                    // The sweep is complete and its CSV written: a reader
                    // gone now only cuts the table short.
                    let printed = say(&report::sweep_table(&scenario, &rows))?;
                    output::eprint(format_args!("wrote {}", csv_path.display()));
                    if plot {
                        let dir = csv_path.parent().unwrap_or(&output_dir);
                        for path in charts::sweep_charts(&scenario, &rows, dir, &chart.canvas())? {
                            output::eprint(format_args!("wrote {}", path.display()));
                        }
                    }
                    Ok(if printed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(READER_GONE)
                    })
                }
                sweep::Finished::Interrupted {
                    done,
                    total,
                    journal,
                } => {
                    output::eprint(format_args!(
                        "{}: {done} of {total} runs finished and kept in '{}'; \
                         no CSV written\n  help: run the same command with --resume to finish",
                        why_stopped(),
                        journal.display()
                    ));
                    Ok(ExitCode::from(INTERRUPTED))
                }
            }
        }
        Command::Plot {
            scenario,
            output_dir,
            jobs,
            max_memory,
            chart,
        } => {
            let path = scenario;
            let scenario = load(&path)?;
            let dir = output_dir.join(&scenario.name);
            let finished = sweep::finished(&scenario, &output_dir);
            let written = if let Some((rows, csv_path)) = finished {
                // The sweep ran to the end since its scenario was last
                // changed: its CSV holds every figure the chart needs
                // (found by a review: plot ran the whole sweep again).
                let charts: Vec<_> = charts::chart_paths(&dir, &chart.canvas(), true)
                    .into_iter()
                    .map(|path| (path, "a chart"))
                    .collect();
                let mut read = inputs(&scenario);
                read.push((csv_path.clone(), "the sweep's CSV"));
                check_outputs(&charts, &read)?;
                output::eprint(format_args!(
                    "note: drawing from '{}', written by an earlier sweep of this same scenario \
                     (`bpsim sweep` runs it again)",
                    csv_path.display()
                ));
                charts::sweep_charts(&scenario, &rows, &dir, &chart.canvas())?
            } else if scenario.sweep.is_some() {
                // A sweep's chart needs only each run's totals.
                start_sweep(&scenario, jobs, max_memory, Some((&dir, &chart)))?;
                let (_, journal) = sweep::paths(&scenario, &output_dir);
                let options = sweep::Options {
                    output_dir: output_dir.clone(),
                    jobs: jobs.map(usize::from),
                    resume: journal.exists(),
                    progress: true,
                    ..Default::default()
                };
                match sweep::run(&scenario, &options, &SWEEP_INTERRUPT)? {
                    sweep::Finished::Complete { rows, csv_path, .. } => {
                        output::eprint(format_args!("wrote {}", csv_path.display()));
                        charts::sweep_charts(&scenario, &rows, &dir, &chart.canvas())?
                    }
                    sweep::Finished::Interrupted { journal, .. } => {
                        output::eprint(format_args!(
                            "{}; finished runs kept in '{}': run the command again to finish",
                            why_stopped(),
                            journal.display()
                        ));
                        return Ok(ExitCode::from(INTERRUPTED));
                    }
                }
            } else {
                // A run's charts need every request.
                let (at_once, note) = strategies_at_once(&scenario, true, max_memory, jobs)?;
                let charts: Vec<_> = charts::chart_paths(&dir, &chart.canvas(), false)
                    .into_iter()
                    .map(|path| (path, "a chart"))
                    .collect();
                check_outputs(&charts, &inputs(&scenario))?;
                if let Some(note) = note {
                    output::eprint(format_args!("{note}"));
                }
                let (report, outcomes) = experiment::run_traced(&scenario, at_once)?;
                charts::run_charts(&report, &outcomes, &dir, &chart.canvas())?
            };
            // As `run --plot` and `sweep --plot` say it (a bare path on
            // stdout here was found inconsistent by a review).
            for path in written {
                output::eprint(format_args!("wrote {}", path.display()));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            mut requests,
            concurrency,
            limits,
            repeat,
            processes,
            ten_million,
            strategies,
            sweep_threads,
        } => {
            if concurrency == 0 || limits.contains(&0) {
                anyhow::bail!("concurrency limits must be at least 1");
            }
            if requests.contains(&0) {
                anyhow::bail!(
                    "request counts must be at least 1 (--requests {}): a time per request needs requests",
                    requests
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            // A value listed twice was timed twice, in two identical rows.
            bench_once("--requests", &requests)?;
            bench_once("--limits", &limits)?;
            bench_once("--strategies", &strategies)?;
            if ten_million && !requests.contains(&10_000_000) {
                requests.push(10_000_000);
            }
            let strategies = if strategies.is_empty() {
                StrategyKind::ALL.to_vec()
            } else {
                strategies
            };
            // Each run keeps one outcome: the largest of them must fit.
            let limit = guard::default_limit();
            for &n in &requests {
                let need = strategies
                    .iter()
                    .map(|&k| {
                        let params = bpsim::strategy::StrategyParams::defaults();
                        guard::estimate_runs(n, concurrency, &[k], &params, false)
                    })
                    .max()
                    .unwrap_or(0);
                if need > limit {
                    let drop = if strategies.contains(&StrategyKind::SemaphoreInTask) {
                        ", or leave semaphore_in_task out with --strategies (it keeps every \
                         task alive at once)"
                    } else {
                        ""
                    };
                    anyhow::bail!(
                        "timing {n} requests would need about {} of bpsim's own memory, above \
                         the limit of {} (half of this machine's memory)\n  help: lower \
                         --requests{drop}",
                        guard::human(need),
                        guard::human(limit)
                    );
                }
            }
            let threads = sweep_threads.unwrap_or_else(bpsim::sweep::cores);
            let spinner = if std::io::stderr().is_terminal() {
                indicatif::ProgressBar::new_spinner()
            } else {
                indicatif::ProgressBar::hidden()
            };
            let text = bench::run(
                &bench::Options {
                    sizes: requests,
                    concurrency,
                    limits,
                    repeat,
                    probe: Some(counting::PROBE),
                    strategies,
                    table_threads: threads,
                    isolation: if processes > 1 {
                        bench::Isolation::Processes {
                            exe: std::env::current_exe()
                                .context("finding this bpsim binary, to time in fresh processes")?,
                            count: processes,
                        }
                    } else {
                        bench::Isolation::InProcess
                    },
                },
                |what| {
                    // Nothing bench times would be read: stop now, not
                    // minutes later (it writes no files).
                    if output::stdout_reader_gone() {
                        std::process::exit(i32::from(READER_GONE));
                    }
                    // On a terminal, one line that keeps changing (a
                    // measurement in five processes is 200 steps); in a
                    // log, a line per step.
                    if spinner.is_hidden() {
                        output::eprint(format_args!("  timing {what}"));
                    } else {
                        spinner.set_message(format!("timing {what}"));
                        spinner.tick();
                    }
                },
            );
            spinner.finish_and_clear();
            let (text, mut targets) = text?;
            if !say(&text)? {
                return Ok(ExitCode::from(READER_GONE));
            }
            if threads > 0 {
                output::eprint(format_args!("  timing a sweep on 1 and {threads} threads"));
                let (text, speedup, used) = bench::sweep_scaling(threads, repeat.min(3))?;
                targets.sweep = Some((speedup, used));
                if !say(&text)? {
                    return Ok(ExitCode::from(READER_GONE));
                }
            }
            if !say(&targets.render())? {
                return Ok(ExitCode::from(READER_GONE));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchChild {
            strategy,
            requests,
            limit,
            repeat,
            floor,
            heap_shift,
        } => {
            // Before anything else allocates: this process's buffers then
            // fall `heap_shift` bytes further on than its siblings'.
            std::mem::forget(std::hint::black_box(vec![0u8; heap_shift]));
            let line = bench::child(
                strategy,
                requests,
                limit,
                repeat,
                floor,
                Some(counting::PROBE),
            )?;
            say(&line)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchTableChild {
            threads,
            repeat,
            heap_shift,
        } => {
            // As `bench-child`: this process's buffers fall `heap_shift`
            // bytes further on than its siblings'.
            std::mem::forget(std::hint::black_box(vec![0u8; heap_shift]));
            say(&bench::table_child(threads, repeat)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Calibrate {
            python,
            tracemalloc,
            repeat,
            output,
            timeout,
        } => {
            // A minute of measuring is wasted if the profile cannot be written.
            check_outputs(
                &[(output.clone(), "--output")],
                &[(python.clone(), "the interpreter (--python)")],
            )?;
            output::eprint(format_args!(
                "calibrating {} (memory, then CPU{}); this takes one to three minutes",
                python.display(),
                if tracemalloc { " with tracemalloc" } else { "" }
            ));
            let text = calibrate::run(&calibrate::Options {
                python,
                tracemalloc,
                repeat,
                output: output.clone(),
                timeout: calibrate::time_limit(timeout, repeat),
            })?;
            let printed = say(&text)?;
            output::eprint(format_args!("wrote {}", output.display()));
            Ok(if printed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(READER_GONE)
            })
        }
        Command::Workload {
            scenario,
            output,
            max_memory,
        } => {
            // A loaded scenario has at least one request, so the trace is
            // never empty (bpsim refuses to read an empty one back).
            let scenario = load(&scenario)?;
            if scenario.sweep.is_some() {
                output::eprint(format_args!(
                    "note: {} has a [sweep]; `bpsim workload` writes the workload of the \
                     scenario itself, without it (its points draw their own)",
                    scenario.path.display()
                ));
            }
            guard::check_workload(&scenario, max_memory.unwrap_or_else(guard::default_limit))
                .map_err(anyhow::Error::msg)?;
            check_outputs(&[(output.clone(), "--output")], &inputs(&scenario))?;
            let values = latency::workload(&scenario.latency, scenario.seed, scenario.requests)
                .with_context(|| format!("drawing the workload of '{}'", scenario.name))?;
            // Streamed: the text (up to 25 bytes a latency) is never held
            // whole. Floats as in every CSV (`1e-300`, not 302 characters).
            // A `.gz` name is written gzip-compressed, as traces are read
            // (a review found plain text behind the name).
            let gzip = output
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
            output::write_atomic_with(&output, |w| {
                let lines = |w: &mut dyn std::io::Write| {
                    values
                        .iter()
                        .try_for_each(|v| writeln!(w, "{}", report::csv_float(*v)))
                };
                if gzip {
                    let mut z = flate2::write::GzEncoder::new(w, flate2::Compression::default());
                    lines(&mut z)?;
                    z.finish().map(drop)
                } else {
                    lines(w)
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::List => {
            let mut text = String::from("strategies:\n");
            for k in StrategyKind::ALL {
                text.push_str(&format!("  {:<22} {}\n", k.name(), k.summary()));
            }
            let aliases: Vec<String> = StrategyKind::ALL
                .iter()
                .flat_map(|k| {
                    k.aliases()
                        .iter()
                        .map(move |a| format!("{a} = {}", k.name()))
                })
                .collect();
            text.push_str(&format!(
                "  (also accepted: {}; and any name with a .py suffix, as the blog names its \
                 programs)\n",
                aliases.join(", ")
            ));
            text.push_str("\nlatency distributions:\n");
            for (name, summary) in bpsim::scenario::distributions() {
                text.push_str(&format!("  {name:<22} {summary}\n"));
            }
            if !say(&text)? {
                return Ok(ExitCode::from(READER_GONE));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
