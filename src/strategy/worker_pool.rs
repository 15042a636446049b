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

use std::cell::RefCell;
use std::rc::Rc;

use super::Workload;
use crate::asyncio::{self, Queue, TaskGroup};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let c = w.concurrency();
    let q = Queue::new(usize::try_from(c).unwrap_or(usize::MAX));
    // When the producer reached request i: the request exists from then on.
    let issued = Rc::new(RefCell::new(vec![0.0; w.requests() as usize]));
    let tg = TaskGroup::new();
    for _ in 0..c {
        tg.create_task(worker(w.clone(), q, issued.clone()));
    }
    for i in 0..w.requests() {
        issued.borrow_mut()[i as usize] = asyncio::time();
        q.put(Some(i)).await;
    }
    for _ in 0..c {
        q.put(None).await;
    }
    tg.join().await;
}

/// `worker(q)`.
async fn worker(w: Workload, q: Queue, issued: Rc<RefCell<Vec<f64>>>) {
    while let Some(i) = q.get().await {
        let at = issued.borrow()[i as usize];
        w.request_issued(i, Some(at)).await;
    }
}
