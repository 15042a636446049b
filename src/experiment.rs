//! A scenario run: draw the workload once, run every strategy on it, and
//! summarise.

use std::sync::Arc;

use crate::asyncio::{Config, CpuCosts, RunError, SemaphoreFlavor};
use crate::latency::{self, LatencyError};
use crate::metrics::StrategyResult;
use crate::report::{RunReport, ScenarioInfo};
use crate::scenario::{PythonVersion, Scenario};
use crate::strategy::{self, Outcome, Workload};

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
    }
}

/// The engine configuration for a scenario's model: its version's memory
/// profile and semaphore rule, and its CPU costs.
pub fn config_for(scenario: &Scenario) -> Config {
    Config {
        cpu: scenario.model.cpu.costs(),
        ..config_for_version(scenario.model.python)
    }
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
/// logged.
pub fn run(scenario: &Scenario) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    run_on(scenario, draw(scenario)?, Requests::Logged)
}

/// Run every strategy of `scenario` on `latencies` (its [`draw`]n workload).
pub fn run_on(
    scenario: &Scenario,
    latencies: Arc<[f64]>,
    requests: Requests,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    run_with(scenario, latencies, &config_for(scenario), requests)
}

/// Run `scenario` recording every strategy's timeline (the loop's state
/// after each iteration, in each outcome's `report.timeline`).
pub fn run_traced(scenario: &Scenario) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    let config = Config {
        timeline: true,
        ..config_for(scenario)
    };
    run_with(scenario, draw(scenario)?, &config, Requests::Logged)
}

/// Run every strategy of `scenario` on `latencies` with the engine
/// configuration `config`.
pub fn run_with(
    scenario: &Scenario,
    latencies: Arc<[f64]>,
    config: &Config,
    requests: Requests,
) -> Result<(RunReport, Vec<Outcome>), ExperimentError> {
    let workload = Workload::new(latencies.clone(), scenario.concurrency)
        .with_params(scenario.params)
        .with_server(scenario.server, scenario.seed)
        .with_request_log(requests == Requests::Logged);
    let mut outcomes = Vec::with_capacity(scenario.strategies.len());
    for &kind in &scenario.strategies {
        let outcome =
            strategy::simulate(kind, &workload, config).map_err(|source| ExperimentError::Run {
                strategy: kind.name(),
                source,
            })?;
        outcomes.push(outcome);
    }
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
            cpu: scenario.model.cpu.as_str().to_string(),
            strategies: scenario.strategies.clone(),
            params: scenario.params.resolved(scenario.concurrency),
        },
        results: outcomes.iter().map(StrategyResult::from_outcome).collect(),
    };
    Ok((report, outcomes))
}
