//! From finished units to `sweep.csv` rows: one per point and strategy,
//! means over replications with 95% confidence intervals.

use serde::Serialize;

use super::unit::UnitResult;
use crate::metrics::{Field, Percentiles};
use crate::report::csv_float;
use crate::scenario::Sweep;
use crate::strategy::StrategyKind;

/// A mean over replications with the half-width of its 95% confidence
/// interval (Student's t; zero for a single replication).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// The mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval of the mean.
    pub ci95: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Estimate {
    /// The estimate of `values` (in replication order, so the sums are
    /// reproducible). Empty input gives zeros.
    pub fn of(values: &[f64]) -> Estimate {
        if values.is_empty() {
            return Estimate::default();
        }
        let n = values.len() as f64;
        let mean = crate::metrics::mean(values);
        let ci95 = if values.len() > 1 {
            let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
            t95(values.len() - 1) * (var / n).sqrt()
        } else {
            0.0
        };
        Estimate {
            mean,
            ci95,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom: a table
/// up to 30, then the Cornish-Fisher expansion (error below 1e-4).
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z = 1.959_963_984_540_054_f64;
            let n = df as f64;
            let (z3, z5) = (z.powi(3), z.powi(5));
            z + (z3 + z) / (4.0 * n) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        }
    }
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SweepRow {
    /// Point index (0-based, in sweep order).
    pub point: usize,
    /// The swept parameters' values at this point, in [`Sweep::parameters`]
    /// order.
    pub values: Vec<f64>,
    /// Strategy name.
    pub strategy: String,
    /// Replications (seeds) averaged.
    pub replications: u32,
    /// The first replication's seed.
    pub seed: u64,
    /// Requests at this point.
    pub requests: u64,
    /// Concurrency limit at this point.
    pub concurrency: u64,
    /// Mean of the drawn latencies (averaged over replications), seconds.
    pub latency_mean_s: f64,
    /// Standard deviation of the drawn latencies (averaged), seconds.
    pub latency_std_s: f64,
    /// Makespan, seconds.
    pub duration_s: Estimate,
    /// Predicted `tracemalloc` peak, bytes.
    pub peak_memory_bytes: Estimate,
    /// Most live tasks (mean over replications, as every count below).
    pub peak_live_tasks: f64,
    /// Event-loop iterations.
    pub loop_iterations: f64,
    /// Simulated allocations.
    pub allocations: f64,
    /// Completed requests.
    pub completed: f64,
    /// Requests that succeeded.
    pub succeeded: f64,
    /// Requests that gave up.
    pub failed: f64,
    /// Attempts that failed with an error from the service.
    pub errors: f64,
    /// Attempts that timed out.
    pub timeouts: f64,
    /// Retries.
    pub retries: f64,
    /// Tasks created by the strategy.
    pub tasks_created: f64,
    /// Simulated memory still held when main returned, bytes.
    pub final_memory_bytes: f64,
    /// Most timers scheduled at once.
    pub peak_timers: f64,
    /// Per-request time from task creation to the request's start (means
    /// of each replication's percentiles).
    pub wait_s: Percentiles,
    /// Per-request time from task creation to the request's end.
    pub total_s: Percentiles,
}

impl SweepRow {
    /// Coefficient of variation of the latency (std / mean; 0 if the mean
    /// is 0).
    pub fn latency_cv(&self) -> f64 {
        if self.latency_mean_s > 0.0 {
            self.latency_std_s / self.latency_mean_s
        } else {
            0.0
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn mean_percentiles<'a>(ps: impl Iterator<Item = &'a Percentiles> + Clone) -> Percentiles {
    Percentiles {
        p50: mean(ps.clone().map(|p| p.p50)),
        p90: mean(ps.clone().map(|p| p.p90)),
        p99: mean(ps.clone().map(|p| p.p99)),
        p999: mean(ps.clone().map(|p| p.p999)),
        max: mean(ps.map(|p| p.max)),
    }
}

/// The rows of a finished sweep: `units[u]` is unit `u`'s result.
pub fn rows(sweep: &Sweep, units: &[UnitResult]) -> Vec<SweepRow> {
    let r = sweep.replications as usize;
    let mut out = Vec::new();
    for (p, point) in sweep.points.iter().enumerate() {
        let reps = &units[p * r..(p + 1) * r];
        let strategies = reps.first().map_or(0, |u| u.results.len());
        for s in 0..strategies {
            let results = reps.iter().map(|u| &u.results[s]);
            let durations: Vec<f64> = results.clone().map(|x| x.duration_s).collect();
            let memory: Vec<f64> = results
                .clone()
                .map(|x| x.peak_memory_bytes as f64)
                .collect();
            out.push(SweepRow {
                point: p,
                values: point.values.clone(),
                strategy: reps[0].results[s].strategy.clone(),
                replications: sweep.replications,
                seed: reps[0].seed,
                requests: point.scenario.requests,
                concurrency: point.scenario.concurrency,
                latency_mean_s: mean(reps.iter().map(|u| u.latency_mean_s)),
                latency_std_s: mean(reps.iter().map(|u| u.latency_std_s)),
                duration_s: Estimate::of(&durations),
                peak_memory_bytes: Estimate::of(&memory),
                peak_live_tasks: mean(results.clone().map(|x| x.peak_live_tasks as f64)),
                loop_iterations: mean(results.clone().map(|x| x.loop_iterations as f64)),
                allocations: mean(results.clone().map(|x| x.allocations as f64)),
                completed: mean(results.clone().map(|x| x.completed as f64)),
                succeeded: mean(results.clone().map(|x| x.succeeded as f64)),
                failed: mean(results.clone().map(|x| x.failed as f64)),
                errors: mean(results.clone().map(|x| x.errors as f64)),
                timeouts: mean(results.clone().map(|x| x.timeouts as f64)),
                retries: mean(results.clone().map(|x| x.retries as f64)),
                tasks_created: mean(results.clone().map(|x| x.tasks_created as f64)),
                final_memory_bytes: mean(results.clone().map(|x| x.final_memory_bytes as f64)),
                peak_timers: mean(results.clone().map(|x| x.peak_timers as f64)),
                wait_s: mean_percentiles(results.clone().map(|x| &x.wait_s)),
                total_s: mean_percentiles(results.map(|x| &x.total_s)),
            });
        }
    }
    out
}

/// A row's value of one of the [`SETTING_COLUMNS`].
type SettingOf = fn(&SweepRow) -> u64;

/// The columns of a point's own setting, each left out of `sweep.csv` when
/// it is swept: its swept column, right after `point`, holds the same
/// value (the point's, and its first replication's seed), and a second
/// column of the same name made the header ambiguous (`pandas` read it as
/// `concurrency.1`).
const SETTING_COLUMNS: [(&str, SettingOf); 3] = [
    ("seed", |row| row.seed),
    ("requests", |row| row.requests),
    ("concurrency", |row| row.concurrency),
];

/// How a [`Column`] reads its value from a row, and sets it in a row read
/// back from the CSV.
#[derive(Clone, Copy)]
enum Value {
    /// One number, derived from others when it has no setter.
    Scalar(fn(&SweepRow) -> f64, Option<fn(&mut SweepRow, f64)>),
    /// A column per percentile, named as `summary.csv` names them
    /// (`total_p50_s`, see [`Field::percentile_column`]).
    Percentiles(
        fn(&SweepRow) -> &Percentiles,
        fn(&mut SweepRow) -> &mut Percentiles,
    ),
}

/// A result column of `sweep.csv` (or, for percentiles, a set of them).
#[derive(Clone, Copy)]
struct Column {
    /// The header (for percentiles, the field whose columns they are).
    name: &'static str,
    /// Its value.
    value: Value,
}

const fn scalar(
    name: &'static str,
    get: fn(&SweepRow) -> f64,
    set: fn(&mut SweepRow, f64),
) -> Column {
    Column {
        name,
        value: Value::Scalar(get, Some(set)),
    }
}

/// `sweep.csv`'s result columns, after the point's own: the latency drawn,
/// then `summary.csv`'s result columns in `summary.csv`'s order (a test
/// holds them to it), each a mean over replications; the duration and the
/// peak memory also with the half-width of their 95% confidence interval,
/// their minimum and their maximum.
const RESULT_COLUMNS: [Column; 25] = [
    scalar(
        "latency_mean_s",
        |r| r.latency_mean_s,
        |r, x| r.latency_mean_s = x,
    ),
    scalar(
        "latency_std_s",
        |r| r.latency_std_s,
        |r, x| r.latency_std_s = x,
    ),
    Column {
        name: "latency_cv",
        value: Value::Scalar(SweepRow::latency_cv, None),
    },
    scalar(
        "duration_s",
        |r| r.duration_s.mean,
        |r, x| r.duration_s.mean = x,
    ),
    scalar(
        "duration_ci95_s",
        |r| r.duration_s.ci95,
        |r, x| r.duration_s.ci95 = x,
    ),
    scalar(
        "duration_min_s",
        |r| r.duration_s.min,
        |r, x| r.duration_s.min = x,
    ),
    scalar(
        "duration_max_s",
        |r| r.duration_s.max,
        |r, x| r.duration_s.max = x,
    ),
    scalar(
        "peak_memory_bytes",
        |r| r.peak_memory_bytes.mean,
        |r, x| r.peak_memory_bytes.mean = x,
    ),
    scalar(
        "peak_memory_ci95_bytes",
        |r| r.peak_memory_bytes.ci95,
        |r, x| r.peak_memory_bytes.ci95 = x,
    ),
    scalar(
        "peak_memory_min_bytes",
        |r| r.peak_memory_bytes.min,
        |r, x| r.peak_memory_bytes.min = x,
    ),
    scalar(
        "peak_memory_max_bytes",
        |r| r.peak_memory_bytes.max,
        |r, x| r.peak_memory_bytes.max = x,
    ),
    scalar(
        "peak_live_tasks",
        |r| r.peak_live_tasks,
        |r, x| r.peak_live_tasks = x,
    ),
    scalar(
        "loop_iterations",
        |r| r.loop_iterations,
        |r, x| r.loop_iterations = x,
    ),
    scalar("allocations", |r| r.allocations, |r, x| r.allocations = x),
    scalar("completed", |r| r.completed, |r, x| r.completed = x),
    scalar("succeeded", |r| r.succeeded, |r, x| r.succeeded = x),
    scalar("failed", |r| r.failed, |r, x| r.failed = x),
    scalar("errors", |r| r.errors, |r, x| r.errors = x),
    scalar("timeouts", |r| r.timeouts, |r, x| r.timeouts = x),
    scalar("retries", |r| r.retries, |r, x| r.retries = x),
    scalar(
        "tasks_created",
        |r| r.tasks_created,
        |r, x| r.tasks_created = x,
    ),
    scalar(
        "final_memory_bytes",
        |r| r.final_memory_bytes,
        |r, x| r.final_memory_bytes = x,
    ),
    scalar("peak_timers", |r| r.peak_timers, |r, x| r.peak_timers = x),
    Column {
        name: "wait_s",
        value: Value::Percentiles(|r| &r.wait_s, |r| &mut r.wait_s),
    },
    Column {
        name: "total_s",
        value: Value::Percentiles(|r| &r.total_s, |r| &mut r.total_s),
    },
];

/// The header cells of a result column.
fn column_names(column: &Column) -> Vec<String> {
    match column.value {
        Value::Scalar(..) => vec![column.name.to_owned()],
        Value::Percentiles(..) => Percentiles::default()
            .fields()
            .iter()
            .map(|(p, _)| Field::percentile_column(column.name, p))
            .collect(),
    }
}

/// `sweep.csv`: a header, then one row per point and strategy: `point`,
/// the swept parameters, `strategy`, `replications`, those of `seed`,
/// `requests` and `concurrency` not swept (a swept one is its swept
/// column), then the results: the latency drawn (`latency_mean_s`,
/// `latency_std_s`, `latency_cv`), then every result column of
/// `summary.csv` in its order (see [`crate::report::result_columns`]), each
/// a mean over replications, the duration and the peak memory also with
/// their 95% confidence half-width, minimum and maximum. Floats are written
/// by [`csv_float`] (shortest round-trip digits), so the file is
/// byte-identical for identical results.
pub fn csv(sweep: &Sweep, rows: &[SweepRow]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let unswept: Vec<_> = SETTING_COLUMNS
        .into_iter()
        .filter(|(name, _)| !sweep.parameters.iter().any(|p| p.key == *name))
        .collect();
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(sweep.parameters.iter().map(|p| p.key.clone()));
    header.extend(["strategy", "replications"].map(String::from));
    header.extend(unswept.iter().map(|(name, _)| (*name).to_owned()));
    header.extend(RESULT_COLUMNS.iter().flat_map(column_names));
    // Writing to a Vec cannot fail.
    w.write_record(&header).expect("in-memory CSV");
    for row in rows {
        let mut record: Vec<String> = vec![row.point.to_string()];
        record.extend(row.values.iter().copied().map(csv_float));
        record.push(row.strategy.clone());
        record.push(row.replications.to_string());
        for (_, value) in &unswept {
            record.push(value(row).to_string());
        }
        for column in &RESULT_COLUMNS {
            match column.value {
                Value::Scalar(get, _) => record.push(csv_float(get(row))),
                Value::Percentiles(get, _) => {
                    record.extend(get(row).fields().iter().map(|&(_, x)| csv_float(x)));
                }
            }
        }
        w.write_record(&record).expect("in-memory CSV");
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
}

/// The rows of `text`, if it is the `sweep.csv` that [`csv`] writes for
/// `sweep` run with `strategies`: a row per point and strategy, in order,
/// the point's columns as the sweep has them. `None` for any other text.
/// The rows are written back and compared with `text` byte for byte, so
/// rows returned are exactly the rows `text` was written from: every field
/// of a [`SweepRow`] is either the sweep's or has a column, and every float
/// is written in round-trip form.
pub(crate) fn parse(
    sweep: &Sweep,
    strategies: &[StrategyKind],
    text: &str,
) -> Option<Vec<SweepRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let expected_header: Vec<String> = {
        let empty = csv(sweep, &[]);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(empty.as_bytes());
        r.records().next()?.ok()?.iter().map(String::from).collect()
    };
    let found_header = records.next()?.ok()?;
    if found_header
        .iter()
        .ne(expected_header.iter().map(String::as_str))
    {
        return None;
    }
    let swept = |name: &str| sweep.parameters.iter().any(|p| p.key == name);
    let unswept = SETTING_COLUMNS
        .iter()
        .filter(|(name, _)| !swept(name))
        .count();
    let number = |cell: &str| cell.parse::<f64>().ok();
    let mut rows = Vec::new();
    for (p, point) in sweep.points.iter().enumerate() {
        let (_, seed) = sweep.unit(p * sweep.replications as usize)?;
        for kind in strategies {
            let record = records.next()?.ok()?;
            let mut cells = record.iter();
            // The point's own columns (point, swept values, strategy,
            // replications, unswept settings) hold what the sweep says:
            // checked with the rest when the rows are written back.
            for _ in 0..point.values.len() + 3 + unswept {
                cells.next()?;
            }
            let mut row = SweepRow {
                point: p,
                values: point.values.clone(),
                strategy: kind.name().to_owned(),
                replications: sweep.replications,
                seed,
                requests: point.scenario.requests,
                concurrency: point.scenario.concurrency,
                ..SweepRow::default()
            };
            for column in &RESULT_COLUMNS {
                match column.value {
                    Value::Scalar(_, set) => {
                        let x = number(cells.next()?)?;
                        if let Some(set) = set {
                            set(&mut row, x);
                        }
                    }
                    Value::Percentiles(_, set) => {
                        // By name, so that the order is fields()'s alone.
                        let mut named = serde_json::Map::new();
                        for (name, _) in Percentiles::default().fields() {
                            named.insert(name.to_owned(), number(cells.next()?)?.into());
                        }
                        *set(&mut row) = serde_json::from_value(named.into()).ok()?;
                    }
                }
            }
            if cells.next().is_some() {
                return None;
            }
            rows.push(row);
        }
    }
    if records.next().is_some() {
        return None;
    }
    (csv(sweep, &rows) == text).then_some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A swept strategy parameter is a column of its own, named by its
    /// `[sweep]` key; an unswept one is not (summary.json has it).
    #[test]
    fn a_swept_strategy_parameter_is_a_column() {
        let text = "requests = 10\nconcurrency = 2\n\
                    strategies = [\"rate_limited\", \"adaptive_limit\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n\
                    [rate_limited]\nmax_per_second = 100.0\n\
                    [adaptive_limit]\ntarget_latency = 0.5\n\
                    [sweep]\nrate_limited.max_per_second = [50.0, 500.0]\n\
                    adaptive_limit.max_limit = [2, 8]\n";
        let scenario = crate::scenario::Scenario::from_str(text, "s.toml").unwrap();
        let out = csv(scenario.sweep.as_ref().unwrap(), &[]);
        let header: Vec<&str> = out.lines().next().unwrap().split(',').collect();
        assert_eq!(
            header[..3],
            [
                "point",
                "rate_limited.max_per_second",
                "adaptive_limit.max_limit"
            ]
        );
        assert!(
            !header.iter().any(|h| h.contains("target_latency")),
            "{out}"
        );
    }

    /// Every result column of `summary.csv` is in `sweep.csv`, in the same
    /// order (beside the sweep's own: confidence intervals and ranges).
    #[test]
    fn sweep_csv_has_summary_csv_result_columns_in_order() {
        let text = "requests = 10\nconcurrency = 2\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n\
                    [sweep]\nconcurrency = [1, 2]\n";
        let scenario = crate::scenario::Scenario::from_str(text, "s.toml").unwrap();
        let out = csv(scenario.sweep.as_ref().unwrap(), &[]);
        let header: Vec<&str> = out.lines().next().unwrap().split(',').collect();
        let mut from = 0;
        for column in crate::report::result_columns() {
            let at = header[from..]
                .iter()
                .position(|h| *h == column)
                .unwrap_or_else(|| panic!("{column} missing or out of order: {header:?}"));
            from += at + 1;
        }
    }

    #[test]
    fn estimate_mean_and_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0]);
        assert_eq!(e.mean, 2.0);
        assert_eq!((e.min, e.max), (1.0, 3.0));
        // s = 1, n = 3: t(2) * 1 / sqrt(3).
        assert!((e.ci95 - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(Estimate::of(&[5.0]).ci95, 0.0);
        assert_eq!(Estimate::of(&[]), Estimate::default());
    }

    #[test]
    fn t_quantiles_continue_the_table() {
        assert_eq!(t95(1), 12.706);
        assert!((t95(31) - 2.0395).abs() < 1e-3, "{}", t95(31));
        assert!((t95(120) - 1.9799).abs() < 1e-3, "{}", t95(120));
        assert!((t95(100_000) - 1.96).abs() < 1e-3);
    }
}
