//! Request latencies: parametric distributions and recorded traces, and the
//! per-request latency [`workload`] the engine replays.
//!
//! Determinism: request `i`'s latency is drawn from its own ChaCha8 stream
//! (`ChaCha8Rng::seed_from_u64(seed)` then `set_stream(i)`), so it never depends
//! on other requests, on the strategy being simulated, or on threads.

mod distribution;
mod gzip;
mod special;
mod stream;
mod trace;

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub(crate) use distribution::readable;
pub use distribution::{Distribution, MAX_MIXTURE_DEPTH};
pub use trace::Trace;

use distribution::Sampler;
use stream::{LANES, StreamBatch};

/// Where request latencies come from.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencySource {
    /// Drawn from a parametric distribution.
    Distribution(Distribution),
    /// Replayed from a recorded trace.
    Trace(Trace),
}

impl LatencySource {
    /// A one-line description: [`Distribution::describe`] or
    /// [`Trace::describe`].
    pub fn describe(&self) -> String {
        match self {
            LatencySource::Distribution(d) => d.describe(),
            LatencySource::Trace(t) => t.describe(),
        }
    }

    /// The mean latency: analytic for a distribution, empirical for a trace.
    pub fn mean(&self) -> f64 {
        match self {
            LatencySource::Distribution(d) => d.mean(),
            LatencySource::Trace(t) => t.mean(),
        }
    }
}

/// The longest latency bpsim accepts, in seconds (about 115 days). The loop
/// wakes at least once a day of virtual time, as asyncio's select timeout is
/// capped at 24 h, so a longer sleep would only cost idle iterations; a
/// latency of centuries would make a run spin for billions of them.
pub const MAX_LATENCY_S: f64 = 1e7;

/// `0 <= value <= MAX_LATENCY_S` (so never NaN or infinite).
pub(crate) fn is_valid_latency(value: f64) -> bool {
    (0.0..=MAX_LATENCY_S).contains(&value)
}

/// Serialises as the distribution's parameters (or the trace's path, `wrap`,
/// length and mean, never its values) plus `description`.
impl Serialize for LatencySource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            LatencySource::Distribution(d) => d.serialize_fields(&mut map)?,
            LatencySource::Trace(t) => t.serialize_fields(&mut map)?,
        }
        map.serialize_entry("description", &self.describe())?;
        map.end()
    }
}

/// Everything that can go wrong with latencies.
#[derive(Debug, thiserror::Error)]
pub enum LatencyError {
    /// A distribution parameter is out of range.
    #[error("{distribution}: {parameter} must be {expected}, found {found}")]
    InvalidParameter {
        /// The distribution's name (`"uniform"`, ...).
        distribution: &'static str,
        /// The parameter (`"high"`, `"components[1].weight"`, ...).
        parameter: String,
        /// What was expected, e.g. `"finite and > 0"`.
        expected: String,
        /// The offending value.
        found: f64,
    },
    /// A mixture without components.
    #[error("mixture: needs at least one component")]
    EmptyMixture,
    /// Mixture weights that do not sum to 1 (use [`Distribution::mixture`] to
    /// normalise them).
    #[error(
        "mixture: the weights must sum to 1, found {sum} \
         (build it with Distribution::mixture to normalise them)"
    )]
    MixtureWeights {
        /// The sum of the weights.
        sum: f64,
    },
    /// Mixtures nested more deeply than [`MAX_MIXTURE_DEPTH`].
    #[error("mixture: mixtures may be nested at most {max} deep")]
    MixtureTooDeep {
        /// The limit.
        max: usize,
    },
    /// The trace file cannot be opened.
    #[error("{}: cannot open trace file: {source}", path.display())]
    TraceOpen {
        /// The trace file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading the trace file failed part-way (including a truncated or
    /// corrupt gzip stream).
    #[error(
        "{}:{line}: cannot read trace file ({}): {source}",
        path.display(),
        trace::read_hint(*gzip, source)
    )]
    TraceRead {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line being read.
        line: usize,
        /// Whether the file is gzip-compressed.
        gzip: bool,
        /// The I/O or decompression error.
        source: std::io::Error,
    },
    /// A gzip trace decompresses, but bytes that are not gzip follow its
    /// last member (appended text, padding).
    #[error(
        "{}: the gzip stream ends at byte {offset}, but {} after it {} not gzip data \
         (trailing data, not a truncated stream)",
        path.display(),
        crate::report::count(*len as usize, "byte", "bytes"),
        if *len == 1 { "is" } else { "are" }
    )]
    TraceTrailing {
        /// The trace file.
        path: PathBuf,
        /// The length of the gzip stream: where the trailing bytes start.
        offset: u64,
        /// How many trailing bytes there are.
        len: u64,
    },
    /// The trace file is UTF-16 or UTF-32 text (by its byte-order mark), or
    /// looks like UTF-16 text without one, not UTF-8.
    #[error(
        "{}: the file {}; a trace must be UTF-8",
        path.display(),
        if *marked {
            format!("is {encoding} text (it starts with a {encoding} byte-order mark)")
        } else {
            format!(
                "looks like {encoding} text without a byte-order mark (a NUL byte beside \
                 each character of its first line)"
            )
        }
    )]
    TraceEncoding {
        /// The trace file.
        path: PathBuf,
        /// `"UTF-16LE"`, `"UTF-16BE"`, `"UTF-32LE"` or `"UTF-32BE"`
        /// (only UTF-16 without a mark).
        encoding: &'static str,
        /// Whether the file is gzip-compressed (the text inside is).
        gzip: bool,
        /// Whether the file starts with a byte-order mark; without one, the
        /// encoding is guessed from where the first line's NUL bytes are.
        marked: bool,
    },
    /// A line of the trace file is not a valid latency.
    #[error("{}:{line}: {message}", path.display())]
    TraceLine {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// The trace file holds no latencies.
    #[error(
        "{}: trace file contains no latencies (expected one latency in seconds per line)",
        path.display()
    )]
    TraceEmpty {
        /// The trace file.
        path: PathBuf,
    },
    /// More requests than the trace has latencies, without `wrap`.
    #[error(
        "trace {} has {len} latencies but {requests} requests need one each; \
         set `wrap = true` to replay the trace from its start, or use at most {len} requests",
        path.display()
    )]
    TraceTooShort {
        /// The trace file.
        path: PathBuf,
        /// The number of latencies in the trace.
        len: usize,
        /// The number of requests asked for.
        requests: u64,
    },
    /// A draw was not a latency in `[0, MAX_LATENCY_S]` (parameters so
    /// extreme that the sampler overflowed, or a latency of centuries).
    #[error(
        "request {request}: {distribution} drew {}, which is not a latency between 0 and \
         1e7 s (about 115 days); the parameters are too extreme: lower them or make the tail \
         lighter",
        readable(*value)
    )]
    BadSample {
        /// The request index.
        request: u64,
        /// The distribution's description.
        distribution: String,
        /// The draw.
        value: f64,
    },
    /// The latencies for this many requests do not fit in memory.
    #[error("cannot allocate latencies for {requests} requests")]
    TooManyRequests {
        /// The number of requests asked for.
        requests: u64,
    },
}

/// The random stream of request `request`: `ChaCha8Rng::seed_from_u64(seed)`
/// with `set_stream(request)`.
pub fn request_rng(seed: u64, request: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(request);
    rng
}

/// The latency, in seconds, of each of `requests` requests.
///
/// For a distribution, request `i` draws from [`request_rng`]`(seed, i)`, so
/// its latency is independent of every other request. For a trace, request `i`
/// takes line `i` (0-based, comments skipped), or line `i % len` when the
/// trace wraps; `seed` is unused.
///
/// # Errors
///
/// An invalid distribution, a trace shorter than `requests` without `wrap`
/// ([`LatencyError::TraceTooShort`]), a draw that is not finite
/// ([`LatencyError::BadSample`]), or too many requests to allocate.
pub fn workload(
    source: &LatencySource,
    seed: u64,
    requests: u64,
) -> Result<Vec<f64>, LatencyError> {
    let too_many = || LatencyError::TooManyRequests { requests };
    let count = usize::try_from(requests).map_err(|_| too_many())?;
    let mut out: Vec<f64> = Vec::new();
    match source {
        LatencySource::Distribution(dist) => {
            let sampler = Sampler::new(dist)?;
            out.try_reserve_exact(count).map_err(|_| too_many())?;
            let mut batch = StreamBatch::new(seed);
            let mut first = 0u64;
            while first < requests {
                batch.fill(first);
                for (lane, request) in (first..requests).take(LANES).enumerate() {
                    let value = sampler.sample(&mut batch.rng(lane));
                    if !is_valid_latency(value) {
                        return Err(LatencyError::BadSample {
                            request,
                            distribution: dist.describe(),
                            value,
                        });
                    }
                    out.push(value);
                }
                first = first.saturating_add(LANES as u64);
            }
        }
        LatencySource::Trace(trace) => {
            let values = trace.values();
            if values.is_empty() || (!trace.wrap() && count > values.len()) {
                return Err(LatencyError::TraceTooShort {
                    path: trace.path().to_path_buf(),
                    len: values.len(),
                    requests,
                });
            }
            out.try_reserve_exact(count).map_err(|_| too_many())?;
            out.extend(values.iter().copied().cycle().take(count));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
