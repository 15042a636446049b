//! The speed issue's targets, checked against what one `bpsim bench` run
//! measured: its last section, so that where each target stands is one
//! command away on any machine, with the figures it rests on.
//!
//! A target the run did not time (its request count, limit or threads were
//! not among the run's) says which option would time it. The one target
//! the issue gives no number for, a cost "nearly independent" of the
//! limit, is shown with its figure and no verdict; the 300x SimPy target
//! is timed by `bench/peers/run.py`, not here.

use std::fmt::Write as _;

use super::Measured;
use crate::strategy::StrategyKind;

/// The most ms per run of the blog scenario ([`RUN_REQUESTS`] requests,
/// limit [`RUN_LIMIT`]), for every strategy.
pub const RUN_MS: f64 = 5.0;
/// The blog scenario's request count.
pub const RUN_REQUESTS: u64 = 100_000;
/// The blog scenario's concurrency limit.
pub const RUN_LIMIT: u64 = 500;
/// The most seconds for [`TEN_MILLION`] requests of `semaphore_in_task`.
pub const TEN_MILLION_S: f64 = 2.0;
/// The request count of the linearity target.
pub const TEN_MILLION: u64 = 10_000_000;
/// The most bytes of bpsim's own memory per live simulated task.
pub const BYTES_PER_TASK: f64 = 128.0;
/// The least speedup of a sweep on [`SWEEP_THREADS`] threads.
pub const SWEEP_SPEEDUP: f64 = 1.8;
/// The threads of the sweep target.
pub const SWEEP_THREADS: usize = 2;

/// What a bench run measured that bears on the targets. The bench fills
/// it in as it goes ([`crate::bench::run`]; the sweep's speedup is timed
/// after it, by [`crate::bench::sweep_scaling`]).
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// ms per run of each strategy timed at [`RUN_REQUESTS`] requests,
    /// limit [`RUN_LIMIT`].
    pub(crate) runs: Vec<(StrategyKind, f64)>,
    /// `semaphore_in_task` at [`TEN_MILLION`] requests, limit
    /// [`RUN_LIMIT`]: seconds.
    pub(crate) ten_million: Option<f64>,
    /// `semaphore_in_task`'s bytes per live task at its peak (by heap, by
    /// resident set) at the largest request count timed, from 100,000 live
    /// tasks on, and that count.
    pub(crate) per_task: Option<(u64, Option<f64>, Option<f64>)>,
    /// The limits of the limit table, and each strategy's cost per loop
    /// iteration beyond the timer heap at its slowest limit over its
    /// fastest.
    pub(crate) limits: Vec<u64>,
    pub(crate) limit_spreads: Vec<(StrategyKind, f64)>,
    /// The blog table: ms one at a time, ms on `threads`, and `threads`.
    pub(crate) blog_table: Option<(f64, f64, usize)>,
    /// A sweep's speedup, and the threads it ran on.
    pub sweep: Option<(f64, usize)>,
}

impl Targets {
    /// Note what one row of the size table measured, where a target
    /// speaks of it.
    pub(super) fn record(&mut self, kind: StrategyKind, requests: u64, limit: u64, m: &Measured) {
        if limit == RUN_LIMIT && requests == RUN_REQUESTS {
            self.runs.push((kind, m.best.as_secs_f64() * 1e3));
        }
        if kind != StrategyKind::SemaphoreInTask {
            return;
        }
        if limit == RUN_LIMIT && requests == TEN_MILLION {
            self.ten_million = Some(m.best.as_secs_f64());
        }
        let largest = self.per_task.is_none_or(|(n, _, _)| requests > n);
        if m.peak_live >= super::PER_TASK_FROM && largest {
            let per_task = |bytes: Option<u64>| bytes.map(|b| b as f64 / m.peak_live as f64);
            self.per_task = Some((requests, per_task(m.heap), per_task(m.rss)));
        }
    }

    /// The section `bpsim bench` prints last.
    pub fn render(&self) -> String {
        let rows = [
            self.runs_row(),
            self.ten_million_row(),
            self.per_task_row(),
            self.limit_row(),
            self.sweep_row(),
            Row {
                target: "at least 300x faster than SimPy".to_owned(),
                status: "not timed",
                measured: "`python3 bench/peers/run.py` times it (SimPy, and CPython on a \
                           virtual clock) and judges it last"
                    .to_owned(),
            },
        ];
        let width = rows.iter().map(|r| r.target.len()).max().unwrap_or(0);
        let mut out = String::from("\nspeed targets, as this run measured them:\n\n");
        let _ = writeln!(out, "{:<width$}  {:<9}  measured", "target", "status");
        for r in rows {
            let _ = writeln!(out, "{:<width$}  {:<9}  {}", r.target, r.status, r.measured);
        }
        out
    }

    fn runs_row(&self) -> Row {
        let target = format!("at most {RUN_MS} ms a run of {RUN_REQUESTS} requests, C={RUN_LIMIT}");
        let (Some(fastest), Some(slowest)) = (
            self.runs.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
            self.runs.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
        ) else {
            return Row {
                target,
                status: "not timed",
                measured: format!(
                    "needs {RUN_REQUESTS} in --requests and --concurrency {RUN_LIMIT}"
                ),
            };
        };
        let within = self.runs.iter().filter(|(_, ms)| *ms <= RUN_MS).count();
        let all = StrategyKind::ALL.len();
        let mut measured = format!(
            "{:.2} ms ({}) to {:.2} ms ({}); {within} of the {} strategies timed within",
            fastest.1,
            fastest.0.name(),
            slowest.1,
            slowest.0.name(),
            self.runs.len()
        );
        // Every strategy within, but not every strategy timed: no verdict.
        let status = if slowest.1 > RUN_MS {
            verdict(false)
        } else if self.runs.len() < all {
            let _ = write!(measured, " (all {all}: leave out --strategies)");
            "not timed"
        } else {
            verdict(true)
        };
        if let Some((one, many, threads)) = self.blog_table {
            let _ = write!(
                measured,
                "; the blog table {one:.1} ms one at a time, {many:.1} ms on {threads} threads"
            );
        }
        Row {
            target,
            status,
            measured,
        }
    }

    fn ten_million_row(&self) -> Row {
        let target = format!("{TEN_MILLION} requests of semaphore_in_task in {TEN_MILLION_S} s");
        match self.ten_million {
            Some(s) => Row {
                target,
                status: verdict(s <= TEN_MILLION_S),
                measured: format!("{s:.2} s"),
            },
            None => Row {
                target,
                status: "not timed",
                measured: format!(
                    "needs --ten-million, semaphore_in_task and --concurrency {RUN_LIMIT}"
                ),
            },
        }
    }

    fn per_task_row(&self) -> Row {
        let target = format!("at most {BYTES_PER_TASK} B of bpsim's memory per live task");
        let Some((requests, heap, rss)) = self.per_task else {
            return Row {
                target,
                status: "not timed",
                measured: "needs semaphore_in_task at 100000 requests or more".to_owned(),
            };
        };
        let show = |b: Option<f64>| b.map_or("n/a".to_owned(), |b| format!("{b:.0} B"));
        let worst = heap
            .into_iter()
            .chain(rss)
            .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))));
        Row {
            target,
            status: worst.map_or("not timed", |b| verdict(b <= BYTES_PER_TASK)),
            measured: format!(
                "{} by heap, {} by resident set (semaphore_in_task, {requests} requests)",
                show(heap),
                show(rss)
            ),
        }
    }

    fn limit_row(&self) -> Row {
        let target = "cost nearly independent of the limit".to_owned();
        // One limit has no spread to show.
        let (Some(low), Some(high), 2..) = (
            self.limit_spreads
                .iter()
                .map(|s| s.1)
                .min_by(f64::total_cmp),
            self.limit_spreads
                .iter()
                .map(|s| s.1)
                .max_by(f64::total_cmp),
            self.limits.len(),
        ) else {
            return Row {
                target,
                status: "not timed",
                measured: "needs two or more --limits (default 1,10,100,1000,10000) and a \
                           strategy the floor models"
                    .to_owned(),
            };
        };
        let limits: Vec<String> = self.limits.iter().map(u64::to_string).collect();
        Row {
            target,
            status: "no number",
            measured: format!(
                "per loop iteration beyond the timer heap, the slowest of C={} costs \
                 {low:.2}-{high:.2}x the fastest",
                limits.join(",")
            ),
        }
    }

    fn sweep_row(&self) -> Row {
        let target = format!("sweeps at least {SWEEP_SPEEDUP}x on {SWEEP_THREADS} threads");
        match self.sweep {
            Some((speedup, SWEEP_THREADS)) => Row {
                target,
                status: verdict(speedup >= SWEEP_SPEEDUP),
                measured: format!("{speedup:.2}x"),
            },
            Some((speedup, threads)) => Row {
                target,
                status: "not timed",
                measured: format!(
                    "{speedup:.2}x on {threads} threads; --sweep-threads {SWEEP_THREADS} times it"
                ),
            },
            None => Row {
                target,
                status: "not timed",
                measured: format!("needs --sweep-threads {SWEEP_THREADS}"),
            },
        }
    }
}

/// A target's row: what it asks, where it stands, the figures.
struct Row {
    target: String,
    status: &'static str,
    measured: String,
}

/// A status for a target the run timed.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(text: &'a str, start: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start:?} in\n{text}"))
    }

    #[test]
    fn each_target_is_judged_against_its_number() {
        let t = Targets {
            runs: vec![
                (StrategyKind::WorkerPool, 4.5),
                (StrategyKind::SemaphoreInTask, 9.7),
            ],
            ten_million: Some(1.23),
            per_task: Some((10_000_000, Some(89.0), Some(129.0))),
            limits: vec![1, 10_000],
            limit_spreads: vec![
                (StrategyKind::Batching, 1.3),
                (StrategyKind::WorkerPool, 1.4),
            ],
            blog_table: Some((38.49, 22.56, 2)),
            sweep: Some((1.94, 2)),
        };
        let text = t.render();
        let runs = row(&text, "at most 5 ms");
        assert!(runs.contains("NOT MET"), "{runs}");
        assert!(
            runs.contains("4.50 ms (worker_pool) to 9.70 ms (semaphore_in_task)"),
            "{runs}"
        );
        assert!(
            runs.contains("1 of the 2 strategies timed within"),
            "{runs}"
        );
        assert!(
            runs.contains("38.5 ms one at a time, 22.6 ms on 2 threads"),
            "{runs}"
        );
        assert!(row(&text, "10000000 requests").contains(" met "), "{text}");
        // Either measure above the bound misses it.
        let memory = row(&text, "at most 128 B");
        assert!(memory.contains("NOT MET") && memory.contains("129 B by resident set"));
        let limit = row(&text, "cost nearly");
        assert!(
            limit.contains("no number") && limit.contains("1.30-1.40x"),
            "{limit}"
        );
        assert!(row(&text, "sweeps").contains(" met "), "{text}");
        assert!(row(&text, "at least 300x").contains("bench/peers/run.py"));
    }

    /// Within 5 ms for the strategies timed is no verdict on every
    /// strategy, unless every one was timed.
    #[test]
    fn the_run_target_needs_every_strategy() {
        let fast = |kinds: &[StrategyKind]| Targets {
            runs: kinds.iter().map(|&k| (k, 4.0)).collect(),
            ..Targets::default()
        };
        let some = fast(&[StrategyKind::WorkerPool]).render();
        let r = row(&some, "at most 5 ms");
        assert!(
            r.contains("not timed") && r.contains("leave out --strategies"),
            "{r}"
        );
        let all = fast(&StrategyKind::ALL).render();
        assert!(row(&all, "at most 5 ms").contains(" met "), "{all}");
    }

    #[test]
    fn a_target_the_run_did_not_time_says_what_would_time_it() {
        let text = Targets {
            sweep: Some((3.5, 4)),
            // One limit: a spread of 1 says nothing.
            limits: vec![500],
            limit_spreads: vec![(StrategyKind::GatedSpawn, 1.0)],
            ..Targets::default()
        }
        .render();
        for (start, how) in [
            ("at most 5 ms", "--concurrency 500"),
            ("10000000 requests", "--ten-million"),
            ("at most 128 B", "semaphore_in_task"),
            ("cost nearly", "--limits"),
            ("sweeps", "--sweep-threads 2"),
        ] {
            let r = row(&text, start);
            assert!(r.contains("not timed") && r.contains(how), "{r}");
        }
    }
}
