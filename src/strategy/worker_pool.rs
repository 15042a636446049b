//! `worker_pool`: C long-lived workers pull request indices from a bounded
//! queue fed by the main task.
//!
//! ```python
//! async def worker(q):
//!     while True:
//!         i = await q.get()
//!         if i is None:
//!             return
//!         await request(i)
//!
//! async def main():
//!     q = asyncio.Queue(maxsize=C)
//!     async with asyncio.TaskGroup() as tg:
//!         for _ in range(C):
//!             tg.create_task(worker(q))
//!         for i in range(N):
//!             await q.put(i)
//!         for _ in range(C):
//!             await q.put(None)
//! ```
//!
//! Only C tasks ever exist, whatever N; a worker that finishes a request
//! takes the next queued index in the same step, without yielding.

use super::{Workload, mark_issued, request, request_status};
use crate::asyncio::{self, Queue, TaskGroup};
use crate::memory::Obj;
use crate::server::client::Status;

/// The program's `main()`.
pub async fn main(w: Workload) {
    let c = w.concurrency();
    let q = Queue::new(usize::try_from(c).unwrap_or(usize::MAX));
    let tg = TaskGroup::new();
    let server = w.server().is_some();
    for _ in 0..c {
        tg.create_task(worker(q, server));
    }
    for i in 0..w.requests() {
        // The request exists from the moment the producer reaches it.
        mark_issued(i);
        q.put(Some(i)).await;
    }
    for _ in 0..c {
        q.put(None).await;
    }
    tg.join().await;
}

/// `worker(q)`.
///
/// On the `[server]` path, CPython 3.12+ gives the worker's frame a frame
/// object when a request whose last attempt timed out returns to it
/// ([`Obj::WorkerFrame`], 0 bytes in the 3.11 profile); the worker keeps
/// it until it returns. A plain request (`server` false) cannot time out,
/// and is awaited without asking how it ended.
async fn worker(q: Queue, server: bool) {
    let mut frame = false;
    while let Some(i) = q.get().await {
        if !server {
            request(i).await;
        } else if request_status(i).await == Status::Timeout && !frame {
            frame = asyncio::keep_sized(Obj::WorkerFrame);
        }
    }
    if frame {
        asyncio::release(Obj::WorkerFrame);
    }
}
