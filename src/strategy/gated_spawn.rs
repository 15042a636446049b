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

use super::Workload;
use crate::asyncio::{Frame, Semaphore, TaskGroup, coroutine};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let sem = Semaphore::new(w.concurrency());
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        sem.acquire().await;
        tg.create_task(coroutine(Frame::TryFinally, process(w.clone(), i, sem)));
    }
    tg.join().await;
}

/// `process(url, sem)`.
async fn process(w: Workload, i: u64, sem: Semaphore) {
    w.request(i).await;
    sem.release();
}
