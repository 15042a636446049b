//! CSV: the summary (one row per strategy) and the per-request log.
//!
//! Floats are written in Rust's shortest round-trip form, so the files are
//! byte-identical across machines and parse back to the same bits.

use super::RunReport;
use crate::metrics::Percentiles;
use crate::server::client::Status;
use crate::strategy::Outcome;

const PERCENTILE_COLUMNS: [&str; 5] = ["p50", "p90", "p99", "p999", "max"];

fn percentile_cells(p: &Percentiles) -> [String; 5] {
    [p.p50, p.p90, p.p99, p.p999, p.max].map(|x| x.to_string())
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// `summary.csv`: scenario columns, then the results.
pub fn summary_csv(report: &RunReport) -> String {
    let mut w = writer();
    let mut header: Vec<String> = [
        "scenario",
        "seed",
        "requests",
        "concurrency",
        "latency",
        "python",
        "cpu",
        "strategy",
        "duration_s",
        "peak_memory_bytes",
        "peak_live_tasks",
        "loop_iterations",
        "allocations",
        "completed",
        "succeeded",
        "failed",
        "errors",
        "timeouts",
        "retries",
        "tasks_created",
        "final_memory_bytes",
        "peak_timers",
    ]
    .map(String::from)
    .to_vec();
    for prefix in ["wait", "total"] {
        for p in PERCENTILE_COLUMNS {
            header.push(format!("{prefix}_{p}_s"));
        }
    }
    w.write_record(&header).expect("in-memory CSV");
    let s = &report.scenario;
    for r in &report.results {
        let mut row = vec![
            s.name.clone(),
            s.seed.to_string(),
            s.requests.to_string(),
            s.concurrency.to_string(),
            s.latency.clone(),
            s.python.clone(),
            s.cpu.clone(),
            r.strategy.clone(),
            r.duration_s.to_string(),
            r.peak_memory_bytes.to_string(),
            r.peak_live_tasks.to_string(),
            r.loop_iterations.to_string(),
            r.allocations.to_string(),
            r.completed.to_string(),
            r.succeeded.to_string(),
            r.failed.to_string(),
            r.errors.to_string(),
            r.timeouts.to_string(),
            r.retries.to_string(),
            r.tasks_created.to_string(),
            r.final_memory_bytes.to_string(),
            r.peak_timers.to_string(),
        ];
        row.extend(percentile_cells(&r.wait_s));
        row.extend(percentile_cells(&r.total_s));
        w.write_record(&row).expect("in-memory CSV");
    }
    finish(w)
}

/// `--requests-csv`: `strategy,request,start_s,end_s,status,attempts`,
/// each strategy's requests in completion order (`status` is `ok`,
/// `error` or `timeout`; `attempts` counts retries too).
pub fn requests_csv(outcomes: &[Outcome]) -> String {
    let mut w = writer();
    w.write_record([
        "strategy", "request", "start_s", "end_s", "status", "attempts",
    ])
    .expect("in-memory CSV");
    for o in outcomes {
        let name = o.strategy.name();
        for r in &o.requests {
            w.write_record([
                name,
                &r.request.to_string(),
                &r.start_s.to_string(),
                &r.end_s.to_string(),
                match r.status {
                    Status::Ok => "ok",
                    Status::Error => "error",
                    Status::Timeout => "timeout",
                },
                &r.attempts.to_string(),
            ])
            .expect("in-memory CSV");
        }
    }
    finish(w)
}
