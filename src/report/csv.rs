//! CSV: the summary (one row per strategy) and the per-request log, and
//! [`float`], the form of every float in bpsim's CSVs and traces.
//!
//! Floats are written by [`float`]: shortest round-trip digits, so the
//! files are byte-identical across machines and parse back to the same
//! bits, with an exponent where the plain form would be long.

use super::RunReport;
use crate::metrics::{Field, StrategyResult};
use crate::server::client::Status;
use crate::strategy::Outcome;

/// A float as every CSV and trace bpsim writes has it: the shortest digits
/// that parse back to the same bits, written plain (`0.15`, `41.70835342191311`,
/// `100000`) for `1e-5 <= |x| < 1e16` and zero, and with an exponent
/// otherwise (`1e-300`, `2.5e-7`, `1.5e16`), as Rust's `{:e}` writes it;
/// `inf`, `-inf` and `NaN` as Rust writes them. A plain `1e-300` was a
/// field of 302 characters (found by a hostile-input pass); now no finite
/// float takes more than 24.
pub fn float(x: f64) -> String {
    let a = x.abs();
    if x.is_finite() && a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// The CSV columns of a result field: its name, or for percentiles a
/// column per percentile (`total_s`: `total_p50_s` ... `total_max_s`).
fn field_columns(name: &str, value: &Field<'_>) -> Vec<String> {
    match value {
        Field::Percentiles(p) => p
            .fields()
            .iter()
            .map(|(q, _)| Field::percentile_column(name, q))
            .collect(),
        _ => vec![name.to_owned()],
    }
}

/// The CSV cells of a result field, one per column of [`field_columns`].
fn field_cells(value: &Field<'_>) -> Vec<String> {
    match *value {
        Field::Text(text) => vec![text.to_owned()],
        Field::Count(n) => vec![n.to_string()],
        Field::Bytes(n) => vec![n.to_string()],
        Field::Seconds(x) => vec![float(x)],
        Field::Percentiles(p) => p.fields().iter().map(|&(_, x)| float(x)).collect(),
    }
}

/// The result columns of `summary.csv`, from `strategy` on: the fields of
/// [`StrategyResult::fields`], in its order (the order of `summary.json`'s
/// results), each set of percentiles spread over a column per percentile.
pub fn result_columns() -> Vec<String> {
    StrategyResult::default()
        .fields()
        .iter()
        .flat_map(|(name, value)| field_columns(name, value))
        .collect()
}

/// `summary.csv`: scenario columns, then the results (see
/// [`result_columns`]).
pub fn summary_csv(report: &RunReport) -> String {
    let mut w = writer();
    let mut header: Vec<String> = [
        "scenario",
        "seed",
        "requests",
        "concurrency",
        "latency",
        "python",
        "cpu",
    ]
    .map(String::from)
    .to_vec();
    header.extend(result_columns());
    w.write_record(&header).expect("in-memory CSV");
    let s = &report.scenario;
    for r in &report.results {
        let mut row = vec![
            s.name.clone(),
            s.seed.to_string(),
            s.requests.to_string(),
            s.concurrency.to_string(),
            s.latency.clone(),
            s.python.clone(),
            s.cpu.clone(),
        ];
        row.extend(r.fields().iter().flat_map(|(_, value)| field_cells(value)));
        w.write_record(&row).expect("in-memory CSV");
    }
    finish(w)
}

/// `--requests-csv`: `strategy,request,start_s,end_s,status,attempts`,
/// each strategy's requests in completion order (`status` is `ok`,
/// `error` or `timeout`; `attempts` counts retries too).
pub fn requests_csv(outcomes: &[Outcome]) -> String {
    let mut w = writer();
    w.write_record([
        "strategy", "request", "start_s", "end_s", "status", "attempts",
    ])
    .expect("in-memory CSV");
    for o in outcomes {
        let name = o.strategy.name();
        for r in &o.requests {
            w.write_record([
                name,
                &r.request.to_string(),
                &float(r.start_s),
                &float(r.end_s),
                match r.status {
                    Status::Ok => "ok",
                    Status::Error => "error",
                    Status::Timeout => "timeout",
                },
                &r.attempts.to_string(),
            ])
            .expect("in-memory CSV");
        }
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::float;

    #[test]
    fn floats_are_plain_in_the_middle_and_exponents_at_the_ends() {
        for (x, text) in [
            (0.0, "0"),
            (0.15, "0.15"),
            (41.70835342191311, "41.70835342191311"),
            (100_000.0, "100000"),
            (0.000012031, "0.000012031"),
            (1e-5, "0.00001"),
            (9_999_999_999_999_998.0, "9999999999999998"),
            (1e16, "1e16"),
            (-1.5e16, "-1.5e16"),
            (9.99e-6, "9.99e-6"),
            (1e-300, "1e-300"),
            (-2.5e-7, "-2.5e-7"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float(x), text, "{x:?}");
        }
        assert_eq!(float(f64::NAN), "NaN");
    }

    #[test]
    fn every_float_round_trips_in_at_most_24_characters() {
        // Bit patterns spread over every exponent, plus the edges.
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![1e-5, 1e16, f64::MAX, f64::MIN, 5e-324, -5e-324];
        for _ in 0..100_000 {
            bits = bits.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push(f64::from_bits(bits));
        }
        for x in values.into_iter().filter(|x| x.is_finite()) {
            let text = float(x);
            assert!(text.len() <= 24, "{x:?}: {text}");
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
    }
}
