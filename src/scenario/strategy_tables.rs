//! `[rate_limited]` and `[adaptive_limit]`: the parameters of the strategies
//! that take more than a concurrency limit.

use super::error::ErrorKind;
use super::reader::{Field, Reader, Span, Table};
use super::validate::misplaced_top_level_key;
use crate::latency::{MAX_LATENCY_S, readable};
use crate::strategy::{AdaptiveParams, StrategyKind, StrategyParams};
use toml::de::DeValue;

/// Keys of `[rate_limited]`.
const RATE_KEYS: [&str; 1] = ["max_per_second"];
/// Keys of `[adaptive_limit]`.
const ADAPTIVE_KEYS: [&str; 5] = [
    "target_latency",
    "min_limit",
    "max_limit",
    "increase",
    "decrease",
];

/// `(low, high, open)`: the accepted range of a number.
type Range = (f64, f64, bool);

/// Where a valid value of a key goes.
type Setter<'a> = &'a mut dyn FnMut(f64);

/// A number in `[lo, hi]` (or `(lo, hi)` when `open`), else an error.
fn bounded(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    example: &str,
    check: Range,
) -> Field<f64> {
    let field = reader.number(table, key, example);
    if let Field::Present(x, ref span) = field {
        let (lo, hi, open) = check;
        let ok = if open {
            x > lo && x < hi
        } else {
            x >= lo && x <= hi
        };
        if !ok {
            let range = if open && hi.is_infinite() {
                format!("greater than {lo}")
            } else if open {
                format!("between {lo} and {hi} (exclusive)")
            } else if hi.is_infinite() {
                format!("at least {lo}")
            } else {
                format!("between {lo} and {hi}")
            };
            reader.error(
                span,
                table.key(key),
                ErrorKind::InvalidValue,
                format!("must be {range}, found {x}"),
                format!("write e.g. `{example}`"),
            );
            return Field::Invalid;
        }
    }
    field
}

/// Where the top-level `strategies` array lists `kind`: the entry's span
/// and key (`strategies[2]`).
fn listed_at(root: &Table<'_, '_>, kind: StrategyKind) -> Option<(Span, String)> {
    let DeValue::Array(items) = root.get("strategies")?.get_ref() else {
        return None;
    };
    items
        .iter()
        .enumerate()
        .find_map(|(i, item)| match item.get_ref() {
            DeValue::String(text) if StrategyKind::parse(text) == Some(kind) => {
                Some((item.span(), format!("strategies[{i}]")))
            }
            _ => None,
        })
}

/// Reads both tables; `None` if an error was recorded.
pub(super) fn read(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    strategies: Option<&[StrategyKind]>,
    concurrency: Option<u64>,
) -> Option<StrategyParams> {
    let mut params = StrategyParams::defaults();
    let mut ok = true;
    let uses = |k| strategies.is_some_and(|s| s.contains(&k));

    let rate_help = "add\n[rate_limited]\nmax_per_second = 1000.0";
    match reader.table(root, "rate_limited", rate_help) {
        Field::Absent => {
            if uses(StrategyKind::RateLimited) {
                // Located at the strategies entry that asks for the table
                // (it was 1:1, found by a review).
                match listed_at(root, StrategyKind::RateLimited) {
                    Some((span, key)) => reader.error(
                        &span,
                        key,
                        ErrorKind::MissingKey,
                        "rate_limited needs a [rate_limited] table with its `max_per_second`, \
                         and the file has none",
                        rate_help,
                    ),
                    None => reader.missing(root, "rate_limited", rate_help),
                }
                ok = false;
            }
        }
        Field::Invalid => ok = false,
        Field::Present(table, header) => {
            unused_table(reader, root, strategies, StrategyKind::RateLimited, &header);
            reader.check_keys(&table, &RATE_KEYS, &|k| {
                misplaced_top_level_key(k, "[rate_limited]")
            });
            match bounded(
                reader,
                &table,
                "max_per_second",
                "max_per_second = 1000.0",
                (0.0, f64::INFINITY, true),
            ) {
                // One start per 1e7 s at the slowest: the longest wait
                // bpsim simulates, as for latencies.
                Field::Present(x, span) if x < 1.0 / MAX_LATENCY_S => {
                    reader.error(
                        &span,
                        table.key("max_per_second"),
                        ErrorKind::InvalidValue,
                        format!(
                            "must be at least 1e-7 (a start every 1e7 s, about 115 days, \
                             the longest wait bpsim simulates), found {}",
                            readable(x)
                        ),
                        "starts per second: write e.g. `max_per_second = 1000.0`",
                    );
                    ok = false;
                }
                Field::Present(x, _) => params.max_per_second = x,
                Field::Absent => {
                    reader.missing(
                        &table,
                        "max_per_second",
                        "add e.g. `max_per_second = 1000.0`",
                    );
                    ok = false;
                }
                Field::Invalid => ok = false,
            }
        }
    }

    match reader.table(
        root,
        "adaptive_limit",
        "add\n[adaptive_limit]\ntarget_latency = 0.5",
    ) {
        Field::Absent => {}
        Field::Invalid => ok = false,
        Field::Present(table, header) => {
            unused_table(
                reader,
                root,
                strategies,
                StrategyKind::AdaptiveLimit,
                &header,
            );
            reader.check_keys(&table, &ADAPTIVE_KEYS, &|k| {
                misplaced_top_level_key(k, "[adaptive_limit]")
            });
            let a = &mut params.adaptive;
            // Each key's value, if present and valid, goes where its setter
            // puts it: `max_limit` is kept as given (`Some`), so that a
            // scenario written out holds it only if the file did.
            let fields: [(&str, &str, Range, Setter<'_>); 5] = [
                (
                    "target_latency",
                    "target_latency = 0.5",
                    (0.0, f64::INFINITY, false),
                    &mut |x| a.target_latency = x,
                ),
                (
                    "min_limit",
                    "min_limit = 1",
                    (1.0, f64::INFINITY, false),
                    &mut |x| a.min_limit = x,
                ),
                (
                    "max_limit",
                    "max_limit = 2000",
                    (1.0, f64::INFINITY, false),
                    &mut |x| a.max_limit = Some(x),
                ),
                (
                    "increase",
                    "increase = 1.0",
                    (0.0, f64::INFINITY, false),
                    &mut |x| a.increase = x,
                ),
                ("decrease", "decrease = 0.9", (0.0, 1.0, true), &mut |x| {
                    a.decrease = x
                }),
            ];
            for (key, example, check, set) in fields {
                match bounded(reader, &table, key, example, check) {
                    Field::Present(x, _) => set(x),
                    Field::Absent => {}
                    Field::Invalid => ok = false,
                }
            }
            if ok {
                ok = check_limits(reader, &table, &header, &params.adaptive, concurrency);
            }
        }
    }
    ok.then_some(params)
}

/// Warns that the table of `kind`'s parameters, at `header`, has no effect
/// when `strategies` (valid) does not run `kind`. Its values are still
/// checked: the scenario may run it later.
fn unused_table(
    reader: &mut Reader<'_>,
    root: &Table<'_, '_>,
    strategies: Option<&[StrategyKind]>,
    kind: StrategyKind,
    header: &Span,
) {
    let Some(strategies) = strategies else { return };
    if strategies.contains(&kind) {
        return;
    }
    let name = kind.name();
    let why = if root.has("strategies") {
        format!("`strategies` does not list {name}, so it is not run")
    } else {
        format!("without a `strategies` key the blog's four strategies run, not {name}")
    };
    reader.warning(
        header,
        name,
        format!("the [{name}] table has no effect: {why}"),
        format!("add \"{name}\" to `strategies` to run it, or remove the table"),
    );
}

/// `min_limit <= concurrency <= max_limit`: the limit starts at
/// `concurrency`.
fn check_limits(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    header: &Span,
    a: &AdaptiveParams,
    concurrency: Option<u64>,
) -> bool {
    let Some(c) = concurrency else { return true };
    let max_limit = a.max_limit_at(c);
    let c = c as f64;
    if a.min_limit <= c && c <= max_limit {
        return true;
    }
    // Blame the bound that excludes `concurrency`, where the file sets it.
    let (key, help) = if c < a.min_limit {
        (
            "min_limit",
            "lower `min_limit` to at most `concurrency` (default: 1)",
        )
    } else {
        (
            "max_limit",
            "raise `max_limit` to at least `concurrency` (default: 4 x concurrency)",
        )
    };
    let span = table.get(key).map_or(header.clone(), |v| v.span());
    reader.error(
        &span,
        table.key(key),
        ErrorKind::InvalidValue,
        format!(
            "the adaptive limit starts at concurrency = {c}, which must lie within \
             min_limit = {} and max_limit = {}",
            a.min_limit, max_limit
        ),
        help,
    );
    false
}
