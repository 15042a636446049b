//! Exporters: a run's results as a table, CSV, JSON or Markdown.
//!
//! Exporters build bytes and never touch the file system; [`crate::output`]
//! writes them.

mod csv;
mod json;
mod markdown;
mod table;

use serde::{Serialize, Serializer};

use crate::metrics::StrategyResult;
use crate::strategy::{StrategyKind, StrategyParams};

pub use self::csv::{float as csv_float, requests_csv, result_columns, summary_csv};
pub use self::json::summary_json;
pub use self::markdown::summary_markdown;
pub use self::table::{summary_table, sweep_table};

/// Output formats of `bpsim run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table (the default).
    Table,
    /// Comma-separated values, one row per strategy.
    Csv,
    /// `{"scenario": {...}, "results": [...]}`.
    Json,
    /// A Markdown table.
    Markdown,
}

/// What the scenario was, echoed into every output.
///
/// Serialises (`summary.json`'s `"scenario"`) its fields in order, then,
/// through [`StrategyParams::tables`], a `rate_limited` and an
/// `adaptive_limit` table with the parameters of those strategies, each
/// only when it ran, as a scenario file writes them.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioInfo {
    /// Scenario name.
    pub name: String,
    /// RNG seed.
    pub seed: u64,
    /// Number of requests.
    pub requests: u64,
    /// Concurrency limit.
    pub concurrency: u64,
    /// Latency model, e.g. `uniform(0.1, 0.2)`.
    pub latency: String,
    /// Mean latency in seconds (of the workload actually drawn).
    pub latency_mean_s: f64,
    /// CPython version modelled (and whose shipped memory profile was used,
    /// unless `memory` says otherwise).
    pub python: String,
    /// The memory profile file used instead of the shipped one, with the
    /// CPython it was measured on (`my.toml (CPython 3.12.1)`).
    pub memory: Option<String>,
    /// CPU cost model.
    pub cpu: String,
    /// Strategies run, in order (serialised by name).
    pub strategies: Vec<StrategyKind>,
    /// The downstream service (`[server]`), if any.
    pub server: Option<crate::server::ServerSpec>,
    /// The parameters of `rate_limited` and `adaptive_limit` the run used,
    /// `adaptive_limit`'s `max_limit` resolved (4 x `concurrency` when the
    /// scenario gave none; see [`StrategyParams::resolved`]).
    pub params: StrategyParams,
}

impl Serialize for ScenarioInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The fields, borrowed, with the strategy tables flattened in.
        #[derive(Serialize)]
        struct Record<'a> {
            name: &'a str,
            seed: u64,
            requests: u64,
            concurrency: u64,
            latency: &'a str,
            latency_mean_s: f64,
            python: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            memory: Option<&'a str>,
            cpu: &'a str,
            strategies: &'a [StrategyKind],
            #[serde(flatten)]
            tables: crate::strategy::StrategyTables<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            server: Option<&'a crate::server::ServerSpec>,
        }
        // Destructured, so that a new field cannot be left out unnoticed.
        let ScenarioInfo {
            name,
            seed,
            requests,
            concurrency,
            latency,
            latency_mean_s,
            python,
            memory,
            cpu,
            strategies,
            server,
            params,
        } = self;
        Record {
            name,
            seed: *seed,
            requests: *requests,
            concurrency: *concurrency,
            latency,
            latency_mean_s: *latency_mean_s,
            python,
            memory: memory.as_deref(),
            cpu,
            strategies,
            tables: params.tables(strategies),
            server: server.as_ref(),
        }
        .serialize(serializer)
    }
}

/// A scenario run: the scenario and one result per strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// One result per strategy, in the scenario's order.
    pub results: Vec<StrategyResult>,
}

impl RunReport {
    /// Render in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => summary_table(self),
            Format::Csv => summary_csv(self),
            Format::Json => summary_json(self),
            Format::Markdown => summary_markdown(self),
        }
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and its noun: `one` when `n` is 1, else `many` (`1 value`,
/// `0 values`, `5000 values`).
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    /// `summary.json`'s `"scenario"` of a short run of `strategies` with
    /// the scenario lines `tables`.
    fn scenario_json(strategies: &str, tables: &str) -> serde_json::Value {
        let text = format!(
            "requests = 20\nconcurrency = 5\nstrategies = {strategies}\n\
             [latency]\ndistribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\n{tables}"
        );
        let scenario = Scenario::from_str(&text, "s.toml").unwrap();
        let (report, _) = crate::experiment::run(&scenario, 1).unwrap();
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        json["scenario"].clone()
    }

    /// The parameters of `rate_limited` and `adaptive_limit` are in
    /// `summary.json` when they ran (`max_limit` as the run used it, given
    /// or 4 x concurrency), and absent when they did not.
    #[test]
    fn summary_json_holds_the_parameters_of_the_strategies_that_ran() {
        let both = "[rate_limited]\nmax_per_second = 40.0\n\
                    [adaptive_limit]\ntarget_latency = 0.15\ndecrease = 0.5\n";
        let s = scenario_json(r#"["rate_limited", "adaptive_limit"]"#, both);
        assert_eq!(
            s["strategies"],
            serde_json::json!(["rate_limited", "adaptive_limit"])
        );
        assert_eq!(
            s["rate_limited"],
            serde_json::json!({"max_per_second": 40.0}),
            "{s}"
        );
        assert_eq!(
            s["adaptive_limit"],
            serde_json::json!({"target_latency": 0.15, "min_limit": 1.0, "max_limit": 20.0,
                               "increase": 1.0, "decrease": 0.5}),
            "{s}"
        );
        // A given max_limit; no target: none written.
        let s = scenario_json(r#"["adaptive_limit"]"#, "[adaptive_limit]\nmax_limit = 7\n");
        assert_eq!(s.get("rate_limited"), None, "{s}");
        assert_eq!(
            s["adaptive_limit"],
            serde_json::json!({"min_limit": 1.0, "max_limit": 7.0, "increase": 1.0,
                               "decrease": 0.9}),
            "{s}"
        );
        // Tables for strategies that did not run: not in the summary.
        let s = scenario_json(r#"["gated_spawn"]"#, both);
        assert_eq!(s.get("rate_limited"), None, "{s}");
        assert_eq!(s.get("adaptive_limit"), None, "{s}");
        assert_eq!(s["strategies"], serde_json::json!(["gated_spawn"]));
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(0, "value", "values"), "0 values");
        assert_eq!(count(1, "latency", "latencies"), "1 latency");
        assert_eq!(count(2, "run", "runs"), "2 runs");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(152_154_040), "152,154,040");
        assert_eq!(thousands(-1234), "-1,234");
    }
}
