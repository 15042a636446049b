//! The backpressure strategies.
//!
//! Each strategy is one file holding the `main()` of the Python program it
//! models, written against [`crate::asyncio`] so that it reads like the
//! original (quoted in its doc comment). A strategy sees the workload only
//! through [`Workload`]: how many requests, the limit, and the request itself.

pub mod adaptive_limit;
pub mod batching;
pub mod gated_spawn;
pub mod gated_spawn_callback;
pub mod kind;
pub mod rate_limited;
pub mod semaphore_in_task;
pub mod sliding_window;
pub mod worker_pool;
mod workload;

pub use adaptive_limit::AdaptiveParams;
pub use kind::StrategyKind;
pub use workload::{
    Request, RequestLog, RequestRecord, StrategyParams, StrategyTables, Workload, mark_issued,
    request, request_ok, request_status,
};

use crate::asyncio::{self, Config, Report, RunError};
use crate::metrics::RequestStats;

/// The result of running one strategy on one workload.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Which strategy ran.
    pub strategy: StrategyKind,
    /// What the loop measured.
    pub report: Report,
    /// Every request, in completion order (empty for a workload that does
    /// not log requests: [`Workload::with_request_log`]).
    pub requests: RequestLog,
    /// What the requests add up to.
    pub stats: RequestStats,
}

/// Run `strategy` on `workload` in a fresh simulated loop.
// Never inlined: `scripts/instructions` and `scripts/hot-lines` count and
// sample inside this function (callgrind's `--toggle-collect`), and a build
// that inlined it into its caller (an experiment on `spawn` did, in
// `examples/prof_one`) would count nothing.
#[inline(never)]
pub fn simulate(
    strategy: StrategyKind,
    workload: &Workload,
    config: &Config,
) -> Result<Outcome, RunError> {
    let w = workload.clone();
    let active = w.activate();
    // At most a task per request and main (the buffers indexed by task
    // stop growing there).
    let run_config = Config {
        station: w.server().map(|server| server.station()).or(config.station),
        expected_tasks: w.requests() as usize + 1,
        ..config.clone()
    };
    let config = &run_config;
    let report = match strategy {
        StrategyKind::Batching => asyncio::run(config, batching::main(w.clone())),
        StrategyKind::SemaphoreInTask => asyncio::run(config, semaphore_in_task::main(w.clone())),
        StrategyKind::GatedSpawnCallback => {
            asyncio::run(config, gated_spawn_callback::main(w.clone()))
        }
        StrategyKind::GatedSpawn => asyncio::run(config, gated_spawn::main(w.clone())),
        StrategyKind::WorkerPool => asyncio::run(config, worker_pool::main(w.clone())),
        StrategyKind::SlidingWindow => asyncio::run(config, sliding_window::main(w.clone())),
        StrategyKind::RateLimited => asyncio::run(config, rate_limited::main(w.clone())),
        StrategyKind::AdaptiveLimit => asyncio::run(config, adaptive_limit::main(w.clone())),
    }?;
    let (requests, stats) = active.take_records();
    Ok(Outcome {
        strategy,
        report,
        requests,
        stats,
    })
}
