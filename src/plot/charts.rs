//! The charts users ask for, built from run and sweep results:
//!
//! * after a run: peak memory per strategy (bars, log scale), a timeline of
//!   live tasks, requests in flight and simulated memory over virtual time,
//!   and the distribution (CDF) of per-request total time;
//! * after a sweep: duration (with 95% confidence bands when replicated) and
//!   peak memory against the swept parameter; a latency parameter is shown
//!   as the latency's standard deviation, so every sweep of spread reads the
//!   same way.
//!
//! Each strategy keeps its colour in every chart.

use std::path::{Path, PathBuf};

use super::{Axis, Bars, Canvas, Panel, Panels, PlotError, Series, Unit, file_name};
use crate::asyncio::Sample;
use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::strategy::{Outcome, StrategyKind};
use crate::sweep::SweepRow;

/// Palette index of a strategy: its position in [`StrategyKind::ALL`].
fn color_of(name: &str) -> usize {
    StrategyKind::ALL
        .iter()
        .position(|k| k.name() == name)
        .unwrap_or(StrategyKind::ALL.len())
}

fn subtitle_of(report: &RunReport) -> String {
    let s = &report.scenario;
    format!(
        "{}: {} requests, limit {}, latency {}, seed {}, CPython {}, cpu {}",
        s.name,
        crate::report::thousands(s.requests as i64),
        crate::report::thousands(s.concurrency as i64),
        s.latency,
        s.seed,
        s.python,
        s.cpu
    )
}

/// Requests in flight over time, from the request log: the count after all
/// starts and ends at each instant.
fn in_flight(o: &Outcome) -> Vec<(f64, f64)> {
    let mut events: Vec<(f64, i64)> = Vec::with_capacity(o.requests.len() * 2);
    for r in &o.requests {
        events.push((r.start_s, 1));
        events.push((r.end_s, -1));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(events.len() + 1);
    out.push((0.0, 0.0));
    let mut n = 0i64;
    for (i, &(t, d)) in events.iter().enumerate() {
        n += d;
        if events.get(i + 1).is_none_or(|next| next.0 != t) {
            // A step: hold the previous count until t.
            if let Some(&(_, prev)) = out.last() {
                out.push((t, prev));
            }
            out.push((t, n as f64));
        }
    }
    out
}

/// The empirical CDF of `values`, at most 2,000 points.
fn cdf(mut values: Vec<f64>) -> Vec<(f64, f64)> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let k = n.min(2000);
    (0..k)
        .map(|j| {
            let i = if k == 1 { n - 1 } else { j * (n - 1) / (k - 1) };
            (values[i], (i + 1) as f64 / n as f64)
        })
        .collect()
}

/// The files [`run_charts`] (`sweep` false) or [`sweep_charts`] (`sweep`
/// true) may write into `dir`, to check before anything runs.
pub fn chart_paths(dir: &Path, canvas: &Canvas, sweep: bool) -> Vec<PathBuf> {
    let names: &[&str] = if sweep {
        &["sweep"]
    } else {
        &["memory", "timeline", "total_time"]
    };
    names.iter().map(|n| file_name(dir, n, canvas)).collect()
}

/// The charts of one run: `memory`, `timeline` (if the outcomes carry
/// timelines, see [`crate::experiment::run_traced`]) and `total_time`, in
/// `dir`. Returns the files written.
pub fn run_charts(
    report: &RunReport,
    outcomes: &[Outcome],
    dir: &Path,
    canvas: &Canvas,
) -> Result<Vec<PathBuf>, PlotError> {
    let subtitle = subtitle_of(report);
    let mut written = Vec::new();

    let bars = Bars {
        title: "Peak memory per strategy".to_owned(),
        subtitle: format!("{subtitle} (tracemalloc peak, log scale)"),
        y: Axis::log("peak memory (bytes)", Unit::Bytes),
        bars: report
            .results
            .iter()
            .map(|r| {
                (
                    r.strategy.clone(),
                    color_of(&r.strategy),
                    r.peak_memory_bytes as f64,
                )
            })
            .collect(),
    };
    let path = file_name(dir, "memory", canvas);
    super::render_bars(&bars, canvas, &path)?;
    written.push(path);

    if outcomes.iter().any(|o| !o.report.timeline.is_empty()) {
        let line = |o: &Outcome, points: Vec<(f64, f64)>| Series {
            label: o.strategy.name().to_owned(),
            color: color_of(o.strategy.name()),
            points,
            band: None,
            markers: false,
        };
        // One line per strategy of one timeline quantity.
        let sampled = |y: &dyn Fn(&Sample) -> f64| -> Vec<Series> {
            outcomes
                .iter()
                .map(|o| {
                    line(
                        o,
                        o.report.timeline.iter().map(|s| (s.time_s, y(s))).collect(),
                    )
                })
                .collect()
        };
        let panels = Panels {
            title: "Timeline of one run".to_owned(),
            subtitle,
            x: Axis::linear("virtual time (s)", Unit::Seconds),
            panels: vec![
                Panel {
                    y: Axis::log("live tasks", Unit::Count),
                    series: sampled(&|s| s.live_tasks.max(1) as f64),
                },
                Panel {
                    y: Axis::linear("requests in flight", Unit::Count),
                    series: outcomes.iter().map(|o| line(o, in_flight(o))).collect(),
                },
                Panel {
                    y: Axis::log("simulated memory (bytes)", Unit::Bytes),
                    series: sampled(&|s| s.memory_bytes as f64),
                },
            ],
        };
        let path = file_name(dir, "timeline", canvas);
        super::render_panels(&panels, canvas, &path)?;
        written.push(path);
    }

    let cdfs = Panels {
        title: "Per-request total time: task creation to the request's end".to_owned(),
        subtitle: subtitle_of(report),
        x: Axis::log("total time per request (s)", Unit::Seconds),
        panels: vec![Panel {
            y: Axis::linear("fraction of requests (CDF)", Unit::Plain),
            series: outcomes
                .iter()
                .map(|o| Series {
                    label: o.strategy.name().to_owned(),
                    color: color_of(o.strategy.name()),
                    points: cdf(o.requests.iter().map(|r| r.end_s - r.created_s).collect()),
                    band: None,
                    markers: false,
                })
                .collect(),
        }],
    };
    let path = file_name(dir, "total_time", canvas);
    super::render_panels(&cdfs, canvas, &path)?;
    written.push(path);
    Ok(written)
}

/// The x of a sweep row for parameter `p` (index into the row's values):
/// the latency's standard deviation for a latency parameter.
fn sweep_x(key: &str, row: &SweepRow, p: usize) -> f64 {
    if key.starts_with("latency.") {
        row.latency_std_s
    } else {
        row.values[p]
    }
}

/// The chart of a sweep, `sweep.<ext>` in `dir`: duration (with 95%
/// confidence bands when replicated) and peak memory against the first
/// swept parameter, one line per strategy (and per value of the second
/// parameter, if any). A sweep of replications alone has no x to plot and
/// gives no chart.
pub fn sweep_charts(
    scenario: &Scenario,
    rows: &[SweepRow],
    dir: &Path,
    canvas: &Canvas,
) -> Result<Vec<PathBuf>, PlotError> {
    let Some(sweep) = &scenario.sweep else {
        return Ok(Vec::new());
    };
    let Some(first) = sweep.parameters.first() else {
        return Ok(Vec::new());
    };
    let key = first.key.as_str();
    let (x, title) = match key {
        "concurrency" => (
            Axis::log("concurrency limit", Unit::Count),
            "Duration and peak memory against the concurrency limit".to_owned(),
        ),
        "requests" => (
            Axis::log("requests", Unit::Count),
            "Duration and peak memory against the number of requests".to_owned(),
        ),
        "seed" => (
            Axis::linear("seed", Unit::Plain),
            "Duration and peak memory per seed".to_owned(),
        ),
        "server.capacity" => (
            Axis::log("service capacity (requests at once)", Unit::Count),
            "Duration against the service's capacity".to_owned(),
        ),
        _ if !key.starts_with("latency.") => (
            Axis::linear(key, Unit::Plain),
            format!("Duration against {key}"),
        ),
        _ => (
            Axis::linear("latency standard deviation (s)", Unit::Seconds),
            format!("Duration against latency spread ({key} swept)"),
        ),
    };
    let second = sweep.parameters.get(1);
    // Series keys: (strategy, value of the second parameter).
    let mut keys: Vec<(String, Option<f64>)> = Vec::new();
    for r in rows {
        let k = (r.strategy.clone(), second.map(|_| r.values[1]));
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let replicated = sweep.replications > 1;
    let line = |k: &(String, Option<f64>), y: &dyn Fn(&SweepRow) -> (f64, f64)| {
        // In x order, whatever order the sweep lists its values in.
        let mut mine: Vec<&SweepRow> = rows
            .iter()
            .filter(|r| r.strategy == k.0 && second.map(|_| r.values[1]) == k.1)
            .collect();
        mine.sort_by(|a, b| sweep_x(key, a, 0).total_cmp(&sweep_x(key, b, 0)));
        let label = match (second, k.1) {
            (Some(p), Some(v)) => format!("{}, {} = {v}", k.0, p.key),
            _ => k.0.clone(),
        };
        let variant = keys
            .iter()
            .filter(|o| o.0 == k.0)
            .position(|o| o == k)
            .unwrap_or(0);
        Series {
            label,
            color: color_of(&k.0) + variant * StrategyKind::ALL.len(),
            points: mine.iter().map(|r| (sweep_x(key, r, 0), y(r).0)).collect(),
            band: (replicated && y(mine[0]).1 >= 0.0).then(|| {
                mine.iter()
                    .map(|r| {
                        let (m, ci) = y(r);
                        (sweep_x(key, r, 0), m - ci, m + ci)
                    })
                    .collect()
            }),
            markers: true,
        }
    };
    let duration = |r: &SweepRow| (r.duration_s.mean, r.duration_s.ci95);
    let (lo, hi) = rows.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        let d = r.duration_s.mean;
        (if d > 0.0 { lo.min(d) } else { lo }, hi.max(d))
    });
    let spread = if lo.is_finite() && lo > 0.0 {
        hi / lo
    } else {
        1.0
    };
    let memory = |r: &SweepRow| (r.peak_memory_bytes.mean, -1.0);
    let seeds = if replicated {
        format!(", {} seeds per point (95% CI bands)", sweep.replications)
    } else {
        String::new()
    };
    // The base latency's parameters are overridden by a latency sweep:
    // name only the distribution then.
    let described = scenario.latency.describe();
    let latency = if key.starts_with("latency.") {
        described.split('(').next().unwrap_or(&described).to_owned()
    } else {
        described
    };
    let duration_panel = Panel {
        // Durations over more than a decade and a half (a sweep of the
        // limit) read better on a log scale.
        y: if spread > 30.0 {
            Axis::log("duration (s)", Unit::Seconds)
        } else {
            Axis::linear("duration (s)", Unit::Seconds)
        },
        series: keys.iter().map(|k| line(k, &duration)).collect(),
    };
    // Against a [server], what degrades is tail latency and failures, not
    // memory.
    let (title, panels) = if scenario.server.is_some() {
        let p99 = |r: &SweepRow| (r.total_s.p99, -1.0);
        let failed = |r: &SweepRow| (r.failed, -1.0);
        (
            title.replace(
                "Duration and peak memory",
                "Duration, tail latency and failures",
            ),
            vec![
                duration_panel,
                Panel {
                    y: Axis::log("p99 request time (s)", Unit::Seconds),
                    series: keys.iter().map(|k| line(k, &p99)).collect(),
                },
                Panel {
                    y: Axis::linear("failed requests", Unit::Count),
                    series: keys.iter().map(|k| line(k, &failed)).collect(),
                },
            ],
        )
    } else {
        (
            title,
            vec![
                duration_panel,
                Panel {
                    y: Axis::log("peak memory (bytes)", Unit::Bytes),
                    series: keys.iter().map(|k| line(k, &memory)).collect(),
                },
            ],
        )
    };
    let swept = |k: &str| sweep.parameters.iter().any(|p| p.key == k);
    let panels = Panels {
        title,
        subtitle: format!(
            "{}: {} requests, limit {}, latency {}, CPython {}, cpu {}{seeds}",
            scenario.name,
            if swept("requests") {
                "N".to_owned()
            } else {
                crate::report::thousands(scenario.requests as i64)
            },
            if swept("concurrency") {
                "swept".to_owned()
            } else {
                crate::report::thousands(scenario.concurrency as i64)
            },
            latency,
            scenario.model.python.as_str(),
            scenario.model.cpu.as_str(),
        ),
        x,
        panels,
    };
    let path = file_name(dir, "sweep", canvas);
    super::render_panels(&panels, canvas, &path)?;
    Ok(vec![path])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_ends_at_one_and_is_monotone() {
        let c = cdf((0..10_000).rev().map(f64::from).collect());
        assert!(c.len() <= 2000);
        assert_eq!(c.last().unwrap().1, 1.0);
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }
}
