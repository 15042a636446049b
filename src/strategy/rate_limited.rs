//! `rate_limited`: aiometer-style `max_at_once` (the semaphore) plus
//! `max_per_second` (an interval limiter on request starts).
//!
//! ```python
//! async def main():
//!     loop = asyncio.get_running_loop()
//!     sem = asyncio.Semaphore(C)                 # max_at_once
//!     period = 1.0 / MAX_PER_SECOND
//!     next_start = loop.time()
//!     async with asyncio.TaskGroup() as tg:
//!         for i in range(N):
//!             await sem.acquire()
//!             while (now := loop.time()) < next_start:
//!                 await asyncio.sleep(next_start - now)
//!             next_start = max(next_start, now) + period
//!             tg.create_task(process(i, sem))    # releases in `finally`
//! ```
//!
//! Starts are at least `period` apart; a request that waited for a permit
//! longer than that starts at once (no burst credit is saved up).

use super::{Workload, request};
use crate::asyncio::{self, Frame, Semaphore, TaskGroup, coroutine};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let sem = Semaphore::new(w.concurrency());
    let period = 1.0 / w.params().max_per_second;
    let mut next_start = asyncio::time();
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        sem.acquire().await;
        let mut now = asyncio::time();
        while now < next_start {
            asyncio::sleep(next_start - now).await;
            now = asyncio::time();
        }
        next_start = next_start.max(now) + period;
        tg.create_task(coroutine(Frame::TryFinally, process(i, sem)));
    }
    tg.join().await;
}

/// `process(i, sem)`: the request, then `sem.release()` in `finally`.
// The same as `gated_spawn::process`, and kept a copy on purpose: with the
// one function shared, LLVM no longer inlines its poll into either loop, and
// both strategies ran 0.9-1.4 % more instructions per request
// (`scripts/instructions --check`, 2026-12-07).
// Not an `async fn`: one stores its arguments twice, once as arguments and
// once as locals (rust-lang/rust#62958); an async block holds them once,
// which keeps every task's coroutine 16 bytes smaller.
#[allow(clippy::manual_async_fn)]
fn process(i: u64, sem: Semaphore) -> impl Future<Output = ()> + 'static {
    async move {
        request(i).await;
        sem.release();
    }
}
