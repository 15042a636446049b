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
use crate::asyncio::{self, TaskGroup};
use crate::memory::Obj;

/// How many freed tuples of one size CPython's tuple free list keeps.
const TUPLE_FREELIST: u32 = 2000;

/// The program's `main()`.
///
/// Each batch is a tuple from `itertools.batched`; one of exactly 20 items
/// stays traced once freed on 3.11 and 3.12 ([`Obj::Tuple20`]), so every
/// such batch adds one until the free list is full.
pub async fn main(w: Workload) {
    let n = w.requests();
    let mut first = 0;
    let mut kept = 0;
    while first < n {
        let last = (first + w.concurrency()).min(n);
        if last - first == 20 && kept <= TUPLE_FREELIST && asyncio::keep_freed(Obj::Tuple20) {
            kept += 1;
        }
        let tg = TaskGroup::new();
        for i in first..last {
            tg.create_task(request(i));
        }
        tg.join().await;
        first = last;
    }
}
