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

/// A scenario against a failing, timing-out service (so that every count
/// is non-zero), with a sweep of one point: the scenario itself.
const ONE_POINT: &str = "name = \"one_point\"\nseed = 3\nrequests = 300\nconcurrency = 40\n\
    strategies = [\"batching\", \"gated_spawn\", \"adaptive_limit\"]\n\
    [latency]\ndistribution = \"exponential\"\nmean = 0.05\n\
    [server]\ncapacity = 10\nerror_rate = 0.1\ntimeout = 0.3\nretries = 2\n\
    [adaptive_limit]\ntarget_latency = 0.2\n\
    [sweep]\nconcurrency = [40]\n";

/// `sweep.csv` has every result column of `summary.csv`, in the same
/// order, and a sweep of one point at one seed gives the same figures as
/// the run (a review found `succeeded`, `errors` and the waits' p90 and
/// p99.9 missing, among others).
#[test]
fn sweep_csv_has_every_result_column_of_summary_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.toml"), ONE_POINT).unwrap();
    for args in [
        &["run", "s.toml", "--output-dir", "out"][..],
        &["sweep", "s.toml", "--no-progress", "--output-dir", "out"],
    ] {
        let out = bpsim().current_dir(d).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let summary = read(&d.join("out/one_point/summary.csv"));
    let sweep = read(&d.join("out/one_point/sweep.csv"));
    let (s_head, w_head) = (header(&summary), header(&sweep));
    let from = s_head.iter().position(|c| c == "strategy").unwrap();
    // Each of summary.csv's result columns, where sweep.csv has it.
    let at: Vec<usize> = s_head[from..]
        .iter()
        .map(|c| {
            w_head
                .iter()
                .position(|w| w == c)
                .unwrap_or_else(|| panic!("sweep.csv has no column {c}: {w_head:?}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "another order: {at:?}");
    // The sweep's own columns come first.
    assert_eq!(w_head[..3], ["point", "concurrency", "strategy"]);
    // The same figures, written the same way.
    let cells = |line: &str| -> Vec<String> { line.split(',').map(String::from).collect() };
    let runs: Vec<Vec<String>> = summary.lines().skip(1).map(cells).collect();
    let points: Vec<Vec<String>> = sweep.lines().skip(1).map(cells).collect();
    assert_eq!(runs.len(), 3);
    assert_eq!(points.len(), 3);
    for (run, point) in runs.iter().zip(&points) {
        for (i, &j) in at.iter().enumerate() {
            assert_eq!(run[from + i], point[j], "{}", s_head[from + i]);
        }
    }
    // Something failed, and something timed out.
    let col = |name: &str| s_head.iter().position(|c| c == name).unwrap();
    for name in ["errors", "timeouts", "retries", "failed"] {
        assert!(
            runs.iter().any(|r| r[col(name)] != "0"),
            "{name}: {summary}"
        );
    }
}

/// `bpsim plot` of a sweep that `bpsim sweep` has already run (for the
/// same scenario) draws from its `sweep.csv` instead of running it again
/// (found by a review), says so, and draws the same chart; a CSV edited
/// since, or a scenario edited since, runs the sweep as before.
#[test]
fn plot_draws_a_finished_sweep_from_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(
        root().join("tests/scenarios/sweep_small.toml"),
        d.join("small.toml"),
    )
    .unwrap();
    std::fs::write(d.join("one.toml"), ONE_POINT).unwrap();
    for (file, name) in [("small.toml", "sweep_small"), ("one.toml", "one_point")] {
        let csv = d.join(format!("out/{name}/sweep.csv"));
        let png = d.join(format!("out/{name}/sweep.png"));
        let plot = || {
            let out = bpsim()
                .current_dir(d)
                .args(["plot", "--output-dir", "out", file])
                .output()
                .unwrap();
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert!(out.status.success(), "{stderr}");
            assert_eq!(out.stdout, b"");
            stderr
        };
        bpsim()
            .current_dir(d)
            .args([
                "sweep",
                "--plot",
                "--no-progress",
                "--output-dir",
                "out",
                file,
            ])
            .assert()
            .success();
        let (by_sweep, written) = (std::fs::read(&png).unwrap(), read(&csv));
        std::fs::remove_file(&png).unwrap();

        let stderr = plot();
        assert!(
            stderr.contains(&format!("note: drawing from 'out/{name}/sweep.csv'")),
            "{stderr}"
        );
        assert!(!stderr.contains("sweep.csv\n"), "{stderr}");
        assert!(
            stderr.contains(&format!("\nwrote out/{name}/sweep.png\n")),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&png).unwrap(), by_sweep, "{name}");
        assert_eq!(read(&csv), written);

        // A CSV edited by hand is not the sweep's result: run it.
        let first = written.lines().nth(1).unwrap();
        let duration = header(&written)
            .iter()
            .position(|c| c == "duration_s")
            .unwrap();
        let mut cells: Vec<&str> = first.split(',').collect();
        cells[duration] = "1234.5";
        std::fs::write(&csv, written.replacen(first, &cells.join(","), 1)).unwrap();
        let stderr = plot();
        assert!(!stderr.contains("note: drawing"), "{stderr}");
        assert!(
            stderr.contains(&format!("wrote out/{name}/sweep.csv")),
            "{stderr}"
        );
        assert_eq!(read(&csv), written);
        assert_eq!(std::fs::read(&png).unwrap(), by_sweep);
        assert!(plot().contains("note: drawing"));

        // Nor is it the result of a scenario edited since.
        let text = read(&d.join(file));
        std::fs::write(d.join(file), format!("{text}# edited\n")).unwrap();
        let stderr = plot();
        assert!(!stderr.contains("note: drawing"), "{stderr}");
        assert!(
            stderr.contains(&format!("wrote out/{name}/sweep.csv")),
            "{stderr}"
        );
        assert!(plot().contains("note: drawing"));
    }
}

/// The rows `bpsim::sweep::finished` reads back from a sweep's CSV are the
/// rows the sweep computed, field for field, for a replicated sweep of two
/// parameters and a sweep against a failing service.
#[test]
fn a_finished_sweep_reads_back_its_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.toml");
    std::fs::write(&one, ONE_POINT).unwrap();
    for path in [root().join("tests/scenarios/sweep_small.toml"), one] {
        let scenario = bpsim::scenario::Scenario::load(&path).unwrap();
        let out = tempfile::tempdir().unwrap();
        assert!(bpsim::sweep::finished(&scenario, out.path()).is_none());
        let options = bpsim::sweep::Options {
            output_dir: out.path().to_path_buf(),
            ..Default::default()
        };
        let never = std::sync::atomic::AtomicBool::new(false);
        let bpsim::sweep::Finished::Complete { rows, csv_path, .. } =
            bpsim::sweep::run(&scenario, &options, &never).unwrap()
        else {
            panic!("{}: the sweep did not finish", path.display());
        };
        let (read_back, at) = bpsim::sweep::finished(&scenario, out.path()).unwrap();
        assert_eq!(at, csv_path);
        assert_eq!(read_back, rows, "{}", path.display());
    }
}
