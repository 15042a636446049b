//! Parametric latency distributions: validation, sampling and analytic moments.

use std::fmt::Write as _;

use rand::Rng;
use rand_distr::Distribution as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::LatencyError;
use super::special::{ln_gamma, normal_cdf_nonneg, normal_pdf};

/// The largest number of draws the truncated normal makes before giving up.
///
/// Validation requires `mean >= 0`, so each draw is accepted with probability at
/// least 1/2 and this bound is never reached in practice (2^-10000).
const MAX_NORMAL_DRAWS: u32 = 10_000;

/// How far the weights of a [`Distribution::Mixture`] may sum away from 1.
const WEIGHT_SUM_TOLERANCE: f64 = 1e-9;

/// How deeply mixtures may be nested inside mixtures.
pub const MAX_MIXTURE_DEPTH: usize = 8;

/// A latency distribution, in seconds.
///
/// Every variant is validated by [`Distribution::validate`] (which
/// [`workload`](super::workload) calls): all parameters must be finite, and
/// the distribution must never produce a negative latency. Zero is a valid
/// latency (the engine models `asyncio.sleep(0)`).
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// Always `value` (`value >= 0`).
    Constant {
        /// The latency.
        value: f64,
    },
    /// Uniform on `[low, high)`, drawn exactly like Python's
    /// `random.uniform(low, high)`: `low + (high - low) * u` with `u` made from
    /// 53 random bits (`0 <= low <= high`).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal truncated at 0: negative draws are rejected and redrawn from the
    /// same stream (`mean >= 0`, `std_dev >= 0`). `mean` and `std_dev` are the
    /// parameters of the untruncated normal.
    Normal {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        std_dev: f64,
    },
    /// `exp(N(mu, sigma^2))` (`sigma >= 0`).
    LogNormal {
        /// Mean of the underlying normal (the log of the median).
        mu: f64,
        /// Standard deviation of the underlying normal.
        sigma: f64,
    },
    /// Exponential with the given mean (`mean > 0`).
    Exponential {
        /// The mean, i.e. `1 / rate`.
        mean: f64,
    },
    /// Gamma with shape `k` and scale `theta` (both `> 0`); mean `k * theta`.
    Gamma {
        /// Shape `k`.
        shape: f64,
        /// Scale `theta`.
        scale: f64,
    },
    /// Weibull with scale `lambda` and shape `k` (both `> 0`).
    Weibull {
        /// Scale `lambda`.
        scale: f64,
        /// Shape `k`.
        shape: f64,
    },
    /// Pareto (type I) with minimum `scale` and tail index `shape` (both `> 0`).
    Pareto {
        /// Scale: the smallest possible value.
        scale: f64,
        /// Shape (tail index): the mean is infinite for `shape <= 1` and the
        /// standard deviation for `shape <= 2`.
        shape: f64,
    },
    /// A mixture: one uniform draw picks a component according to its weight,
    /// then the component is drawn from the same stream. Weights are
    /// normalised (positive, summing to 1); build one with
    /// [`Distribution::mixture`] to normalise arbitrary positive weights.
    Mixture(Vec<(f64, Distribution)>),
}

/// A uniform `f64` in `[0, 1)` from the top 53 bits of one `u64`.
#[inline]
pub(crate) fn unit_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

impl Distribution {
    /// The distribution's name as used in scenario files (`"uniform"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Constant { .. } => "constant",
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::LogNormal { .. } => "lognormal",
            Distribution::Exponential { .. } => "exponential",
            Distribution::Gamma { .. } => "gamma",
            Distribution::Weibull { .. } => "weibull",
            Distribution::Pareto { .. } => "pareto",
            Distribution::Mixture(_) => "mixture",
        }
    }

    /// Builds a mixture from `(weight, component)` pairs, normalising the
    /// weights by their sum.
    ///
    /// # Errors
    ///
    /// No components, a weight that is not finite and `> 0`, or an invalid
    /// component.
    pub fn mixture(components: Vec<(f64, Distribution)>) -> Result<Distribution, LatencyError> {
        if components.is_empty() {
            return Err(LatencyError::EmptyMixture);
        }
        let mut sum = 0.0;
        for (i, (weight, component)) in components.iter().enumerate() {
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(invalid(
                    "mixture",
                    format!("components[{i}].weight"),
                    "finite and > 0",
                    *weight,
                ));
            }
            component.validate()?;
            sum += weight;
        }
        if !sum.is_finite() {
            return Err(LatencyError::MixtureWeights { sum });
        }
        let dist = Distribution::Mixture(
            components
                .into_iter()
                .map(|(weight, component)| (weight / sum, component))
                .collect(),
        );
        dist.validate()?;
        Ok(dist)
    }

    /// Checks that every parameter is in range (see each variant).
    ///
    /// # Errors
    ///
    /// [`LatencyError::InvalidParameter`], [`LatencyError::EmptyMixture`],
    /// [`LatencyError::MixtureWeights`] or [`LatencyError::MixtureTooDeep`].
    pub fn validate(&self) -> Result<(), LatencyError> {
        self.validate_at_depth(0)
    }

    fn validate_at_depth(&self, depth: usize) -> Result<(), LatencyError> {
        let name = self.name();
        match *self {
            Distribution::Constant { value } => non_negative(name, "value", value),
            Distribution::Uniform { low, high } => {
                non_negative(name, "low", low)?;
                non_negative(name, "high", high)?;
                if low > high {
                    return Err(invalid(
                        name,
                        "high".to_owned(),
                        format!(">= low ({})", num(low)),
                        high,
                    ));
                }
                Ok(())
            }
            Distribution::Normal { mean, std_dev } => {
                non_negative(name, "mean", mean)?;
                non_negative(name, "std_dev", std_dev)
            }
            Distribution::LogNormal { mu, sigma } => {
                finite(name, "mu", mu)?;
                non_negative(name, "sigma", sigma)
            }
            Distribution::Exponential { mean } => positive(name, "mean", mean),
            Distribution::Gamma { shape, scale } => {
                positive(name, "shape", shape)?;
                positive(name, "scale", scale)
            }
            Distribution::Weibull { scale, shape } | Distribution::Pareto { scale, shape } => {
                positive(name, "scale", scale)?;
                positive(name, "shape", shape)
            }
            Distribution::Mixture(ref components) => {
                if depth >= MAX_MIXTURE_DEPTH {
                    return Err(LatencyError::MixtureTooDeep {
                        max: MAX_MIXTURE_DEPTH,
                    });
                }
                if components.is_empty() {
                    return Err(LatencyError::EmptyMixture);
                }
                let mut sum = 0.0;
                for (i, (weight, component)) in components.iter().enumerate() {
                    if !(weight.is_finite() && *weight > 0.0) {
                        return Err(invalid(
                            name,
                            format!("components[{i}].weight"),
                            "finite and > 0",
                            *weight,
                        ));
                    }
                    sum += weight;
                    component.validate_at_depth(depth + 1)?;
                }
                if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
                    return Err(LatencyError::MixtureWeights { sum });
                }
                Ok(())
            }
        }
    }

    /// Draws one latency.
    ///
    /// The number of random words consumed depends on the distribution (the
    /// truncated normal may redraw). For an invalid distribution (see
    /// [`Distribution::validate`]) this returns NaN rather than panicking.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match Sampler::new(self) {
            Ok(sampler) => sampler.sample(rng),
            Err(_) => f64::NAN,
        }
    }

    /// The analytic mean; `f64::INFINITY` where it is undefined or infinite
    /// (Pareto with `shape <= 1`). NaN for an invalid distribution.
    pub fn mean(&self) -> f64 {
        self.moments().0
    }

    /// The analytic standard deviation; `f64::INFINITY` where it is undefined
    /// or infinite (Pareto with `shape <= 2`). NaN for an invalid distribution.
    pub fn std_dev(&self) -> f64 {
        self.moments().1
    }

    /// `(mean, standard deviation)`.
    fn moments(&self) -> (f64, f64) {
        if self.validate().is_err() {
            return (f64::NAN, f64::NAN);
        }
        match *self {
            Distribution::Constant { value } => (value, 0.0),
            Distribution::Uniform { low, high } => {
                (low + (high - low) / 2.0, (high - low) / 12.0_f64.sqrt())
            }
            Distribution::Normal { mean, std_dev } => truncated_normal_moments(mean, std_dev),
            Distribution::LogNormal { mu, sigma } => {
                let s2 = sigma * sigma;
                let mean = (mu + s2 / 2.0).exp();
                let var = s2.exp_m1() * (2.0 * mu + s2).exp();
                (mean, var.sqrt())
            }
            Distribution::Exponential { mean } => (mean, mean),
            Distribution::Gamma { shape, scale } => (shape * scale, shape.sqrt() * scale),
            Distribution::Weibull { scale, shape } => {
                let g1 = ln_gamma(1.0 + 1.0 / shape).exp();
                let g2 = ln_gamma(1.0 + 2.0 / shape).exp();
                let mean = scale * g1;
                if !mean.is_finite() {
                    return (f64::INFINITY, f64::INFINITY);
                }
                if !g2.is_finite() {
                    return (mean, f64::INFINITY);
                }
                let var = scale * scale * (g2 - g1 * g1).max(0.0);
                (mean, var.sqrt())
            }
            Distribution::Pareto { scale, shape } => {
                let mean = if shape > 1.0 {
                    shape * scale / (shape - 1.0)
                } else {
                    f64::INFINITY
                };
                let std_dev = if shape > 2.0 {
                    scale / (shape - 1.0) * (shape / (shape - 2.0)).sqrt()
                } else {
                    f64::INFINITY
                };
                (mean, std_dev)
            }
            Distribution::Mixture(ref components) => {
                let moments: Vec<(f64, f64, f64)> = components
                    .iter()
                    .map(|(w, c)| {
                        let (m, s) = c.moments();
                        (*w, m, s)
                    })
                    .collect();
                let mean: f64 = moments.iter().map(|(w, m, _)| w * m).sum();
                if !mean.is_finite() {
                    return (f64::INFINITY, f64::INFINITY);
                }
                let var: f64 = moments
                    .iter()
                    .map(|(w, m, s)| w * (s * s + (m - mean) * (m - mean)))
                    .sum();
                (mean, var.sqrt())
            }
        }
    }

    /// A one-line description such as `uniform(0.1, 0.2)`.
    ///
    /// Parameters appear in the order of the variant's fields; a mixture is
    /// written `mixture(0.9 * uniform(0.1, 0.2), 0.1 * constant(1.0))`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        self.describe_into(&mut out);
        out
    }

    fn describe_into(&self, out: &mut String) {
        let name = self.name();
        // Writing to a String cannot fail.
        let _ = match *self {
            Distribution::Constant { value } => write!(out, "{name}({})", num(value)),
            Distribution::Uniform { low: a, high: b }
            | Distribution::Normal {
                mean: a,
                std_dev: b,
            }
            | Distribution::LogNormal { mu: a, sigma: b }
            | Distribution::Gamma { shape: a, scale: b }
            | Distribution::Weibull { scale: a, shape: b }
            | Distribution::Pareto { scale: a, shape: b } => {
                write!(out, "{name}({}, {})", num(a), num(b))
            }
            Distribution::Exponential { mean } => write!(out, "{name}({})", num(mean)),
            Distribution::Mixture(ref components) => {
                out.push_str("mixture(");
                for (i, (weight, component)) in components.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&num(*weight));
                    out.push_str(" * ");
                    component.describe_into(out);
                }
                out.push(')');
                Ok(())
            }
        };
    }

    /// The parameters as `(name, value)` pairs, in field order (empty for a
    /// mixture).
    pub fn parameters(&self) -> Vec<(&'static str, f64)> {
        match *self {
            Distribution::Constant { value } => vec![("value", value)],
            Distribution::Uniform { low, high } => vec![("low", low), ("high", high)],
            Distribution::Normal { mean, std_dev } => vec![("mean", mean), ("std_dev", std_dev)],
            Distribution::LogNormal { mu, sigma } => vec![("mu", mu), ("sigma", sigma)],
            Distribution::Exponential { mean } => vec![("mean", mean)],
            Distribution::Gamma { shape, scale } => vec![("shape", shape), ("scale", scale)],
            Distribution::Weibull { scale, shape } | Distribution::Pareto { scale, shape } => {
                vec![("scale", scale), ("shape", shape)]
            }
            Distribution::Mixture(_) => Vec::new(),
        }
    }

    /// Writes `distribution`, the parameters (or `components`) into `map`.
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("distribution", self.name())?;
        for (key, value) in self.parameters() {
            map.serialize_entry(key, &value)?;
        }
        if let Distribution::Mixture(components) = self {
            map.serialize_entry("components", &Components(components))?;
        }
        Ok(())
    }
}

/// Serialises as a map: `distribution` (the name), the parameters by name (or
/// `components`, each with its `weight`), and `description` (see
/// [`Distribution::describe`]).
impl Serialize for Distribution {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.serialize_fields(&mut map)?;
        map.serialize_entry("description", &self.describe())?;
        map.end()
    }
}

/// Serialises mixture components as a sequence of maps with a `weight`.
struct Components<'a>(&'a [(f64, Distribution)]);

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (weight, component) in self.0 {
            seq.serialize_element(&Component(*weight, component))?;
        }
        seq.end()
    }
}

/// One weighted mixture component.
struct Component<'a>(f64, &'a Distribution);

impl Serialize for Component<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("weight", &self.0)?;
        self.1.serialize_fields(&mut map)?;
        map.end()
    }
}

/// Formats a parameter: shortest round-trip form, exponent for extremes.
pub(crate) fn num(x: f64) -> String {
    format!("{x:?}")
}

/// Formats a number for a message: whole numbers as such (`500`), an
/// exponent from a million up or below 1e-4 (`1e150`, `1.5e7`), else the
/// shortest round-trip form (`0.15`).
pub(crate) fn readable(x: f64) -> String {
    let a = x.abs();
    if x.is_finite() && (a >= 1e6 || (a > 0.0 && a < 1e-4)) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn invalid(
    distribution: &'static str,
    parameter: String,
    expected: impl Into<String>,
    found: f64,
) -> LatencyError {
    LatencyError::InvalidParameter {
        distribution,
        parameter,
        expected: expected.into(),
        found,
    }
}

fn finite(d: &'static str, p: &'static str, x: f64) -> Result<(), LatencyError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(invalid(d, p.to_owned(), "finite", x))
    }
}

fn non_negative(d: &'static str, p: &'static str, x: f64) -> Result<(), LatencyError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(invalid(d, p.to_owned(), "finite and >= 0", x))
    }
}

fn positive(d: &'static str, p: &'static str, x: f64) -> Result<(), LatencyError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(invalid(d, p.to_owned(), "finite and > 0", x))
    }
}

/// Mean and standard deviation of `N(mean, std_dev^2)` truncated to `[0, inf)`.
fn truncated_normal_moments(mean: f64, std_dev: f64) -> (f64, f64) {
    if std_dev == 0.0 {
        return (mean, 0.0);
    }
    // alpha = (0 - mean) / std_dev <= 0; Z = 1 - Phi(alpha) = Phi(-alpha).
    let alpha = -mean / std_dev;
    let z = normal_cdf_nonneg(-alpha);
    let lambda = normal_pdf(alpha) / z;
    let m = mean + std_dev * lambda;
    let var = std_dev * std_dev * (1.0 + alpha * lambda - lambda * lambda);
    (m, var.max(0.0).sqrt())
}

/// A validated distribution with its `rand_distr` samplers built once.
#[derive(Clone, Debug)]
pub(crate) enum Sampler {
    Constant(f64),
    Uniform {
        low: f64,
        span: f64,
    },
    Normal {
        normal: rand_distr::Normal<f64>,
        mean: f64,
    },
    LogNormal(rand_distr::LogNormal<f64>),
    Exponential {
        mean: f64,
    },
    Gamma(rand_distr::Gamma<f64>),
    Weibull(rand_distr::Weibull<f64>),
    Pareto(rand_distr::Pareto<f64>),
    /// `(cumulative weight, sampler)`; the last cumulative weight is 1.
    Mixture(Vec<(f64, Sampler)>),
}

impl Sampler {
    /// Validates `dist` and builds its samplers.
    pub(crate) fn new(dist: &Distribution) -> Result<Sampler, LatencyError> {
        dist.validate()?;
        Self::build(dist)
    }

    fn build(dist: &Distribution) -> Result<Sampler, LatencyError> {
        let name = dist.name();
        let rejected = |what: &str| LatencyError::InvalidParameter {
            distribution: name,
            parameter: what.to_owned(),
            expected: "a value rand_distr accepts".to_owned(),
            found: f64::NAN,
        };
        Ok(match *dist {
            Distribution::Constant { value } => Sampler::Constant(value),
            Distribution::Uniform { low, high } => Sampler::Uniform {
                low,
                span: high - low,
            },
            Distribution::Normal { mean, std_dev } => Sampler::Normal {
                normal: rand_distr::Normal::new(mean, std_dev).map_err(|_| rejected("std_dev"))?,
                mean,
            },
            Distribution::LogNormal { mu, sigma } => Sampler::LogNormal(
                rand_distr::LogNormal::new(mu, sigma).map_err(|_| rejected("sigma"))?,
            ),
            Distribution::Exponential { mean } => Sampler::Exponential { mean },
            Distribution::Gamma { shape, scale } => {
                Sampler::Gamma(rand_distr::Gamma::new(shape, scale).map_err(|_| rejected("shape"))?)
            }
            Distribution::Weibull { scale, shape } => Sampler::Weibull(
                rand_distr::Weibull::new(scale, shape).map_err(|_| rejected("shape"))?,
            ),
            Distribution::Pareto { scale, shape } => Sampler::Pareto(
                rand_distr::Pareto::new(scale, shape).map_err(|_| rejected("shape"))?,
            ),
            Distribution::Mixture(ref components) => {
                let mut cumulative = 0.0;
                let mut out = Vec::with_capacity(components.len());
                for (weight, component) in components {
                    cumulative += weight;
                    out.push((cumulative, Self::build(component)?));
                }
                if let Some(last) = out.last_mut() {
                    last.0 = 1.0;
                }
                Sampler::Mixture(out)
            }
        })
    }

    /// Draws one latency.
    #[inline]
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Constant(value) => *value,
            Sampler::Uniform { low, span } => low + span * unit_f64(rng),
            Sampler::Normal { normal, mean } => {
                for _ in 0..MAX_NORMAL_DRAWS {
                    let x = normal.sample(rng);
                    if x >= 0.0 {
                        return x;
                    }
                }
                *mean
            }
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Exponential { mean } => {
                let e: f64 = rand_distr::Exp1.sample(rng);
                e * mean
            }
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Weibull(d) => d.sample(rng),
            Sampler::Pareto(d) => d.sample(rng),
            Sampler::Mixture(components) => {
                let u = unit_f64(rng);
                let chosen = components
                    .iter()
                    .find(|(cumulative, _)| u < *cumulative)
                    .or(components.last());
                match chosen {
                    Some((_, sampler)) => sampler.sample(rng),
                    None => f64::NAN,
                }
            }
        }
    }
}
