//! Scenario files: TOML descriptions of one experiment, loaded into a
//! validated [`Scenario`].
//!
//! ```toml
//! # scenarios/blog.toml: the blog's experiment
//! name = "blog"          # default: the file stem; one folder name (no `/`, `\`,
//!                        # `.`, `..` or control characters, <= 100 bytes)
//! seed = 1               # default: 1
//! requests = 100_000     # required, 1 ..= 1_000_000_000
//! concurrency = 500      # required, >= 1
//! strategies = ["batching", "semaphore_in_task", "gated_spawn_callback", "gated_spawn"]
//!                        # default: all four; aliases semaphore1..3 and `.py` names work
//!
//! [latency]              # required
//! distribution = "uniform"
//! low = 0.1
//! high = 0.2
//!
//! [model]                # optional
//! python = "3.12"        # memory profile: "3.11", "3.12" (default) or "3.13"
//! memory = "my.toml"      # optional: a memory profile from `bpsim calibrate`
//! cpu = "cpython-3.12"   # per-operation CPU costs: "none" (pure virtual time,
//!                        # the default), a shipped profile, or a profile file
//! ```
//!
//! Latency distributions (all parameters finite; latencies in seconds):
//!
//! | `distribution` | parameters |
//! |---|---|
//! | `constant` | `value >= 0` |
//! | `uniform` | `0 <= low <= high`; or `mean`, `0 <= width <= 2 * mean` |
//! | `normal` | `mean >= 0`, `std_dev >= 0` (truncated at 0 by redrawing) |
//! | `lognormal` | `mu`, `sigma >= 0`; or `median > 0`, `p99 >= median`; or `mean > 0`, `sigma >= 0` (so `sigma` spreads the latency at a fixed mean) |
//! | `exponential` | `mean > 0`, or `rate > 0` |
//! | `gamma` | `shape > 0`, `scale > 0` |
//! | `weibull` | `scale > 0`, `shape > 0` |
//! | `pareto` | `scale > 0`, `shape > 0`; or `mean > 0`, `shape > 1` |
//! | `mixture` | `[[latency.components]]` tables, each a `weight > 0` plus a distribution; weights are normalised by their sum |
//! | `trace` | `path` (relative to the scenario file's directory), optional `wrap = false` |
//!
//! An optional `[sweep]` table varies one or two parameters (`concurrency`,
//! `requests`, `seed`, or any numeric `latency.<parameter>`), each over a list
//! or a range, and runs `replications` seeds per point:
//!
//! ```toml
//! [sweep]
//! latency.width = { from = 0.0, to = 0.1, steps = 11 }   # or [0.0, 0.05, 0.1]
//! concurrency = { from = 1, to = 10_000, steps = 9, scale = "log" }
//! replications = 5       # seeds seed, seed + 1, ... per point (default 1)
//! ```
//!
//! Every point is validated up front; `{ from, to, step = D }` also works.
//!
//! Every error is a [`ScenarioError`] naming the file, line, column and key,
//! what was expected, what was found, and how to fix it.

mod error;
mod latency_table;
mod nesting;
mod reader;
mod server_table;
mod strategy_tables;
mod sweep_table;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::asyncio::CpuCosts;
use crate::latency::LatencySource;
use crate::server::ServerSpec;
use crate::strategy::kind::StrategyKind;
use crate::strategy::{StrategyParams, StrategyTables};

pub use error::{Diagnostic, ErrorKind, Position, ScenarioError};
pub use sweep_table::MAX_SWEEP_RUNS;

/// The largest accepted `requests`.
pub const MAX_REQUESTS: u64 = 1_000_000_000;

/// A sweep point's setting, `key = value, key = value`, for messages: the
/// swept `keys` with the point's `values`, in order.
pub(crate) fn point_setting<'a>(keys: impl IntoIterator<Item = &'a str>, values: &[f64]) -> String {
    keys.into_iter()
        .zip(values)
        .map(|(key, v)| format!("{key} = {}", crate::latency::readable(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many requests' latencies loading a scenario draws, to refuse at the
/// `[latency]` table parameters that draw latencies no run can take; each
/// mixture component draws as many of its own, from a fixed seed, and is
/// refused at its own table.
pub const CHECKED_DRAWS: u64 = 1024;

/// A validated scenario.
///
/// Serialises as the scenario file would write it, its `[rate_limited]`
/// and `[adaptive_limit]` tables only for strategies that run (see
/// [`StrategyTables`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario's name (default: the file stem): the folder outputs go
    /// into, so one path component (no `/`, `\`, `.`, `..` or control
    /// characters, at most 100 bytes).
    pub name: String,
    /// The scenario file.
    pub path: PathBuf,
    /// The seed of the latency streams.
    pub seed: u64,
    /// How many requests to simulate (from 1 to [`MAX_REQUESTS`] in a loaded scenario).
    pub requests: u64,
    /// The concurrency limit (at least 1).
    pub concurrency: u64,
    /// The strategies to simulate: non-empty, no duplicates, in file order.
    pub strategies: Vec<StrategyKind>,
    /// Where request latencies come from.
    pub latency: LatencySource,
    /// The interpreter model.
    pub model: Model,
    /// Parameters of `rate_limited` and `adaptive_limit` (`[rate_limited]`,
    /// `[adaptive_limit]`).
    pub params: StrategyParams,
    /// The downstream service (`[server]`), if any.
    pub server: Option<ServerSpec>,
    /// The `[sweep]`, if the file has one.
    pub sweep: Option<Sweep>,
    /// What in the file is valid but changes nothing (kind
    /// [`ErrorKind::NoEffect`]), in file order: `bpsim` prints each on
    /// stderr as `warning: ...` once, when it loads the scenario. Empty for
    /// a sweep's points (their scenario's warnings are its own).
    pub warnings: Vec<Diagnostic>,
}

impl Serialize for Scenario {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The fields a scenario file holds, borrowed.
        #[derive(Serialize)]
        struct Record<'a> {
            name: &'a str,
            path: &'a Path,
            seed: u64,
            requests: u64,
            concurrency: u64,
            strategies: &'a [StrategyKind],
            latency: &'a LatencySource,
            model: &'a Model,
            #[serde(flatten)]
            tables: StrategyTables<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            server: Option<&'a ServerSpec>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sweep: Option<&'a Sweep>,
        }
        // Destructured, so that a new field cannot be left out unnoticed.
        let Scenario {
            name,
            path,
            seed,
            requests,
            concurrency,
            strategies,
            latency,
            model,
            params,
            server,
            sweep,
            warnings: _,
        } = self;
        Record {
            name,
            path,
            seed: *seed,
            requests: *requests,
            concurrency: *concurrency,
            strategies,
            latency,
            model,
            tables: params.tables(strategies),
            server: server.as_ref(),
            sweep: sweep.as_ref(),
        }
        .serialize(serializer)
    }
}

/// A `[sweep]` table: up to two parameters, each over a list of values, and
/// a number of replications (seeds) per point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    /// The swept parameters, in file order (the last varies fastest).
    pub parameters: Vec<SweptParameter>,
    /// Seeds per point: the point's `seed`, `seed + 1`, ...
    pub replications: u32,
    /// Every point, validated: the cartesian product of the parameters'
    /// values, the last parameter varying fastest.
    #[serde(skip)]
    pub points: Vec<SweepPoint>,
}

/// One swept parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweptParameter {
    /// `concurrency`, `requests`, `seed` or `latency.<parameter>`.
    pub key: String,
    /// The values, in sweep order.
    pub values: Vec<f64>,
}

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// The value of each swept parameter, in [`Sweep::parameters`] order.
    pub values: Vec<f64>,
    /// The scenario at this point (without a sweep).
    pub scenario: Scenario,
}

impl SweepPoint {
    /// The seed of replication `r` (0-based) of this point: its own seed
    /// plus `r`.
    pub fn replication_seed(&self, r: u64) -> u64 {
        self.scenario.seed.wrapping_add(r)
    }
}

impl Sweep {
    /// Unit `unit` of the sweep (`point * replications + replication`):
    /// its point and seed, or `None` past the last unit.
    pub fn unit(&self, unit: usize) -> Option<(&SweepPoint, u64)> {
        let replications = (self.replications as usize).max(1);
        let point = self.points.get(unit / replications)?;
        Some((point, point.replication_seed((unit % replications) as u64)))
    }
}

/// The modelled interpreter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    /// The CPython version modelled: its semaphore rule, and its shipped
    /// memory profile unless `memory` names a file.
    pub python: PythonVersion,
    /// A memory profile file (`memory = "..."`, from `bpsim calibrate`)
    /// used instead of `python`'s shipped one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryFile>,
    /// The per-operation CPU cost profile.
    pub cpu: CpuModel,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            python: PythonVersion::V3_12,
            memory: None,
            cpu: CpuModel::None,
        }
    }
}

/// A memory profile read from a file (`memory = "..."` in `[model]`).
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryFile {
    /// As written in the scenario: the path, relative to its folder.
    pub name: String,
    /// The file's `[memory]` sizes.
    pub sizes: Box<crate::memory::Profile>,
    /// The CPython the file was measured on, e.g. `"3.12.1"`.
    pub measured: String,
}

impl MemoryFile {
    /// How outputs name it: its path and the CPython it was measured on
    /// (`my.toml (CPython 3.12)`).
    pub fn describe(&self) -> String {
        format!("{} (CPython {})", self.name, self.measured)
    }
}

/// Serialises as [`MemoryFile::name`], as the scenario writes it.
impl Serialize for MemoryFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// A CPython version whose memory profile the engine models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PythonVersion {
    /// CPython 3.11.
    V3_11,
    /// CPython 3.12 (the default).
    V3_12,
    /// CPython 3.13.
    V3_13,
}

impl PythonVersion {
    /// Every supported version, oldest first.
    pub const ALL: [PythonVersion; 3] = [
        PythonVersion::V3_11,
        PythonVersion::V3_12,
        PythonVersion::V3_13,
    ];

    /// `"3.11"`, `"3.12"` or `"3.13"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PythonVersion::V3_11 => "3.11",
            PythonVersion::V3_12 => "3.12",
            PythonVersion::V3_13 => "3.13",
        }
    }

    /// Parses `"3.11"`, `"3.12"` or `"3.13"`.
    pub fn parse(text: &str) -> Option<PythonVersion> {
        PythonVersion::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// Serialises as [`PythonVersion::as_str`].
impl Serialize for PythonVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A per-operation CPU cost profile.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuModel {
    /// Operations take no simulated CPU time: pure virtual time.
    None,
    /// Costs from a profile's `[cpu]` table.
    Profile {
        /// As written in the scenario: a shipped profile's name
        /// (`cpython-3.12`) or a path.
        name: String,
        /// The costs.
        costs: CpuCosts,
    },
}

impl CpuModel {
    /// `"none"`, or the profile's name as written in the scenario.
    pub fn as_str(&self) -> &str {
        match self {
            CpuModel::None => "none",
            CpuModel::Profile { name, .. } => name,
        }
    }

    /// The per-operation costs ([`CpuCosts::NONE`] for `none`).
    pub fn costs(&self) -> CpuCosts {
        match self {
            CpuModel::None => CpuCosts::NONE,
            CpuModel::Profile { costs, .. } => *costs,
        }
    }
}

/// Serialises as [`CpuModel::as_str`].
impl Serialize for CpuModel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The closest of `candidates` to `name` (for "did you mean" hints).
pub fn suggest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    error::suggest(name, candidates)
}

/// `(name, parameters)` of every `distribution` a scenario's `[latency]`
/// table accepts, e.g. `("uniform", "low, high")`, in documentation order
/// (for listings such as `bpsim list`).
pub fn distributions() -> Vec<(&'static str, &'static str)> {
    latency_table::distributions()
}

impl Scenario {
    /// Reads and validates a scenario file. A trace file is loaded too (its
    /// `path` is relative to the scenario file's directory).
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not UTF-8, or any problem
    /// [`Scenario::from_str`] reports.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            ScenarioError::from(Diagnostic {
                file: path.to_path_buf(),
                position: None,
                key: String::new(),
                kind: ErrorKind::Read,
                message: format!("cannot read scenario file: {e}"),
                help: "check the path, and that the file exists and is readable".to_owned(),
            })
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.as_bytes();
                // `valid_up_to` is the length of the valid prefix.
                let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
                return Err(ScenarioError::from(Diagnostic {
                    file: path.to_path_buf(),
                    position: Some(Position::from_offset(prefix, valid)),
                    key: String::new(),
                    kind: ErrorKind::Read,
                    message: "the file is not valid UTF-8 text".to_owned(),
                    help: "scenario files are UTF-8 TOML; re-save the file as UTF-8".to_owned(),
                }));
            }
        };
        Scenario::from_str(&text, path)
    }

    /// Validates scenario text; `path` names the file in errors, is the base
    /// for a relative trace `path`, and gives the default `name`.
    ///
    /// # Errors
    ///
    /// The first problem in the file (by position): TOML syntax, unknown
    /// keys, wrong types, missing keys, out-of-range values, unknown
    /// distributions, strategies or Python versions, and unusable trace files.
    pub fn from_str(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        validate::scenario(text, path.as_ref())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sweep_tests;
