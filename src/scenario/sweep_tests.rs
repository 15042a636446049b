//! `[sweep]` tables: points, ranges, and located errors.

use super::*;

const FILE: &str = "scenarios/sweep.toml";

const BASE: &str = "requests = 100\nconcurrency = 10\n\
    [latency]\ndistribution = \"uniform\"\nmean = 0.15\nwidth = 0.1\n";

fn parse(sweep: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_str(&format!("{BASE}[sweep]\n{sweep}"), FILE)
}

fn sweep(text: &str) -> Sweep {
    parse(text).unwrap().sweep.unwrap()
}

#[test]
fn no_sweep_table_means_no_sweep() {
    assert_eq!(Scenario::from_str(BASE, FILE).unwrap().sweep, None);
}

#[test]
fn linear_range_gives_tidy_decimals_and_exact_ends() {
    let s = sweep("latency.width = { from = 0.0, to = 0.1, steps = 11 }");
    assert_eq!(s.parameters[0].key, "latency.width");
    assert_eq!(
        s.parameters[0].values,
        [
            0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1
        ]
    );
    assert_eq!(s.replications, 1);
    // Each point is the base scenario with the value written in.
    let p = &s.points[3].scenario;
    assert_eq!(
        p.latency,
        LatencySource::Distribution(crate::latency::Distribution::Uniform {
            low: 0.15 - 0.015,
            high: 0.15 + 0.015
        })
    );
    assert_eq!(p.sweep, None);
}

#[test]
fn log_range_of_integers_is_rounded_and_deduplicated() {
    let s = sweep("concurrency = { from = 1, to = 10000, steps = 9, scale = \"log\" }");
    assert_eq!(
        s.parameters[0].values,
        [1.0, 3.0, 10.0, 32.0, 100.0, 316.0, 1000.0, 3162.0, 10000.0]
    );
    assert_eq!(s.points[4].scenario.concurrency, 100);
    let s = sweep("concurrency = { from = 1, to = 3, steps = 5 }");
    assert_eq!(s.parameters[0].values, [1.0, 2.0, 3.0]);
}

#[test]
fn step_ranges_include_the_end() {
    let s = sweep("seed = { from = 0, to = 100, step = 25 }");
    assert_eq!(s.parameters[0].values, [0.0, 25.0, 50.0, 75.0, 100.0]);
    let s = sweep("latency.mean = { from = 0.1, to = 0.2, step = 0.05 }");
    assert_eq!(s.parameters[0].values, [0.1, 0.15, 0.2]);
}

#[test]
fn two_parameters_make_a_grid_with_the_last_fastest() {
    let s = sweep("concurrency = [1, 10]\nlatency.width = [0.0, 0.1, 0.2]\nreplications = 3");
    assert_eq!(s.points.len(), 6);
    let values: Vec<_> = s.points.iter().map(|p| p.values.clone()).collect();
    assert_eq!(
        values,
        [
            [1.0, 0.0],
            [1.0, 0.1],
            [1.0, 0.2],
            [10.0, 0.0],
            [10.0, 0.1],
            [10.0, 0.2]
        ]
    );
    assert_eq!(s.points[5].scenario.concurrency, 10);
    assert_eq!(s.replications, 3);
}

#[test]
fn replications_alone_are_a_sweep_of_one_point() {
    let s = sweep("replications = 4");
    assert!(s.parameters.is_empty());
    assert_eq!(s.points.len(), 1);
}

/// `(sweep body, key, line, message fragment, help fragment)`; the
/// `[sweep]` header is on line 7.
const BAD: &[(&str, &str, usize, &str, &str)] = &[
    ("", "sweep", 7, "varies nothing", "[sweep]"),
    (
        "concurency = [1, 2]",
        "sweep.concurency",
        8,
        "unknown key",
        "did you mean `concurrency`",
    ),
    (
        "sigma = [0.1]",
        "sweep.sigma",
        8,
        "unknown key",
        "latency.sigma",
    ),
    (
        "concurrency = []",
        "sweep.concurrency",
        8,
        "empty",
        "at least one value",
    ),
    (
        "concurrency = [1, 2.5]",
        "sweep.concurrency[1]",
        8,
        "expected a whole number, found float 2.5",
        "round it",
    ),
    (
        "requests = { from = 10, to = 12.5, steps = 2 }",
        "sweep.requests.to",
        8,
        "expected a whole number, found float 12.5",
        "round it",
    ),
    (
        "seed = [1e16]",
        "sweep.seed[0]",
        8,
        "from 0 to 2^53",
        "smaller",
    ),
    (
        "concurrency = [-2.0]",
        "sweep.concurrency[0]",
        8,
        "a whole number >= 0",
        "",
    ),
    (
        "concurrency = \"10\"",
        "sweep.concurrency",
        8,
        "expected a list",
        "[10, 100, 1000]",
    ),
    (
        "concurrency = [10, 10]",
        "sweep.concurrency",
        8,
        "appears twice",
        "replications",
    ),
    (
        "concurrency = [0, 10]",
        "sweep.concurrency",
        8,
        "concurrency = 0: must be >= 1",
        "use at least 1",
    ),
    (
        "latency.width = [0.1, nan]",
        "sweep.latency.width[1]",
        8,
        "finite",
        "nan",
    ),
    (
        "latency.width = { from = 0.2, to = 0.1, steps = 3 }",
        "sweep.latency.width.to",
        8,
        "reversed",
        "swap",
    ),
    (
        "latency.width = { from = 0.1, to = 0.2, steps = 1 }",
        "sweep.latency.width.steps",
        8,
        "between 2",
        "list",
    ),
    (
        "latency.width = { from = 0.1, to = 0.2 }",
        "sweep.latency.width.steps",
        8,
        "missing",
        "steps = N",
    ),
    (
        "latency.width = { from = 0.1, to = 0.2, stesp = 3 }",
        "sweep.latency.width.stesp",
        8,
        "unknown key",
        "did you mean `steps`",
    ),
    (
        "latency.width = { from = 0.0, to = 1.0, steps = 3 }",
        "sweep.latency.width",
        8,
        "latency.width = 0.5",
        "negative",
    ),
    (
        "latency.distribution = [1]",
        "sweep.latency.distribution",
        8,
        "not numeric",
        "one scenario per distribution",
    ),
    (
        "latency.sigma = [0.1]",
        "sweep.latency.sigma",
        8,
        "sigma",
        "uniform",
    ),
    (
        "latency.width = { from = 0.0, to = 0.1, steps = 3, scale = \"log\" }",
        "sweep.latency.width.from",
        8,
        "from > 0",
        "linear",
    ),
    (
        "concurrency = [1]\nrequests = [1]\nseed = [1]",
        "sweep.seed",
        10,
        "at most 2",
        "split",
    ),
    (
        "replications = 0",
        "sweep.replications",
        8,
        "between 1 and",
        "seeds",
    ),
    (
        "concurrency = { from = 1, to = 100000, steps = 100000 }\nreplications = 100",
        "sweep",
        7,
        "runs",
        "fewer",
    ),
];

#[test]
fn bad_sweeps_are_located_with_help() {
    let mut failures = Vec::new();
    for (i, (body, key, line, message, help)) in BAD.iter().enumerate() {
        match parse(body) {
            Ok(_) => failures.push(format!("case {i} parsed: {body}")),
            Err(e) => {
                let ok = e.key == *key
                    && e.position.map(|p| p.line) == Some(*line)
                    && e.message.contains(message)
                    && e.help.contains(help);
                if !ok {
                    failures.push(format!(
                        "case {i}: want {key} line {line} {message:?} / {help:?}\n  got {e}\n  (key {:?})",
                        e.key
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn server_and_strategy_parameters_can_be_swept() {
    let with_strategies = |sweep: &str| {
        let text = format!(
            "strategies = [\"rate_limited\", \"adaptive_limit\"]\n{BASE}\
             [rate_limited]\nmax_per_second = 10.0\n[sweep]\n{sweep}"
        );
        Scenario::from_str(&text, FILE).unwrap().sweep.unwrap()
    };
    let s =
        with_strategies("server.capacity = [10, 100]\nrate_limited.max_per_second = [50.0, 500.0]");
    assert_eq!(s.points.len(), 4);
    let p = &s.points[3].scenario;
    assert_eq!(p.server.map(|x| x.capacity), Some(Some(100)));
    assert_eq!(p.params.max_per_second, 500.0);
    let s = with_strategies("adaptive_limit.target_latency = [0.1, 0.2]");
    assert_eq!(s.points[1].scenario.params.adaptive.target_latency, 0.2);
    // A strategy's parameters swept while it does not run: every point
    // would be the same (found by a hostile-input pass).
    let e = parse("rate_limited.max_per_second = [50.0, 500.0]").unwrap_err();
    assert_eq!(e.key, "sweep.rate_limited");
    assert!(
        e.help.contains("add \"rate_limited\" to `strategies`"),
        "{e}"
    );
    let e = parse("adaptive_limit.increase = [1.0, 2.0]").unwrap_err();
    assert_eq!(e.key, "sweep.adaptive_limit");
    // Integer keys take integers; every point is validated.
    let e = parse("server.retries = [1.5]").unwrap_err();
    assert_eq!(e.key, "sweep.server.retries[0]");
    let e = parse("server.error_rate = [0.5, 2.0]").unwrap_err();
    assert!(e.message.contains("a probability between 0 and 1"), "{e}");
    let e = parse("server.capacty = [1]").unwrap_err();
    assert!(e.help.contains("did you mean `server.capacity`?"), "{e}");
}

/// `to = 1e9` for a whole-number key was refused as "found float 1e9": a
/// float that is exactly a whole number in range is that number, read from
/// its digits (4503599627370495.1 is not whole, though it is as an `f64`).
#[test]
fn whole_floats_are_accepted_for_whole_number_keys() {
    let s = sweep("requests = { from = 1e1, to = 1e3, steps = 3, scale = \"log\" }");
    assert_eq!(s.parameters[0].values, [10.0, 100.0, 1000.0]);
    assert_eq!(s.points[2].scenario.requests, 1000);
    let s = sweep("concurrency = [2.0, 2.5e1, 1_000.0, 0.03e2]\nseed = [9.007199254740992e15]");
    assert_eq!(s.parameters[0].values, [2.0, 25.0, 1000.0, 3.0]);
    assert_eq!(s.parameters[1].values, [9007199254740992.0]);
    assert_eq!(s.points[1].scenario.concurrency, 25);
    let s = sweep("server.capacity = [1e2]");
    assert_eq!(
        s.points[0].scenario.server.map(|x| x.capacity),
        Some(Some(100))
    );
    for (body, key) in [
        ("seed = [4503599627370495.1]", "sweep.seed[0]"),
        ("seed = [1e-1]", "sweep.seed[0]"),
        ("concurrency = [nan]", "sweep.concurrency[0]"),
        ("concurrency = [inf]", "sweep.concurrency[0]"),
        ("seed = [9007199254740993.0]", "sweep.seed[0]"),
        ("seed = [1e999]", "sweep.seed[0]"),
    ] {
        let e = parse(body).unwrap_err();
        assert_eq!(e.key, key, "{body}: {e}");
        assert!(e.message.contains("whole number"), "{body}: {e}");
    }
}

/// Found by a hostile-input pass: 2^53 + 1 in a list became 2^53 silently
/// (and "appeared twice" next to 2^53).
#[test]
fn listed_whole_numbers_past_2_pow_53_are_refused_not_rounded() {
    let e = parse("seed = [9007199254740990, 9007199254740993]").unwrap_err();
    assert_eq!(e.key, "sweep.seed[1]");
    assert!(e.message.contains("from 0 to 2^53"), "{e}");
    assert!(parse("seed = [9007199254740991, 9007199254740992]").is_ok());
}

/// Found by a hostile-input pass: each point loaded the scenario's trace
/// again and kept its own copy (50 points of a 40 MB trace: 2 GB and 9 s).
/// The points share the trace the scenario loaded.
#[test]
fn the_points_of_a_traced_sweep_share_its_trace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), "0.1\n0.2\n0.3\n").unwrap();
    let file = dir.path().join("traced.toml");
    std::fs::write(
        &file,
        "requests = 3\nconcurrency = 1\n[latency]\ndistribution = \"trace\"\n\
         path = \"t.txt\"\nwrap = true\n[sweep]\nrequests = [3, 6, 9]\n",
    )
    .unwrap();
    let scenario = Scenario::load(&file).unwrap();
    let values = |s: &Scenario| match &s.latency {
        LatencySource::Trace(t) => {
            assert!(t.wrap());
            assert_eq!(t.describe(), "trace(t.txt, 3 values, wrap)");
            t.values().as_ptr()
        }
        other => panic!("{other:?}"),
    };
    let own = values(&scenario);
    let sweep = scenario.sweep.as_ref().unwrap();
    assert_eq!(sweep.points.len(), 3);
    for point in &sweep.points {
        assert_eq!(values(&point.scenario), own);
    }
}
