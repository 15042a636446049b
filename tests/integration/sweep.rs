//! `bpsim sweep`: thread-count independence, interruption and resume, and
//! golden CSVs for the shipped sweeps.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

use crate::golden::check_golden;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn small() -> PathBuf {
    root().join("tests/scenarios/sweep_small.toml")
}

/// `bpsim sweep SCENARIO --output-dir OUT ARGS...`; its exit code.
fn sweep(scenario: &Path, out: &Path, args: &[&str]) -> i32 {
    let output = Command::cargo_bin("bpsim")
        .unwrap()
        .arg("sweep")
        .arg(scenario)
        .arg("--output-dir")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    output.status.code().unwrap_or(-1)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `bpsim sweep -j 1 --output-dir OUT SCENARIO`, started: stdout as given,
/// stderr piped.
fn spawn_sweep(scenario: &Path, out: &Path, stdout: Stdio) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("bpsim"))
        .args(["sweep", "-j", "1", "--no-progress", "--output-dir"])
        .arg(out)
        .arg(scenario)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGTERM to `child`.
fn terminate(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The scenario of the interrupt tests: the small sweep with 200,000
/// requests, about a second per unit on one thread, named `slow`.
fn slow(dir: &Path) -> PathBuf {
    let scenario = dir.join("slow.toml");
    std::fs::write(
        &scenario,
        read(&small())
            .replace("requests = 2_000", "requests = 200_000")
            .replace("name = \"sweep_small\"", "name = \"slow\""),
    )
    .unwrap();
    scenario
}

#[test]
fn one_thread_and_all_threads_write_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(sweep(&small(), a.path(), &["-j", "1"]), 0);
    assert_eq!(sweep(&small(), b.path(), &[]), 0);
    let one = read(&a.path().join("sweep_small/sweep.csv"));
    assert_eq!(one, read(&b.path().join("sweep_small/sweep.csv")));
    // 3 x 2 points x 4 strategies, plus the header.
    assert_eq!(one.lines().count(), 1 + 6 * 4);
    assert!(one.starts_with(
        "point,latency.sigma,concurrency,strategy,replications,seed,requests,latency_mean_s,"
    ));
    // The journal is gone once the CSV is written.
    assert!(!a.path().join("sweep_small/sweep.journal").exists());
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_csv() {
    let whole = tempfile::tempdir().unwrap();
    assert_eq!(sweep(&small(), whole.path(), &["-j", "2"]), 0);
    let expected = read(&whole.path().join("sweep_small/sweep.csv"));

    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("sweep_small/sweep.csv");
    assert_eq!(sweep(&small(), out.path(), &["--stop-after", "5"]), 130);
    assert!(!csv.exists(), "an interrupted sweep wrote its CSV");
    // Without --resume or --fresh, the journal is not silently discarded.
    assert_eq!(sweep(&small(), out.path(), &[]), 1);
    // Interrupt the resumed run too, then finish it.
    assert_eq!(
        sweep(
            &small(),
            out.path(),
            &["--resume", "--stop-after", "4", "-j", "1"]
        ),
        130
    );
    assert!(!csv.exists());
    assert_eq!(sweep(&small(), out.path(), &["--resume"]), 0);
    assert_eq!(read(&csv), expected);
    // --fresh starts over and gives the same file again.
    assert_eq!(sweep(&small(), out.path(), &["--fresh"]), 0);
    assert_eq!(read(&csv), expected);
    // Nothing left to resume.
    assert_eq!(sweep(&small(), out.path(), &["--resume"]), 1);
}

#[test]
fn a_journal_from_another_scenario_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sweep_small.toml");
    std::fs::write(&scenario, read(&small())).unwrap();
    let out = dir.path().join("out");
    assert_eq!(sweep(&scenario, &out, &["--stop-after", "2"]), 130);
    std::fs::write(&scenario, read(&small()).replace("seed = 7", "seed = 8")).unwrap();
    // Plain `sweep` used to suggest --resume, which then refused the
    // journal (found by a review): both now say it belongs to another
    // scenario and suggest --fresh.
    for resume in [true, false] {
        let output = Command::cargo_bin("bpsim")
            .unwrap()
            .arg("sweep")
            .args(resume.then_some("--resume"))
            .arg("--output-dir")
            .arg(&out)
            .arg(&scenario)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("different scenario file"), "{stderr}");
        assert!(stderr.contains("--fresh"), "{stderr}");
        assert!(!stderr.contains("pass --resume"), "{stderr}");
    }
}

/// Found by a hostile-input pass: `-j 65535` started 65,535 threads for
/// an 18-run sweep; the kernel refused them, a new thread panicked and
/// bpsim hung. The pool is capped at the runs (and 16 per core), so the
/// sweep finishes with the CSV one thread writes.
#[test]
fn a_huge_thread_count_runs_the_sweep_as_one_thread_does() {
    let one = tempfile::tempdir().unwrap();
    let many = tempfile::tempdir().unwrap();
    assert_eq!(sweep(&small(), one.path(), &["-j", "1"]), 0);
    assert_eq!(sweep(&small(), many.path(), &["-j", "65535"]), 0);
    assert_eq!(
        read(&one.path().join("sweep_small/sweep.csv")),
        read(&many.path().join("sweep_small/sweep.csv"))
    );
}

/// Found by a hostile-input pass: a journal line edited to hold fewer
/// strategies, or them in another order, was resumed from: the CSV's
/// results shifted between strategies, or aggregation panicked (index out
/// of bounds). Such a journal, or one that is empty or binary, is refused
/// with its line and `--fresh`; a torn line is still skipped.
#[test]
fn a_journal_whose_runs_do_not_fit_the_sweep_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(
        sweep(&small(), &out, &["--stop-after", "3", "-j", "1"]),
        130
    );
    let journal = out.join("sweep_small/sweep.journal");
    let good = read(&journal);
    let resume = |text: &str| {
        std::fs::write(&journal, text).unwrap();
        let output = Command::cargo_bin("bpsim")
            .unwrap()
            .args(["sweep", "--resume", "-j", "1", "--output-dir"])
            .arg(&out)
            .arg(small())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (output.status.code(), stderr)
    };
    let lines: Vec<&str> = good.lines().collect();
    // The second run's line (line 3) with its last strategy dropped.
    let mut unit: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    unit["results"].as_array_mut().unwrap().pop();
    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    edited[2] = unit.to_string();
    let (code, stderr) = resume(&(edited.join("\n") + "\n"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("sweep.journal' line 3: unit "), "{stderr}");
    assert!(
        stderr.contains("but the sweep runs [batching, semaphore_in_task"),
        "{stderr}"
    );
    assert!(stderr.contains("--fresh"), "{stderr}");
    // Its strategies in another order.
    unit = serde_json::from_str(lines[2]).unwrap();
    unit["results"].as_array_mut().unwrap().reverse();
    edited[2] = unit.to_string();
    let (code, stderr) = resume(&(edited.join("\n") + "\n"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("line 3:"), "{stderr}");
    // Another unit's seed.
    unit = serde_json::from_str(lines[2]).unwrap();
    unit["seed"] = serde_json::json!(12345);
    edited[2] = unit.to_string();
    let (code, stderr) = resume(&(edited.join("\n") + "\n"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("line 3:") && stderr.contains("seed 12345"),
        "{stderr}"
    );
    // Empty, or binary: not a journal (it was blamed on another scenario).
    for text in ["", "\u{1}\u{ff}garbage"] {
        let (code, stderr) = resume(text);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains("line 1: it does not start with a sweep journal's header"),
            "{stderr}"
        );
    }
    // A torn last line is skipped, and the sweep finishes.
    let torn = format!("{}{}", good, &lines[1][..lines[1].len() / 2]);
    let (code, stderr) = resume(&torn);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Found by a hostile-input pass: the journal knew only the scenario text,
/// so resuming after the trace it names was rewritten mixed runs of the
/// old trace with runs of the new one, silently.
#[test]
fn a_journal_is_not_resumed_after_its_trace_changed() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("traced.toml");
    std::fs::write(
        &scenario,
        "requests = 4\nconcurrency = 1\n[latency]\ndistribution = \"trace\"\n\
         path = \"t.txt\"\n[sweep]\nconcurrency = [1, 2]\n",
    )
    .unwrap();
    let trace = dir.path().join("t.txt");
    std::fs::write(&trace, "0.1\n0.1\n0.1\n0.1\n").unwrap();
    let out = dir.path().join("out");
    assert_eq!(
        sweep(&scenario, &out, &["--stop-after", "1", "-j", "1"]),
        130
    );
    std::fs::write(&trace, "5\n5\n5\n5\n").unwrap();
    let output = Command::cargo_bin("bpsim")
        .unwrap()
        .args(["sweep", "--resume", "--output-dir"])
        .arg(&out)
        .arg(&scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("latency trace"), "{stderr}");
}

#[test]
fn sigterm_keeps_finished_points_and_resume_completes_them() {
    if !cfg!(unix) {
        eprintln!("skipped: SIGTERM is Unix-only");
        return;
    }
    // Long enough to be stopped half-way.
    let dir = tempfile::tempdir().unwrap();
    let scenario = slow(dir.path());
    let out = dir.path().join("out");
    let journal = out.join("slow/sweep.journal");
    let mut child = spawn_sweep(&scenario, &out, Stdio::null());
    let start = Instant::now();
    // Wait for the header and one finished unit.
    while std::fs::read_to_string(&journal).map_or(0, |t| t.lines().count()) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no unit finished"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(0) {
        eprintln!("skipped: the sweep finished before SIGTERM arrived");
        return;
    }
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!out.join("slow/sweep.csv").exists());
    let kept = read(&journal).lines().count() - 1;
    assert!((1..18).contains(&kept), "{kept} units kept");
    assert_eq!(sweep(&scenario, &out, &["--resume"]), 0);
    let resumed = read(&out.join("slow/sweep.csv"));
    let whole = dir.path().join("whole");
    assert_eq!(sweep(&scenario, &whole, &[]), 0);
    assert_eq!(resumed, read(&whole.join("slow/sweep.csv")));
}

/// `bpsim sweep ... | head -1` where the reader goes before the table is
/// printed: the sweep stops as Ctrl-C stops it (journal kept, no CSV, 130)
/// instead of running on for nobody and panicking when it prints.
#[test]
fn a_closed_stdout_stops_the_sweep_like_ctrl_c() {
    // Far from finished when the reader's absence is noticed (within
    // 0.1 s).
    let dir = tempfile::tempdir().unwrap();
    let scenario = slow(dir.path());
    let out = dir.path().join("out");
    let mut child = spawn_sweep(&scenario, &out, Stdio::piped());
    // The reader goes: the only read end of the pipe is closed.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("the reader of stdout has gone"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!out.join("slow/sweep.csv").exists());
    assert!(read(&out.join("slow/sweep.journal")).lines().count() < 18);
}

#[test]
fn shipped_sweeps_match_their_golden_csvs() {
    let mut found = 0;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let scenario = bpsim::scenario::Scenario::load(&path).unwrap();
        if scenario.sweep.is_none() {
            continue;
        }
        found += 1;
        let out = tempfile::tempdir().unwrap();
        let options = bpsim::sweep::Options {
            output_dir: out.path().to_path_buf(),
            ..Default::default()
        };
        let never = std::sync::atomic::AtomicBool::new(false);
        let finished = bpsim::sweep::run(&scenario, &options, &never).unwrap();
        let bpsim::sweep::Finished::Complete { csv_path, .. } = finished else {
            panic!("{}: sweep did not complete", path.display());
        };
        check_golden(
            &root()
                .join("tests/golden")
                .join(&scenario.name)
                .join("sweep.csv"),
            &read(&csv_path),
        );
    }
    assert!(found >= 1, "no shipped sweep scenarios");
}

/// Found by a hostile-input pass: an interrupt during a long run said
/// nothing, and further interrupts were ignored until the run finished.
/// The first now says what happens; the second quits at once.
#[test]
fn a_second_interrupt_quits_at_once() {
    if !cfg!(unix) {
        eprintln!("skipped: signals are Unix-only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("long.toml");
    // A first run of seconds: the interrupts arrive during it.
    std::fs::write(
        &scenario,
        "requests = 20_000_000\nconcurrency = 100\nstrategies = [\"worker_pool\"]\n\
         [latency]\ndistribution = \"constant\"\nvalue = 0.1\n[sweep]\nconcurrency = [100, 200]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = spawn_sweep(&scenario, &out, Stdio::null());
    // The journal's header is written once the first run starts.
    let journal = out.join("long/sweep.journal");
    let start = Instant::now();
    while !journal.exists() && child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(120), "no journal");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    terminate(&child);
    std::thread::sleep(Duration::from_millis(100));
    if child.try_wait().unwrap().is_some() {
        eprintln!("skipped: the first run finished before the second interrupt");
        return;
    }
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupt again to quit now"), "{stderr}");
    assert!(
        stderr.contains("interrupted again: quitting now"),
        "{stderr}"
    );
    assert!(!out.join("long/sweep.csv").exists());
}

/// Found by a hostile-input pass: a swept `concurrency`, `requests` or
/// `seed` was written twice, as the swept column and again among the
/// point's setting, with the same values and the same name.
#[test]
fn a_swept_setting_is_one_column_not_two() {
    let dir = tempfile::tempdir().unwrap();
    for (sweep_body, swept, points) in [
        (
            "concurrency = [1, 2]\nseed = [3, 4]\n",
            ["concurrency", "seed"],
            [("1", "3"), ("1", "4"), ("2", "3"), ("2", "4")],
        ),
        (
            "requests = [5, 10]\nconcurrency = [1, 2]\n",
            ["requests", "concurrency"],
            [("5", "1"), ("5", "2"), ("10", "1"), ("10", "2")],
        ),
    ] {
        let scenario = dir.path().join("dup.toml");
        std::fs::write(
            &scenario,
            format!(
                "requests = 10\nconcurrency = 2\nstrategies = [\"gated_spawn\"]\n[latency]\n\
                 distribution = \"constant\"\nvalue = 0.1\n[sweep]\n{sweep_body}replications = 2\n"
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        assert_eq!(sweep(&scenario, &out, &["--no-progress", "--fresh"]), 0);
        let csv = read(&out.join("dup/sweep.csv"));
        let mut lines = csv.lines().map(|l| l.split(',').collect::<Vec<_>>());
        let header = lines.next().unwrap();
        let mut names = header.clone();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), header.len(), "a name twice: {header:?}");
        assert_eq!(
            header[..5],
            ["point", swept[0], swept[1], "strategy", "replications"]
        );
        for name in ["seed", "requests", "concurrency"] {
            assert!(header.contains(&name), "{name} missing: {header:?}");
        }
        // The swept columns hold the points' values.
        let rows: Vec<(&str, &str)> = lines.map(|r| (r[1], r[2])).collect();
        assert_eq!(rows, points);
    }
}
