//! Exporters: a run's results as a table, CSV, JSON or Markdown.
//!
//! Exporters build bytes and never touch the file system; [`crate::output`]
//! writes them.

mod csv;
mod json;
mod markdown;
mod table;

use serde::Serialize;

use crate::metrics::StrategyResult;

pub use self::csv::{float as csv_float, requests_csv, summary_csv};
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// CPython version whose memory profile was used.
    pub python: String,
    /// CPU cost model.
    pub cpu: String,
    /// Strategies run, in order.
    pub strategies: Vec<String>,
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
