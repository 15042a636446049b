//! The `bpsim` binary, driven as a user would.

use assert_cmd::Command;
use std::path::PathBuf;

fn bpsim() -> Command {
    Command::cargo_bin("bpsim").unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `bpsim` with `args`, expect a non-zero exit, and return its stderr.
fn failing_stderr<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let assert = bpsim().args(args).assert().failure();
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

/// `bpsim run --no-write PATH`, expected to fail; its stderr.
fn run_failing(path: &std::path::Path) -> String {
    failing_stderr([
        std::ffi::OsStr::new("run"),
        std::ffi::OsStr::new("--no-write"),
        path.as_os_str(),
    ])
}

/// `bpsim run scenarios/blog.toml --output-dir out`: its stdout.
fn run_blog(out: &std::path::Path) -> String {
    let assert = bpsim()
        .arg("run")
        .arg(root().join("scenarios/blog.toml"))
        .arg("--output-dir")
        .arg(out)
        .assert()
        .success();
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

#[test]
fn run_prints_the_blog_table_and_writes_summaries() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_blog(out.path());
    for name in [
        "batching",
        "semaphore_in_task",
        "gated_spawn_callback",
        "gated_spawn",
        "peak memory (bytes)",
    ] {
        assert!(stdout.contains(name), "{name} missing from:\n{stdout}");
    }
    let csv = std::fs::read_to_string(out.path().join("blog/summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("blog/summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), 4);
}

/// The body of the first fenced block in `text` that opens with `opener`.
fn first_fence<'a>(text: &'a str, opener: &str) -> Option<&'a str> {
    text.split_once(opener)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(body, _)| body)
}

/// The README's quick start shows what `bpsim run scenarios/blog.toml`
/// prints; a change to the output or to the model must update it.
#[test]
fn the_readme_shows_what_the_blog_run_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    const ANCHOR: &str = "`bpsim run scenarios/blog.toml` prints this table";
    let after = readme
        .split_once(ANCHOR)
        .expect("the README's quick start shows the first command's output")
        .1;
    let shown = first_fence(after, "```\n").expect("a fenced block after the anchor");
    let out = tempfile::tempdir().unwrap();
    let printed = run_blog(out.path());
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert_eq!(
        lines(shown),
        lines(&printed),
        "README.md's quick start is out of date"
    );
}

/// A first-time user's two commands open the README: one that runs the
/// shipped example, one that runs the tests, and the tests are the ones CI
/// runs (`.ci/run` adds `--locked`).
#[test]
fn the_readme_opens_with_the_run_and_the_test_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let quick = readme
        .split_once("## Quick start")
        .and_then(|(before, rest)| {
            // Nothing but the title and a paragraph of intro before it.
            assert!(!before.contains("```"), "a command before the quick start");
            rest.split_once("\n## ")
        })
        .expect("a Quick start section")
        .0;
    let block = first_fence(quick, "```sh\n").expect("a command block in the quick start");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release -- run scenarios/blog.toml",
            "cargo test --release"
        ]
    );
    assert!(root().join("scenarios/blog.toml").exists());
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines()
            .any(|l| l.trim() == "cargo test --release --locked"),
        ".ci/run no longer runs the README's test command"
    );
}

#[test]
fn json_has_the_documented_fields() {
    let assert = bpsim()
        .args(["run", "--no-write", "--format", "json"])
        .arg(root().join("tests/scenarios/ties.toml"))
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(json["scenario"]["name"], "ties");
    for r in json["results"].as_array().unwrap() {
        for key in [
            "strategy",
            "duration_s",
            "peak_live_tasks",
            "peak_memory_bytes",
            "allocations",
            "loop_iterations",
            "completed",
            "wait_s",
            "total_s",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["completed"], 200);
    }
}

#[test]
fn requests_csv_lists_every_request_of_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.csv");
    bpsim()
        .args(["run", "--no-write", "--format", "csv"])
        .arg(root().join("tests/scenarios/ties.toml"))
        .arg("--requests-csv")
        .arg(&path)
        .assert()
        .success();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("strategy,request,start_s,end_s,status,attempts")
    );
    assert_eq!(lines.count(), 4 * 200);
}

#[test]
fn a_workload_written_as_a_trace_replays_identically() {
    // Plain, and gzip-compressed for a `.gz` name (a review found plain
    // text behind the name).
    for name in ["ties.txt", "ties.txt.gz"] {
        a_workload_replays_from(name);
    }
}

fn a_workload_replays_from(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join(name);
    bpsim()
        .arg("workload")
        .arg(root().join("tests/scenarios/ties.toml"))
        .arg("-o")
        .arg(&trace)
        .assert()
        .success();
    let gzip = std::fs::read(&trace).unwrap().starts_with(&[0x1f, 0x8b]);
    assert_eq!(gzip, name.ends_with(".gz"), "{name}");
    let scenario = dir.path().join("from_trace.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"ties\"\nseed = 7\nrequests = 200\nconcurrency = 16\n[latency]\n\
             distribution = \"trace\"\npath = \"{name}\"\n"
        ),
    )
    .unwrap();
    let run = |path: &std::path::Path| {
        let out = bpsim()
            .args(["run", "--no-write", "--format", "json"])
            .arg(path)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["results"].clone()
    };
    // The same schedule and figures, but for memory: a trace models a
    // program that reads its latencies from a list, a distribution one that
    // draws each as it sleeps (a 24-byte float a sleeping request holds).
    let (mut drawn, mut listed) = (
        run(&root().join("tests/scenarios/ties.toml")),
        run(&scenario),
    );
    for (d, l) in drawn
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(listed.as_array_mut().unwrap())
    {
        let (d, l) = (d.as_object_mut().unwrap(), l.as_object_mut().unwrap());
        let peaks = [d, l].map(|r| r.remove("peak_memory_bytes").unwrap().as_i64().unwrap());
        let floats = (peaks[0] - peaks[1]) / 24;
        assert!(
            peaks[0] - peaks[1] == 24 * floats && (1..=16).contains(&floats),
            "{name}: {peaks:?}"
        );
    }
    assert_eq!(drawn, listed);
}

#[test]
fn bad_scenarios_fail_with_a_located_message_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("concurrency = 0", "concurrency", 4),
        ("concurency = 5", "did you mean", 4),
        ("concurrency = \"many\"", "concurrency", 4),
    ];
    for (line, needle, lineno) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            format!("name = \"bad\"\nseed = 1\nrequests = 10\n{line}\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n"),
        )
        .unwrap();
        let stderr = run_failing(&path);
        assert!(stderr.contains(needle), "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("bad.toml:{lineno}:")),
            "{line}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{line}: {stderr}");
    }
}

/// A table for a strategy that is not run is accepted with one warning on
/// stderr (once, also for a sweep, whose points are each a scenario), and
/// the results are as without it.
#[test]
fn a_table_for_a_strategy_not_run_is_one_warning_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let base = "requests = 20\nconcurrency = 2\nstrategies = [\"gated_spawn\"]\n\
                [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
    std::fs::write(dir.path().join("plain.toml"), base).unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        format!("{base}[rate_limited]\nmax_per_second = 5.0\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ws.toml"),
        format!("{base}[rate_limited]\nmax_per_second = 5.0\n[sweep]\nconcurrency = [1, 2, 3]\n"),
    )
    .unwrap();
    let output = |args: &[&str]| {
        let out = bpsim().current_dir(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (plain, quiet) = output(&["run", "plain.toml", "--no-write", "--format", "csv"]);
    assert_eq!(quiet, "");
    let (warned, stderr) = output(&["run", "w.toml", "--no-write", "--format", "csv"]);
    assert_eq!(
        stderr,
        "warning: w.toml:7:1: rate_limited: the [rate_limited] table has no effect: \
         `strategies` does not list rate_limited, so it is not run\n  \
         help: add \"rate_limited\" to `strategies` to run it, or remove the table\n"
    );
    assert_eq!(warned, plain.replace("plain", "w"));
    let (_, stderr) = output(&["sweep", "ws.toml", "--output-dir", "out"]);
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: ws.toml:7:1: rate_limited: "),
        "{stderr}"
    );
}

#[test]
fn a_missing_scenario_file_is_a_clear_error() {
    let stderr = failing_stderr(["run", "does/not/exist.toml"]);
    assert!(stderr.contains("does/not/exist.toml"), "{stderr}");
}

#[test]
fn an_unwritable_output_is_an_error_not_a_half_file() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let stderr = failing_stderr([
        std::ffi::OsStr::new("run"),
        root().join("tests/scenarios/ties.toml").as_os_str(),
        std::ffi::OsStr::new("--output-dir"),
        blocker.as_os_str(),
    ]);
    assert!(stderr.contains("cannot write"), "{stderr}");
}

/// Found by a hostile-input pass: `run s.toml --requests-csv s.toml`
/// replaced the scenario with the requests' CSV, `workload` wrote over the
/// trace it replays, and `--requests-csv output/s/summary.csv` left one of
/// two outputs. An output that is an input (also through a link) or
/// another output is refused before anything runs, and nothing changes.
#[test]
fn no_output_replaces_an_input_or_another_output() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "requests = 3\nconcurrency = 2\n[latency]\ndistribution = \"trace\"\n\
                    path = \"t.txt\"\n";
    std::fs::write(dir.path().join("s.toml"), scenario).unwrap();
    std::fs::write(dir.path().join("t.txt"), "0.1\n0.2\n0.3\n").unwrap();
    std::os::unix::fs::symlink("s.toml", dir.path().join("link.toml")).unwrap();
    for (args, expected) in [
        (
            &["run", "s.toml", "--no-write", "--requests-csv", "./s.toml"][..],
            "--requests-csv names the scenario file, which this command reads",
        ),
        (
            &["run", "s.toml", "--no-write", "--requests-csv", "link.toml"],
            "--requests-csv names the scenario file",
        ),
        (
            &["run", "s.toml", "--no-write", "--requests-csv", "t.txt"],
            "--requests-csv names the scenario's latency trace",
        ),
        (
            &["workload", "s.toml", "-o", "t.txt"],
            "--output names the scenario's latency trace",
        ),
        (
            &[
                "run",
                "s.toml",
                "--output-dir",
                "o",
                "--requests-csv",
                "o/s/summary.csv",
            ],
            "--requests-csv names summary.csv, which this command also writes",
        ),
    ] {
        let out = bpsim().current_dir(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.contains("help:"), "{args:?}: {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("s.toml")).unwrap(),
        scenario
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("t.txt")).unwrap(),
        "0.1\n0.2\n0.3\n"
    );
    assert!(!dir.path().join("o").exists());
    // Devices may be named twice; separate files are written as before.
    let out = bpsim()
        .current_dir(dir.path())
        .args([
            "run",
            "s.toml",
            "--output-dir",
            "o",
            "--requests-csv",
            "o/s/r.csv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("o/s/r.csv").exists() && dir.path().join("o/s/summary.csv").exists());
}

/// Every command that writes files checks every destination before it
/// starts: a path through a regular file (or onto a folder) fails at once,
/// saying so, and nothing is written.
#[test]
fn every_destination_is_checked_before_anything_runs_or_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("afile"), "x").unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    let scenario =
        "requests = 10\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
    std::fs::write(d.join("s.toml"), scenario).unwrap();
    std::fs::write(
        d.join("w.toml"),
        format!("{scenario}[sweep]\nconcurrency = [1, 2]\n"),
    )
    .unwrap();
    let not_a_folder = "'afile' is not a folder";
    let cases: [(&[&str], &str); 7] = [
        // The summaries could be written, the per-request CSV not.
        (
            &[
                "run",
                "s.toml",
                "--output-dir",
                "o",
                "--requests-csv",
                "afile/x.csv",
            ],
            not_a_folder,
        ),
        (
            &[
                "run",
                "s.toml",
                "--output-dir",
                "o",
                "--requests-csv",
                "adir",
            ],
            "'adir': it is a folder",
        ),
        (&["run", "s.toml", "--output-dir", "afile/o"], not_a_folder),
        (&["sweep", "w.toml", "--output-dir", "afile"], not_a_folder),
        (&["plot", "s.toml", "--output-dir", "afile/o"], not_a_folder),
        (&["workload", "s.toml", "-o", "afile/x.txt"], not_a_folder),
        // Refused before the interpreter (there is none at this path) runs.
        (
            &[
                "calibrate",
                "--python",
                "no/such/python",
                "-o",
                "afile/p.toml",
            ],
            not_a_folder,
        ),
    ];
    for (args, expected) in cases {
        let out = bpsim().current_dir(d).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.contains("help:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("File exists"), "{args:?}: {stderr}");
        assert!(!stderr.contains("calibrating"), "{args:?}: {stderr}");
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["adir", "afile", "s.toml", "w.toml"], "{args:?}");
        assert_eq!(std::fs::read_dir(d.join("adir")).unwrap().count(), 0);
        assert_eq!(std::fs::read(d.join("afile")).unwrap(), b"x");
    }
    // Each chart's file too (a second hostile-input pass found the
    // memory chart written, or a whole sweep run, before the failure).
    let charts = d.join("charts");
    std::fs::create_dir_all(charts.join("s/timeline.png")).unwrap();
    std::fs::create_dir_all(charts.join("w/sweep.png")).unwrap();
    for args in [
        &["run", "s.toml", "--plot", "--output-dir", "charts"][..],
        &["plot", "s.toml", "--output-dir", "charts"],
        &["sweep", "w.toml", "--plot", "--output-dir", "charts"],
        &["plot", "w.toml", "--output-dir", "charts"],
    ] {
        let out = bpsim().current_dir(d).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("it is a folder"), "{args:?}: {stderr}");
        for sub in ["s", "w"] {
            assert_eq!(
                std::fs::read_dir(charts.join(sub)).unwrap().count(),
                1,
                "{args:?}: only the folder in the way"
            );
        }
    }
}

/// `-o` through a symlink writes where the link leads and keeps the link;
/// a link to stdout (as `/dev/stdout` is, tested through a link of our own
/// so that a regression cannot replace the machine's) writes to stdout.
#[test]
#[cfg(unix)]
fn outputs_through_symlinks_keep_the_link_and_devices_stay_devices() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("s.toml"),
        "requests = 10\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n",
    )
    .unwrap();
    std::fs::write(d.join("tgt.txt"), "old").unwrap();
    symlink("tgt.txt", d.join("link.txt")).unwrap();
    bpsim()
        .current_dir(d)
        .args(["workload", "s.toml", "-o", "link.txt"])
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(d.join("link.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("tgt.txt")).unwrap(),
        "0.1\n".repeat(10)
    );
    if cfg!(target_os = "linux") {
        symlink("/proc/self/fd/1", d.join("stdout")).unwrap();
        let out = bpsim()
            .current_dir(d)
            .args(["workload", "s.toml", "-o", "stdout"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "0.1\n".repeat(10));
        let meta = std::fs::symlink_metadata(d.join("stdout")).unwrap();
        assert!(meta.file_type().is_symlink());
    }
}

/// Runs `bpsim ARGS` in `dir` with stdout a pipe whose reader has gone (its
/// only read end closed before bpsim starts, so that even a command that
/// prints at once finds it gone); its exit status and stderr.
fn with_stdout_closed(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
        .current_dir(dir)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `bpsim run ... | head -1` and the like: printing into a closed pipe
/// ends quietly with 141 (128 + SIGPIPE), not a panic; files are written.
#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "requests = 10\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n",
    )
    .unwrap();
    for args in [
        &["run", "s.toml", "--output-dir", "o"][..],
        &["list"],
        &[
            "bench",
            "--requests",
            "200",
            "--limits",
            "1",
            "--repeat",
            "1",
            "--sweep-threads",
            "0",
        ],
    ] {
        let (code, stderr) = with_stdout_closed(dir.path(), args);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
    assert!(dir.path().join("o/s/summary.csv").exists());
}

/// Found by a hostile-input pass: with stderr a pipe whose reader has gone
/// (`bpsim run bad.toml 2>&1 | true`), `eprintln!` panicked, so an error
/// exited 101 (a panic's status) instead of 1, and a run that worked
/// exited 101 on its `wrote ...` line. Messages that cannot be written are
/// dropped; the exit status says what happened.
#[test]
fn a_closed_stderr_does_not_change_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "requests = 10\nconcurency = 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "requests = 10\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n",
    )
    .unwrap();
    for (args, expected) in [
        (&["run", "bad.toml"][..], 1),
        (
            &[
                "run",
                "s.toml",
                "--output-dir",
                "o",
                "--requests-csv",
                "r.csv",
            ],
            0,
        ),
        (&["workload", "s.toml", "-o", "w.txt"], 0),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
            .current_dir(dir.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(expected), "{args:?}");
    }
    assert!(dir.path().join("w.txt").exists());
}

#[test]
fn absurd_latencies_are_refused_instead_of_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.toml");
    std::fs::write(
        &path,
        "name = \"slow\"\nrequests = 3\nconcurrency = 1\n[latency]\ndistribution = \"constant\"\nvalue = 1e20\n",
    )
    .unwrap();
    let stderr = run_failing(&path);
    assert!(stderr.contains("1e7 s"), "{stderr}");
    let trace = dir.path().join("t.txt");
    std::fs::write(&trace, "0.1\n1e12\n").unwrap();
    std::fs::write(
        &path,
        "name = \"slow\"\nrequests = 2\nconcurrency = 1\n[latency]\ndistribution = \"trace\"\npath = \"t.txt\"\n",
    )
    .unwrap();
    let stderr = run_failing(&path);
    assert!(
        stderr.contains("t.txt") && stderr.contains(":2"),
        "{stderr}"
    );
}

#[test]
fn a_day_long_latency_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("days.toml");
    std::fs::write(
        &path,
        "name = \"days\"\nrequests = 4\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 259200.5\n",
    )
    .unwrap();
    let out = bpsim()
        .args(["run", "--no-write", "--format", "json"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["results"][0]["duration_s"], 518401.0);
}

/// What `bpsim bench ARGS` prints, once it succeeded.
fn bench_stdout(args: &[&str]) -> String {
    success_stdout(bpsim().arg("bench").args(args))
}

/// What `command` prints, once it succeeded.
fn success_stdout(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The size-table row of `strategy` at `requests`.
fn size_row<'a>(stdout: &'a str, strategy: &str, requests: u64) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            l.split_whitespace().next() == Some(strategy)
                && l.split_whitespace().nth(1) == Some(&requests.to_string())
        })
        .unwrap_or_else(|| panic!("no size-table row for {strategy} at {requests}:\n{stdout}"))
}

#[test]
fn bench_prints_its_tables() {
    // The bench's copies of the binary go to the temporary folder: a fresh
    // one, to see that they are gone afterwards.
    let tmp = tempfile::Builder::new()
        .prefix("bench-tmp-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let stdout = success_stdout(bpsim().env("TMPDIR", tmp.path()).args([
        "bench",
        "--requests",
        "2000",
        "--limits",
        "1,50",
        "--repeat",
        "1",
    ]));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left in the temporary folder: {left:?}");
    // The header says which build was timed (this one: no PGO profile).
    let build = if cfg!(debug_assertions) {
        "debug (timings meaningless) build"
    } else {
        "one thread, release build"
    };
    assert!(
        stdout.lines().next().is_some_and(|l| l.ends_with(build)),
        "{stdout}"
    );
    // Each of the five process rounds starts its own copy of the binary
    // (the target folder, where the copies went, is not mounted noexec).
    let how = stdout.lines().nth(1).unwrap_or_default();
    assert!(
        how.ends_with("each process round starts its own copy of this binary"),
        "{stdout}"
    );
    // Then the machine, so that a pasted table says where it was timed.
    let machine = stdout.lines().nth(2).unwrap_or_default();
    assert!(machine.starts_with("machine: "), "{stdout}");
    if cfg!(target_os = "linux") {
        assert!(
            machine.contains(" cores; caches of the first core: L"),
            "{machine}"
        );
    }
    assert!(stdout.contains("ns/request"), "{stdout}");
    assert!(stdout.contains("C=50"), "{stdout}");
    // The size table, the limit table, and the limit table less the timer
    // heap's own cost, per request and per loop iteration; then the
    // targets.
    let (tables, targets) = stdout
        .split_once("\nspeed targets, as this run measured them:")
        .expect("the targets, last");
    assert_eq!(tables.matches("semaphore_in_task").count(), 4, "{stdout}");
    // The kernel's share of each run is read on Linux: a number of ms.
    assert!(stdout.contains("sys ms"), "{stdout}");
    if cfg!(target_os = "linux") {
        let row = size_row(&stdout, "semaphore_in_task", 2000);
        let sys = row.split_whitespace().nth(5).expect("a sys ms column");
        assert!(sys.parse::<u64>().is_ok(), "sys ms {sys:?} in {row}");
    }
    // The floor ran, reached bpsim's makespan, and is timed next to it.
    assert!(stdout.contains("x floor"), "{stdout}");
    let row = size_row(&stdout, "gated_spawn", 2000);
    let cols: Vec<&str> = row.split_whitespace().collect();
    // The first run of each process is one of the runs the best is taken
    // from, so the median first run is never below the median best.
    let [best, first] = [cols[3], cols[4]].map(|v| v.parse::<f64>().expect("ms"));
    assert!(
        first >= best,
        "first ms {first} below ms/run {best} in {row}"
    );
    for (name, value) in [("floor ns", cols[8]), ("x floor", cols[9])] {
        assert!(
            value.parse::<f64>().is_ok_and(|v| v > 0.0),
            "{name} {value:?} in {row}"
        );
    }
    // Beyond the heap: bpsim less the floor on bpsim's own heap, at each
    // limit, then the spread across limits.
    // Then the same per loop iteration.
    let (_, beyond) = stdout
        .split_once("cost beyond the timer heap")
        .expect("the beyond-the-heap table");
    let (per_request, per_iteration) = beyond
        .split_once("the same per loop iteration")
        .expect("the beyond-the-heap table per iteration");
    for table in [per_request, per_iteration] {
        let row = table
            .lines()
            .find(|l| l.starts_with("gated_spawn "))
            .expect("a row for a strategy the floor models");
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols.len(), 4, "{row}");
        assert!(cols[1..].iter().all(|v| v.parse::<f64>().is_ok()), "{row}");
    }
    let [request_row, iteration_row] = [per_request, per_iteration].map(|t| {
        t.lines()
            .find(|l| l.starts_with("gated_spawn "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap()
    });
    // gated_spawn runs 4 iterations per request at C=1.
    assert!(
        iteration_row < request_row / 3.0,
        "{request_row} ns/request, {iteration_row} ns/iteration"
    );
    assert!(
        !beyond.contains("rate_limited"),
        "no floor, no row: {beyond}"
    );
    // By default each figure is the median of fresh processes, with the
    // spread between them in the last column.
    assert!(
        stdout.contains("the median of 5 fresh processes"),
        "{stdout}"
    );
    let row = size_row(&stdout, "worker_pool", 2000);
    let spread = row.split_whitespace().last().unwrap();
    assert!(
        spread
            .strip_suffix('%')
            .is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v >= 0.0)),
        "spread {spread:?} in {row}"
    );
    // The scaling tables: `bpsim run`'s blog table and a sweep, each on 1
    // thread and on one per core, with the speedup. The blog table is timed
    // in fresh processes too, as the strategies are.
    assert!(
        stdout.contains("at once (-j), the median of 5 fresh processes, each the best of 1:"),
        "{stdout}"
    );
    for title in [
        "blog table: `bpsim run scenarios/blog.toml`'s 4",
        "sweep scaling",
    ] {
        let (_, table) = stdout.split_once(title).expect(title);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|cols| cols.len() == 3 && cols[0].parse::<u32>().is_ok())
            .take(2)
            .collect();
        assert_eq!(rows.len(), 2, "{title}: {table}");
        assert_eq!((rows[0][0], rows[0][2]), ("1", "1.00x"), "{table}");
        for row in &rows {
            assert!(row[1].parse::<f64>().is_ok_and(|v| v > 0.0), "{table}");
        }
        assert!(rows[1][2].ends_with('x'), "{table}");
    }
    // A row per target. At 2,000 requests and limits 1 and 50, the run
    // and memory targets were not timed, and the row says what would time
    // them; the limit's spread is shown without a verdict.
    let row = |start: &str| {
        targets
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no target {start:?}: {targets}"))
    };
    for (start, status) in [
        ("at most 5 ms", "not timed"),
        ("10000000 requests", "not timed"),
        ("at most 128 B", "not timed"),
        ("cost nearly independent", "no number"),
        ("at least 300x", "not timed"),
    ] {
        assert!(row(start).contains(status), "{targets}");
    }
    assert!(row("cost nearly").contains("C=1,50 costs"), "{targets}");
    // The sweep ran on one thread per core: a verdict only on 2.
    let sweep = row("sweeps at least 1.8x on 2 threads");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(
        sweep.contains(" met ") || sweep.contains("NOT MET"),
        cores == 2,
        "{sweep}"
    );
}

/// `--processes 1` times everything in bpsim's own process, as before the
/// processes: the same tables, the same makespans (the floor agrees), no
/// spread.
#[test]
fn bench_in_one_process_prints_the_same_tables() {
    let stdout = bench_stdout(&[
        "--requests",
        "1500",
        "--limits",
        "3",
        "--repeat",
        "2",
        "--processes",
        "1",
        "--strategies",
        "batching,gated_spawn",
        "--sweep-threads",
        "0",
    ]);
    assert!(
        stdout.contains("best of 2 runs in this process"),
        "{stdout}"
    );
    let row = size_row(&stdout, "gated_spawn", 1500);
    let cols: Vec<&str> = row.split_whitespace().collect();
    // No heap or RSS per task below 100,000 live tasks, and no spread.
    assert_eq!(cols.len(), 13, "{row}");
    assert!(cols[9].parse::<f64>().is_ok(), "x floor in {row}");
    // Two runs: the best of them is at most the first.
    let [best, first] = [cols[3], cols[4]].map(|v| v.parse::<f64>().expect("ms"));
    assert!(
        first >= best,
        "first ms {first} below ms/run {best} in {row}"
    );
    // The child's half of the protocol answers on its own.
    let child = bpsim()
        .args([
            "bench-child",
            "--strategy",
            "batching",
            "--requests",
            "100",
            "--limit",
            "0",
            "--repeat",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!child.status.success());
}

/// Found by a hostile-input pass: `bench --strategies batching,batching`
/// (or a request count or limit listed twice) timed it twice and printed
/// two identical rows. A list that names a value twice is refused.
#[test]
fn bench_refuses_a_value_listed_twice() {
    for (args, expected) in [
        (
            ["--strategies", "batching,semaphore1,batching"],
            "--strategies lists batching twice",
        ),
        (["--requests", "100,200,100"], "--requests lists 100 twice"),
        (["--limits", "1,1"], "--limits lists 1 twice"),
    ] {
        let out = bpsim()
            .arg("bench")
            .args(args)
            .args(["--sweep-threads", "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("timing"), "{args:?}: {stderr}");
    }
}

#[test]
fn bench_refuses_zero_requests_and_zero_limits() {
    for (args, expected) in [
        (["--requests", "100,0"], "request counts must be at least 1"),
        (["--repeat", "0"], "0 is not in 1..=1000"),
        // Far beyond any machine's memory (8 bytes of latency per request
        // alone make 8 EB): refused before anything is drawn or timed.
        (
            ["--requests", "1000000000000000000"],
            "of bpsim's own memory, above the limit",
        ),
        (
            ["--limits", "10,0"],
            "concurrency limits must be at least 1",
        ),
        (
            ["--concurrency", "0"],
            "concurrency limits must be at least 1",
        ),
    ] {
        let out = bpsim().arg("bench").args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing timed");
    }
    // Leaving semaphore_in_task out is suggested only when it is timed.
    let too_many = ["bench", "--requests", "1000000000000000000"];
    let out = bpsim().args(too_many).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("leave semaphore_in_task out"), "{stderr}");
    let out = bpsim()
        .args(too_many)
        .args(["--strategies", "batching"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("help: lower --requests"), "{stderr}");
    assert!(!stderr.contains("semaphore_in_task"), "{stderr}");
}

/// Found by a hostile-input pass: a trace was described by the path it was
/// opened at, the scenario's path joined to the one it wrote, so
/// summary.csv changed with the directory bpsim ran in.
#[test]
fn results_do_not_depend_on_the_directory_bpsim_runs_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/traces")).unwrap();
    std::fs::write(dir.path().join("a/traces/t.txt"), "0.1\n0.25\n0.2\n").unwrap();
    std::fs::write(
        dir.path().join("a/s.toml"),
        "requests = 3\nconcurrency = 2\n[latency]\ndistribution = \"trace\"\n\
         path = \"traces/t.txt\"\n",
    )
    .unwrap();
    let run_in = |cwd: &std::path::Path, scenario: &str, out: &str| {
        bpsim()
            .current_dir(cwd)
            .args(["run", scenario, "--output-dir", out])
            .assert()
            .success();
        std::fs::read_to_string(cwd.join(out).join("s/summary.csv")).unwrap()
    };
    let here = run_in(&dir.path().join("a"), "s.toml", "out");
    let above = run_in(dir.path(), "a/s.toml", "out");
    assert_eq!(here, above);
    assert!(here.contains("trace(traces/t.txt, 3 values)"), "{here}");
}

/// Found by a second hostile-input pass: `-o /dev/stdout >> log` swapped a
/// new log in (what it held was lost), and `-o /dev/stdout | head -1` was
/// an error. Output to bpsim's own stdout goes through the open stream.
#[test]
fn output_to_stdout_appends_through_a_redirect_and_ends_quietly_in_a_closed_pipe() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: /dev/stdout is Linux's");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("s.toml"),
        "requests = 3\nconcurrency = 2\n[latency]\ndistribution = \"constant\"\nvalue = 0.1\n",
    )
    .unwrap();
    let log = d.join("log.txt");
    std::fs::write(&log, "KEEP ME\n").unwrap();
    let append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
        .current_dir(d)
        .args(["workload", "s.toml", "-o", "/dev/stdout"])
        .stdout(append)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "KEEP ME\n0.1\n0.1\n0.1\n"
    );
    let (code, stderr) = with_stdout_closed(d, &["workload", "s.toml", "-o", "/dev/stdout"]);
    assert_eq!(code, Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// Found by a second hostile-input pass: Ctrl-C while a large file was
/// being written left its hidden temporary (`.w.txt.tmp-PID`, 120 MB).
#[test]
fn an_interrupted_write_leaves_no_temporary_file() {
    if !cfg!(unix) {
        eprintln!("skipped: signals are Unix-only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("w.toml"),
        "requests = 10_000_000\nconcurrency = 2\n[latency]\ndistribution = \"uniform\"\n\
         low = 0.1\nhigh = 0.2\n",
    )
    .unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
        .current_dir(d)
        .args(["workload", "w.toml", "-o", "out/w.txt"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the temporary file exists (the write has begun).
    let start = std::time::Instant::now();
    while std::fs::read_dir(&out).unwrap().count() == 0 {
        if child.try_wait().unwrap().is_some() || start.elapsed().as_secs() > 60 {
            eprintln!("skipped: the write finished before it could be interrupted");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    if output.status.code() == Some(0) {
        eprintln!("skipped: the write finished before the interrupt arrived");
        return;
    }
    assert_eq!(output.status.code(), Some(130));
    assert!(names.is_empty(), "left behind: {names:?}");
}

/// Found by a hostile-input pass: a latency of 1e-300 s was written as a
/// 302-character decimal in every CSV. Every CSV and the workload trace
/// write floats one way: shortest round-trip digits, with an exponent
/// outside 1e-5 <= |x| < 1e16.
#[test]
fn tiny_floats_are_written_with_an_exponent_in_every_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tiny.toml"),
        "requests = 3\nconcurrency = 2\nstrategies = [\"gated_spawn\"]\n\
         [latency]\ndistribution = \"constant\"\nvalue = 1e-300\n\
         [sweep]\nlatency.value = [1e-300, 2.5e-7]\n",
    )
    .unwrap();
    for args in [
        &["run", "tiny.toml", "--requests-csv", "requests.csv"][..],
        &["sweep", "tiny.toml", "--no-progress"],
        &["workload", "tiny.toml", "-o", "trace.txt"],
    ] {
        bpsim().current_dir(d).args(args).assert().success();
    }
    let files = [
        "output/tiny/summary.csv",
        "requests.csv",
        "output/tiny/sweep.csv",
        "trace.txt",
    ];
    for file in files {
        let text = std::fs::read_to_string(d.join(file)).unwrap();
        assert!(text.contains("1e-300"), "{file}:\n{text}");
        for field in text.lines().flat_map(|line| line.split(',')) {
            assert!(field.len() <= 24, "{file}: a field of {}", field.len());
        }
    }
    let sweep = std::fs::read_to_string(d.join("output/tiny/sweep.csv")).unwrap();
    assert!(sweep.contains(",2.5e-7,"), "{sweep}");
    // The trace reads back as the same latencies.
    let trace = std::fs::read_to_string(d.join("trace.txt")).unwrap();
    assert!(
        trace.lines().all(|l| l.parse::<f64>() == Ok(1e-300)),
        "{trace}"
    );
}

/// `calibrate --timeout` defaulted to 600 s whatever `--repeat` was; the
/// default now scales with `--repeat`, and `--help` says how.
#[test]
fn calibrate_help_gives_the_timeout_per_repeat() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
        .args(["calibrate", "--help"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Default: 120 per --repeat, at least 600"),
        "{stdout}"
    );
    assert!(!flat.contains("[default: 600]"), "{stdout}");
}

/// `bpsim calibrate` waited for its scripts with no limit: an interpreter
/// that hangs (here a "python" that sleeps, or one that exits but leaves a
/// process holding its output open) kept it waiting for ever. `--timeout`
/// ends the script's whole process group and says so; the temporary
/// folder goes and no profile is written.
#[test]
fn a_calibration_past_its_timeout_is_ended_with_its_processes() {
    if !cfg!(unix) {
        eprintln!("skipped: process groups are Unix-only");
        return;
    }
    // Sleeps with a child of its own; exits at once, leaving a child that
    // holds stdout; ignores SIGTERM, as does its child.
    let scripts = [
        "sleep 60 &\necho $! > \"$(dirname \"$0\")/kid\"\nexec sleep 60\n",
        "sleep 60 &\necho $! > \"$(dirname \"$0\")/kid\"\nexit 0\n",
        "trap '' TERM\nsleep 60 &\necho $! > \"$(dirname \"$0\")/kid\"\nwait\n",
    ];
    for body in scripts {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let tmp = d.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let python = d.join("python");
        std::fs::write(&python, format!("#!/bin/sh\n{body}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let start = std::time::Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
            .current_dir(d)
            .env("TMPDIR", &tmp)
            .args([
                "calibrate",
                "--python",
                "./python",
                "-o",
                "p.toml",
                "--timeout",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed().as_secs() > 30 {
                let _ = child.kill();
                panic!("{body}: calibrate still running after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{body}: {stderr}");
        assert!(
            stderr.contains("error: calibration did not finish within 1 s (--timeout): version.py")
                && stderr.contains("--timeout 600"),
            "{body}: {stderr}"
        );
        // SIGTERM, then SIGKILL 2 s later for whatever ignored it.
        assert!(
            start.elapsed().as_secs() < 10,
            "{body}: {:?}",
            start.elapsed()
        );
        assert!(!d.join("p.toml").exists());
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "{body}: left behind: {left:?}");
        // The script's own child is gone too (reaped by init: no zombie to
        // wait for once it is gone from /proc, or a zombie at most).
        let kid = std::fs::read_to_string(d.join("kid")).unwrap();
        let stat = format!("/proc/{}/stat", kid.trim());
        let wait = std::time::Instant::now();
        while std::fs::read_to_string(&stat)
            .is_ok_and(|s| !s.rsplit(") ").next().unwrap_or("").starts_with('Z'))
        {
            assert!(
                wait.elapsed().as_secs() < 5,
                "{body}: the script's child {kid} lives"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Found by a hostile-input pass: an interrupted `calibrate` left its
/// temporary folder of measurement scripts behind (and its script
/// running when only bpsim got the signal). Ctrl-C or SIGTERM now ends the
/// script and removes the folder.
#[test]
fn an_interrupted_calibration_leaves_no_temporary_folder() {
    if !cfg!(unix) {
        eprintln!("skipped: signals are Unix-only");
        return;
    }
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let tmp = d.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        // A "python" that says where its script is and its own pid, then
        // measures for a long time.
        let python = d.join("python");
        std::fs::write(
            &python,
            "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\necho \"$1\" > \"$(dirname \"$0\")/script\"\n\
             exec sleep 60\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bpsim"))
            .current_dir(d)
            .env("TMPDIR", &tmp)
            .args(["calibrate", "--python", "./python", "-o", "profile.toml"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !(d.join("script").exists() && d.join("pid").exists()) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "calibrate ended before its script ran"
            );
            assert!(start.elapsed().as_secs() < 60, "the script never started");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let script = std::fs::read_to_string(d.join("script")).unwrap();
        assert!(script.starts_with(tmp.to_str().unwrap()), "{script}");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(130), "{signal}");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{signal}: left behind: {left:?}");
        assert!(!d.join("profile.toml").exists());
        // The script was ended too (soon: SIGTERM is asynchronous).
        let pid = std::fs::read_to_string(d.join("pid")).unwrap();
        // A zombie waiting to be reaped counts as ended.
        let zombie = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|stat| stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
        };
        let alive = || {
            std::process::Command::new("kill")
                .args(["-0", pid.trim()])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success()
                && !zombie()
        };
        let start = std::time::Instant::now();
        while alive() && start.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            !alive(),
            "{signal}: the script {} is still running",
            pid.trim()
        );
    }
}

#[test]
fn strategies_run_at_once_write_the_same_bytes_as_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = |jobs: &str| {
        let out = dir.path().join(format!("j{jobs}"));
        let assert = bpsim()
            .args(["run", "--format", "json", "-j", jobs])
            .arg(root().join("scenarios/server_capacity.toml"))
            .arg("--output-dir")
            .arg(&out)
            .arg("--requests-csv")
            .arg(out.join("requests.csv"))
            .assert()
            .success();
        let read = |name: &str| std::fs::read(out.join(name)).unwrap();
        (
            assert.get_output().stdout.clone(),
            read("server_capacity/summary.csv"),
            read("server_capacity/summary.json"),
            read("requests.csv"),
        )
    };
    let one = outputs("1");
    assert!(one.3.len() > 100_000, "five strategies' requests");
    for jobs in ["2", "5"] {
        assert!(
            outputs(jobs) == one,
            "-j {jobs} wrote other bytes than -j 1"
        );
    }
}

#[test]
fn fewer_strategies_run_at_once_when_together_they_would_not_fit() {
    // One at a time: 64 MiB + 800 KB of latencies + 100,000 live tasks of
    // semaphore_in_task at 192 B: 87.1 MB. gated_spawn beside it adds its
    // 50,000 (9.6 MB).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "requests = 100_000\nconcurrency = 50_000\n\
         strategies = [\"semaphore_in_task\", \"gated_spawn\"]\n\
         [latency]\ndistribution = \"constant\"\nvalue = 0.1\n",
    )
    .unwrap();
    let run = |max_memory: &str| {
        let assert = bpsim()
            .args(["run", "--no-write", "-j", "2", "--max-memory", max_memory])
            .arg(&file)
            .assert()
            .success();
        let output = assert.get_output();
        (
            String::from_utf8(output.stdout.clone()).unwrap(),
            String::from_utf8(output.stderr.clone()).unwrap(),
        )
    };
    let (alone, note) = run("90M");
    assert!(
        note.contains(
            "note: -j 2: simulating one strategy at a time: 2 at once are estimated to need \
             more than the limit of 90 MB (--max-memory)"
        ),
        "{note}"
    );
    let (together, quiet) = run("100M");
    assert!(!quiet.contains("note:"), "{quiet}");
    assert_eq!(alone, together);
    // A run that cannot write its outputs says only that.
    let afile = dir.path().join("afile");
    std::fs::write(&afile, "").unwrap();
    let stderr = failing_stderr([
        "run".as_ref(),
        "-j".as_ref(),
        "2".as_ref(),
        "--max-memory".as_ref(),
        "90M".as_ref(),
        "--output-dir".as_ref(),
        afile.as_os_str(),
        file.as_os_str(),
    ]);
    assert!(
        stderr.contains("cannot write") && !stderr.contains("note:"),
        "{stderr}"
    );
}

/// A calibrated profile's `[memory]` table was never used (found by a
/// review): with `memory = "FILE"`, every prediction moves by the file's
/// sizes, and the outputs name the file.
#[test]
fn a_memory_profile_file_moves_the_peaks_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("profiles/cpython-3.12.toml")).unwrap();
    // 1,000 bytes more held from the start: every peak 1,000 bytes higher.
    let baseline: i64 = shipped
        .lines()
        .find_map(|l| l.strip_prefix("baseline = "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mine = shipped.replace(
        &format!("\nbaseline = {baseline}\n"),
        &format!("\nbaseline = {}\n", baseline + 1000),
    );
    assert_ne!(mine, shipped);
    std::fs::write(dir.path().join("mine.toml"), mine).unwrap();
    let scenario = "requests = 2000\nconcurrency = 50\n\
                    [latency]\ndistribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\n";
    std::fs::write(dir.path().join("shipped.toml"), scenario).unwrap();
    std::fs::write(
        dir.path().join("calibrated.toml"),
        format!("{scenario}[model]\nmemory = \"mine.toml\"\n"),
    )
    .unwrap();
    let json = |name: &str| -> serde_json::Value {
        let out = bpsim()
            .current_dir(dir.path())
            .args(["run", name, "--no-write", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (before, after) = (json("shipped.toml"), json("calibrated.toml"));
    assert_eq!(before["scenario"].get("memory"), None);
    assert_eq!(
        after["scenario"]["memory"], "mine.toml (CPython 3.12)",
        "{after}"
    );
    let peaks = |v: &serde_json::Value| -> Vec<i64> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["peak_memory_bytes"].as_i64().unwrap())
            .collect()
    };
    let moved: Vec<i64> = peaks(&before).iter().map(|p| p + 1000).collect();
    assert_eq!(peaks(&after), moved);
    let table = bpsim()
        .current_dir(dir.path())
        .args(["run", "calibrated.toml", "--no-write"])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("seed 1, memory profile mine.toml (CPython 3.12), cpu none"),
        "{table}"
    );
}
