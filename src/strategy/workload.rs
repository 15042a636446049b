//! What every strategy runs: N requests, a limit, and the request itself.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

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
    log: Rc<RefCell<Vec<RequestRecord>>>,
}

impl Workload {
    /// `latencies[i]` is the latency of request `i` in seconds.
    pub fn new(latencies: Arc<[f64]>, concurrency: u64) -> Self {
        Workload {
            latencies,
            concurrency,
            log: Rc::default(),
        }
    }

    /// The same workload with an empty request log.
    pub(crate) fn fresh(&self) -> Self {
        Workload::new(self.latencies.clone(), self.concurrency)
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
        let delay = self.latencies[i as usize];
        let log = self.log.clone();
        async move {
            let created_s = asyncio::current_task_created();
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

    /// Take the log (completion order).
    pub(crate) fn take_records(&self) -> Vec<RequestRecord> {
        std::mem::take(&mut self.log.borrow_mut())
    }
}
