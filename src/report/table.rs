//! The blog-style text table.

use std::fmt::Write;

use super::{RunReport, thousands};

/// Column headers and cells, right-aligned except the first.
fn rows(report: &RunReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "strategy",
        "duration (s)",
        "peak memory (bytes)",
        "peak live tasks",
        "loop iterations",
        "p50 total (s)",
        "p99 total (s)",
    ];
    let body = report
        .results
        .iter()
        .map(|r| {
            vec![
                r.strategy.clone(),
                format!("{:.3}", r.duration_s),
                thousands(r.peak_memory_bytes),
                thousands(r.peak_live_tasks as i64),
                thousands(r.loop_iterations as i64),
                format!("{:.3}", r.total_s.p50),
                format!("{:.3}", r.total_s.p99),
            ]
        })
        .collect();
    (header, body)
}

/// The scenario line printed above tables.
pub(crate) fn title(report: &RunReport) -> String {
    let s = &report.scenario;
    format!(
        "{}: {} requests, concurrency {}, latency {}, seed {}, CPython {} memory profile, cpu {}",
        s.name,
        thousands(s.requests as i64),
        thousands(s.concurrency as i64),
        s.latency,
        s.seed,
        s.python,
        s.cpu
    )
}

/// Render the aligned table.
pub fn summary_table(report: &RunReport) -> String {
    let (header, body) = rows(report);
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", title(report));
    let line = |cells: Vec<&str>, out: &mut String| {
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(out, "{cell:<w$}");
            } else {
                let _ = write!(out, "  {cell:>w$}");
            }
        }
        out.push('\n');
    };
    line(header.clone(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rule.iter().map(String::as_str).collect(), &mut out);
    for row in &body {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}
