//! What every strategy runs: N requests, a limit, and the request itself.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::adaptive_limit::AdaptiveParams;
use crate::asyncio;
use crate::server::ServerSpec;
use crate::server::client::{self, Attempts, Status};

/// One request as it ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRecord {
    /// Request index (0-based, the order the program iterates its inputs).
    pub request: u64,
    /// Virtual time at which the task that runs the request was created.
    pub created_s: f64,
    /// Virtual time at which the request's sleep began.
    pub start_s: f64,
    /// Virtual time at which the request's sleep returned.
    pub end_s: f64,
    /// How it ended (always [`Status::Ok`] without a `[server]`).
    pub status: Status,
    /// Attempts made, retries included (1 without a `[server]`).
    pub attempts: u16,
    /// Attempts that failed with an error.
    pub errors: u16,
    /// Attempts that timed out.
    pub timeouts: u16,
}

/// The workload of one run: latencies and limit, plus the request log.
///
/// Cloning is cheap (a reference count), like passing `urls` around in
/// Python.
/// Every task holds a clone, so it is two pointers: what never changes
/// during a run, and the log.
#[derive(Clone, Debug)]
pub struct Workload {
    shared: Arc<Shared>,
    log: Rc<RefCell<Vec<RequestRecord>>>,
}

/// The part of a [`Workload`] fixed for a run.
#[derive(Clone, Debug)]
struct Shared {
    latencies: Arc<[f64]>,
    concurrency: u64,
    params: StrategyParams,
    /// The `[server]` and the seed of its failure draws.
    server: Option<(ServerSpec, u64)>,
}

/// Parameters of the strategies that take more than a limit.
///
/// Serialises as a scenario file writes them: a `rate_limited` table when
/// there is a rate, and an `adaptive_limit` table (without an infinite
/// `target_latency`), so a scenario survives a round trip through TOML.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategyParams {
    /// `rate_limited`: most request starts per second (infinite: none).
    pub max_per_second: f64,
    /// `adaptive_limit`: the AIMD controller.
    pub adaptive: AdaptiveParams,
}

impl serde::Serialize for StrategyParams {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if self.max_per_second.is_finite() {
            let mut rate = std::collections::BTreeMap::new();
            rate.insert("max_per_second", self.max_per_second);
            map.serialize_entry("rate_limited", &rate)?;
        }
        let a = &self.adaptive;
        let mut adaptive = std::collections::BTreeMap::new();
        if a.target_latency.is_finite() {
            adaptive.insert("target_latency", a.target_latency);
        }
        adaptive.insert("min_limit", a.min_limit);
        adaptive.insert("max_limit", a.max_limit);
        adaptive.insert("increase", a.increase);
        adaptive.insert("decrease", a.decrease);
        map.serialize_entry("adaptive_limit", &adaptive)?;
        map.end()
    }
}

impl StrategyParams {
    /// No rate limit and the AIMD defaults for `concurrency`.
    pub fn defaults(concurrency: u64) -> Self {
        StrategyParams {
            max_per_second: f64::INFINITY,
            adaptive: AdaptiveParams::defaults(concurrency),
        }
    }
}

impl Workload {
    /// `latencies[i]` is the latency of request `i` in seconds.
    pub fn new(latencies: Arc<[f64]>, concurrency: u64) -> Self {
        Workload {
            shared: Arc::new(Shared {
                latencies,
                concurrency,
                params: StrategyParams::defaults(concurrency),
                server: None,
            }),
            log: Rc::default(),
        }
    }

    /// The same workload sent to a downstream service; `seed` keys the
    /// per-request failure draws.
    pub fn with_server(mut self, server: Option<ServerSpec>, seed: u64) -> Self {
        Arc::make_mut(&mut self.shared).server = server.map(|s| (s, seed));
        self
    }

    /// The downstream service, if any.
    pub fn server(&self) -> Option<&ServerSpec> {
        self.shared.server.as_ref().map(|(s, _)| s)
    }

    /// The same workload with these strategy parameters.
    pub fn with_params(mut self, params: StrategyParams) -> Self {
        Arc::make_mut(&mut self.shared).params = params;
        self
    }

    /// The strategy parameters.
    pub fn params(&self) -> &StrategyParams {
        &self.shared.params
    }

    /// The same workload with an empty request log.
    pub(crate) fn fresh(&self) -> Self {
        Workload {
            shared: self.shared.clone(),
            log: Rc::default(),
        }
    }

    /// Number of requests.
    pub fn requests(&self) -> u64 {
        self.shared.latencies.len() as u64
    }

    /// The concurrency limit `C`.
    pub fn concurrency(&self) -> u64 {
        self.shared.concurrency
    }

    /// The modelled request: `await asyncio.sleep(latency[i])`, logged with
    /// its start and end times. Call it where the Python program calls its
    /// request coroutine.
    pub fn request(&self, i: u64) -> impl Future<Output = ()> + 'static {
        self.request_issued(i, None)
    }

    /// [`Workload::request`] for a request issued at `issued_s` rather than
    /// when its task was created (a worker pool's request exists from the
    /// moment the producer queues it).
    pub fn request_issued(
        &self,
        i: u64,
        issued_s: Option<f64>,
    ) -> impl Future<Output = ()> + 'static {
        self.request_logged(i, issued_s)
    }

    /// The request, logged with how it ended: a sleep, or calls to the
    /// `[server]` with its timeout and retries.
    fn request_logged(&self, i: u64, issued_s: Option<f64>) -> impl Future<Output = ()> + 'static {
        let delay = self.shared.latencies[i as usize];
        // NaN for "when the task was created": 8 bytes in the future, not 16.
        let issued_s = issued_s.unwrap_or(f64::NAN);
        let log = self.log.clone();
        // Only a request to a server needs the spec (an atomic increment).
        let server = self.shared.server.is_some().then(|| self.shared.clone());
        async move {
            let created_s = if issued_s.is_nan() {
                asyncio::current_task_created()
            } else {
                issued_s
            };
            let start_s = asyncio::time();
            let attempts = match server {
                None => {
                    asyncio::sleep(delay).await;
                    Attempts {
                        attempts: 1,
                        ..Attempts::default()
                    }
                }
                // Boxed: the client's state (its random stream, the
                // timeout) would otherwise sit in every request's future,
                // with a server or without.
                Some(shared) => {
                    let (spec, seed) = shared.server.expect("checked when created");
                    Box::pin(client::call(spec, seed, i, delay)).await
                }
            };
            let end_s = asyncio::time();
            log.borrow_mut().push(RequestRecord {
                request: i,
                created_s,
                start_s,
                end_s,
                status: attempts.status,
                attempts: attempts.attempts,
                errors: attempts.errors,
                timeouts: attempts.timeouts,
            });
        }
    }

    /// [`Workload::request`], telling whether it succeeded.
    pub fn request_ok(&self, i: u64) -> impl Future<Output = bool> + 'static {
        let request = self.request_logged(i, None);
        let log = self.log.clone();
        async move {
            request.await;
            // The record the request just pushed.
            log.borrow().last().is_some_and(|r| r.status == Status::Ok)
        }
    }

    /// Take the log (completion order).
    pub(crate) fn take_records(&self) -> Vec<RequestRecord> {
        std::mem::take(&mut self.log.borrow_mut())
    }
}
