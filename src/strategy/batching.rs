//! `batching`: fixed batches, each behind its own TaskGroup.
//!
//! ```python
//! async def main():
//!     for batch in itertools.batched(urls, C):
//!         async with asyncio.TaskGroup() as tg:
//!             for url in batch:
//!                 tg.create_task(process(url))
//! ```
//!
//! Memory stays at one batch, but every batch lasts as long as its slowest
//! request.

use super::{Workload, request};
use crate::asyncio::TaskGroup;

/// The program's `main()`.
pub async fn main(w: Workload) {
    let n = w.requests();
    let mut first = 0;
    while first < n {
        let last = (first + w.concurrency()).min(n);
        let tg = TaskGroup::new();
        for i in first..last {
            tg.create_task(request(i));
        }
        tg.join().await;
        first = last;
    }
}
