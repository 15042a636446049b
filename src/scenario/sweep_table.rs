//! The `[sweep]` table: one or two swept parameters, each a list or a range,
//! and replications. Every point is checked up front by validating the
//! scenario with the point's values written in, so a point that makes the
//! scenario invalid is reported at the sweep key that produced it.

use crate::latency::Trace;
use std::path::Path;

use toml::Spanned;
use toml::de::DeValue;

use super::error::{Diagnostic, ErrorKind, ScenarioError, suggest};
use super::latency_table;
use super::reader::{Field, Reader, Span, Table, group_digits, parse_float, whole_number};
use super::validate;
use super::{CHECKED_DRAWS, Scenario, Sweep, SweepPoint, SweptParameter, point_setting};
use crate::latency::{self, LatencyError, LatencySource};
use crate::strategy::StrategyKind;

/// The most runs (points times replications) a sweep may ask for.
pub const MAX_SWEEP_RUNS: u64 = 1_000_000;

/// The most values one parameter may take.
const MAX_VALUES: usize = 100_000;

/// The most parameters swept at once.
const MAX_PARAMETERS: usize = 2;

/// Top-level keys that can be swept; each takes integers.
const INTEGER_KEYS: [&str; 3] = ["concurrency", "requests", "seed"];

/// Tables whose numeric keys can be swept as `table.key`, and whether each
/// key takes integers.
const TABLE_KEYS: [(&str, &[(&str, bool)]); 3] = [
    (
        "server",
        &[
            ("capacity", true),
            ("error_rate", false),
            ("timeout", false),
            ("retries", true),
            ("backoff_base", false),
            ("backoff_max", false),
        ],
    ),
    ("rate_limited", &[("max_per_second", false)]),
    (
        "adaptive_limit",
        &[
            ("target_latency", false),
            ("min_limit", false),
            ("max_limit", false),
            ("increase", false),
            ("decrease", false),
        ],
    ),
];

/// Whether swept key `key` (`server.capacity`) takes integers, if it is a
/// table key.
pub(crate) fn table_key_is_integer(key: &str) -> Option<bool> {
    let (table, param) = key.split_once('.')?;
    TABLE_KEYS
        .iter()
        .find(|(t, _)| *t == table)?
        .1
        .iter()
        .find(|(p, _)| *p == param)
        .map(|(_, integer)| *integer)
}

const SWEEP_HELP: &str = "write e.g.\n[sweep]\nconcurrency = [10, 100, 1000]\n\
     latency.width = { from = 0.0, to = 0.1, steps = 11 }\nreplications = 5";

const RANGE_KEYS: [&str; 5] = ["from", "to", "steps", "step", "scale"];

/// A swept key as read, before the points are built.
struct Parsed {
    key: String,
    span: Span,
    values: Vec<f64>,
}

/// Reads `[sweep]` (if present) after the rest of the scenario is valid.
/// `base` is the scenario without a sweep; `text` and `file` are the source.
pub(super) fn read(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    text: &str,
    file: &Path,
    strategies: &[StrategyKind],
    trace: Option<&Trace>,
) -> Option<Option<Sweep>> {
    let table = match reader.table(root, "sweep", SWEEP_HELP) {
        Field::Absent => return Some(None),
        Field::Invalid => return None,
        Field::Present(table, _) => table,
    };
    let replications = match reader.integer(&table, "replications", "replications = 5") {
        Field::Absent => Some(1),
        Field::Invalid => None,
        Field::Present(n, span) => {
            if !(1..=10_000).contains(&n) {
                reader.error(
                    &span,
                    "sweep.replications",
                    ErrorKind::InvalidValue,
                    format!("must be between 1 and 10_000, found {}", group_digits(n)),
                    "give the number of seeds to run per point, e.g. `replications = 5`",
                );
                None
            } else {
                u32::try_from(n).ok()
            }
        }
    };

    let mut parsed = Vec::new();
    let mut ok = true;
    for (key, value) in table.map.iter() {
        let name: &str = key.get_ref();
        match name {
            "replications" => {}
            "latency" => {
                let DeValue::Table(map) = value.get_ref() else {
                    reader.wrong_type(
                        &table,
                        "latency",
                        value,
                        "a table of latency parameters",
                        "write e.g. `latency.width = [0.01, 0.05, 0.1]` inside [sweep]",
                    );
                    ok = false;
                    continue;
                };
                for (param, value) in map.iter() {
                    let param: &str = param.get_ref();
                    let path = format!("sweep.latency.{param}");
                    if !latency_table::is_latency_key(param) || param == "components" {
                        reader.error(
                            &value.span(),
                            path,
                            ErrorKind::UnknownKey,
                            format!("`{param}` is not a latency parameter that can be swept"),
                            "sweep a numeric parameter of the [latency] distribution, e.g. \
                             `latency.high`, `latency.width`, `latency.sigma`",
                        );
                        ok = false;
                        continue;
                    }
                    if matches!(param, "distribution" | "path" | "wrap") {
                        reader.error(
                            &value.span(),
                            path,
                            ErrorKind::InvalidValue,
                            format!("`{param}` is not numeric and cannot be swept"),
                            "sweep a numeric parameter, e.g. `latency.high` or `latency.sigma`; \
                             to compare distributions, write one scenario per distribution",
                        );
                        ok = false;
                        continue;
                    }
                    match values(reader, value, &path, false) {
                        Some(values) => parsed.push(Parsed {
                            key: format!("latency.{param}"),
                            span: value.span(),
                            values,
                        }),
                        None => ok = false,
                    }
                }
            }
            _ if TABLE_KEYS.iter().any(|(t, _)| *t == name) => {
                let params = TABLE_KEYS
                    .iter()
                    .find(|(t, _)| *t == name)
                    .map(|(_, p)| *p)
                    .unwrap_or(&[]);
                let list = params
                    .iter()
                    .map(|(p, _)| format!("`{name}.{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let DeValue::Table(map) = value.get_ref() else {
                    reader.wrong_type(
                        &table,
                        name,
                        value,
                        "a table of parameters",
                        format!("write e.g. `{name}.{} = [...]` inside [sweep]", params[0].0),
                    );
                    ok = false;
                    continue;
                };
                // A strategy's own parameters change nothing unless it runs.
                if let Some(kind) = StrategyKind::parse(name)
                    && !strategies.contains(&kind)
                {
                    reader.error(
                        &value.span(),
                        format!("sweep.{name}"),
                        ErrorKind::InvalidValue,
                        format!(
                            "`{name}` parameters are swept, but `{name}` is not among the \
                             strategies: every point would give the same results"
                        ),
                        format!("add \"{name}\" to `strategies`, or sweep something else"),
                    );
                    ok = false;
                    continue;
                }
                for (param, value) in map.iter() {
                    let param: &str = param.get_ref();
                    let path = format!("sweep.{name}.{param}");
                    let Some(&(_, integer)) = params.iter().find(|(p, _)| *p == param) else {
                        let close = suggest(param, params.iter().map(|(p, _)| *p))
                            .map(|c| format!("did you mean `{name}.{c}`? "))
                            .unwrap_or_default();
                        reader.error(
                            &value.span(),
                            path,
                            ErrorKind::UnknownKey,
                            format!("`{name}.{param}` cannot be swept"),
                            format!("{close}numeric keys that can be swept here: {list}"),
                        );
                        ok = false;
                        continue;
                    };
                    match values(reader, value, &path, integer) {
                        Some(values) => parsed.push(Parsed {
                            key: format!("{name}.{param}"),
                            span: value.span(),
                            values,
                        }),
                        None => ok = false,
                    }
                }
            }
            _ if INTEGER_KEYS.contains(&name) => {
                let path = format!("sweep.{name}");
                match values(reader, value, &path, true) {
                    Some(values) => parsed.push(Parsed {
                        key: name.to_owned(),
                        span: value.span(),
                        values,
                    }),
                    None => ok = false,
                }
            }
            _ => {
                let mut valid: Vec<&str> = vec!["replications", "latency"];
                valid.extend(INTEGER_KEYS);
                let list = "`concurrency`, `requests`, `seed`, `latency.<parameter>`, \
                            `server.<parameter>`, `rate_limited.max_per_second`, \
                            `adaptive_limit.<parameter>`, `replications`";
                let help = if latency_table::is_latency_key(name) {
                    format!("latency parameters are swept as `latency.{name} = [...]`")
                } else {
                    match suggest(name, valid.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`? valid keys here: {list}"),
                        None => format!("valid keys here: {list}"),
                    }
                };
                reader.error(
                    &key.span(),
                    format!("sweep.{name}"),
                    ErrorKind::UnknownKey,
                    format!("unknown key `{name}` in [sweep]"),
                    help,
                );
                ok = false;
            }
        }
    }
    let replications = replications?;
    if !ok {
        return None;
    }
    // File order (the TOML map iterates by key).
    parsed.sort_by_key(|p| p.span.start);
    if parsed.is_empty() && replications == 1 {
        reader.error(
            &table.span,
            "sweep",
            ErrorKind::MissingKey,
            "[sweep] varies nothing: it needs a parameter to sweep, or replications > 1",
            SWEEP_HELP,
        );
        return None;
    }
    if parsed.len() > MAX_PARAMETERS {
        let third = &parsed[MAX_PARAMETERS];
        reader.error(
            &third.span,
            format!("sweep.{}", third.key),
            ErrorKind::InvalidValue,
            format!(
                "a sweep varies at most {MAX_PARAMETERS} parameters, found {}",
                parsed.len()
            ),
            "split the sweep into several scenario files, one per pair of parameters",
        );
        return None;
    }
    let points: u64 = parsed.iter().map(|p| p.values.len() as u64).product();
    let runs = points.saturating_mul(u64::from(replications));
    if runs > MAX_SWEEP_RUNS {
        reader.error(
            &table.span,
            "sweep",
            ErrorKind::InvalidValue,
            format!(
                "the sweep asks for {} runs ({} points x {replications} replications), \
                 more than the limit of {}",
                group_digits(i128::from(runs)),
                group_digits(i128::from(points)),
                group_digits(i128::from(MAX_SWEEP_RUNS))
            ),
            "use fewer values or fewer replications",
        );
        return None;
    }

    let document: toml::Table = match toml::from_str(text) {
        Ok(document) => document,
        // The text already parsed once; this cannot fail, but stay safe.
        Err(e) => {
            reader.error(
                &table.span,
                "sweep",
                ErrorKind::Syntax,
                format!("cannot re-read the scenario for the sweep: {e}"),
                "please report this as a bug, with the scenario file",
            );
            return None;
        }
    };
    let mut out = Vec::with_capacity(points as usize);
    let mut index = vec![0usize; parsed.len()];
    for _ in 0..points {
        let values: Vec<f64> = parsed
            .iter()
            .zip(&index)
            .map(|(p, &i)| p.values[i])
            .collect();
        match point(&document, &parsed, &values, file, trace) {
            Ok(scenario) => out.push(SweepPoint { values, scenario }),
            Err((which, inner)) => {
                let p = &parsed[which];
                let setting = point_setting(parsed.iter().map(|p| p.key.as_str()), &values);
                reader.error(
                    &p.span,
                    format!("sweep.{}", p.key),
                    inner.kind,
                    format!("at the sweep point {setting}: {}", inner.message),
                    format!("change the swept values; {}", inner.help),
                );
                return None;
            }
        }
        // Odometer: the last parameter varies fastest.
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < parsed[d].values.len() {
                break;
            }
            index[d] = 0;
        }
    }
    if let Some(problem) = replication_draw_problem(&parsed, &out, replications) {
        let span = table
            .get("replications")
            .map_or(table.span.clone(), |v| v.span());
        reader.error(
            &span,
            "sweep.replications",
            ErrorKind::InvalidValue,
            problem,
            "use a lighter tail (a larger Pareto `shape`, a smaller lognormal `sigma`) or a \
             smaller scale, or fewer replications",
        );
        return None;
    }
    Some(Some(Sweep {
        parameters: parsed
            .into_iter()
            .map(|p| SweptParameter {
                key: p.key,
                values: p.values,
            })
            .collect(),
        replications,
        points: out,
    }))
}

/// The scenario at one point: the document with the point's values written
/// in and `[sweep]` removed, validated. On failure, which parameter to blame
/// (the one whose key the error names, else the last) and the error.
fn point(
    document: &toml::Table,
    parsed: &[Parsed],
    values: &[f64],
    file: &Path,
    trace: Option<&Trace>,
) -> Result<Scenario, (usize, ScenarioError)> {
    let mut doc = document.clone();
    doc.remove("sweep");
    for (p, &v) in parsed.iter().zip(values) {
        if let Some(param) = p.key.strip_prefix("latency.") {
            let latency = doc
                .entry("latency")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = latency {
                t.insert(param.to_owned(), toml::Value::Float(v));
            }
        } else if let (Some(integer), Some((table, param))) =
            (table_key_is_integer(&p.key), p.key.split_once('.'))
        {
            let entry = doc
                .entry(table)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                let value = if integer {
                    toml::Value::Integer(v as i64)
                } else {
                    toml::Value::Float(v)
                };
                t.insert(param.to_owned(), value);
            }
        } else {
            // Integer keys hold whole numbers below 2^53 (checked in `number`).
            doc.insert(p.key.clone(), toml::Value::Integer(v as i64));
        }
    }
    let blame = |key: &str| {
        parsed
            .iter()
            .position(|p| key == p.key || key.starts_with(&format!("{}.", p.key)))
            .unwrap_or(parsed.len().saturating_sub(1))
    };
    let text = toml::to_string(&doc).map_err(|e| {
        (
            parsed.len().saturating_sub(1),
            ScenarioError::from(Diagnostic {
                file: file.to_path_buf(),
                position: None,
                key: String::new(),
                kind: ErrorKind::InvalidValue,
                message: format!("cannot write the point's scenario: {e}"),
                help: "please report this as a bug, with the scenario file".to_owned(),
            }),
        )
    })?;
    // The point's warnings are the scenario's own, already reported.
    validate::scenario_with(&text, file, trace)
        .map(|point| Scenario {
            warnings: Vec::new(),
            ..point
        })
        .map_err(|e| (blame(&e.key), e))
}

/// The values of one swept key: an array of numbers, or a range table.
fn values(
    reader: &mut Reader<'_>,
    value: &Spanned<DeValue<'_>>,
    path: &str,
    integer: bool,
) -> Option<Vec<f64>> {
    let example = if integer {
        "[10, 100, 1000]` or `{ from = 10, to = 1000, steps = 3, scale = \"log\" }"
    } else {
        "[0.01, 0.05, 0.1]` or `{ from = 0.0, to = 0.1, steps = 11 }"
    };
    let values = match value.get_ref() {
        DeValue::Array(items) => {
            if items.is_empty() {
                reader.error(
                    &value.span(),
                    path,
                    ErrorKind::InvalidValue,
                    "the list of values is empty",
                    format!("give at least one value, e.g. `{example}`"),
                );
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(number(reader, item, &format!("{path}[{i}]"), integer)?);
            }
            out
        }
        DeValue::Table(map) => {
            let table = Table {
                map,
                span: value.span(),
                path: path.to_owned(),
            };
            range(reader, &table, integer)?
        }
        _ => {
            let found = reader.found(value);
            reader.error(
                &value.span(),
                path,
                ErrorKind::WrongType,
                format!("expected a list of values or a range table, found {found}"),
                format!("write e.g. `{example}`"),
            );
            return None;
        }
    };
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        reader.error(
            &value.span(),
            path,
            ErrorKind::InvalidValue,
            format!("the value {} appears twice", w[0]),
            "list each value once (use `replications` to repeat a point with other seeds)",
        );
        return None;
    }
    if values.len() > MAX_VALUES {
        reader.error(
            &value.span(),
            path,
            ErrorKind::InvalidValue,
            format!(
                "{} values, more than the limit of {}",
                group_digits(values.len() as i128),
                group_digits(MAX_VALUES as i128)
            ),
            "use fewer steps",
        );
        return None;
    }
    Some(values)
}

/// Draws checked at most for the replications of a sweep (a tenth of a
/// second of drawing): past that, their seeds are drawn only when run.
const REPLICATION_DRAWS_CHECKED: u64 = 4_000_000;

/// Why a replication's seed (`seed + r` for `r` in `1..replications`; each
/// point's own seed was checked when the point was loaded) draws a latency
/// no run can take in its first requests, if one does: the check that
/// loading makes of the scenario's seed, for the seeds a sweep adds
/// (found by a hostile-input pass). Skipped above
/// [`REPLICATION_DRAWS_CHECKED`] draws.
fn replication_draw_problem(
    parsed: &[Parsed],
    points: &[SweepPoint],
    replications: u32,
) -> Option<String> {
    let draws = |p: &SweepPoint| p.scenario.requests.min(CHECKED_DRAWS);
    let total = points
        .iter()
        .map(|p| draws(p).saturating_mul(u64::from(replications.saturating_sub(1))))
        .fold(0u64, u64::saturating_add);
    if total > REPLICATION_DRAWS_CHECKED {
        return None;
    }
    for point in points {
        let source = &point.scenario.latency;
        if !matches!(source, LatencySource::Distribution(_)) {
            continue;
        }
        for r in 1..u64::from(replications) {
            let seed = point.replication_seed(r);
            if let Err(e @ LatencyError::BadSample { .. }) =
                latency::workload(source, seed, draws(point))
            {
                let setting = point_setting(parsed.iter().map(|p| p.key.as_str()), &point.values);
                return Some(format!(
                    "at the sweep point {setting}, replication {} (seed {seed}): {e}",
                    r + 1
                ));
            }
        }
    }
    None
}

/// One finite number; for integer keys a whole number in `0..2^53`.
fn number(
    reader: &mut Reader<'_>,
    item: &Spanned<DeValue<'_>>,
    path: &str,
    integer: bool,
) -> Option<f64> {
    // Whole numbers are checked before they become `f64`, which would
    // round 2^53 + 1 to 2^53 (found by a hostile-input pass); so are whole
    // floats (`to = 1e9`), from their digits.
    let mut whole_in_range = true;
    let mut fraction = false;
    let parsed = match item.get_ref() {
        value @ (DeValue::Integer(_) | DeValue::Float(_)) if integer => match whole_number(value) {
            Ok(n) => {
                whole_in_range = (0..=1_i128 << 53).contains(&n);
                Some(n as f64)
            }
            Err(with_fraction) => {
                fraction = with_fraction.is_some();
                whole_in_range = false;
                match value {
                    DeValue::Float(f) => parse_float(f.as_str()),
                    _ => None,
                }
            }
        },
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => parse_float(f.as_str()),
        _ => None,
    };
    match parsed {
        Some(x)
            if x.is_finite()
                && (!integer
                    || (whole_in_range && (0.0..=9_007_199_254_740_992.0).contains(&x))) =>
        {
            Some(x)
        }
        _ => {
            if integer && fraction {
                reader.fraction_error(item, path);
                return None;
            }
            let found = reader.found(item);
            let (expected, help) = if integer && parsed.is_some_and(|x| x >= 0.0) {
                (
                    "a whole number from 0 to 2^53 (9007199254740992)",
                    "swept values are kept as 64-bit floating-point numbers, which hold \
                     every whole number up to 2^53 exactly: pick a smaller one",
                )
            } else if integer {
                (
                    "a whole number >= 0",
                    "write non-negative whole numbers, e.g. `[10, 100, 1000]`",
                )
            } else {
                (
                    "a finite number",
                    "write numbers such as `0.1` or `1e-3`; nan and inf cannot be swept",
                )
            };
            reader.error(
                &item.span(),
                path,
                ErrorKind::InvalidValue,
                format!("expected {expected}, found {found}"),
                help,
            );
            None
        }
    }
}

/// `{ from, to, steps [, scale] }` or `{ from, to, step }`.
fn range(reader: &mut Reader<'_>, table: &Table<'_, '_>, integer: bool) -> Option<Vec<f64>> {
    reader.check_keys(table, &RANGE_KEYS, &|_| None);
    let get = |reader: &mut Reader<'_>, key: &str| -> Option<Option<(f64, Span)>> {
        match table.get(key) {
            None => Some(None),
            Some(v) => number(reader, v, &table.key(key), integer && key != "step")
                .map(|x| Some((x, v.span()))),
        }
    };
    let from = get(reader, "from")?;
    let to = get(reader, "to")?;
    let (Some((from, _)), Some((to, to_span))) = (from, to) else {
        let key = if table.has("from") { "to" } else { "from" };
        reader.missing(
            table,
            key,
            "a range needs `from`, `to` and `steps` (or `step`), e.g. \
             `{ from = 0.0, to = 0.1, steps = 11 }`",
        );
        return None;
    };
    if from > to {
        reader.error(
            &to_span,
            table.key("to"),
            ErrorKind::InvalidValue,
            format!("the range is reversed: to ({to}) is below from ({from})"),
            "swap `from` and `to`; points always run from the smallest value up",
        );
        return None;
    }
    let log = match reader.string(table, "scale", "scale = \"log\"") {
        Field::Absent => false,
        Field::Invalid => return None,
        Field::Present(s, span) => match s.as_str() {
            "linear" => false,
            "log" => true,
            _ => {
                reader.error(
                    &span,
                    table.key("scale"),
                    ErrorKind::InvalidValue,
                    format!("unknown scale {s:?}"),
                    "use `scale = \"linear\"` (the default) or `scale = \"log\"`",
                );
                return None;
            }
        },
    };
    let mut values = match (table.get("steps"), table.get("step")) {
        (Some(_), Some(step)) => {
            reader.error(
                &step.span(),
                table.key("step"),
                ErrorKind::InvalidValue,
                "give either `steps` (how many values) or `step` (the distance between them), \
                 not both",
                "remove one of them",
            );
            return None;
        }
        (None, None) => {
            reader.missing(
                table,
                "steps",
                "add `steps = N` (N values from `from` to `to`), or `step = D`",
            );
            return None;
        }
        (Some(_), None) => {
            let steps = match reader.integer(table, "steps", "steps = 11") {
                Field::Present(n, span) => {
                    if !(2..=MAX_VALUES as i128).contains(&n) {
                        reader.error(
                            &span,
                            table.key("steps"),
                            ErrorKind::InvalidValue,
                            format!(
                                "must be between 2 and {}, found {}",
                                group_digits(MAX_VALUES as i128),
                                group_digits(n)
                            ),
                            "a range has at least its two ends; for one value write a list \
                             such as `[0.1]`",
                        );
                        return None;
                    }
                    n as usize
                }
                _ => return None,
            };
            if log && from <= 0.0 {
                reader.error(
                    &table.span,
                    table.key("from"),
                    ErrorKind::InvalidValue,
                    format!("a log scale needs from > 0, found {from}"),
                    "start the range above zero, or use `scale = \"linear\"`",
                );
                return None;
            }
            (0..steps)
                .map(|i| {
                    if i == 0 {
                        from
                    } else if i == steps - 1 {
                        to
                    } else {
                        let t = i as f64 / (steps - 1) as f64;
                        tidy(if log {
                            from * (to / from).powf(t)
                        } else {
                            from + (to - from) * t
                        })
                    }
                })
                .collect::<Vec<f64>>()
        }
        (None, Some(step_value)) => {
            let step = number(reader, step_value, &table.key("step"), false)?;
            if step <= 0.0 || (integer && step.fract() != 0.0) {
                reader.error(
                    &step_value.span(),
                    table.key("step"),
                    ErrorKind::InvalidValue,
                    format!(
                        "must be > 0{}, found {step}",
                        if integer { " and whole" } else { "" }
                    ),
                    "give the distance between consecutive values, e.g. `step = 0.01`",
                );
                return None;
            }
            if log {
                reader.error(
                    &step_value.span(),
                    table.key("scale"),
                    ErrorKind::InvalidValue,
                    "`step` cannot be used with a log scale",
                    "use `steps = N` with `scale = \"log\"`",
                );
                return None;
            }
            let count = ((to - from) / step * (1.0 + 1e-12)).floor() + 1.0;
            if count > MAX_VALUES as f64 {
                reader.error(
                    &step_value.span(),
                    table.key("step"),
                    ErrorKind::InvalidValue,
                    format!(
                        "gives {count} values, more than the limit of {}",
                        group_digits(MAX_VALUES as i128)
                    ),
                    "use a larger step",
                );
                return None;
            }
            (0..count as usize)
                .map(|i| tidy(from + step * i as f64))
                .collect()
        }
    };
    if integer {
        for v in &mut values {
            *v = v.round();
        }
        values.dedup();
    }
    Some(values)
}

/// `x` rounded to 12 significant digits, so that computed range values are
/// the decimals a user would write (`0.01`, not `0.010000000000000002`).
fn tidy(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}
