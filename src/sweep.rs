//! Sweeps: every point of a scenario's `[sweep]` for every strategy, in
//! parallel, into `OUTPUT_DIR/<name>/sweep.csv`.
//!
//! The unit of work is one point at one replication seed: the workload is
//! drawn once and every strategy runs on it. Units run on a thread pool in
//! any order, but each unit's result depends only on its scenario and seed,
//! and rows are assembled in unit order, so the CSV is byte-identical
//! whatever the thread count.
//!
//! Finished units are appended to a journal (`sweep.journal` next to the
//! CSV) as they finish. An interrupted sweep (Ctrl-C, SIGTERM) stops taking
//! new units, keeps the journal and writes no CSV; `--resume` runs only the
//! missing units and then writes the same CSV an uninterrupted run would.
//!
//! Beside a finished sweep's CSV, a stamp (`sweep.stamp`) says which sweep
//! it is the result of, so that [`finished`] can give its rows back without
//! running the sweep again (`bpsim plot`).

mod aggregate;
mod journal;
mod unit;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::experiment::ExperimentError;
use crate::output::{self, WriteError};
use crate::scenario::{Scenario, Sweep};

pub use aggregate::{Estimate, SweepRow, csv, rows, t95};
pub use unit::UnitResult;

use journal::Journal;

/// Why a sweep could not run or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The scenario has no `[sweep]` table.
    #[error(
        "{}: the scenario has no [sweep] table\n  help: add one, e.g.\n    [sweep]\n    \
         concurrency = [10, 100, 1000]\n  or use `bpsim run` for a single point",
        file.display()
    )]
    NoSweep {
        /// The scenario file.
        file: PathBuf,
    },
    /// An earlier sweep that was interrupted or failed left a journal, and
    /// neither `--resume` nor `--fresh` was given.
    #[error(
        "an earlier sweep that did not finish (interrupted, or stopped by an error) left its \
         finished runs in '{}'\n  help: pass --resume to finish it, or --fresh to discard them \
         and start over",
        path.display()
    )]
    JournalExists {
        /// The journal.
        path: PathBuf,
    },
    /// The journal belongs to another scenario text, trace, CPU profile or
    /// bpsim version.
    #[error(
        "'{}' was written for a different scenario file, latency trace, CPU profile or \
         bpsim version, so its runs cannot be reused\n  help: pass --fresh to discard it \
         and start over",
        path.display()
    )]
    StaleJournal {
        /// The journal.
        path: PathBuf,
    },
    /// The journal is not one bpsim wrote, or holds a run that does not
    /// belong to this sweep (edited or corrupted by hand).
    #[error(
        "'{}' line {line}: {message}, so the journal cannot be trusted\n  help: pass --fresh \
         to discard it and start over",
        path.display()
    )]
    CorruptJournal {
        /// The journal.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// `--resume` without a journal to resume.
    #[error(
        "nothing to resume: '{}' does not exist\n  help: run without --resume",
        path.display()
    )]
    NothingToResume {
        /// The journal looked for.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot use '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing `sweep.csv` failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A point could not be simulated.
    #[error("sweep point {point}: {source}")]
    Experiment {
        /// The point index.
        point: usize,
        /// What went wrong.
        #[source]
        source: ExperimentError,
    },
    /// The worker threads could not be started.
    #[error("cannot start {jobs} worker threads: {message}")]
    Threads {
        /// Threads asked for.
        jobs: usize,
        /// The reason.
        message: String,
    },
}

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Results go to `output_dir/<scenario name>/`.
    pub output_dir: PathBuf,
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Finish an interrupted sweep from its journal.
    pub resume: bool,
    /// Discard an interrupted sweep's journal.
    pub fresh: bool,
    /// Show a progress bar (only drawn if stdout is a terminal).
    pub progress: bool,
    /// Behave as if interrupted once this many units have finished in this
    /// invocation (for tests of the interruption path).
    pub stop_after: Option<usize>,
}

/// How a sweep ended.
#[derive(Debug)]
pub enum Finished {
    /// Every unit ran; the CSV is written and the journal removed.
    Complete {
        /// One row per point and strategy.
        rows: Vec<SweepRow>,
        /// Every unit's result, in unit order.
        units: Vec<UnitResult>,
        /// The CSV written.
        csv_path: PathBuf,
    },
    /// Interrupted: the finished units are in the journal.
    Interrupted {
        /// Units finished so far (including earlier invocations).
        done: usize,
        /// Units in the sweep.
        total: usize,
        /// The journal holding them.
        journal: PathBuf,
    },
}

/// Where a scenario's sweep writes its CSV and journal.
pub fn paths(scenario: &Scenario, output_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = output_dir.join(&scenario.name);
    (dir.join("sweep.csv"), dir.join("sweep.journal"))
}

/// Where a finished sweep writes its stamp, beside its CSV: which sweep
/// (bpsim version, scenario fingerprint, units) the CSV is the result of,
/// and a hash of the CSV (see [`finished`]).
pub fn stamp_path(scenario: &Scenario, output_dir: &Path) -> PathBuf {
    output_dir.join(&scenario.name).join("sweep.stamp")
}

/// The fingerprint of everything `scenario`'s results depend on besides
/// bpsim: its file's text, its trace, its CPU profile.
fn fingerprint_of(scenario: &Scenario) -> Result<String, SweepError> {
    let text = std::fs::read(&scenario.path).map_err(|source| SweepError::Io {
        path: scenario.path.clone(),
        source,
    })?;
    Ok(journal::fingerprint(&text, scenario))
}

/// The rows of `scenario`'s sweep as an earlier `bpsim sweep` left them in
/// `output_dir`, with the CSV's path, if they are there and are what
/// running the sweep now would give: `sweep.csv` is stamped (`sweep.stamp`)
/// as the result of this sweep, by the test `--resume` puts a journal to
/// (this bpsim, the same scenario text, trace and CPU profile, the same
/// units), the CSV's bytes are those stamped, and its rows read back are
/// the rows it was written from. `None` otherwise (no sweep, no CSV or
/// stamp, or any of them unreadable or not fitting), and the sweep must
/// run.
pub fn finished(scenario: &Scenario, output_dir: &Path) -> Option<(Vec<SweepRow>, PathBuf)> {
    let sweep = scenario.sweep.as_ref()?;
    let (csv_path, _) = paths(scenario, output_dir);
    let stamp = std::fs::read(stamp_path(scenario, output_dir)).ok()?;
    let text = std::fs::read_to_string(&csv_path).ok()?;
    let total = sweep.points.len() * sweep.replications as usize;
    let fingerprint = fingerprint_of(scenario).ok()?;
    if !journal::stamp_fits(&stamp, &fingerprint, total, text.as_bytes()) {
        return None;
    }
    let rows = aggregate::parse(sweep, &scenario.strategies, &text)?;
    Some((rows, csv_path))
}

/// Runs `scenario`'s sweep. `interrupted` is polled before each unit; once
/// set, no new unit starts and the sweep ends as [`Finished::Interrupted`].
pub fn run(
    scenario: &Scenario,
    options: &Options,
    interrupted: &AtomicBool,
) -> Result<Finished, SweepError> {
    let Some(sweep) = &scenario.sweep else {
        return Err(SweepError::NoSweep {
            file: scenario.path.clone(),
        });
    };
    let total = sweep.points.len() * sweep.replications as usize;
    let (csv_path, journal_path) = paths(scenario, &options.output_dir);
    let stamp_path = stamp_path(scenario, &options.output_dir);
    // Before any unit runs: a sweep that cannot write its CSV, stamp or
    // journal writes none of them.
    output::check_file(&csv_path)?;
    output::check_file(&stamp_path)?;
    output::check_file(&journal_path)?;
    let fingerprint = fingerprint_of(scenario)?;

    let (journal, previous) = if options.resume {
        if !journal_path.exists() {
            return Err(SweepError::NothingToResume { path: journal_path });
        }
        Journal::resume(&journal_path, &fingerprint, total, |r| {
            unit::belongs(sweep, &scenario.strategies, r)
        })?
    } else {
        if journal_path.exists() && !options.fresh {
            // Suggesting --resume for a journal that --resume refuses (the
            // scenario was edited since) sent users in a circle (found by
            // a review).
            if !Journal::fits(&journal_path, &fingerprint, total) {
                return Err(SweepError::StaleJournal { path: journal_path });
            }
            return Err(SweepError::JournalExists { path: journal_path });
        }
        (
            Journal::create(&journal_path, &fingerprint, total)?,
            Vec::new(),
        )
    };

    let mut have = vec![false; total];
    for r in &previous {
        have[r.unit] = true;
    }
    let pending: Vec<usize> = (0..total).filter(|&u| !have[u]).collect();

    let progress = if options.progress && std::io::stdout().is_terminal() {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} runs, {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    progress.set_position(previous.len() as u64);

    let journal = Mutex::new(journal);
    let finished_here = AtomicUsize::new(0);
    let work = |unit: usize| -> Result<Option<UnitResult>, SweepError> {
        if interrupted.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let result = unit::run(sweep, unit).map_err(|source| SweepError::Experiment {
            point: unit / sweep.replications as usize,
            source,
        })?;
        journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&result)?;
        progress.inc(1);
        let n = finished_here.fetch_add(1, Ordering::SeqCst) + 1;
        if options.stop_after.is_some_and(|k| n >= k) {
            interrupted.store(true, Ordering::SeqCst);
        }
        Ok(Some(result))
    };
    let jobs = worker_threads(options.jobs, pending.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| SweepError::Threads {
            jobs,
            message: e.to_string(),
        })?;
    let results: Vec<Result<Option<UnitResult>, SweepError>> =
        pool.install(|| pending.par_iter().map(|&u| work(u)).collect());
    progress.finish_and_clear();
    let mut journal = journal.into_inner().unwrap_or_else(|e| e.into_inner());
    journal.sync()?;

    let mut units: Vec<Option<UnitResult>> = vec![None; total];
    for r in previous {
        let u = r.unit;
        units[u] = Some(r);
    }
    for r in results {
        if let Some(r) = r? {
            let u = r.unit;
            units[u] = Some(r);
        }
    }
    let done = units.iter().filter(|u| u.is_some()).count();
    if done < total {
        return Ok(Finished::Interrupted {
            done,
            total,
            journal: journal_path,
        });
    }
    let units: Vec<UnitResult> = units.into_iter().flatten().collect();
    let rows = aggregate::rows(sweep, &units);
    let csv = aggregate::csv(sweep, &rows);
    output::write_atomic(&csv_path, csv.as_bytes())?;
    // After the CSV: a stamp left from an earlier CSV (a crash between the
    // two) holds that CSV's hash, so it does not pass for this one.
    output::write_atomic(
        &stamp_path,
        journal::stamp(&fingerprint, total, csv.as_bytes()).as_bytes(),
    )?;
    drop(journal);
    std::fs::remove_file(&journal_path).map_err(|source| SweepError::Io {
        path: journal_path.clone(),
        source,
    })?;
    Ok(Finished::Complete {
        rows,
        units,
        csv_path,
    })
}

/// The threads a sweep's pool gets for `pending` runs when `-j` asked for
/// `jobs` (`None`: one per core): never more than there are runs, nor more
/// than [`THREADS_PER_CORE`] per core. Results do not depend on the count,
/// and a thread with no run only costs its stack: `-j 65535` started 65,535
/// threads for an 18-run sweep until the kernel refused them, and bpsim
/// panicked in a new thread and hung (found by a hostile-input pass).
pub fn worker_threads(jobs: Option<usize>, pending: usize) -> usize {
    let cores = cores();
    jobs.unwrap_or(cores)
        .min(cores.saturating_mul(THREADS_PER_CORE))
        .min(pending)
        .max(1)
}

/// The cores this process may run on (1 if that cannot be told): a
/// sweep's default thread count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The most worker threads per core a sweep starts, whatever `-j` asks.
pub const THREADS_PER_CORE: usize = 16;

/// A one-line description of the sweep: `latency.width (11 values) x
/// concurrency (4 values), 5 replications: 220 runs`.
pub fn describe(sweep: &Sweep) -> String {
    let mut parts: Vec<String> = sweep
        .parameters
        .iter()
        .map(|p| {
            format!(
                "{} ({})",
                p.key,
                crate::report::count(p.values.len(), "value", "values")
            )
        })
        .collect();
    if parts.is_empty() {
        parts.push("one point".to_owned());
    }
    let runs = sweep.points.len() * sweep.replications as usize;
    format!(
        "{}, {}: {}",
        parts.join(" x "),
        crate::report::count(sweep.replications as usize, "replication", "replications"),
        crate::report::count(runs, "run", "runs")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_are_capped_at_the_runs_and_per_core() {
        let cores = cores();
        assert_eq!(
            worker_threads(Some(65535), 18),
            18.min(cores * THREADS_PER_CORE)
        );
        assert_eq!(
            worker_threads(Some(65535), usize::MAX),
            cores * THREADS_PER_CORE
        );
        assert_eq!(worker_threads(Some(3), 0), 1);
        assert_eq!(worker_threads(None, 1000), cores.min(1000));
        assert_eq!(worker_threads(Some(1), 1000), 1);
    }
}
