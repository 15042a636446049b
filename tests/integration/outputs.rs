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

/// Runs `bpsim ARGS` in `dir`, expecting success; its stdout and its
/// stderr's `wrote PATH` lines.
fn wrote(dir: &Path, args: &[&str]) -> (String, Vec<String>) {
    let out = bpsim().current_dir(dir).args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{args:?}: {stderr}");
    let wrote = stderr
        .lines()
        .filter(|l| l.starts_with("wrote "))
        .map(String::from)
        .collect();
    (String::from_utf8(out.stdout).unwrap(), wrote)
}

/// `bpsim plot` says what it wrote as `bpsim run --plot` and `bpsim sweep
/// --plot` do, `wrote PATH` on stderr for each file, where it printed bare
/// paths on stdout (found by a review).
#[test]
fn plot_says_what_it_wrote_as_run_and_sweep_do() {
    let ties = root().join("tests/scenarios/ties.toml");
    let small = root().join("tests/scenarios/sweep_small.toml");
    let (ties, small) = (ties.to_str().unwrap(), small.to_str().unwrap());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let (_, by_run) = wrote(
        a.path(),
        &["run", "--plot", "--no-write", "--output-dir", "out", ties],
    );
    let (stdout, by_plot) = wrote(b.path(), &["plot", "--output-dir", "out", ties]);
    assert_eq!(
        by_run,
        ["memory", "timeline", "total_time"].map(|c| format!("wrote out/ties/{c}.png"))
    );
    assert_eq!(by_plot, by_run);
    assert_eq!(stdout, "");

    // A sweep: plot runs it, writing its CSV as `bpsim sweep` does.
    let (_, by_sweep) = wrote(
        a.path(),
        &[
            "sweep",
            "--plot",
            "--no-progress",
            "--output-dir",
            "out",
            small,
        ],
    );
    let (stdout, by_plot) = wrote(b.path(), &["plot", "--output-dir", "out", small]);
    assert_eq!(
        by_sweep,
        [
            "wrote out/sweep_small/sweep.csv",
            "wrote out/sweep_small/sweep.png"
        ]
    );
    assert_eq!(by_plot, by_sweep);
    assert_eq!(stdout, "");
}
