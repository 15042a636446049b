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
use crate::memory::{Batches, Obj};

/// How many freed tuples of one size CPython's tuple free list keeps.
const TUPLE_FREELIST: u32 = 2000;

/// The program's `main()`.
///
/// Each batch is a tuple from `itertools.batched`, held while its batch
/// runs and freed when the next one is bound to `batch`, after that one
/// is made ([`Batches`] says how each version makes it; the tuples go
/// through CPython's free lists, [`asyncio::tuple_made`]). With a profile
/// that does not say ([`Batches::Uncharged`]), only a freed 20-item tuple
/// is charged, which stays traced on 3.11 and 3.12 ([`Obj::Tuple20`]).
pub async fn main(w: Workload) {
    let n = w.requests();
    let limit = w.concurrency();
    let (batches, mut lists) = asyncio::tuple_lists();
    let mut first = 0;
    let mut kept = 0;
    // The items of the tuple bound to `batch`.
    let mut bound: Option<u64> = None;
    while first < n {
        let last = (first + limit).min(n);
        let items = last - first;
        match batches {
            Batches::Uncharged => {
                if items == 20 && kept <= TUPLE_FREELIST && asyncio::keep_freed(Obj::Tuple20) {
                    kept += 1;
                }
            }
            Batches::Exact => asyncio::tuple_made(&mut lists, items),
            Batches::Limit => {
                asyncio::tuple_made(&mut lists, limit);
                if items < limit {
                    asyncio::tuple_cut(limit, items);
                }
            }
        }
        if let Some(previous) = bound.replace(items) {
            asyncio::tuple_freed(&mut lists, previous);
        }
        let tg = TaskGroup::new();
        for i in first..last {
            tg.create_task(request(i));
        }
        tg.join().await;
        first = last;
    }
    if batches != Batches::Uncharged {
        if batches == Batches::Limit {
            // The call that finds the input exhausted.
            asyncio::tuple_made(&mut lists, limit);
            asyncio::tuple_freed(&mut lists, limit);
        }
        // Freed with main's frame.
        if let Some(last) = bound {
            asyncio::tuple_freed(&mut lists, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::experiment::config_for_version;
    use crate::memory::free_lists::tuple_bytes;
    use crate::scenario::PythonVersion;
    use crate::strategy::{StrategyKind, Workload, simulate};

    fn peak(n: usize, limit: u64, version: PythonVersion) -> i64 {
        let w = Workload::new(Arc::from(vec![0.1; n]), limit);
        let config = config_for_version(version);
        simulate(StrategyKind::Batching, &w, &config)
            .expect("runs")
            .report
            .peak_memory_bytes as i64
    }

    /// On 3.12+ every call of `itertools.batched` makes a tuple for the
    /// limit's items first: one request at a limit of 100,000 peaks at
    /// that 800 KB tuple, made in main's first step, on top of less than
    /// what the request itself holds at its peak. The 3.11 harness's
    /// stand-in makes a tuple of the batch's items only, so there the
    /// limit changes nothing. (The differential memory test found one
    /// request at C = 1,720 53 % under CPython 3.12 before.)
    #[test]
    fn a_batch_is_first_made_for_the_whole_limit_on_3_12() {
        let alone = peak(1, 1, PythonVersion::V3_12);
        let wide = peak(1, 100_000, PythonVersion::V3_12);
        assert!(wide > tuple_bytes(100_000), "{wide}");
        assert!(wide < tuple_bytes(100_000) + alone, "{wide} {alone}");
        assert_eq!(
            peak(1, 100_000, PythonVersion::V3_11),
            peak(1, 1, PythonVersion::V3_11)
        );
    }
}
