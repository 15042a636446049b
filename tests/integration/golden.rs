//! Golden files: every shipped scenario's summary, pinned byte for byte.
//!
//! A golden change is a decision: rerun with `BPSIM_BLESS=1` to rewrite the
//! files, and explain the change in the commit message.

use std::path::{Path, PathBuf};

use bpsim::experiment::{self, Requests};
use bpsim::report::{Format, requests_csv};
use bpsim::scenario::Scenario;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no shipped scenarios");
    v
}

pub(crate) fn check_golden(path: &Path, actual: &str) {
    if std::env::var_os("BPSIM_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "missing golden file {} ({e}); run with BPSIM_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs from the golden file at line {}:\n  golden: {}\n  now:    {}\nIf the change is intended, rerun with BPSIM_BLESS=1 and explain it in the commit.",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn shipped_scenarios_match_their_golden_summaries() {
    for path in shipped_scenarios() {
        let scenario = Scenario::load(&path).unwrap();
        // `bpsim run` sums the requests up as they finish unless it is
        // asked for their records (charts, a per-request CSV): both must
        // give the same summary, one strategy at a time or all at once.
        let latencies = experiment::draw(&scenario).unwrap();
        let (report, outcomes) =
            experiment::run_on(&scenario, latencies.clone(), Requests::Summed, 1).unwrap();
        assert!(outcomes.iter().all(|o| o.requests.is_empty()));
        let (logged, outcomes) =
            experiment::run_on(&scenario, latencies, Requests::Logged, 8).unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| o.requests.len() as u64 == scenario.requests)
        );
        assert_eq!(report, logged, "{}", path.display());
        let dir = root().join("tests/golden").join(&scenario.name);
        check_golden(&dir.join("summary.csv"), &report.render(Format::Csv));
        // The JSON holds what the CSV does not: the scenario's echo (with
        // the strategy tables of the strategies that ran) and every value
        // at full precision.
        check_golden(&dir.join("summary.json"), &report.render(Format::Json));
    }
}

#[test]
fn per_request_log_is_pinned() {
    let path = root().join("tests/scenarios/ties.toml");
    let scenario = Scenario::load(&path).unwrap();
    let (_, outcomes) = experiment::run(&scenario, 1).unwrap();
    check_golden(
        &root().join("tests/golden/ties/requests.csv"),
        &requests_csv(&outcomes),
    );
}

#[test]
fn two_runs_are_byte_identical_however_many_strategies_run_at_once() {
    let path = root().join("scenarios/blog.toml");
    let scenario = Scenario::load(&path).unwrap();
    let (a, oa) = experiment::run(&scenario, 1).unwrap();
    let (b, ob) = experiment::run(&scenario, 4).unwrap();
    assert_eq!(a.render(Format::Json), b.render(Format::Json));
    assert_eq!(requests_csv(&oa), requests_csv(&ob));
}

#[test]
fn runs_on_other_threads_give_the_same_bytes() {
    let path = root().join("scenarios/blog_narrow.toml");
    let scenario = Scenario::load(&path).unwrap();
    let here = experiment::run(&scenario, 1).unwrap().0.render(Format::Csv);
    let there =
        std::thread::spawn(move || experiment::run(&scenario, 1).unwrap().0.render(Format::Csv))
            .join()
            .unwrap();
    assert_eq!(here, there);
}
