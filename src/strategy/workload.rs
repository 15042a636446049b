//! What every strategy runs: N requests, a limit, and the request itself.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::adaptive_limit::AdaptiveParams;
use crate::asyncio;

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
}

/// The workload of one run: latencies and limit, plus the request log.
///
/// Cloning is cheap (a reference count), like passing `urls` around in
/// Python.
#[derive(Clone, Debug)]
pub struct Workload {
    latencies: Arc<[f64]>,
    concurrency: u64,
    params: Arc<StrategyParams>,
    log: Rc<RefCell<Vec<RequestRecord>>>,
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
            latencies,
            concurrency,
            params: Arc::new(StrategyParams::defaults(concurrency)),
            log: Rc::default(),
        }
    }

    /// The same workload with these strategy parameters.
    pub fn with_params(mut self, params: StrategyParams) -> Self {
        self.params = Arc::new(params);
        self
    }

    /// The strategy parameters.
    pub fn params(&self) -> &StrategyParams {
        &self.params
    }

    /// The same workload with an empty request log.
    pub(crate) fn fresh(&self) -> Self {
        Workload {
            latencies: self.latencies.clone(),
            concurrency: self.concurrency,
            params: self.params.clone(),
            log: Rc::default(),
        }
    }

    /// Number of requests.
    pub fn requests(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// The concurrency limit `C`.
    pub fn concurrency(&self) -> u64 {
        self.concurrency
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
        let delay = self.latencies[i as usize];
        let log = self.log.clone();
        async move {
            let created_s = issued_s.unwrap_or_else(asyncio::current_task_created);
            let start_s = asyncio::time();
            asyncio::sleep(delay).await;
            let end_s = asyncio::time();
            log.borrow_mut().push(RequestRecord {
                request: i,
                created_s,
                start_s,
                end_s,
            });
        }
    }

    /// [`Workload::request`], telling whether it succeeded.
    pub fn request_ok(&self, i: u64) -> impl Future<Output = bool> + 'static {
        let request = self.request(i);
        async move {
            request.await;
            true
        }
    }

    /// Take the log (completion order).
    pub(crate) fn take_records(&self) -> Vec<RequestRecord> {
        std::mem::take(&mut self.log.borrow_mut())
    }
}
