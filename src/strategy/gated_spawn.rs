//! `gated_spawn` (the blog's `semaphore3.py`): acquire before spawning,
//! release in the task's `finally`.
//!
//! ```python
//! async def process(url, sem):
//!     try:
//!         await request(url)
//!     finally:
//!         sem.release()
//!
//! async def main():
//!     sem = asyncio.Semaphore(C)
//!     async with asyncio.TaskGroup() as tg:
//!         for url in urls:
//!             await sem.acquire()
//!             tg.create_task(process(url, sem))
//! ```
//!
//! Like `gated_spawn_callback` without the lambda: the release happens in the
//! task's last step, one iteration earlier.

use super::{Workload, request};
use crate::asyncio::{Frame, Semaphore, TaskGroup, coroutine};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let sem = Semaphore::new(w.concurrency());
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        sem.acquire().await;
        tg.create_task(coroutine(Frame::TryFinally, process(i, sem)));
    }
    tg.join().await;
}

/// `process(url, sem)`.
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
