//! `semaphore_in_task` (the blog's `semaphore1.py`): every task is created up
//! front and waits for the semaphore inside.
//!
//! ```python
//! async def process(url, sem):
//!     async with sem:
//!         await request(url)
//!
//! async def main():
//!     sem = asyncio.Semaphore(C)
//!     async with asyncio.TaskGroup() as tg:
//!         for url in urls:
//!             tg.create_task(process(url, sem))
//! ```
//!
//! Concurrency is bounded, but all N tasks exist before the first one runs.

use super::{Workload, request};
use crate::asyncio::{Frame, Semaphore, TaskGroup, coroutine};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let sem = Semaphore::new(w.concurrency());
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        let i = u32::try_from(i).expect("request indices fit in 32 bits");
        tg.create_task(coroutine(Frame::AsyncWith, process(i, sem)));
    }
    tg.join().await;
}

/// `process(url, sem)`.
// Not an `async fn`: one stores its arguments twice, once as arguments and
// once as locals (rust-lang/rust#62958); an async block holds them once,
// which keeps every task's coroutine 16 bytes smaller.
#[allow(clippy::manual_async_fn)]
fn process(i: u32, sem: Semaphore) -> impl Future<Output = ()> + 'static {
    async move {
        sem.enter().await;
        request(u64::from(i)).await;
        sem.exit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `f` returns, without calling it.
    fn returned_size<A, B, R>(_: &impl Fn(A, B) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// The peak with the shipped 3.12 profile less the peak with its
    /// `async_with_exit` set to 0 (as before the key), for `n` requests of
    /// `latency` at limit `c`.
    fn peak_with_exits_less_without(n: usize, c: u64, latency: f64) -> i64 {
        use crate::experiment::config_for_version;
        use crate::scenario::PythonVersion;
        use crate::strategy::{StrategyKind, Workload, simulate};
        let with = config_for_version(PythonVersion::V3_12);
        assert_eq!(with.profile.async_with_exit, 64);
        let mut without = with.clone();
        without.profile.async_with_exit = 0;
        let w = Workload::new(std::sync::Arc::from(vec![latency; n]), c);
        let peak = |config| {
            simulate(StrategyKind::SemaphoreInTask, &w, config)
                .unwrap()
                .report
                .peak_memory_bytes
        };
        peak(&with) - peak(&without)
    }

    /// `async with sem:` holds the bound `sem.__aexit__` (64 B) while its
    /// body runs. At the peak of N = C every task is in its body, having
    /// taken its permit at once; at C < N only the C running tasks add it,
    /// as a waiting task's `acquire_coroutine` already includes it.
    #[test]
    fn every_task_in_its_async_with_body_holds_a_bound_aexit() {
        assert_eq!(peak_with_exits_less_without(50, 50, 0.0), 50 * 64);
        assert_eq!(peak_with_exits_less_without(50, 50, 0.1), 50 * 64);
        assert_eq!(peak_with_exits_less_without(50, 20, 0.1), 20 * 64);
    }

    /// Peak and final memory of `n` requests of 0.1 s at limit `n` (every
    /// task alive at the peak) on CPython `version`'s shipped profile, less
    /// the same with a fixed name of `fixed` bytes in `task` instead of
    /// names charged by number.
    fn names_by_number_less_fixed(
        version: crate::scenario::PythonVersion,
        n: usize,
        fixed: i64,
    ) -> (i64, i64) {
        use crate::experiment::config_for_version;
        use crate::memory::TaskNames;
        use crate::strategy::{StrategyKind, Workload, simulate};
        let by_number = config_for_version(version);
        assert_ne!(by_number.profile.task_names, TaskNames::InTask);
        let mut fixed_name = by_number.clone();
        fixed_name.profile.task_names = TaskNames::InTask;
        fixed_name.profile.task += fixed;
        let w = Workload::new(std::sync::Arc::from(vec![0.1; n]), n as u64);
        let run = |config| {
            let r = simulate(StrategyKind::SemaphoreInTask, &w, config)
                .unwrap()
                .report;
            (r.peak_memory_bytes, r.final_memory_bytes)
        };
        let (a, b) = (run(&by_number), run(&fixed_name));
        (a.0 - b.0, a.1 - b.1)
    }

    /// Tasks 1 (main) to 301 are alive at the peak. On 3.12 tasks up to 256
    /// are named by cached small ints (0 B), the rest by a 28-byte int; on
    /// 3.11 by the str "Task-<n>", 55 B for one digit, 56 for two, 57 for
    /// three. Every name is credited when its task is freed.
    #[test]
    fn each_task_name_is_charged_by_the_task_number() {
        use crate::scenario::PythonVersion;
        let (peak, end) = names_by_number_less_fixed(PythonVersion::V3_12, 300, 28);
        assert_eq!((peak, end), (-256 * 28, 0));
        let (peak, end) = names_by_number_less_fixed(PythonVersion::V3_11, 300, 55);
        assert_eq!((peak, end), (90 + 2 * 202, 0));
    }

    /// Every one of the N tasks holds this coroutine until it finishes: its
    /// size is a large part of bpsim's memory per live task (`docs/speed.md`, "bpsim's own memory").
    #[test]
    fn a_process_coroutine_is_28_bytes() {
        assert_eq!(returned_size(&process), 28);
    }
}
