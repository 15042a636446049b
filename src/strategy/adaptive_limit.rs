//! `adaptive_limit`: a concurrency limit that moves at run time, AIMD on
//! each request's observed latency (TCP's congestion window, Netflix's
//! concurrency-limits `AIMDLimit`).
//!
//! ```python
//! async def main():
//!     loop = asyncio.get_running_loop()
//!     limit, in_flight, wake = float(C), 0, None
//!
//!     def done(latency, ok):
//!         nonlocal limit, in_flight, wake
//!         in_flight -= 1
//!         if not ok or latency > TARGET:   # multiplicative decrease
//!             limit = max(MIN_LIMIT, limit * DECREASE)
//!         else:                            # additive increase: +INCREASE per window
//!             limit = min(MAX_LIMIT, limit + INCREASE / limit)
//!         if wake is not None and in_flight < int(limit):
//!             wake.set_result(None)
//!             wake = None
//!
//!     async def process(i):
//!         start, ok = loop.time(), False
//!         try:
//!             ok = await request(i)
//!         finally:
//!             done(loop.time() - start, ok)
//!
//!     async with asyncio.TaskGroup() as tg:
//!         for i in range(N):
//!             while in_flight >= int(limit):
//!                 wake = loop.create_future()
//!                 await wake
//!             in_flight += 1
//!             tg.create_task(process(i))
//! ```
//!
//! `ok` is false for a request that failed or timed out (with a `[server]`
//! model); without one every request succeeds and only latency moves the
//! limit.

use std::cell::RefCell;
use std::rc::Rc;

use super::{Workload, request_ok};
use crate::asyncio::{self, Frame, PyFuture, TaskGroup, coroutine};
use crate::memory::Obj;

/// The AIMD controller's parameters (`[adaptive_limit]` in a scenario).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AdaptiveParams {
    /// Latency above which a request counts as congestion, seconds.
    pub target_latency: f64,
    /// Smallest limit (at least 1).
    pub min_limit: f64,
    /// Largest limit, as given (`max_limit`); `None`: 4 x the run's
    /// concurrency, so that it follows `concurrency` across a sweep (see
    /// [`AdaptiveParams::max_limit_at`]).
    pub max_limit: Option<f64>,
    /// Added to the limit per window of `limit` good completions.
    pub increase: f64,
    /// Factor applied to the limit on congestion (0 < decrease < 1).
    pub decrease: f64,
}

impl AdaptiveParams {
    /// The defaults: no latency target (only failures back off), limits 1
    /// to 4 x the run's concurrency, +1 per window, x0.9 on congestion.
    pub fn defaults() -> Self {
        AdaptiveParams {
            target_latency: f64::INFINITY,
            min_limit: 1.0,
            max_limit: None,
            increase: 1.0,
            decrease: 0.9,
        }
    }

    /// The largest limit of a run at `concurrency`: `max_limit` if given,
    /// else 4 x `concurrency` (at least 4).
    pub fn max_limit_at(&self, concurrency: u64) -> f64 {
        self.max_limit
            .unwrap_or_else(|| 4.0 * concurrency.max(1) as f64)
    }
}

struct Controller {
    p: AdaptiveParams,
    /// `p`'s largest limit at the run's concurrency.
    max_limit: f64,
    limit: f64,
    in_flight: u64,
    wake: Option<PyFuture>,
}

impl Controller {
    fn allowed(&self) -> u64 {
        // `int(limit)`: limit >= min_limit >= 1.
        self.limit as u64
    }

    fn done(&mut self, latency: f64, ok: bool) {
        self.in_flight -= 1;
        if !ok || latency > self.p.target_latency {
            self.limit = self.p.min_limit.max(self.limit * self.p.decrease);
        } else {
            self.limit = self
                .max_limit
                .min(self.limit + self.p.increase / self.limit);
        }
        if self.in_flight < self.allowed()
            && let Some(wake) = self.wake.take()
        {
            wake.set_result();
        }
    }
}

/// The program's `main()`.
pub async fn main(w: Workload) {
    let p = w.params().adaptive;
    // The cells, closures and floats of the Python main's own state.
    asyncio::keep(Obj::AdaptiveMain);
    let ctl = Rc::new(RefCell::new(Controller {
        p,
        max_limit: p.max_limit_at(w.concurrency()),
        limit: w.concurrency() as f64,
        in_flight: 0,
        wake: None,
    }));
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        loop {
            let wake = {
                let mut c = ctl.borrow_mut();
                if c.in_flight < c.allowed() {
                    break;
                }
                let wake = asyncio::create_future();
                c.wake = Some(wake);
                wake
            };
            wake.await;
        }
        ctl.borrow_mut().in_flight += 1;
        tg.create_task(coroutine(Frame::Adaptive, process(i, ctl.clone())));
    }
    tg.join().await;
}

/// `process(i)`.
// Not an `async fn`: one stores its arguments twice, once as arguments and
// once as locals (rust-lang/rust#62958); an async block holds them once,
// which keeps every task's coroutine 16 bytes smaller.
#[allow(clippy::manual_async_fn)]
fn process(i: u64, ctl: Rc<RefCell<Controller>>) -> impl Future<Output = ()> + 'static {
    async move {
        let start = asyncio::time();
        let ok = request_ok(i).await;
        let latency = asyncio::time() - start;
        ctl.borrow_mut().done(latency, ok);
    }
}
