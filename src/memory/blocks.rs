//! Which address a new Task gets, as far as the sets that hold tasks care.
//!
//! `tg._tasks` and the data set of asyncio's task WeakSet hash a task by its
//! address (`object.__hash__`; a weakref hashes as its referent). A discard
//! leaves a dummy slot, and an add takes a dummy only if its probe path
//! meets one before an empty slot. Slots never become empty again until the
//! table is rebuilt, so a task at the address of a task discarded since the
//! last rebuild always finds a dummy, and a task at an address new to the
//! table almost never does: it takes an empty slot and the table's fill
//! grows toward the next rebuild ([`super::container::PySet`]).
//!
//! Where the next Task lands is pymalloc's choice. It serves each size class
//! (16-byte steps, up to 512 bytes) from pools, and hands out the block freed
//! last first: LIFO within a pool, and a full pool that gets a block back
//! moves to the front of its class's list. A finished task frees its
//! coroutine, then itself (`TaskObj_dealloc` clears `task_coro` before
//! `tp_free`); the next `create_task(coro(...))` allocates the coroutine,
//! then the Task. So:
//!
//! - when the Task object and the coroutine object fall in different size
//!   classes (CPython 3.11: 192 and 200 bytes; 3.13: 176 and 192), the new
//!   Task takes the old Task's block and the sets reuse its dummy;
//! - when they share one (CPython 3.12: both 192 bytes for the harness's
//!   `process(latency)`), the new coroutine takes the old Task's block and
//!   the new Task the old coroutine's: every churned task is at an address
//!   the sets have not seen since their last rebuild, their fill grows by
//!   one per task, and a set of 1,000 tasks is rebuilt from 2,048 to 4,096
//!   slots where 3.11 and 3.13 keep 2,048.
//!
//! [`Blocks`] is that LIFO for the Task's size class. It hands out block ids,
//! which stand for addresses; only equality matters.

/// The pymalloc size class of an object of `bytes` bytes (as tracemalloc
/// counts it, GC header included): its index in 16-byte steps, or `None`
/// above 512 bytes, where CPython calls `malloc` instead.
pub fn size_class(bytes: i64) -> Option<i64> {
    (1..=512).contains(&bytes).then(|| (bytes + 15) / 16)
}

/// Freed blocks of one pymalloc size class, handed out again last-freed
/// first; a fresh block when none is free.
#[derive(Clone, Debug, Default)]
pub struct Blocks {
    free: Vec<u32>,
    next: u32,
}

impl Blocks {
    /// Take a block.
    #[inline]
    pub fn alloc(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Give a block back. `bound`: the most blocks that can be free at
    /// once, if known (0: unknown); the free list's buffer stops growing
    /// there.
    #[inline]
    pub fn free(&mut self, block: u32, bound: usize) {
        crate::asyncio::growth::push(&mut self.free, bound, block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_16_byte_steps_up_to_512() {
        assert_eq!(size_class(192), size_class(177));
        assert_ne!(size_class(192), size_class(200));
        assert_ne!(size_class(176), size_class(192));
        assert_eq!(size_class(512), Some(32));
        assert_eq!(size_class(513), None);
        assert_eq!(size_class(0), None);
    }

    #[test]
    fn the_free_list_grows_to_its_bound_whatever_the_bound() {
        for bound in [0, 1, 3, 8, 100] {
            let mut b = Blocks::default();
            let blocks: Vec<u32> = (0..200).map(|_| b.alloc()).collect();
            for &block in blocks.iter().rev() {
                b.free(block, bound);
            }
            assert_eq!(b.alloc(), 0, "bound {bound}");
        }
    }

    /// Coroutine, then Task; freed coroutine first: with one shared class the
    /// two swap blocks every generation.
    #[test]
    fn shared_class_swaps_task_and_coroutine_blocks() {
        let mut b = Blocks::default();
        let (coro, task) = (b.alloc(), b.alloc());
        b.free(coro, 0);
        b.free(task, 0);
        let (coro2, task2) = (b.alloc(), b.alloc());
        assert_eq!((coro2, task2), (task, coro));
    }
}
