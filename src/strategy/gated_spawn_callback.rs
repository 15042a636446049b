//! `gated_spawn_callback` (the blog's `semaphore2.py`): acquire before
//! spawning, release from a done callback.
//!
//! ```python
//! async def main():
//!     sem = asyncio.Semaphore(C)
//!     async with asyncio.TaskGroup() as tg:
//!         for url in urls:
//!             await sem.acquire()
//!             tg.create_task(process(url)).add_done_callback(lambda _: sem.release())
//! ```
//!
//! At most C tasks exist; each release runs one iteration after its task
//! ends and wakes `main` one iteration later.

use super::{Workload, request};
use crate::asyncio::{Semaphore, TaskGroup};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let sem = Semaphore::new(w.concurrency());
    let tg = TaskGroup::new();
    for i in 0..w.requests() {
        sem.acquire().await;
        tg.create_task(request(i)).add_done_callback(sem.releaser());
    }
    tg.join().await;
}
