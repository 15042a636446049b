//! One unit of a sweep: one point at one replication seed, every strategy on
//! the same workload.

use serde::{Deserialize, Serialize};

use crate::experiment::{self, ExperimentError};
use crate::metrics::StrategyResult;
use crate::scenario::Sweep;

/// The result of one unit, as kept in the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// `point * replications + replication`.
    pub unit: usize,
    /// The seed the workload was drawn with.
    pub seed: u64,
    /// Mean of the drawn latencies, in seconds.
    pub latency_mean_s: f64,
    /// Sample standard deviation of the drawn latencies, in seconds.
    pub latency_std_s: f64,
    /// One result per strategy, in the scenario's order.
    pub results: Vec<StrategyResult>,
}

/// Runs unit `unit` of `sweep`.
pub(crate) fn run(sweep: &Sweep, unit: usize) -> Result<UnitResult, ExperimentError> {
    let (point, seed) = sweep
        .unit(unit)
        .expect("invariant: units are numbered below points x replications");
    let mut scenario = point.scenario.clone();
    scenario.seed = seed;
    let latencies = experiment::draw(&scenario)?;
    let (mean, std) = mean_std(&latencies);
    // One strategy at a time: the sweep already runs a unit per thread.
    let (report, _) = experiment::run_on(&scenario, latencies, experiment::Requests::Summed, 1)?;
    Ok(UnitResult {
        unit,
        seed: scenario.seed,
        latency_mean_s: mean,
        latency_std_s: std,
        results: report.results,
    })
}

/// Why `r`, a unit read back from a journal, is not what [`run`] gives
/// for its unit of `sweep` under `strategies`: its seed, its strategies
/// (each once, in the scenario's order) or a duration no run has.
pub(crate) fn belongs(
    sweep: &Sweep,
    strategies: &[crate::strategy::StrategyKind],
    r: &UnitResult,
) -> Result<(), String> {
    let Some((_, seed)) = sweep.unit(r.unit) else {
        return Err(format!(
            "it holds unit {}, which the sweep does not have",
            r.unit
        ));
    };
    if r.seed != seed {
        return Err(format!(
            "unit {} was run with seed {}, but its seed is {seed}",
            r.unit, r.seed
        ));
    }
    let names: Vec<&str> = r.results.iter().map(|x| x.strategy.as_str()).collect();
    let expected: Vec<&str> = strategies.iter().map(|k| k.name()).collect();
    if names != expected {
        return Err(format!(
            "unit {} holds results for [{}], but the sweep runs [{}]",
            r.unit,
            names.join(", "),
            expected.join(", ")
        ));
    }
    if let Some(x) = r
        .results
        .iter()
        .find(|x| !(x.duration_s.is_finite() && x.duration_s >= 0.0))
    {
        return Err(format!(
            "unit {} gives {} a duration of {} s",
            r.unit,
            x.strategy,
            crate::report::csv_float(x.duration_s)
        ));
    }
    Ok(())
}

/// Mean and sample standard deviation (Welford), zeros for empty input.
pub(crate) fn mean_std(values: &[f64]) -> (f64, f64) {
    let (mut n, mut mean, mut m2) = (0.0_f64, 0.0_f64, 0.0_f64);
    for &x in values {
        n += 1.0;
        let delta = x - mean;
        mean += delta / n;
        m2 += delta * (x - mean);
    }
    let std = if n > 1.0 {
        (m2 / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        assert_eq!(mean_std(&[]), (0.0, 0.0));
        assert_eq!(mean_std(&[3.0]), (3.0, 0.0));
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - (32.0_f64 / 7.0).sqrt()).abs() < 1e-12);
    }
}
