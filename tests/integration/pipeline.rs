//! Random valid and invalid scenarios through the whole pipeline: nothing
//! panics, every valid one runs, and every error is located.

use bpsim::scenario::Scenario;
use proptest::prelude::*;

/// A value of a random TOML type, often a plausible one.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..60).prop_map(|n| n.to_string()),
        (-5i64..5).prop_map(|n| n.to_string()),
        (0.0f64..0.5).prop_map(|x| format!("{x:?}")),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("\"uniform\"".to_owned()),
        Just("\"x\"".to_owned()),
        Just("true".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("[]".to_owned()),
        Just("{ from = 1, to = 4, steps = 2 }".to_owned()),
        Just("{ from = 4, to = 1, steps = 2 }".to_owned()),
    ]
}

/// A key, sometimes misspelt or misplaced.
fn key(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(valid).prop_map(str::to_owned),
        1 => prop::sample::select(valid).prop_map(|k| {
            let mut s = k.to_owned();
            s.insert(1, 'x');
            s
        }),
        1 => Just("zzz".to_owned()),
    ]
}

const TOP: &[&str] = &["requests", "concurrency", "seed", "name", "strategies"];
const LATENCY: &[&str] = &[
    "distribution",
    "low",
    "high",
    "mean",
    "width",
    "value",
    "sigma",
    "mu",
    "shape",
    "scale",
    "std_dev",
    "rate",
    "median",
    "p99",
];
const DISTRIBUTIONS: &[&str] = &[
    "constant",
    "uniform",
    "normal",
    "lognormal",
    "exponential",
    "gamma",
    "weibull",
    "pareto",
    "unifrom",
];
const SWEEP: &[&str] = &[
    "concurrency",
    "requests",
    "seed",
    "replications",
    "latency.high",
];

fn scenario_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(TOP), value()), 0..4),
        prop::option::of(0u64..200),
        prop::option::of(1u64..20),
        prop::sample::select(DISTRIBUTIONS),
        prop::collection::vec((key(LATENCY), value()), 0..4),
        prop::option::of(prop::collection::vec((key(SWEEP), value()), 0..3)),
        prop::option::of(prop::sample::select(
            &["\"3.11\"", "\"3.13\"", "\"2.7\"", "5"][..],
        )),
    )
        .prop_map(|(top, requests, concurrency, dist, lat, sweep, python)| {
            let mut t = String::new();
            if let Some(r) = requests {
                t.push_str(&format!("requests = {r}\n"));
            }
            if let Some(c) = concurrency {
                t.push_str(&format!("concurrency = {c}\n"));
            }
            for (k, v) in top {
                t.push_str(&format!("{k} = {v}\n"));
            }
            t.push_str(&format!("[latency]\ndistribution = \"{dist}\"\n"));
            for (k, v) in lat {
                t.push_str(&format!("{k} = {v}\n"));
            }
            if let Some(p) = python {
                t.push_str(&format!("[model]\npython = {p}\n"));
            }
            if let Some(sweep) = sweep {
                t.push_str("[sweep]\n");
                for (k, v) in sweep {
                    t.push_str(&format!("{k} = {v}\n"));
                }
            }
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_scenarios_run_or_fail_with_a_located_error(text in scenario_text()) {
        match Scenario::from_str(&text, "fuzz.toml") {
            Ok(s) => {
                prop_assume!(s.sweep.as_ref().is_none_or(|w| w.points.len() <= 8));
                let points: Vec<Scenario> = match &s.sweep {
                    Some(w) => w.points.iter().map(|p| p.scenario.clone()).collect(),
                    None => vec![s.clone()],
                };
                for p in points {
                    let (report, outcomes) = bpsim::experiment::run(&p, 1).unwrap();
                    for (r, o) in report.results.iter().zip(&outcomes) {
                        prop_assert_eq!(r.completed, p.requests);
                        prop_assert_eq!(o.requests.len() as u64, p.requests);
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(e.file.to_str(), Some("fuzz.toml"));
                prop_assert!(e.position.is_some(), "unlocated: {}\n{}", e, text);
                prop_assert!(!e.help.is_empty(), "no help: {}", e);
                let shown = e.to_string();
                prop_assert!(shown.starts_with("fuzz.toml:"), "{}", shown);
            }
        }
    }
}
