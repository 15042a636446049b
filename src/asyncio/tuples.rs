//! Tuples a program makes and frees itself: `itertools.batched`'s batches,
//! which `batching` holds one at a time.
//!
//! Each goes through CPython's tuple free lists: the program keeps its
//! [`TupleLists`], whose 1-tuples share the loop's list of wake-ups'
//! `(fut,)` ([`crate::memory::free_lists`]). A freed tuple of at most 20
//! items stays traced on its length's list until the next tuple of that
//! length takes it back.

use super::event_loop::with_loop;
use crate::memory::Batches;
use crate::memory::free_lists::{TupleLists, tuple_bytes};

/// How the running profile's CPython makes `batching`'s batch tuples, and
/// empty lists for the tuples the program makes.
pub fn tuple_lists() -> (Batches, TupleLists) {
    with_loop(|st| {
        let profile = &st.config.profile;
        (profile.batched, TupleLists::for_profile(profile))
    })
}

/// The program makes a tuple of `items` items (`PyTuple_New`).
pub fn tuple_made(lists: &mut TupleLists, items: u64) {
    with_loop(|st| {
        let (shared, mem) = st.free_lists_and_ledger();
        lists.made(items, shared, mem);
    });
}

/// The program frees a tuple of `items` items that it made.
pub fn tuple_freed(lists: &mut TupleLists, items: u64) {
    with_loop(|st| {
        let (shared, mem) = st.free_lists_and_ledger();
        lists.freed(items, shared, mem);
    });
}

/// A tuple of `from` items is cut to its first `to` (`_PyTuple_Resize`, a
/// `realloc`: tracemalloc sees the block shrink, not a free and a new
/// allocation, and no free list is involved).
pub fn tuple_cut(from: u64, to: u64) {
    with_loop(|st| st.mem.free(tuple_bytes(from) - tuple_bytes(to)));
}
