//! The downstream service (`[server]`): how many requests it works on at
//! once, how it fails, and how the client times out and retries.
//!
//! Without a `[server]` table a request is `await asyncio.sleep(latency)`,
//! whatever the load, as in the blog. With one, request `i` is sent to a
//! [`Station`] that needs `latency[i]` seconds of work
//! for it, and the client runs
//!
//! ```python
//! async def request(i):
//!     for attempt in range(RETRIES + 1):
//!         try:
//!             async with asyncio.timeout(TIMEOUT):     # if a timeout is set
//!                 await service.call(i)                # raises on an error
//!             return True
//!         except (TimeoutError, ServiceError):
//!             if attempt == RETRIES:
//!                 return False
//!             await asyncio.sleep(backoff(attempt))
//! ```
//!
//! Every attempt costs the service the request's full work, whether the
//! client waits for it or not. Whether an attempt fails, and its backoff
//! jitter, are drawn from the request's own random stream (the latency
//! stream, far past the latency draws), so every strategy sees the same
//! failures.

pub mod client;
pub mod station;

use serde::Serialize;

pub use station::{Discipline, Station, StationConfig};

/// How long to wait before retry `attempt` (0 for the first retry).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Backoff {
    /// Fixed or exponential.
    pub kind: BackoffKind,
    /// The first delay, seconds.
    pub base: f64,
    /// The longest delay (before jitter), seconds.
    pub max: f64,
    /// Randomisation of each delay.
    pub jitter: Jitter,
}

/// The growth of the backoff delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffKind {
    /// `base` every time.
    Fixed,
    /// `base * 2**attempt`, at most `max`.
    Exponential,
}

/// Randomisation of a backoff delay `d` with a uniform draw `u` in [0, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// `d`.
    None,
    /// `u * d` ("full jitter").
    Full,
    /// `d / 2 + u * d / 2` ("equal jitter").
    Equal,
}

impl Backoff {
    /// The delay before retry `attempt` with jitter draw `u`.
    pub fn delay(&self, attempt: u32, u: f64) -> f64 {
        let d = match self.kind {
            BackoffKind::Fixed => self.base,
            BackoffKind::Exponential => {
                (self.base * 2f64.powi(attempt.min(1023) as i32)).min(self.max)
            }
        };
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => u * d,
            Jitter::Equal => d / 2.0 + u * d / 2.0,
        }
    }
}

/// A `[server]` table. Serialises with the table's own keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerSpec {
    /// Requests served at once (`None`: unlimited).
    pub capacity: Option<u64>,
    /// FIFO queue or processor sharing.
    pub discipline: Discipline,
    /// Probability that an attempt fails (after its service time).
    pub error_rate: f64,
    /// `asyncio.timeout` around each attempt, seconds.
    pub timeout: Option<f64>,
    /// Retries after a failed or timed-out attempt.
    pub retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
}

impl Serialize for ServerSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(c) = self.capacity {
            map.serialize_entry("capacity", &c)?;
        }
        map.serialize_entry("discipline", &self.discipline)?;
        map.serialize_entry("error_rate", &self.error_rate)?;
        if let Some(t) = self.timeout {
            map.serialize_entry("timeout", &t)?;
        }
        map.serialize_entry("retries", &self.retries)?;
        map.serialize_entry("backoff", &self.backoff.kind)?;
        map.serialize_entry("backoff_base", &self.backoff.base)?;
        map.serialize_entry("backoff_max", &self.backoff.max)?;
        map.serialize_entry("jitter", &self.backoff.jitter)?;
        map.end()
    }
}

impl ServerSpec {
    /// One line for a run's title: `capacity 10 (fifo), error rate 0.2,
    /// timeout 0.3 s, 2 retries (exponential backoff 0.1-10 s, full
    /// jitter)`; the parts at their defaults (no errors, no timeout, no
    /// retries) are left out.
    pub fn describe(&self) -> String {
        use crate::latency::readable;
        let mut parts = vec![match (self.capacity, self.discipline) {
            (None, _) => "unlimited capacity".to_owned(),
            (Some(c), Discipline::Fifo) => format!("capacity {c} (fifo)"),
            (Some(c), Discipline::ProcessorSharing) => {
                format!("capacity {c} (processor sharing)")
            }
        }];
        if self.error_rate > 0.0 {
            parts.push(format!("error rate {}", readable(self.error_rate)));
        }
        if let Some(t) = self.timeout {
            parts.push(format!("timeout {} s", readable(t)));
        }
        if self.retries > 0 {
            let b = &self.backoff;
            let delays = match b.kind {
                BackoffKind::Fixed => format!("fixed backoff {} s", readable(b.base)),
                BackoffKind::Exponential => format!(
                    "exponential backoff {}-{} s",
                    readable(b.base),
                    readable(b.max)
                ),
            };
            let jitter = match b.jitter {
                Jitter::None => "",
                Jitter::Full => ", full jitter",
                Jitter::Equal => ", equal jitter",
            };
            let s = if self.retries == 1 { "y" } else { "ies" };
            parts.push(format!("{} retr{s} ({delays}{jitter})", self.retries));
        }
        parts.join(", ")
    }

    /// The engine's view: the station only.
    pub fn station(&self) -> StationConfig {
        StationConfig {
            capacity: self.capacity,
            discipline: self.discipline,
        }
    }
}
