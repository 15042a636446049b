//! The backpressure strategies.
//!
//! Each strategy is one file holding the `main()` of the Python program it
//! models, written against [`crate::asyncio`] so that it reads like the
//! original (quoted in its doc comment). A strategy sees the workload only
//! through [`Workload`]: how many requests, the limit, and the request itself.

pub mod batching;
pub mod gated_spawn;
pub mod gated_spawn_callback;
pub mod kind;
pub mod semaphore_in_task;
mod workload;

pub use kind::StrategyKind;
pub use workload::{RequestRecord, Workload};

use crate::asyncio::{self, Config, Report, RunError};

/// The result of running one strategy on one workload.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Which strategy ran.
    pub strategy: StrategyKind,
    /// What the loop measured.
    pub report: Report,
    /// Every request, in completion order.
    pub requests: Vec<RequestRecord>,
}

/// Run `strategy` on `workload` in a fresh simulated loop.
pub fn simulate(
    strategy: StrategyKind,
    workload: &Workload,
    config: &Config,
) -> Result<Outcome, RunError> {
    let w = workload.fresh();
    let report = match strategy {
        StrategyKind::Batching => asyncio::run(config, batching::main(w.clone())),
        StrategyKind::SemaphoreInTask => asyncio::run(config, semaphore_in_task::main(w.clone())),
        StrategyKind::GatedSpawnCallback => {
            asyncio::run(config, gated_spawn_callback::main(w.clone()))
        }
        StrategyKind::GatedSpawn => asyncio::run(config, gated_spawn::main(w.clone())),
    }?;
    Ok(Outcome {
        strategy,
        report,
        requests: w.take_records(),
    })
}
