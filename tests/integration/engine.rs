//! Engine invariants over random workloads.

use std::sync::Arc;

use bpsim::asyncio::Config;
use bpsim::metrics::Percentiles;
use bpsim::strategy::{StrategyKind, StrategyParams, Workload, simulate};
use proptest::prelude::*;

fn workload() -> impl Strategy<Value = (Vec<f64>, u64)> {
    (
        prop::collection::vec(
            prop_oneof![(0.001f64..2.0), Just(0.1), Just(0.5), Just(0.0),],
            0..300,
        ),
        1u64..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_request_completes_exactly_once((lat, c) in workload()) {
        let w = Workload::new(Arc::from(lat.clone()), c);
        for kind in StrategyKind::ALL {
            let o = simulate(kind, &w, &Config::default()).unwrap();
            let mut seen: Vec<u64> = o.requests.iter().map(|r| r.request).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..lat.len() as u64).collect::<Vec<_>>());
            for r in &o.requests {
                prop_assert!(r.end_s >= r.start_s && r.start_s >= r.created_s);
            }
        }
    }

    #[test]
    fn totals_summed_as_requests_finish_are_those_of_the_log((lat, c) in workload()) {
        let logged = Workload::new(Arc::from(lat.clone()), c);
        let summed = logged.clone().with_request_log(false);
        for kind in StrategyKind::ALL {
            let o = simulate(kind, &logged, &Config::default()).unwrap();
            let s = simulate(kind, &summed, &Config::default()).unwrap();
            prop_assert!(s.requests.is_empty());
            prop_assert_eq!(s.report.duration_s.to_bits(), o.report.duration_s.to_bits());
            prop_assert_eq!(s.stats, o.stats);
            prop_assert_eq!(o.stats.completed, o.requests.len() as u64);
            let wait = Percentiles::of(o.requests.iter().map(|r| r.start_s - r.created_s));
            let total = Percentiles::of(o.requests.iter().map(|r| r.end_s - r.created_s));
            prop_assert_eq!(o.stats.wait_s, wait);
            prop_assert_eq!(o.stats.total_s, total);
        }
    }

    #[test]
    fn never_more_than_the_limit_in_flight((lat, c) in workload()) {
        let w = Workload::new(Arc::from(lat), c);
        for kind in StrategyKind::ALL {
            let o = simulate(kind, &w, &Config::default()).unwrap();
            // Sweep the request intervals: starts and ends at one instant
            // count the end first only if it was logged first.
            let mut events: Vec<(f64, i32)> = Vec::new();
            for r in &o.requests {
                events.push((r.start_s, 1));
                events.push((r.end_s, -1));
            }
            events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            // The adaptive limit may grow up to its `max_limit`.
            let bound = if kind == StrategyKind::AdaptiveLimit {
                w.params().adaptive.max_limit_at(c) as i64
            } else {
                c as i64
            };
            let mut inflight = 0i64;
            for (_, d) in events {
                inflight += i64::from(d);
                prop_assert!(inflight <= bound, "{} exceeds {bound}", kind.name());
            }
            if kind != StrategyKind::SemaphoreInTask {
                prop_assert!(o.report.peak_live_tasks <= bound as u64);
            }
        }
    }

    #[test]
    fn refill_strategies_meet_the_work_conserving_bounds((lat, c) in workload()) {
        let n = lat.len();
        let sum: f64 = lat.iter().sum();
        let max = lat.iter().copied().fold(0.0, f64::max);
        let w = Workload::new(Arc::from(lat), c);
        for kind in [
            StrategyKind::SemaphoreInTask,
            StrategyKind::GatedSpawnCallback,
            StrategyKind::GatedSpawn,
            StrategyKind::WorkerPool,
            StrategyKind::SlidingWindow,
            StrategyKind::RateLimited,
        ] {
            let d = simulate(kind, &w, &Config::default()).unwrap().report.duration_s;
            let slack = 1e-9 * (n as f64 + 1.0);
            prop_assert!(d >= sum / c as f64 - slack, "{}: {d} < {}", kind.name(), sum / c as f64);
            prop_assert!(d <= sum / c as f64 + max + slack, "{}: {d} > {}", kind.name(), sum / c as f64 + max);
        }
    }

    #[test]
    fn batching_lasts_the_sum_of_its_batch_maxima((lat, c) in workload()) {
        let expected: f64 = lat.chunks(c as usize).map(|b| b.iter().copied().fold(0.0, f64::max)).sum();
        let w = Workload::new(Arc::from(lat.clone()), c);
        let d = simulate(StrategyKind::Batching, &w, &Config::default()).unwrap().report.duration_s;
        // Timers within the 1 ns clock resolution fire together, and each
        // batch start is a rounded f64 sum.
        let batches = lat.len().div_ceil(c as usize) as f64;
        prop_assert!((d - expected).abs() <= 2e-9 * batches + 1e-12 * expected, "{d} vs {expected}");
    }
}

#[test]
fn the_three_semaphore_strategies_share_one_schedule() {
    let lat: Vec<f64> = (0..5000)
        .map(|i| 0.1 + (i * 7919 % 1000) as f64 * 1e-4)
        .collect();
    let w = Workload::new(Arc::from(lat), 50);
    let run = |k| simulate(k, &w, &Config::default()).unwrap().requests;
    let a = run(StrategyKind::SemaphoreInTask);
    let b = run(StrategyKind::GatedSpawnCallback);
    let c = run(StrategyKind::GatedSpawn);
    let key = |v: &bpsim::strategy::RequestLog| {
        v.iter()
            .map(|r| (r.request, r.start_s.to_bits(), r.end_s.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(key(&a), key(&c));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The timeline is one sample per iteration, in time order, ending where
    /// the run ends, and recording it changes nothing else.
    #[test]
    fn timeline_follows_the_run((lat, c) in workload()) {
        let w = Workload::new(Arc::from(lat), c);
        let traced = Config { timeline: true, ..Config::default() };
        for kind in StrategyKind::ALL {
            let plain = simulate(kind, &w, &Config::default()).unwrap();
            let o = simulate(kind, &w, &traced).unwrap();
            let t = &o.report.timeline;
            prop_assert!(plain.report.timeline.is_empty());
            prop_assert_eq!(t.len() as u64, o.report.loop_iterations);
            prop_assert!(t.windows(2).all(|p| p[0].time_s <= p[1].time_s));
            let last = t.last().unwrap();
            prop_assert_eq!(last.time_s, o.report.duration_s);
            prop_assert_eq!(last.memory_bytes, o.report.final_memory_bytes);
            prop_assert!(t.iter().all(|s| s.memory_bytes <= o.report.peak_memory_bytes));
            prop_assert!(t.iter().all(|s| s.live_tasks <= o.report.peak_live_tasks));
            let mut stripped = o.report.clone();
            stripped.timeline.clear();
            prop_assert_eq!(&stripped, &plain.report);
            prop_assert_eq!(&o.requests, &plain.requests);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every simulated object a request needed is freed by the time main
    /// returns: what is left is what main holds, the same with no requests;
    /// and the memory never went below the baseline.
    #[test]
    fn no_simulated_object_outlives_its_request((lat, c) in workload()) {
        let w = Workload::new(Arc::from(lat), c);
        let empty = Workload::new(Arc::from(Vec::new()), c);
        for version in bpsim::scenario::PythonVersion::ALL {
            let config = bpsim::experiment::config_for_version(version);
            for kind in StrategyKind::ALL {
                let o = simulate(kind, &w, &config).unwrap();
                let e = simulate(kind, &empty, &config).unwrap();
                prop_assert_eq!(o.report.live_objects, e.report.live_objects, "{}", kind.name());
                prop_assert!(o.report.final_memory_bytes >= config.profile.baseline);
                prop_assert!(o.report.peak_memory_bytes >= o.report.final_memory_bytes);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `rate_limited` starts requests at least `1 / max_per_second` apart
    /// (the same f64 sum the program computes) and never more than C at once.
    #[test]
    fn rate_limited_spaces_its_starts((lat, c) in workload(), rate in 1.0f64..500.0) {
        let mut params = StrategyParams::defaults();
        params.max_per_second = rate;
        let w = Workload::new(Arc::from(lat.clone()), c).with_params(params);
        let o = simulate(StrategyKind::RateLimited, &w, &Config::default()).unwrap();
        let mut starts: Vec<f64> = o.requests.iter().map(|r| r.start_s).collect();
        starts.sort_by(f64::total_cmp);
        let period = 1.0 / rate;
        for pair in starts.windows(2) {
            prop_assert!(pair[1] >= pair[0] + period, "{} then {}", pair[0], pair[1]);
        }
        if !lat.is_empty() {
            prop_assert!(o.report.duration_s >= (lat.len() - 1) as f64 * period * (1.0 - 1e-9));
        }
    }

    /// The adaptive limit shrinks under a latency target nothing meets, so
    /// that at most `min_limit` requests overlap once it has backed off.
    #[test]
    fn adaptive_limit_backs_off_to_its_floor(n in 50usize..300, c in 2u64..40) {
        let lat = vec![0.5; n];
        let mut params = StrategyParams::defaults();
        params.adaptive.target_latency = 0.1;
        params.adaptive.decrease = 0.5;
        let w = Workload::new(Arc::from(lat), c).with_params(params);
        let o = simulate(StrategyKind::AdaptiveLimit, &w, &Config::default()).unwrap();
        prop_assert_eq!(o.requests.len(), n);
        // After the first wave every completion halves the limit: the
        // tail runs one at a time.
        let last = o.requests.get(n - 1).expect("n requests");
        let overlapping = o.requests.iter().filter(|r| r.end_s > last.start_s && r.request != last.request).count();
        prop_assert_eq!(overlapping, 0);
        prop_assert!(o.report.duration_s > (n as f64 - c as f64) * 0.5 - 1e-6);
    }
}

/// Done callbacks run in registration order, one per loop iteration's
/// handle, however many a task has (past two they leave the task slot for a
/// shared list, which the next task reuses).
#[test]
fn many_done_callbacks_run_in_registration_order() {
    use bpsim::asyncio::{DoneCallback, create_task, run, sleep};
    use std::cell::RefCell;
    use std::rc::Rc;

    let log: Rc<RefCell<Vec<(u32, u32)>>> = Rc::default();
    let l = log.clone();
    run(&Config::default(), async move {
        for (task, count) in [(0u32, 5u32), (1, 2), (2, 3), (3, 1), (4, 7)] {
            let t = create_task(sleep(0.1 * f64::from(task + 1)));
            for k in 0..count {
                let l = l.clone();
                t.add_done_callback(DoneCallback::new(move || l.borrow_mut().push((task, k))));
            }
        }
        sleep(1.0).await;
    })
    .unwrap();
    let expected: Vec<(u32, u32)> = [(0u32, 5u32), (1, 2), (2, 3), (3, 1), (4, 7)]
        .into_iter()
        .flat_map(|(task, count)| (0..count).map(move |k| (task, k)))
        .collect();
    assert_eq!(*log.borrow(), expected);
}

/// A run frees what its unfinished tasks' coroutines hold, whether main
/// returned early or the run failed; finished ones are freed as they end.
#[test]
fn a_run_drops_every_coroutine_it_leaves_unfinished() {
    use bpsim::asyncio::{create_task, run, sleep};
    use std::rc::Rc;

    let held = Rc::new(());
    // Main returns while two tasks still sleep.
    let (a, b, c) = (held.clone(), held.clone(), held.clone());
    run(&Config::default(), async move {
        create_task(async move {
            sleep(10.0).await;
            drop(a);
        });
        create_task(async move {
            sleep(0.1).await;
            drop(b);
        });
        create_task(async move {
            sleep(20.0).await;
            drop(c);
        });
        sleep(1.0).await;
    })
    .unwrap();
    assert_eq!(Rc::strong_count(&held), 1);
    // The iteration limit stops a run with every task unfinished.
    let d = held.clone();
    let limited = Config {
        max_iterations: 2,
        ..Config::default()
    };
    let err = run(&limited, async move {
        sleep(5.0).await;
        drop(d);
    });
    assert!(err.is_err());
    assert_eq!(Rc::strong_count(&held), 1);
}

/// Past 2^24 s (194 days) of virtual time, `now + 1 ns` rounds back to
/// `now`: a timer due exactly now must still fire (it used to spin forever
/// at t = 16,780,000 s). 2,000 requests of 10,000 s one at a time end at
/// 2e7 s, every deadline exact, for every strategy.
#[test]
fn a_run_past_2_pow_24_seconds_of_virtual_time_completes() {
    let lat = vec![10_000.0; 2_000];
    // adaptive_limit would otherwise raise its limit to 4.
    let mut params = StrategyParams::defaults();
    params.adaptive.max_limit = Some(1.0);
    let w = Workload::new(Arc::from(lat), 1).with_params(params);
    for kind in StrategyKind::ALL {
        let o = simulate(kind, &w, &Config::default()).unwrap();
        let name = kind.name();
        assert_eq!(o.requests.len(), 2_000, "{name}");
        assert!(
            o.report.duration_s >= 2e7,
            "{name}: {}",
            o.report.duration_s
        );
        for r in &o.requests {
            assert_eq!(r.end_s, r.start_s + 10_000.0, "{name}");
        }
        // Every task is created at 0 and the k-th ends at 10,000 k s: the
        // 90th percentile of the total time is 1.8e7 s (it read 1e7, the
        // percentile histograms' old cap).
        if kind == StrategyKind::SemaphoreInTask {
            let p90 = o.stats.total_s.p90;
            assert!((p90 / 1.8e7 - 1.0).abs() < 1e-3, "{name}: p90 {p90}");
        }
    }
    let plain = simulate(StrategyKind::GatedSpawn, &w, &Config::default()).unwrap();
    assert_eq!(plain.report.duration_s, 2e7);
}
