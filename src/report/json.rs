//! JSON: `{"scenario": {...}, "results": [...]}`.

use super::RunReport;

/// Render pretty-printed JSON (floats in shortest round-trip form).
pub fn summary_json(report: &RunReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("a report always serializes");
    s.push('\n');
    s
}
