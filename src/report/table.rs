//! The blog-style text table.

use std::fmt::Write;

use super::{RunReport, thousands};
use crate::scenario::Scenario;
use crate::sweep::SweepRow;

/// Column headers and cells, right-aligned except the first.
fn rows(report: &RunReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    // Failure columns only when something can fail.
    let failures = report
        .results
        .iter()
        .any(|r| r.failed + r.errors + r.timeouts + r.retries > 0);
    let mut header = vec![
        "strategy",
        "duration (s)",
        "peak memory (bytes)",
        "peak live tasks",
        "loop iterations",
        "p50 total (s)",
        "p99 total (s)",
    ];
    if failures {
        header.extend(["failed", "errors", "timeouts", "retries"]);
    }
    let body = report
        .results
        .iter()
        .map(|r| {
            let mut row = vec![
                r.strategy.clone(),
                format!("{:.3}", r.duration_s),
                thousands(r.peak_memory_bytes),
                thousands(r.peak_live_tasks as i64),
                thousands(r.loop_iterations as i64),
                format!("{:.3}", r.total_s.p50),
                format!("{:.3}", r.total_s.p99),
            ];
            if failures {
                row.extend([
                    thousands(r.failed as i64),
                    thousands(r.errors as i64),
                    thousands(r.timeouts as i64),
                    thousands(r.retries as i64),
                ]);
            }
            row
        })
        .collect();
    (header, body)
}

/// The scenario line printed above tables.
pub(crate) fn title(report: &RunReport) -> String {
    let s = &report.scenario;
    let memory = match &s.memory {
        Some(file) => format!("memory profile {file}"),
        None => format!("CPython {} memory profile", s.python),
    };
    let server = match &s.server {
        Some(server) => format!(", server: {}", server.describe()),
        None => String::new(),
    };
    format!(
        "{}: {} requests, concurrency {}, latency {}, seed {}, {memory}, cpu {}{server}",
        s.name,
        thousands(s.requests as i64),
        thousands(s.concurrency as i64),
        s.latency,
        s.seed,
        s.cpu
    )
}

/// Render the aligned table.
pub fn summary_table(report: &RunReport) -> String {
    let (header, body) = rows(report);
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", title(report));
    out.push_str(&aligned(&header, &body));
    out
}

/// `header` and `body` as aligned columns under a rule: the first column
/// left-aligned, the others right-aligned.
fn aligned<H: AsRef<str>>(header: &[H], body: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().len()).collect();
    for row in body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
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
    line(header.iter().map(AsRef::as_ref).collect(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rule.iter().map(String::as_str).collect(), &mut out);
    for row in body {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// A sweep's durations: one line per point, one column per strategy
/// (`mean ± 95% CI` when replicated).
pub fn sweep_table(scenario: &Scenario, rows: &[SweepRow]) -> String {
    let Some(sweep) = &scenario.sweep else {
        return String::new();
    };
    let strategies: Vec<&str> = scenario.strategies.iter().map(|k| k.name()).collect();
    let mut header: Vec<String> = vec!["point".to_owned()];
    header.extend(sweep.parameters.iter().map(|p| p.key.clone()));
    header.push("latency std (s)".to_owned());
    header.extend(strategies.iter().map(|s| format!("{s} (s)")));
    let mut body = Vec::new();
    for point in rows.chunks(strategies.len().max(1)) {
        let first = &point[0];
        let mut row = vec![first.point.to_string()];
        row.extend(first.values.iter().map(|v| format!("{v}")));
        row.push(format!("{:.4}", first.latency_std_s));
        for r in point {
            row.push(if r.replications > 1 {
                format!("{:.3} ± {:.3}", r.duration_s.mean, r.duration_s.ci95)
            } else {
                format!("{:.3}", r.duration_s.mean)
            });
        }
        body.push(row);
    }
    // What the sweep holds fixed: a swept key's base value is not run.
    let swept = |key: &str| sweep.parameters.iter().any(|p| p.key == key);
    let mut fixed = Vec::new();
    if !swept("requests") {
        fixed.push(format!("{} requests", thousands(scenario.requests as i64)));
    }
    if !swept("concurrency") {
        fixed.push(format!(
            "concurrency {}",
            thousands(scenario.concurrency as i64)
        ));
    }
    if let Some(server) = &scenario.server {
        fixed.push(format!("server: {}", server.describe()));
    }
    fixed.push(crate::sweep::describe(sweep));
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}\n", scenario.name, fixed.join(", "));
    out.push_str(&aligned(&header, &body));
    out
}
