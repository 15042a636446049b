//! What the output files hold and what the commands say about them, as a
//! user finds them: `summary.csv` against `summary.json`, `sweep.csv`
//! against `summary.csv`, and `bpsim plot` against `bpsim run --plot`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn bpsim() -> Command {
    Command::cargo_bin("bpsim").unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The header of a CSV file, split.
fn header(csv: &str) -> Vec<String> {
    csv.lines()
        .next()
        .unwrap()
        .split(',')
        .map(String::from)
        .collect()
}

/// The keys of `summary.json`'s first result, in the file's order, each
/// nested object of percentiles (`"total_s": {"p50": ...}`) as the CSV
/// names its columns (`total_p50_s`). Read from the pretty-printed text,
/// since a parsed JSON object does not keep its keys' order.
fn json_result_columns(json: &str) -> Vec<String> {
    let start = json.find("\"results\": [").expect("a results array");
    let mut columns = Vec::new();
    let mut group: Option<String> = None;
    // Past `"results": [` and the first result's `{`.
    for line in json[start..].lines().skip(2) {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.starts_with('}') {
            if indent <= 4 {
                break;
            }
            group = None;
            continue;
        }
        let key = text
            .strip_prefix('"')
            .and_then(|rest| rest.split_once('"'))
            .map(|(key, _)| key.to_owned())
            .unwrap_or_else(|| panic!("not a key: {line}"));
        if text.ends_with('{') {
            group = Some(key);
        } else if let Some(g) = &group {
            columns.push(format!("{}_{key}_s", g.strip_suffix("_s").unwrap()));
        } else {
            columns.push(key);
        }
    }
    columns
}

/// `summary.csv`'s result columns (from `strategy` on) are `summary.json`'s
/// result fields, in the same order (a review found the two orders
/// different: `peak_live_tasks` before `peak_memory_bytes` in one and after
/// it in the other).
#[test]
fn summary_csv_and_summary_json_list_the_results_in_one_order() {
    let out = tempfile::tempdir().unwrap();
    bpsim()
        .args(["run", "--output-dir"])
        .arg(out.path())
        .arg(root().join("tests/scenarios/ties.toml"))
        .assert()
        .success();
    let csv = header(&read(&out.path().join("ties/summary.csv")));
    let from = csv.iter().position(|c| c == "strategy").unwrap();
    let json = json_result_columns(&read(&out.path().join("ties/summary.json")));
    assert_eq!(csv[from..], json[..]);
    // Every JSON field is there, under its documented name.
    for name in ["peak_memory_bytes", "errors", "wait_p999_s", "total_max_s"] {
        assert!(json.iter().any(|c| c == name), "{name}: {json:?}");
    }
}
