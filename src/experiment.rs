//! A scenario run: draw the workload once, run every strategy on it, and
//! summarise.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::asyncio::{Config, CpuCosts, RunError, SemaphoreFlavor};
use crate::latency::{self, LatencyError, LatencySource};
use crate::metrics::StrategyResult;
use crate::report::{RunReport, ScenarioInfo};
use crate::scenario::{MemoryFile, PythonVersion, Scenario};
use crate::strategy::{self, Outcome, StrategyKind, Workload};

/// Why a scenario could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The workload could not be drawn (e.g. a trace too short).
    #[error(transparent)]
    Latency(#[from] LatencyError),
    /// The scenario's workload could not be drawn: a latency beyond the
    /// first requests (which loading the scenario checks) was not one.
    #[error(
        "{}: latency: {source}\n  help: loading a scenario checks the first {} draws at \
         the seed it names, not this one at seed {seed} (a later request, or a sweep's \
         replication): use a lighter tail (a larger Pareto `shape`, a smaller lognormal \
         `sigma`) or a smaller scale",
        path.display(),
        crate::scenario::CHECKED_DRAWS
    )]
    Draw {
        /// The scenario file.
        path: std::path::PathBuf,
        /// The seed the workload was drawn with.
        seed: u64,
        /// What went wrong.
        #[source]
        source: LatencyError,
    },
    /// A strategy did not finish.
    #[error("strategy {strategy}: {source}")]
    Run {
        /// The strategy.
        strategy: &'static str,
        /// What went wrong.
        #[source]
        source: RunError,
    },
}

/// The engine configuration that models CPython `version`: its memory
/// profile and its semaphore wake-up rule.
pub fn config_for_version(version: PythonVersion) -> Config {
    let profile = crate::profiles::builtin(version.as_str())
        .expect("every PythonVersion has a shipped profile")
        .memory;
    let semaphore = match version {
        PythonVersion::V3_13 => SemaphoreFlavor::WakeAll,
        _ => SemaphoreFlavor::WakeOne,
    };
    Config {
        profile,
        semaphore,
        max_iterations: u64::MAX,
        cpu: CpuCosts::NONE,
        timeline: false,
        station: None,
        expected_tasks: 0,
        drawn_latencies: true,
    }
}

/// The engine configuration for a scenario's model: its version's
/// semaphore rule, its memory profile (its version's shipped one, or its
/// `memory` file's) and its CPU costs. A scenario that replays a trace
/// models a program that reads its latencies from a list, one with a
/// distribution a program that draws each ([`Config::drawn_latencies`]).
pub fn config_for(scenario: &Scenario) -> Config {
    let mut config = config_for_version(scenario.model.python);
    config.cpu = scenario.model.cpu.costs();
    config.drawn_latencies = matches!(scenario.latency, LatencySource::Distribution(_));
    if let Some(file) = &scenario.model.memory {
        config.profile = (*file.sizes).clone();
    }
    config
}

/// The scenario's workload: request `i`'s latency in seconds.
pub fn draw(scenario: &Scenario) -> Result<Arc<[f64]>, ExperimentError> {
    latency::workload(&scenario.latency, scenario.seed, scenario.requests)
        .map(Into::into)
        .map_err(|source| ExperimentError::Draw {
            path: scenario.path.clone(),
            seed: scenario.seed,
            source,
        })
}

/// What a run keeps of its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requests {
    /// A record of every request, in each outcome's `requests`: for a
    /// per-request CSV or the charts.
    Logged,
    /// Only what they add up to (each outcome's `stats`, which the report
    /// is made of): 20 bytes less per request and strategy.
    Summed,
}

/// Run `scenario`: every strategy on the same workload, every request
/// logged, up to `threads` strategies at once.
pub fn run(
    scenario: &Scenario,
    threads: usize,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    run_on(scenario, draw(scenario)?, Requests::Logged, threads)
}

/// Run every strategy of `scenario` on `latencies` (its [`draw`]n workload),
/// up to `threads` at once.
pub fn run_on(
    scenario: &Scenario,
    latencies: Arc<[f64]>,
    requests: Requests,
    threads: usize,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    run_with(
        scenario,
        latencies,
        &config_for(scenario),
        requests,
        threads,
    )
}

/// Run `scenario` recording every strategy's timeline (the loop's state
/// after each iteration, in each outcome's `report.timeline`), up to
/// `threads` strategies at once.
pub fn run_traced(
    scenario: &Scenario,
    threads: usize,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    let config = Config {
        timeline: true,
        ..config_for(scenario)
    };
    run_with(
        scenario,
        draw(scenario)?,
        &config,
        Requests::Logged,
        threads,
    )
}

/// Run every strategy of `scenario` on `latencies` with the engine
/// configuration `config`, up to `threads` of them at once (each on its own
/// thread, with its own loop).
///
/// The strategies share nothing but the workload, so the results are the
/// same whatever `threads` is: the outcomes come back in the scenario's
/// order, and the error reported is that of the first strategy, in that
/// order, that failed. If threads cannot be started, those that could (this
/// one at least) run the rest.
pub fn run_with(
    scenario: &Scenario,
    latencies: Arc<[f64]>,
    config: &Config,
    requests: Requests,
    threads: usize,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    let workload = Workload::new(latencies.clone(), scenario.concurrency)
        .with_params(scenario.params)
        .with_server(scenario.server, scenario.seed)
        .with_request_log(requests == Requests::Logged);
    let one = |&kind: &StrategyKind| {
        strategy::simulate(kind, &workload, config).map_err(|source| ExperimentError::Run {
            strategy: kind.name(),
            source,
        })
    };
    let outcomes = at_once(&scenario.strategies, threads, one)?;
    let mean = crate::metrics::mean(&latencies);
    let report = RunReport {
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            seed: scenario.seed,
            requests: scenario.requests,
            concurrency: scenario.concurrency,
            latency: scenario.latency.describe(),
            latency_mean_s: mean,
            python: scenario.model.python.as_str().to_string(),
            memory: scenario.model.memory.as_ref().map(MemoryFile::describe),
            cpu: scenario.model.cpu.as_str().to_string(),
            strategies: scenario.strategies.clone(),
            server: scenario.server,
            params: scenario.params.resolved(scenario.concurrency),
        },
        results: outcomes.iter().map(StrategyResult::from_outcome).collect(),
    };
    Ok((report, outcomes))
}

/// `one` applied to every item of `items`, up to `threads` at once: this
/// thread and `threads - 1` more each take the next item not yet taken.
/// Returns the results in `items`' order, or the error of the first item,
/// in that order, that failed (no item after a failed one is started: its
/// result would be dropped). Threads that cannot be started leave their
/// share to the others.
fn at_once<T: Sync, U: Send, E: Send>(
    items: &[T],
    threads: usize,
    one: impl Fn(&T) -> Result<U, E> + Sync,
) -> Result<Vec<U>, E> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(one).collect();
    }
    let next = AtomicUsize::new(0);
    let first_failed = AtomicUsize::new(usize::MAX);
    // Items are taken in order, so every item before the first failed one
    // was taken, and run, before it.
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            if i > first_failed.load(Ordering::Relaxed) {
                break;
            }
            let result = one(item);
            if result.is_err() {
                first_failed.fetch_min(i, Ordering::Relaxed);
            }
            done.push((i, result));
        }
        done
    };
    let mut done = std::thread::scope(|scope| {
        // A spawn fails only if the system is out of threads or memory: the
        // threads already running (this one at least) do the rest.
        let helpers: Vec<_> = (1..threads)
            .map_while(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut done = work();
        for helper in helpers {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        done
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3,000 requests against a server that times out and retries, with
    /// CPython's CPU costs: every part of a strategy's run that draws or
    /// counts.
    fn scenario(strategies: &str) -> Scenario {
        let text = format!(
            "seed = 3\nrequests = 3_000\nconcurrency = 40\nstrategies = [{strategies}]\n\
             [latency]\ndistribution = \"lognormal\"\nmedian = 0.05\np99 = 0.5\n\
             [server]\ncapacity = 30\ntimeout = 0.4\nretries = 2\njitter = \"full\"\n\
             [rate_limited]\nmax_per_second = 500.0\n\
             [adaptive_limit]\ntarget_latency = 0.3\n\
             [model]\ncpu = \"cpython-3.12\"\n"
        );
        Scenario::from_str(&text, "s.toml").unwrap()
    }

    #[test]
    fn strategies_run_at_once_give_what_they_give_one_at_a_time() {
        let all: Vec<String> = StrategyKind::ALL
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        let s = scenario(&all.join(", "));
        let (one, one_outcomes) = run(&s, 1).unwrap();
        for threads in [2, 3, 8, 64] {
            let (many, many_outcomes) = run(&s, threads).unwrap();
            assert_eq!(
                many.render(crate::report::Format::Json),
                one.render(crate::report::Format::Json),
                "{threads} threads"
            );
            assert_eq!(
                crate::report::requests_csv(&many_outcomes),
                crate::report::requests_csv(&one_outcomes),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn at_once_keeps_the_order_and_the_first_error() {
        let items: Vec<u32> = (0..40).collect();
        for threads in [1, 2, 3, 8, 100] {
            let squares = at_once(&items, threads, |&i| Ok::<u32, u32>(i * i)).unwrap();
            assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
            let failing = |&i: &u32| if i % 7 == 5 { Err(i) } else { Ok(i) };
            assert_eq!(at_once(&items, threads, failing), Err(5), "{threads}");
        }
    }

    #[test]
    #[should_panic(expected = "item 3")]
    fn at_once_passes_a_panic_on() {
        let items: Vec<u32> = (0..8).collect();
        let _ = at_once(&items, 4, |&i| {
            assert!(i != 3, "item 3");
            Ok::<u32, ()>(i)
        });
    }

    #[test]
    fn the_error_is_the_first_failing_strategys_however_many_run_at_once() {
        let s = scenario("\"worker_pool\", \"gated_spawn\", \"batching\"");
        let config = Config {
            max_iterations: 50,
            ..config_for(&s)
        };
        for threads in [1, 2, 3] {
            let e =
                run_with(&s, draw(&s).unwrap(), &config, Requests::Summed, threads).unwrap_err();
            assert!(
                matches!(
                    e,
                    ExperimentError::Run {
                        strategy: "worker_pool",
                        ..
                    }
                ),
                "{threads} threads: {e}"
            );
        }
    }
}
