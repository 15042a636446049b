//! `sliding_window`: keep C tasks in flight, refilling as soon as any
//! finishes, with `asyncio.wait(FIRST_COMPLETED)`.
//!
//! ```python
//! async def main():
//!     pending = set()
//!     for i in range(N):
//!         if len(pending) >= C:
//!             _, pending = await asyncio.wait(
//!                 pending, return_when=asyncio.FIRST_COMPLETED)
//!         pending.add(asyncio.create_task(request(i)))
//!     if pending:
//!         await asyncio.wait(pending)
//! ```
//!
//! Every `asyncio.wait` call adds and removes a done callback on each of
//! the C pending tasks: O(C) CPU per call, O(N x C) in all (charged as
//! `wait_future` per task and call).

use super::{Workload, request};
use crate::asyncio::{ReturnWhen, TaskSet};

/// The program's `main()`.
pub async fn main(w: Workload) {
    let c = usize::try_from(w.concurrency()).unwrap_or(usize::MAX);
    let pending = TaskSet::new();
    for i in 0..w.requests() {
        if pending.len() >= c {
            pending.wait(ReturnWhen::FirstCompleted).await;
        }
        pending.create_task(request(i));
    }
    if !pending.is_empty() {
        pending.wait(ReturnWhen::AllCompleted).await;
    }
}
