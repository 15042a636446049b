//! Tick labels in the data's units: `1.5 MB`, `30 s`, `250 ms`, `10k`.

/// What an axis measures, for its tick labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds: `250 ms`, `1.5 s`, `2 min`.
    Seconds,
    /// Bytes, decimal prefixes: `820 KB`, `154 MB`.
    Bytes,
    /// A count: `500`, `10k`, `1.5M`.
    Count,
    /// A plain number (a fraction, a ratio).
    Plain,
}

/// `x` with at most three significant digits, trailing zeros dropped.
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

impl Unit {
    /// The tick label of `x`.
    pub fn tick(self, x: f64) -> String {
        let a = x.abs();
        match self {
            Unit::Seconds if a == 0.0 => "0".to_owned(),
            Unit::Seconds if a < 1e-3 => format!("{} µs", short(x * 1e6)),
            Unit::Seconds if a < 1.0 => format!("{} ms", short(x * 1e3)),
            Unit::Seconds if a < 1e6 => format!("{} s", short(x)),
            Unit::Seconds => format!("{} h", short(x / 3600.0)),
            Unit::Bytes => {
                let (v, p) = if a >= 1e9 {
                    (x / 1e9, "GB")
                } else if a >= 1e6 {
                    (x / 1e6, "MB")
                } else if a >= 1e3 {
                    (x / 1e3, "KB")
                } else {
                    (x, "B")
                };
                format!("{} {p}", short(v))
            }
            Unit::Count => {
                if a >= 1e6 {
                    format!("{}M", short(x / 1e6))
                } else if a >= 1e4 {
                    format!("{}k", short(x / 1e3))
                } else {
                    short(x.round())
                }
            }
            Unit::Plain => short(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_like_a_person_wrote_them() {
        assert_eq!(Unit::Seconds.tick(0.25), "250 ms");
        assert_eq!(Unit::Seconds.tick(30.0), "30 s");
        assert_eq!(Unit::Seconds.tick(1.5), "1.5 s");
        assert_eq!(Unit::Seconds.tick(3000.0), "3000 s");
        assert_eq!(Unit::Seconds.tick(3.6e6), "1000 h");
        assert_eq!(Unit::Bytes.tick(821_003.0), "821 KB");
        assert_eq!(Unit::Bytes.tick(154_464_187.0), "154 MB");
        assert_eq!(Unit::Count.tick(10_000.0), "10k");
        assert_eq!(Unit::Count.tick(500.0), "500");
        assert_eq!(Unit::Plain.tick(0.5), "0.5");
    }
}
