//! The `[latency]` table: a distribution (possibly a mixture) or a trace.

use std::path::Path;

use toml::de::DeValue;

use super::CHECKED_DRAWS;
use super::error::{ErrorKind, suggest};
use super::reader::{Field, Reader, Span, Table};
use super::validate::misplaced_top_level_key;
use crate::latency::{
    self, Distribution, LatencyError, LatencySource, MAX_LATENCY_S, MAX_MIXTURE_DEPTH, Trace,
    readable,
};

/// `ln(p99 / median) / z(0.99)`: the 99th percentile of the standard normal.
const Z_99: f64 = 2.326_347_874_040_840_8;

/// Every `distribution` name, in the order they are listed in messages.
const DISTRIBUTIONS: [&str; 10] = [
    "constant",
    "uniform",
    "normal",
    "lognormal",
    "exponential",
    "gamma",
    "weibull",
    "pareto",
    "mixture",
    "trace",
];

/// The keys each distribution accepts besides `distribution`.
fn parameters(distribution: &str) -> &'static [&'static str] {
    match distribution {
        "constant" => &["value"],
        "uniform" => &["low", "high", "mean", "width"],
        "normal" => &["mean", "std_dev"],
        "lognormal" => &["mu", "sigma", "median", "p99", "mean"],
        "exponential" => &["mean", "rate"],
        "gamma" => &["shape", "scale"],
        "weibull" => &["scale", "shape"],
        "pareto" => &["scale", "shape", "mean"],
        "mixture" => &["components"],
        "trace" => &["path", "wrap"],
        _ => &[],
    }
}

/// How a distribution's parameters are written in help texts.
fn signature(distribution: &str) -> &'static str {
    match distribution {
        "constant" => "value",
        "uniform" => "low, high; or mean, width",
        "normal" => "mean, std_dev",
        "lognormal" => "mu, sigma; or median, p99; or mean, sigma",
        "exponential" => "mean (or rate)",
        "gamma" => "shape, scale",
        "weibull" => "scale, shape",
        "pareto" => "scale, shape; or mean, shape > 1",
        "mixture" => "components",
        "trace" => "path, wrap",
        _ => "",
    }
}

/// `(name, parameters)` of every distribution, e.g. `("uniform", "low, high")`.
pub(super) fn distributions() -> Vec<(&'static str, &'static str)> {
    DISTRIBUTIONS.iter().map(|d| (*d, signature(d))).collect()
}

/// Whether `key` is a parameter of some distribution.
pub(super) fn is_latency_key(key: &str) -> bool {
    key == "distribution" || DISTRIBUTIONS.iter().any(|d| parameters(d).contains(&key))
}

/// An example value for a parameter, for help texts.
fn example(key: &str) -> &'static str {
    match key {
        "value" | "mean" | "median" | "scale" => "0.15",
        "low" => "0.1",
        "high" => "0.2",
        "std_dev" => "0.05",
        "width" => "0.1",
        "mu" => "-2.0",
        "sigma" => "0.5",
        "p99" => "0.5",
        "rate" => "10.0",
        "shape" => "2.0",
        "weight" => "1.0",
        _ => "1.0",
    }
}

/// The constraint on a parameter.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Finite,
    NonNegative,
    Positive,
}

/// Reads `[latency]`; records errors and returns `None` if it is invalid.
pub(super) fn read(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    loaded: Option<&Trace>,
) -> Option<LatencySource> {
    let distribution = read_distribution(reader, table, 0, &[])?;
    match distribution {
        Parsed::Distribution(d) => Some(LatencySource::Distribution(d)),
        Parsed::Trace => read_trace(reader, table, base, loaded),
    }
}

/// A parsed distribution table.
enum Parsed {
    Distribution(Distribution),
    /// `distribution = "trace"`; read by [`read_trace`].
    Trace,
}

fn distribution_list() -> String {
    DISTRIBUTIONS
        .iter()
        .map(|d| format!("{d}({})", signature(d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a distribution table: `[latency]` (`depth == 0`) or a mixture
/// component (`extra` holds `weight`).
fn read_distribution(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    depth: usize,
    extra: &[&str],
) -> Option<Parsed> {
    if let Some(value) = table.get("distribution")
        && !matches!(value.get_ref(), DeValue::String(_))
    {
        let help = format!(
            "name the distribution in double quotes, e.g. `distribution = \"uniform\"`; \
             valid: {}",
            distribution_list()
        );
        reader.wrong_type(table, "distribution", value, "a string", help);
        return None;
    }
    let name = match reader.string(table, "distribution", "distribution = \"uniform\"") {
        Field::Absent => {
            reader.missing(
                table,
                "distribution",
                format!(
                    "add e.g. `distribution = \"uniform\"` with `low` and `high`; the \
                     distributions are {}",
                    distribution_list()
                ),
            );
            // Still report unknown keys that are not parameters of anything
            // (each listed once, though several distributions share some).
            let mut allowed: Vec<&str> = extra.to_vec();
            for key in DISTRIBUTIONS.iter().flat_map(|d| parameters(d)) {
                if !allowed.contains(key) {
                    allowed.push(key);
                }
            }
            reader.check_keys(table, &allowed, &|key| {
                misplaced_top_level_key(key, &table.name()).or_else(|| {
                    // `trace = "file"` for `distribution = "trace"`, ...
                    DISTRIBUTIONS.contains(&key).then(|| {
                        format!(
                            "`{key}` is a distribution, not a key: write \
                             `distribution = \"{key}\"` with {}",
                            signature(key)
                        )
                    })
                })
            });
            return None;
        }
        Field::Invalid => return None,
        Field::Present(name, span) => {
            if !DISTRIBUTIONS.contains(&name.as_str()) {
                let help = match suggest(&name, DISTRIBUTIONS) {
                    Some(close) => {
                        format!("did you mean `{close}`? valid: {}", distribution_list())
                    }
                    None => format!("valid: {}", distribution_list()),
                };
                reader.error(
                    &span,
                    table.key("distribution"),
                    ErrorKind::InvalidValue,
                    format!("unknown distribution {name:?}"),
                    help,
                );
                return None;
            }
            if name == "trace" && depth > 0 {
                reader.error(
                    &span,
                    table.key("distribution"),
                    ErrorKind::InvalidValue,
                    "a trace cannot be a mixture component",
                    "use `distribution = \"trace\"` directly in [latency], or give this \
                     component a parametric distribution",
                );
                return None;
            }
            if name == "mixture" && depth >= MAX_MIXTURE_DEPTH {
                reader.error(
                    &span,
                    table.key("distribution"),
                    ErrorKind::InvalidValue,
                    format!("mixtures may be nested at most {MAX_MIXTURE_DEPTH} deep"),
                    "flatten the nested mixtures into one list of components",
                );
                return None;
            }
            name
        }
    };
    let name = name.as_str();
    let mut allowed = vec!["distribution"];
    allowed.extend_from_slice(extra);
    allowed.extend_from_slice(parameters(name));
    let table_name = table.name();
    reader.check_keys(table, &allowed, &|key| {
        if let Some(hint) = misplaced_top_level_key(key, &table_name) {
            return Some(hint);
        }
        let owner = DISTRIBUTIONS
            .iter()
            .find(|d| parameters(d).contains(&key))?;
        let close = suggest(key, parameters(name).iter().copied())
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        Some(format!(
            "{close}`{key}` is a parameter of {owner}, not of {name}; {name} takes {}",
            signature(name)
        ))
    });

    let mut p = Params {
        reader,
        table,
        distribution: name,
    };
    let distribution = match name {
        "constant" => Distribution::Constant {
            value: p.required("value", Rule::NonNegative)?,
        },
        "uniform" => p.uniform()?,
        "normal" => {
            let mean = p.required_with("mean", Rule::NonNegative, NORMAL_MEAN_HELP);
            let std_dev = p.required("std_dev", Rule::NonNegative);
            Distribution::Normal {
                mean: mean?,
                std_dev: std_dev?,
            }
        }
        "lognormal" => p.lognormal()?,
        "exponential" => p.exponential()?,
        "gamma" => {
            let shape = p.required("shape", Rule::Positive);
            let scale = p.required("scale", Rule::Positive);
            Distribution::Gamma {
                shape: shape?,
                scale: scale?,
            }
        }
        "weibull" => {
            let scale = p.required("scale", Rule::Positive);
            let shape = p.required("shape", Rule::Positive);
            Distribution::Weibull {
                scale: scale?,
                shape: shape?,
            }
        }
        "pareto" => p.pareto()?,
        "mixture" => read_mixture(reader, table, depth)?,
        _ => return Some(Parsed::Trace),
    };
    // Backstop: the checks above should make this impossible to fail.
    if let Err(e) = distribution.validate() {
        reader.error(
            &table.span,
            table.key("distribution"),
            ErrorKind::InvalidValue,
            format!("invalid {name} distribution: {e}"),
            format!("check the parameters: {name} takes {}", signature(name)),
        );
        return None;
    }
    if let Some((key, what, x)) = beyond_longest_latency(&distribution) {
        // `high`, or `mean` for a uniform given as mean and width.
        let key = [key, "mean"]
            .into_iter()
            .find(|k| table.has(k))
            .unwrap_or("distribution");
        let span = table.get(key).map_or(table.span.clone(), |v| v.span());
        reader.error(
            &span,
            table.key(key),
            ErrorKind::InvalidValue,
            format!(
                "{what} is {} s, beyond the longest latency bpsim simulates ({} s, about \
                 115 days)",
                readable(x),
                readable(MAX_LATENCY_S)
            ),
            format!(
                "latencies are in seconds: lower the parameters ({name} takes {})",
                signature(name)
            ),
        );
        return None;
    }
    Some(Parsed::Distribution(distribution))
}

/// The key to blame, what is too long and its value, for a distribution
/// whose latencies would all or mostly exceed [`MAX_LATENCY_S`] (the
/// components of a mixture are checked on their own).
fn beyond_longest_latency(d: &Distribution) -> Option<(&'static str, &'static str, f64)> {
    let (key, what, x) = match *d {
        Distribution::Constant { value } => ("value", "the latency", value),
        Distribution::Uniform { high, .. } => ("high", "the high end", high),
        Distribution::Pareto { scale, .. } => ("scale", "its smallest latency", scale),
        Distribution::Mixture(_) => return None,
        _ => ("mean", "its mean", d.mean()),
    };
    (x.is_finite() && x > MAX_LATENCY_S).then_some((key, what, x))
}

const NORMAL_MEAN_HELP: &str = "the normal is truncated at 0 by redrawing negative samples, so \
     its mean must be >= 0; for latencies near zero use a lognormal, gamma or exponential";

/// Reads the parameters of one distribution table.
struct Params<'r, 'a, 't, 'i> {
    reader: &'r mut Reader<'a>,
    table: &'r Table<'t, 'i>,
    distribution: &'r str,
}

impl Params<'_, '_, '_, '_> {
    fn required(&mut self, key: &str, rule: Rule) -> Option<f64> {
        self.required_spanned(key, rule).map(|(x, _)| x)
    }

    fn required_with(&mut self, key: &str, rule: Rule, help: &str) -> Option<f64> {
        match self.optional(key, rule, help) {
            Field::Present(x, _) => Some(x),
            Field::Absent => {
                self.missing(key);
                None
            }
            Field::Invalid => None,
        }
    }

    fn required_spanned(&mut self, key: &str, rule: Rule) -> Option<(f64, Span)> {
        match self.optional(key, rule, "") {
            Field::Present(x, span) => Some((x, span)),
            Field::Absent => {
                self.missing(key);
                None
            }
            Field::Invalid => None,
        }
    }

    fn missing(&mut self, key: &str) {
        let name = self.distribution;
        let help = format!(
            "add e.g. `{key} = {}`; {name} takes {}",
            example(key),
            signature(name)
        );
        self.reader.missing(self.table, key, help);
    }

    /// A number obeying `rule`; `help` overrides the default range help.
    fn optional(&mut self, key: &str, rule: Rule, help: &str) -> Field<f64> {
        let example = format!("{key} = {}", example(key));
        let (x, span) = match self.reader.number(self.table, key, &example) {
            Field::Present(x, span) => (x, span),
            Field::Absent => return Field::Absent,
            Field::Invalid => return Field::Invalid,
        };
        let bad = match rule {
            Rule::Finite => None,
            Rule::NonNegative => (x < 0.0).then_some(">= 0"),
            Rule::Positive => (x <= 0.0).then_some("> 0"),
        };
        if let Some(expected) = bad {
            let help = if help.is_empty() {
                let zero = if matches!(rule, Rule::NonNegative) {
                    " (zero is allowed)"
                } else {
                    ""
                };
                format!("use a value {expected}{zero}, e.g. `{example}` (latencies are in seconds)")
            } else {
                help.to_owned()
            };
            let found = self.reader.snippet(&span);
            self.reader.error(
                &span,
                self.table.key(key),
                ErrorKind::InvalidValue,
                format!("must be {expected}, found {found}"),
                help,
            );
            return Field::Invalid;
        }
        Field::Present(x, span)
    }

    /// Two parameterisations that exclude each other: returns `true` if the
    /// table mixes them (and records the error at the first key of `second`).
    fn mixes(&mut self, first: &[&str], second: &[&str], help: &str) -> bool {
        let table = self.table;
        let (Some(a), Some(b)) = (
            first.iter().find(|k| table.has(k)),
            second.iter().find(|k| table.has(k)),
        ) else {
            return false;
        };
        let Some(span) = table.get(b).map(|v| v.span()) else {
            return false;
        };
        self.reader.error(
            &span,
            table.key(b),
            ErrorKind::InvalidValue,
            format!(
                "give either `{}`, or `{}`, not both (found `{a}` and `{b}`)",
                first.join("` and `"),
                second.join("` and `")
            ),
            help,
        );
        true
    }

    /// `low, high` or `mean, width` (a sweepable width at a fixed mean).
    fn uniform(&mut self) -> Option<Distribution> {
        let table = self.table;
        if self.mixes(
            &["low", "high"],
            &["mean", "width"],
            "remove one pair (mean and width give low = mean - width / 2, high = mean + width / 2)",
        ) {
            return None;
        }
        if table.has("mean") || table.has("width") {
            let mean = self.required_spanned("mean", Rule::NonNegative);
            let width = self.required_spanned("width", Rule::NonNegative);
            let ((mean, _), (width, width_span)) = (mean?, width?);
            let low = mean - width / 2.0;
            if low < 0.0 {
                self.reader.error(
                    &width_span,
                    table.key("width"),
                    ErrorKind::InvalidValue,
                    format!(
                        "must be at most 2 * {} ({}), found {width}: the low end would be negative",
                        table.key("mean"),
                        2.0 * mean
                    ),
                    "latencies cannot be negative: narrow the width or raise the mean",
                );
                return None;
            }
            return Some(Distribution::Uniform {
                low,
                high: mean + width / 2.0,
            });
        }
        let low = self.required("low", Rule::NonNegative);
        let high = self.required_spanned("high", Rule::NonNegative);
        let (low, (high, high_span)) = (low?, high?);
        if low > high {
            self.reader.error(
                &high_span,
                table.key("high"),
                ErrorKind::InvalidValue,
                format!(
                    "{} ({high}) must be >= {} ({low})",
                    table.key("high"),
                    table.key("low")
                ),
                "swap low and high, or make them equal for a constant latency",
            );
            return None;
        }
        Some(Distribution::Uniform { low, high })
    }

    /// `mu, sigma`, `median, p99`, or `mean, sigma` (a sweepable spread at a
    /// fixed mean: `mu = ln(mean) - sigma^2 / 2`).
    fn lognormal(&mut self) -> Option<Distribution> {
        let table = self.table;
        if self.mixes(
            &["mu"],
            &["mean"],
            "remove one: with `mean`, mu is derived as ln(mean) - sigma^2 / 2",
        ) || self.mixes(
            &["median", "p99"],
            &["mean"],
            "remove one parameterisation: `median` and `p99`, or `mean` and `sigma`",
        ) {
            return None;
        }
        if table.has("mean") {
            let mean = self.required("mean", Rule::Positive);
            let sigma = self.required("sigma", Rule::NonNegative);
            let (mean, sigma) = (mean?, sigma?);
            return Some(Distribution::LogNormal {
                mu: mean.ln() - sigma * sigma / 2.0,
                sigma,
            });
        }
        let by_mu = table.has("mu") || table.has("sigma");
        let by_median = table.has("median") || table.has("p99");
        if by_mu && by_median {
            let key = ["median", "p99"].into_iter().find(|k| table.has(k))?;
            let span = table.get(key)?.span();
            self.reader.error(
                &span,
                table.key(key),
                ErrorKind::InvalidValue,
                "give either `mu` and `sigma`, or `median` and `p99`, not both",
                "remove one pair (median and p99 are converted to mu = ln(median), \
                 sigma = (ln(p99) - mu) / 2.3263478740408408)",
            );
            return None;
        }
        if by_median {
            let median = self.required_spanned("median", Rule::Positive);
            let p99 = self.required_spanned("p99", Rule::Positive);
            let ((median, _), (p99, p99_span)) = (median?, p99?);
            if p99 < median {
                self.reader.error(
                    &p99_span,
                    table.key("p99"),
                    ErrorKind::InvalidValue,
                    format!(
                        "{} ({p99}) must be >= {} ({median})",
                        table.key("p99"),
                        table.key("median")
                    ),
                    "the 99th percentile cannot be below the median: swap them?",
                );
                return None;
            }
            let mu = median.ln();
            let sigma = (p99.ln() - mu) / Z_99;
            return Some(Distribution::LogNormal { mu, sigma });
        }
        let mu = self.required("mu", Rule::Finite);
        let sigma = self.required("sigma", Rule::NonNegative);
        Some(Distribution::LogNormal {
            mu: mu?,
            sigma: sigma?,
        })
    }

    /// `scale, shape`, or `mean, shape` with `shape > 1` (a sweepable tail
    /// at a fixed mean: `scale = mean * (shape - 1) / shape`).
    fn pareto(&mut self) -> Option<Distribution> {
        let table = self.table;
        if self.mixes(
            &["scale"],
            &["mean"],
            "remove one: with `mean`, the scale is derived as mean * (shape - 1) / shape",
        ) {
            return None;
        }
        if table.has("mean") {
            let mean = self.required("mean", Rule::Positive);
            let shape = self.required_spanned("shape", Rule::Positive);
            let (mean, (shape, span)) = (mean?, shape?);
            if shape <= 1.0 {
                self.reader.error(
                    &span,
                    table.key("shape"),
                    ErrorKind::InvalidValue,
                    format!("must be > 1 when `mean` is given, found {shape}"),
                    "a Pareto with shape <= 1 has an infinite mean; give `scale` instead of \
                     `mean`, or raise the shape",
                );
                return None;
            }
            return Some(Distribution::Pareto {
                scale: mean * (shape - 1.0) / shape,
                shape,
            });
        }
        let scale = self.required("scale", Rule::Positive);
        let shape = self.required("shape", Rule::Positive);
        Some(Distribution::Pareto {
            scale: scale?,
            shape: shape?,
        })
    }

    /// `mean` or `rate`.
    fn exponential(&mut self) -> Option<Distribution> {
        let table = self.table;
        match (table.has("mean"), table.has("rate")) {
            (true, true) => {
                let span = table.get("rate")?.span();
                self.reader.error(
                    &span,
                    table.key("rate"),
                    ErrorKind::InvalidValue,
                    "give either `mean` or `rate`, not both",
                    "remove one of them (mean = 1 / rate)",
                );
                None
            }
            (false, true) => {
                let (rate, span) = self.required_spanned("rate", Rule::Positive)?;
                let mean = 1.0 / rate;
                if !mean.is_finite() {
                    self.reader.error(
                        &span,
                        table.key("rate"),
                        ErrorKind::InvalidValue,
                        format!("is too small: the mean 1 / rate is infinite, found {rate}"),
                        "use a larger rate (requests per second), e.g. `rate = 10.0`",
                    );
                    return None;
                }
                Some(Distribution::Exponential { mean })
            }
            _ => Some(Distribution::Exponential {
                mean: self.required("mean", Rule::Positive)?,
            }),
        }
    }
}

/// Whose draws [`check_draws`] checks.
#[derive(Clone, Copy, Debug)]
pub(super) enum Draws {
    /// The run's own: the first [`CHECKED_DRAWS`] at the scenario's `seed`,
    /// exactly those its first requests take; a bad draw past `requests`
    /// is one no run makes.
    Run {
        /// The scenario's seed.
        seed: u64,
        /// The scenario's requests.
        requests: u64,
    },
    /// A mixture component's own [`CHECKED_DRAWS`], from
    /// [`COMPONENT_SEED`]: a component of weight 0.001 is picked about
    /// once in the mixture's first draws, so a tail that draws past
    /// [`MAX_LATENCY_S`] now and then slipped through them and failed the
    /// run part-way (found by a hostile-input pass).
    Component,
}

/// The seed of a mixture component's own checked draws. Fixed: the check
/// judges the parameters, whatever the scenario's seed, and never touches
/// the streams the run draws from.
const COMPONENT_SEED: u64 = 0;

/// Checks `d`, read from `table`, by drawing: a draw that is no latency
/// (beyond [`MAX_LATENCY_S`], infinite, NaN) is recorded at the table's
/// `distribution`, and a `mean` that the draws cannot come near at its
/// `mean`. Returns whether `d` passed.
pub(super) fn check_draws(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    d: &Distribution,
    draws: Draws,
) -> bool {
    let span = table
        .get("distribution")
        .map_or(table.span.clone(), |v| v.span());
    let source = LatencySource::Distribution(d.clone());
    let seed = match draws {
        Draws::Run { seed, .. } => seed,
        Draws::Component => COMPONENT_SEED,
    };
    const LIGHTER: &str = "use a lighter tail (a larger Pareto `shape`, a smaller lognormal \
                           `sigma`) or a smaller scale";
    match (latency::workload(&source, seed, CHECKED_DRAWS), draws) {
        (Err(LatencyError::BadSample { request, .. }), Draws::Run { requests, .. })
            if request >= requests =>
        {
            true
        }
        (Err(e @ LatencyError::BadSample { .. }), Draws::Run { .. }) => {
            reader.error(
                &span,
                table.path.clone(),
                ErrorKind::InvalidValue,
                e.to_string(),
                LIGHTER,
            );
            false
        }
        (Err(LatencyError::BadSample { request, value, .. }), Draws::Component) => {
            reader.error(
                &span,
                table.path.clone(),
                ErrorKind::InvalidValue,
                format!(
                    "this component's {} drew {} in draw {} of the {CHECKED_DRAWS} it is \
                     checked with on its own, which is not a latency between 0 and {} s \
                     (about 115 days): however rarely the mixture picks it, a long enough run \
                     would",
                    d.describe(),
                    readable(value),
                    request + 1,
                    readable(MAX_LATENCY_S),
                ),
                format!("{LIGHTER} for this component, or remove it"),
            );
            false
        }
        (Ok(values), _)
            if let Some(mean) = table.get("mean")
                && let Some(average) = unreachable_mean(&values, d.mean()) =>
        {
            // A mean asked for but carried by draws too rare for any run
            // (lognormal mean 0.15 with sigma 30 draws about 1e-156 s:
            // every duration 0, found by a hostile-input pass).
            reader.error(
                &mean.span(),
                table.key("mean"),
                ErrorKind::InvalidValue,
                format!(
                    "this distribution cannot come near its mean of {} s: its first {} draws \
                     average {} s",
                    three_digits(d.mean()),
                    CHECKED_DRAWS,
                    three_digits(average)
                ),
                "nearly all of its mean lies in draws too rare for any run to see: use a \
                 smaller lognormal `sigma` or a Pareto `shape` further above 1",
            );
            false
        }
        _ => true,
    }
}

/// The average of `draws` (the first [`CHECKED_DRAWS`] of a scenario), if
/// it is below a thousandth of `mean`, the distribution's own: a mean that
/// runs of any realistic size cannot reach. Heavy tails a run can show (a
/// Pareto of shape 1.1, a lognormal of sigma 3) stay well above.
fn unreachable_mean(draws: &[f64], mean: f64) -> Option<f64> {
    if !(mean.is_finite() && mean > 0.0) {
        return None;
    }
    let average = crate::metrics::mean(draws);
    (average < mean * 1e-3).then_some(average)
}

/// `x` to three significant digits, as [`readable`] writes numbers.
fn three_digits(x: f64) -> String {
    readable(format!("{x:.2e}").parse().unwrap_or(x))
}

/// How to write `table`'s components: `[[latency.components]]` at the top,
/// `[[latency.components.components]]` inside a component (TOML's header
/// for a table array in the last table of another; it was the top level's
/// whatever the depth, found by a review).
fn components_help(table: &Table<'_, '_>) -> String {
    let mut header = String::new();
    let mut skip = false;
    for c in table.key("components").chars() {
        match c {
            '[' => skip = true,
            ']' => skip = false,
            c if !skip => header.push(c),
            _ => {}
        }
    }
    format!(
        "write one [[{header}]] table per component, e.g.\n[[{header}]]\nweight = 0.9\n\
         distribution = \"uniform\"\nlow = 0.1\nhigh = 0.2"
    )
}

/// `components`: an array of tables, each a weight plus a distribution.
fn read_mixture(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    depth: usize,
) -> Option<Distribution> {
    let help = components_help(table);
    let (items, span) = match reader.array(table, "components", &help) {
        Field::Present(items, span) => (items, span),
        Field::Absent => {
            reader.missing(table, "components", &help);
            return None;
        }
        Field::Invalid => return None,
    };
    if items.is_empty() {
        reader.error(
            &span,
            table.key("components"),
            ErrorKind::InvalidValue,
            "a mixture needs at least one component, found none",
            &help,
        );
        return None;
    }
    let mut components = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let path = format!("{}[{index}]", table.key("components"));
        let DeValue::Table(map) = item.get_ref() else {
            let found = reader.found(item);
            reader.error(
                &item.span(),
                path,
                ErrorKind::WrongType,
                format!("expected a component table, found {found}"),
                &help,
            );
            ok = false;
            continue;
        };
        let component = Table {
            map,
            span: item.span(),
            path,
        };
        let weight = match reader.number(&component, "weight", "weight = 1.0") {
            Field::Present(w, span) if w <= 0.0 => {
                let found = reader.snippet(&span);
                reader.error(
                    &span,
                    component.key("weight"),
                    ErrorKind::InvalidValue,
                    format!("must be > 0, found {found}"),
                    "give every component a positive weight (weights are normalised by \
                     their sum); remove a component instead of giving it weight 0",
                );
                None
            }
            Field::Present(w, _) => Some(w),
            Field::Absent => {
                reader.missing(
                    &component,
                    "weight",
                    "add e.g. `weight = 1.0` (weights are normalised by their sum)",
                );
                None
            }
            Field::Invalid => None,
        };
        let distribution = read_distribution(reader, &component, depth + 1, &["weight"]);
        match (weight, distribution) {
            (Some(w), Some(Parsed::Distribution(d)))
                if check_draws(reader, &component, &d, Draws::Component) =>
            {
                components.push((w, d));
            }
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    match Distribution::mixture(components) {
        Ok(d) => Some(d),
        Err(e) => {
            let problem = match e {
                LatencyError::MixtureWeights { sum } => {
                    format!(
                        "the weights sum to {}, which cannot be normalised",
                        readable(sum)
                    )
                }
                e => e.to_string().trim_start_matches("mixture: ").to_owned(),
            };
            reader.error(
                &span,
                table.key("components"),
                ErrorKind::InvalidValue,
                format!("invalid mixture: {problem}"),
                "use moderate positive weights (they are normalised by their sum)",
            );
            None
        }
    }
}

/// `distribution = "trace"`: `path` and `wrap`; loads the file, unless
/// `loaded` was loaded from it (then shares its values).
fn read_trace(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    base: &Path,
    loaded: Option<&Trace>,
) -> Option<LatencySource> {
    let wrap = match reader.boolean(table, "wrap") {
        Field::Present(wrap, _) => Some(wrap),
        Field::Absent => Some(false),
        Field::Invalid => None,
    };
    let (path, span) = match reader.string(table, "path", "path = \"traces/latency.txt\"") {
        Field::Present(path, span) => (path, span),
        Field::Absent => {
            reader.missing(
                table,
                "path",
                "add e.g. `path = \"traces/latency.txt\"` (relative to the scenario file's \
                 directory; one latency in seconds per line, optionally gzip-compressed)",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    if path.trim().is_empty() {
        reader.error(
            &span,
            table.key("path"),
            ErrorKind::InvalidValue,
            "must not be empty",
            "give the trace file, e.g. `path = \"traces/latency.txt\"`",
        );
        return None;
    }
    let wrap = wrap?;
    // Don't read files for a scenario that is already invalid.
    if reader.has_errors() {
        return None;
    }
    let full = base.join(&path);
    if let Some(trace) = loaded.filter(|t| t.path() == full) {
        return Some(LatencySource::Trace(
            trace.clone().with_wrap(wrap).with_label(&path),
        ));
    }
    match Trace::load(&full) {
        Ok(trace) => Some(LatencySource::Trace(
            trace.with_wrap(wrap).with_label(&path),
        )),
        Err(e) => {
            let help = trace_help(&e, base);
            reader.error(
                &span,
                table.key("path"),
                ErrorKind::Trace,
                e.to_string(),
                help,
            );
            None
        }
    }
}

fn trace_help(error: &LatencyError, base: &Path) -> String {
    let dir = if base.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        base.display().to_string()
    };
    match error {
        LatencyError::TraceOpen { .. } => format!(
            "the path is relative to the scenario file's directory ({dir}); check that the \
             file exists and is readable"
        ),
        LatencyError::TraceLine { line, .. } => format!(
            "fix or remove line {line} of the trace: one latency in seconds per line, \
             lines starting with `#` are comments"
        ),
        LatencyError::TraceRead { gzip: true, .. } => {
            "the file starts with the gzip magic bytes but does not decompress: \
             re-create it with `gzip`, or store it uncompressed"
                .to_owned()
        }
        LatencyError::TraceTrailing { path, offset, .. } => format!(
            "something was appended to the compressed file: keep only the gzip stream \
             (`head -c {offset} {file} > fixed.gz`), or re-create the file with `gzip`",
            file = path.display()
        ),
        LatencyError::TraceEncoding {
            path,
            encoding,
            gzip,
            marked,
        } => {
            let file = path.display();
            // `iconv -f UTF-16` reads the byte-order mark; `UTF-16LE` would
            // copy it into the output. Without a mark, `UTF-16` is read as
            // big-endian: name the byte order.
            let from = if *marked { &encoding[..6] } else { encoding };
            let convert = if *gzip {
                format!("gunzip -c {file} | iconv -f {from} -t UTF-8 > latencies.txt")
            } else {
                format!("iconv -f {from} -t UTF-8 {file} > latencies.txt")
            };
            format!("save it as UTF-8, e.g. `{convert}`, and point `path` at the new file")
        }
        LatencyError::TraceEmpty { .. } => {
            "add one latency in seconds per line (lines starting with `#` are comments)".to_owned()
        }
        _ => "check the trace file: one latency in seconds per line".to_owned(),
    }
}
