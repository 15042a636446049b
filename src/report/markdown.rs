//! A Markdown table, for READMEs and issues.

use std::fmt::Write;

use super::table::title;
use super::{RunReport, thousands};

/// Render a Markdown table.
pub fn summary_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**{}**\n", title(report));
    out.push_str("| strategy | duration (s) | peak memory (bytes) | peak live tasks | loop iterations | p50 total (s) | p99 total (s) |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for r in &report.results {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {} | {} | {} | {:.3} | {:.3} |",
            r.strategy,
            r.duration_s,
            thousands(r.peak_memory_bytes),
            thousands(r.peak_live_tasks as i64),
            thousands(r.loop_iterations as i64),
            r.total_s.p50,
            r.total_s.p99
        );
    }
    out
}
