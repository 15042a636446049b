//! A model of CPython's asyncio in virtual time.
//!
//! This is the simulator's engine: a single-threaded event loop that runs
//! Rust `async` code the way CPython's `BaseEventLoop._run_once` runs
//! coroutines, so that a strategy written against these primitives reads like
//! its Python original and reproduces CPython's order of work, loop iteration
//! by loop iteration:
//!
//! ```
//! use bpsim::asyncio::{self, Semaphore, TaskGroup};
//!
//! // async def main():
//! //     sem = asyncio.Semaphore(2)
//! //     async with asyncio.TaskGroup() as tg:
//! //         for d in (0.3, 0.1, 0.2):
//! //             await sem.acquire()
//! //             tg.create_task(asyncio.sleep(d)).add_done_callback(lambda _: sem.release())
//! let report = asyncio::run(&asyncio::Config::default(), async {
//!     let sem = Semaphore::new(2);
//!     let tg = TaskGroup::new();
//!     for d in [0.3, 0.1, 0.2] {
//!         sem.acquire().await;
//!         tg.create_task(asyncio::sleep(d)).add_done_callback(sem.releaser());
//!     }
//!     tg.join().await;
//! })
//! .unwrap();
//! // The last task's timer is due at 0.1 + 0.2 = 0.30000000000000004, within
//! // the loop's 1 ns clock resolution of the first task's 0.3: both fire in
//! // the iteration that wakes at 0.3, so main returns at 0.3.
//! assert_eq!(report.duration_s, 0.3);
//! ```
//!
//! Rules followed (see `ASYNCIO_SEMANTICS.md` in the project's shared
//! reference):
//! * the ready queue runs in per-iteration snapshots; anything scheduled while
//!   an iteration runs goes to the next one;
//! * virtual time is an `f64` of seconds from 0.0 and advances only when the
//!   ready queue is empty, jumping to the earliest deadline; timers within the
//!   1 ns clock resolution of the head fire in the same iteration;
//! * timers live in a port of CPython's `heapq`, so equal deadlines come out in
//!   CPython's order;
//! * tasks, futures, semaphores and task groups schedule their callbacks in
//!   the same order and in the same iteration as CPython's.
//!
//! The loop lives in a thread-local while [`run`] executes (as asyncio's
//! running loop does), so the primitives are free functions and handles, as in
//! Python. Runs on different threads are independent.

mod coro;
mod cpu;
mod event_loop;
mod future;
pub(crate) mod growth;
pub(crate) mod heapq;
mod io;
mod queue;
mod semaphore;
mod sleep;
mod task;
mod task_group;
mod tuples;
mod wait;

pub use cpu::CpuCosts;
#[cfg(debug_assertions)]
pub(crate) use event_loop::ReentrancyGuard;
#[cfg(test)]
pub(crate) use event_loop::end_time;
pub(crate) use event_loop::{CLOCK_RESOLUTION, FUTURE_ITER_BYTES, MAXIMUM_SELECT_TIMEOUT};
pub use event_loop::{
    Config, Report, RunError, Sample, SemaphoreFlavor, free_thread_cache, keep, release, run, time,
};
pub use future::{AwaitFuture, PyFuture, create_future};
pub use io::{IoOutcome, IoRequest, keep_freed, keep_sized, request, timeout_error_clause};
pub use queue::{Get, Put, Queue};
pub use semaphore::{Acquire, Enter, Semaphore};
pub use sleep::{Sleep, sleep};
pub(crate) use sleep::{Sleeping, begin_at as sleep_begin_at, resume as sleep_resume};
pub(crate) use task::current_task_created_and_time;
pub use task::{
    Coroutine, DoneCallback, Frame, IntoCoroutine, JoinTask, Task, coroutine, create_task,
    current_task_created,
};
pub use task_group::{Join, TaskGroup};
pub use tuples::{tuple_cut, tuple_freed, tuple_lists, tuple_made};
pub use wait::{ReturnWhen, TaskSet, Wait};
