//! `[server]`: the downstream service and the client's timeout and retries.

use super::error::ErrorKind;
use super::reader::{Field, Reader, Table};
use super::validate::misplaced_top_level_key;
use crate::latency::{MAX_LATENCY_S, readable};
use crate::server::{Backoff, BackoffKind, Discipline, Jitter, ServerSpec};

/// Keys of `[server]`.
const SERVER_KEYS: [&str; 9] = [
    "capacity",
    "discipline",
    "error_rate",
    "timeout",
    "retries",
    "backoff",
    "backoff_base",
    "backoff_max",
    "jitter",
];

const HELP: &str = "write e.g.\n[server]\ncapacity = 200\ndiscipline = \"fifo\"";

/// One of `choices` (`(spelling, value)`), else an error.
fn choice<T: Copy>(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    choices: &[(&str, T)],
    default: T,
) -> Option<T> {
    let names = choices
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    match reader.string(table, key, &format!("{key} = {}", choices[0].0)) {
        Field::Absent => Some(default),
        Field::Invalid => None,
        Field::Present(text, span) => match choices.iter().find(|(n, _)| *n == text.trim()) {
            Some((_, v)) => Some(*v),
            None => {
                let close = super::error::suggest(text.trim(), choices.iter().map(|(n, _)| *n))
                    .map(|c| format!("did you mean \"{c}\"? "))
                    .unwrap_or_default();
                reader.error(
                    &span,
                    table.key(key),
                    ErrorKind::InvalidValue,
                    format!("unknown {key} {text:?}"),
                    format!("{close}use one of {names}"),
                );
                None
            }
        },
    }
}

/// A number with `ok(x)`, else an error saying `must`.
fn number(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    example: &str,
    ok: impl Fn(f64) -> bool,
    must: &str,
) -> Option<Option<f64>> {
    match reader.number(table, key, example) {
        Field::Absent => Some(None),
        Field::Invalid => None,
        Field::Present(x, _) if ok(x) => Some(Some(x)),
        Field::Present(x, span) => {
            reader.error(
                &span,
                table.key(key),
                ErrorKind::InvalidValue,
                format!("must be {must}, found {}", readable(x)),
                format!("write e.g. `{example}`"),
            );
            None
        }
    }
}

/// An integer in `[lo, hi]`.
fn integer(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    key: &str,
    example: &str,
    (lo, hi): (i128, i128),
) -> Option<Option<u64>> {
    match reader.integer(table, key, example) {
        Field::Absent => Some(None),
        Field::Invalid => None,
        Field::Present(n, _) if (lo..=hi).contains(&n) => Some(u64::try_from(n).ok()),
        Field::Present(n, span) => {
            reader.error(
                &span,
                table.key(key),
                ErrorKind::InvalidValue,
                format!("must be between {lo} and {hi}, found {n}"),
                format!("write e.g. `{example}`"),
            );
            None
        }
    }
}

/// Reads `[server]`: `Some(None)` without one, `None` after an error.
pub(super) fn read(reader: &mut Reader<'_>, root: &Table<'_, '_>) -> Option<Option<ServerSpec>> {
    let (table, header) = match reader.table(root, "server", HELP) {
        Field::Absent => return Some(None),
        Field::Invalid => return None,
        Field::Present(table, span) => (table, span),
    };
    reader.check_keys(&table, &SERVER_KEYS, &|k| {
        misplaced_top_level_key(k, "[server]")
    });
    let capacity = integer(
        reader,
        &table,
        "capacity",
        "capacity = 200",
        (1, i128::from(u32::MAX)),
    );
    let discipline = choice(
        reader,
        &table,
        "discipline",
        &[
            ("fifo", Discipline::Fifo),
            ("processor_sharing", Discipline::ProcessorSharing),
        ],
        Discipline::Fifo,
    );
    let error_rate = number(
        reader,
        &table,
        "error_rate",
        "error_rate = 0.01",
        |x| (0.0..=1.0).contains(&x),
        "a probability between 0 and 1",
    );
    let timeout = number(
        reader,
        &table,
        "timeout",
        "timeout = 2.0",
        |x| x > 0.0 && x <= MAX_LATENCY_S,
        "positive and at most 1e7 (seconds, about 115 days: the longest wait bpsim simulates)",
    );
    let retries = integer(reader, &table, "retries", "retries = 3", (0, 1000));
    let backoff = choice(
        reader,
        &table,
        "backoff",
        &[
            ("exponential", BackoffKind::Exponential),
            ("fixed", BackoffKind::Fixed),
        ],
        BackoffKind::Exponential,
    );
    let base = number(
        reader,
        &table,
        "backoff_base",
        "backoff_base = 0.1",
        |x| (0.0..=MAX_LATENCY_S).contains(&x),
        "between 0 and 1e7 (seconds, about 115 days: the longest wait bpsim simulates)",
    );
    let max = number(
        reader,
        &table,
        "backoff_max",
        "backoff_max = 10.0",
        |x| (0.0..=MAX_LATENCY_S).contains(&x),
        "between 0 and 1e7 (seconds, about 115 days: the longest wait bpsim simulates)",
    );
    let jitter = choice(
        reader,
        &table,
        "jitter",
        &[
            ("full", Jitter::Full),
            ("equal", Jitter::Equal),
            ("none", Jitter::None),
        ],
        Jitter::Full,
    );
    let (
        Some(capacity),
        Some(discipline),
        Some(error_rate),
        Some(timeout),
        Some(retries),
        Some(backoff),
        Some(base),
        Some(max),
        Some(jitter),
    ) = (
        capacity, discipline, error_rate, timeout, retries, backoff, base, max, jitter,
    )
    else {
        return None;
    };
    if discipline == Discipline::ProcessorSharing && capacity.is_none() {
        let span = table.get("discipline").map_or(header, |v| v.span());
        reader.error(
            &span,
            table.key("discipline"),
            ErrorKind::InvalidValue,
            "processor sharing needs a capacity to share",
            "add e.g. `capacity = 200` to [server]",
        );
        return None;
    }
    let base = base.unwrap_or(0.1);
    let max = max.unwrap_or(10.0_f64.max(base));
    if max < base {
        let span = table.get("backoff_max").map_or(header, |v| v.span());
        reader.error(
            &span,
            table.key("backoff_max"),
            ErrorKind::InvalidValue,
            format!("backoff_max = {max} is below backoff_base = {base}"),
            "raise `backoff_max` to at least `backoff_base`",
        );
        return None;
    }
    Some(Some(ServerSpec {
        capacity,
        discipline,
        error_rate: error_rate.unwrap_or(0.0),
        timeout,
        retries: retries.unwrap_or(0) as u32,
        backoff: Backoff {
            kind: backoff,
            base,
            max,
            jitter,
        },
    }))
}
