//! CPython's free lists of small tuples and floats, as `tracemalloc` sees
//! them.
//!
//! A freed 1-tuple, 2-tuple or float does not go back to the allocator: it
//! goes onto its type's free list (up to 2,000 tuples of each length, 100
//! floats, in CPython 3.11-3.13), where tracemalloc still counts it, and
//! the next tuple of that length (float) is taken from there before any new
//! memory. So after a burst of frees (a timer heap's worth of sleeps
//! ending in one iteration, every `(fut,)` of their wake-ups) their bytes
//! stay traced until as many new ones have been made.
//!
//! The objects whose profile sizes hold such parts (see
//! `profiles/README.md`): a `call_soon(callback, arg)` Handle's `args`, the
//! 1-tuple `(fut,)` of a task's wake-up or `(task,)` of a done callback
//! (48 B); a sleep's `TimerHandle`, its `args` `(fut, None)` (56 B) and its
//! deadline float (24 B). The Context and `FutureIter` free lists are kept
//! by the loop itself (`State::copy_contexts`, `State::await_new_future`).
//!
//! The model counts only these parts, and the tuples a program makes
//! itself ([`TupleLists`]: `itertools.batched`'s batches, of any length). CPython's other tuples and floats (an iteration's
//! `end_time`, a call's argument tuple) take from and give back to the
//! same lists; they are short-lived and few per request, so they leave
//! the counts here about where they are.

use super::{Ledger, Profile};

/// A kind of object that CPython keeps on a free list when freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Pooled {
    /// A 1-tuple: 48 bytes with its GC header.
    Tuple1 = 0,
    /// A 2-tuple: 56 bytes with its GC header.
    Tuple2 = 1,
    /// A float: 24 bytes (no GC header).
    Float = 2,
}

impl Pooled {
    /// Bytes of one, as tracemalloc counts it (3.11-3.13).
    pub const fn bytes(self) -> i64 {
        match self {
            Pooled::Tuple1 => 48,
            Pooled::Tuple2 => 56,
            Pooled::Float => 24,
        }
    }

    /// How many the free list keeps: `PyTuple_MAXFREELIST` (2,000 per
    /// length) and `PyFloat_MAXFREELIST` (100) in 3.11 and 3.12,
    /// `Py_tuple_MAXFREELIST` and `Py_floats_MAXFREELIST` in 3.13.
    pub const fn capacity(self) -> u32 {
        match self {
            Pooled::Tuple1 | Pooled::Tuple2 => 2000,
            Pooled::Float => 100,
        }
    }
}

/// The most items of a tuple that CPython keeps on a free list when it is
/// freed (`PyTuple_MAXSAVESIZE`, 3.11-3.13).
pub const TUPLE_SAVED_ITEMS: u64 = 20;

/// Bytes of a tuple of `items` items, as tracemalloc counts it: the GC
/// header (16), the head of a variable-size object (24) and a pointer per
/// item (64-bit CPython 3.11-3.13; [`Pooled::Tuple1`] and
/// [`Pooled::Tuple2`] are its first two). Counted as at most 2^56 items
/// (512 PiB, far past any memory CPython could get before its
/// `MemoryError`), so that a limit near 2^64 cannot overflow the ledger.
pub const fn tuple_bytes(items: u64) -> i64 {
    const MOST: u64 = 1 << 56;
    let items = if items > MOST { MOST } else { items };
    40 + 8 * items as i64
}

/// How many freed 1-tuples, and freed sleeps' 2-tuples and floats,
/// CPython's free lists hold (still traced).
///
/// A sleep's 2-tuple and float are made and freed together, so their two
/// lists move together, except when the floats' list (the shorter) is full
/// or empty: then the 2-tuples' list gains or loses one alone. So it is
/// kept as the floats' count and the 2-tuples' excess over it, and each
/// make or free is one test and one increment, with the rest in a path
/// taken only at those ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreeLists {
    /// 1-tuples on their free list.
    tuples1: u32,
    /// Floats on their free list.
    floats: u32,
    /// 2-tuples on their free list beyond `floats`: at most the difference
    /// of the two capacities, since both lists fill and empty together
    /// until the floats' is full or empty.
    tuples2_beyond: u32,
    /// Bytes of a 1-tuple, a 2-tuple and a float ([`Pooled::bytes`]), or 0
    /// for all three ([`FreeLists::for_profile`]).
    sizes: [i64; 3],
}

/// The most 2-tuples the 2-tuples' list holds beyond the floats'.
const TUPLES2_BEYOND: u32 = Pooled::Tuple2.capacity() - Pooled::Float.capacity();

impl FreeLists {
    /// The free lists of a run with `profile`'s sizes. A profile whose
    /// `handle` is smaller than a 1-tuple, or whose `timer_handle` is
    /// smaller than its 2-tuple, float and Context, has not measured them
    /// inside (a test's, or a hand-made one): its lists then hold 0-byte
    /// objects, so that no object is charged less than nothing.
    pub fn for_profile(profile: &Profile) -> Self {
        /// A `contextvars.Context`, which a TimerHandle also holds.
        const CONTEXT: i64 = 64;
        let sizes = [Pooled::Tuple1, Pooled::Tuple2, Pooled::Float].map(Pooled::bytes);
        let holds =
            profile.handle >= sizes[0] && profile.timer_handle >= sizes[1] + sizes[2] + CONTEXT;
        FreeLists {
            sizes: if holds { sizes } else { [0; 3] },
            ..FreeLists::default()
        }
    }

    /// Bytes of the 1-tuple in a wake-up's or a done callback's Handle.
    #[inline(always)]
    pub fn tuple1_bytes(&self) -> i64 {
        self.sizes[0]
    }

    /// Bytes of the 2-tuple and the float in a sleep's TimerHandle.
    #[inline(always)]
    pub fn timer_bytes(&self) -> i64 {
        self.sizes[1] + self.sizes[2]
    }

    /// A 1-tuple is made: from its free list if it holds one (memory
    /// already traced), else new memory, charged to `mem`.
    #[inline(always)]
    pub fn tuple1_made(&mut self, mem: &mut Ledger) {
        if self.tuples1 > 0 {
            self.tuples1 -= 1;
        } else {
            mem.alloc_uncounted(self.sizes[0]);
        }
    }

    /// `n` 1-tuples (0 or 1) are freed: onto their free list (still
    /// traced) unless the list is full, when they are freed for real,
    /// credited to `mem`.
    #[inline(always)]
    pub fn tuples1_freed(&mut self, n: u32, mem: &mut Ledger) {
        debug_assert!(n <= 1);
        let held = self.tuples1 + n;
        if held > Pooled::Tuple1.capacity() {
            mem.free(self.sizes[0]);
        } else {
            self.tuples1 = held;
        }
    }

    /// A sleep's 2-tuple and float are made ([`FreeLists::tuple1_made`]).
    #[inline(always)]
    pub fn timer_made(&mut self, mem: &mut Ledger) {
        if self.floats > 0 {
            // The 2-tuples' list holds at least as many.
            self.floats -= 1;
        } else {
            mem.alloc_uncounted(self.sizes[2]);
            if self.tuples2_beyond > 0 {
                self.tuples2_beyond -= 1;
            } else {
                mem.alloc_uncounted(self.sizes[1]);
            }
        }
    }

    /// A sleep's 2-tuple and float are freed ([`FreeLists::tuples1_freed`]).
    #[inline(always)]
    pub fn timer_freed(&mut self, mem: &mut Ledger) {
        if self.floats < Pooled::Float.capacity() {
            // Then the 2-tuples' list is not full either.
            self.floats += 1;
        } else {
            mem.free(self.sizes[2]);
            if self.tuples2_beyond < TUPLES2_BEYOND {
                self.tuples2_beyond += 1;
            } else {
                mem.free(self.sizes[1]);
            }
        }
    }

    /// Objects of `kind` its free list holds now.
    pub fn held(&self, kind: Pooled) -> u32 {
        match kind {
            Pooled::Tuple1 => self.tuples1,
            Pooled::Tuple2 => self.floats + self.tuples2_beyond,
            Pooled::Float => self.floats,
        }
    }
}

/// The free lists of the tuples a program makes itself
/// (`itertools.batched`'s batches, of any length), beside the loop's
/// [`FreeLists`]: their 1-tuples share its list of wake-ups' `(fut,)`,
/// longer ones have one list per length up to [`TUPLE_SAVED_ITEMS`]. Their
/// 2-tuples have a list of their own here, not the sleeps' (whose 2-tuples
/// move with their floats in [`FreeLists`]): only a batch of 2, at C = 2,
/// would share it.
#[derive(Clone, Debug, Default)]
pub struct TupleLists {
    /// Freed tuples of 2 to 20 items, by length (0 and 1 unused).
    sized: [u32; TUPLE_SAVED_ITEMS as usize + 1],
    /// Whether a new tuple of 20 items is taken from its free list: not on
    /// 3.11 and 3.12, which put a freed one there but take from the lists
    /// only below 20 items (a profile whose `tuple20` is not 0); 3.13 does.
    takes_20: bool,
}

impl TupleLists {
    /// Empty lists, for `profile`'s CPython.
    pub fn for_profile(profile: &Profile) -> Self {
        TupleLists {
            takes_20: profile.tuple20 == 0,
            ..TupleLists::default()
        }
    }

    /// The list of tuples of `items` items (the loop's 1-tuples' in
    /// `shared`, when its profile charges those,
    /// [`FreeLists::for_profile`]), and whether a new tuple of that length
    /// is taken from it; `None` for no list.
    fn list<'a>(
        &'a mut self,
        items: u64,
        shared: &'a mut FreeLists,
    ) -> Option<(&'a mut u32, bool)> {
        match items {
            1 if shared.sizes[0] != 0 => Some((&mut shared.tuples1, true)),
            n if (1..=TUPLE_SAVED_ITEMS).contains(&n) => Some((
                &mut self.sized[n as usize],
                n < TUPLE_SAVED_ITEMS || self.takes_20,
            )),
            _ => None,
        }
    }

    /// A program makes a tuple of `items` items (`PyTuple_New`), charged to
    /// `mem` as one allocation unless its length's free list holds one
    /// that the version takes back. The empty tuple is a singleton.
    pub fn made(&mut self, items: u64, shared: &mut FreeLists, mem: &mut Ledger) {
        if items == 0 {
            return;
        }
        match self.list(items, shared) {
            Some((held, true)) if *held > 0 => *held -= 1,
            _ => mem.alloc(tuple_bytes(items)),
        }
    }

    /// A tuple of `items` items that a program made ([`TupleLists::made`])
    /// is freed: onto its length's free list (still traced) if it has at
    /// most [`TUPLE_SAVED_ITEMS`] and the list is not full, else credited
    /// to `mem`.
    pub fn freed(&mut self, items: u64, shared: &mut FreeLists, mem: &mut Ledger) {
        if items == 0 {
            return;
        }
        match self.list(items, shared) {
            Some((held, _)) if *held < Pooled::Tuple1.capacity() => *held += 1,
            _ => mem.free(tuple_bytes(items)),
        }
    }

    /// Freed tuples of `items` items that the lists hold.
    pub fn held(&self, items: u64, shared: &FreeLists) -> u32 {
        match items {
            1 if shared.sizes[0] != 0 => shared.tuples1,
            n if (1..=TUPLE_SAVED_ITEMS).contains(&n) => self.sized[n as usize],
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> FreeLists {
        let p =
            crate::experiment::config_for_version(crate::scenario::PythonVersion::V3_12).profile;
        let f = FreeLists::for_profile(&p);
        assert_eq!((f.tuple1_bytes(), f.timer_bytes()), (48, 80));
        f
    }

    /// A profile too small to hold the parts keeps lists of 0-byte ones.
    #[test]
    fn a_profile_without_the_parts_charges_nothing_for_them() {
        let mut p =
            crate::experiment::config_for_version(crate::scenario::PythonVersion::V3_12).profile;
        p.handle = 40;
        let mut f = FreeLists::for_profile(&p);
        assert_eq!((f.tuple1_bytes(), f.timer_bytes()), (0, 0));
        let mut mem = Ledger::with_baseline(0);
        f.tuple1_made(&mut mem);
        f.timer_made(&mut mem);
        assert_eq!(mem.peak(), 0);
    }

    #[test]
    fn a_freed_tuple_stays_traced_until_one_is_made_again() {
        let mut f = real();
        let mut mem = Ledger::with_baseline(0);
        // Nothing to reuse at first: a new one is new memory.
        f.tuple1_made(&mut mem);
        assert_eq!(mem.current(), 48);
        // Freed, it is kept: its bytes stay traced.
        f.tuples1_freed(1, &mut mem);
        assert_eq!((mem.current(), f.held(Pooled::Tuple1)), (48, 1));
        // A sleep's parts have their own lists.
        f.timer_made(&mut mem);
        assert_eq!(mem.current(), 48 + 56 + 24);
        // The next 1-tuple reuses the freed one; the one after is new.
        f.tuple1_made(&mut mem);
        assert_eq!((mem.current(), f.held(Pooled::Tuple1)), (48 + 80, 0));
        f.tuple1_made(&mut mem);
        assert_eq!(mem.current(), 2 * 48 + 80);
        assert_eq!(mem.peak(), 2 * 48 + 80);
    }

    /// The lists keep 100 floats and 2,000 2-tuples: past that, a sleep's
    /// parts are freed for real, its float first.
    #[test]
    fn a_full_free_list_frees_for_real() {
        let mut f = real();
        let mut mem = Ledger::with_baseline(0);
        for _ in 0..2001 {
            f.timer_made(&mut mem);
        }
        assert_eq!(mem.current(), 2001 * 80);
        for _ in 0..100 {
            f.timer_freed(&mut mem);
        }
        assert_eq!(mem.current(), 2001 * 80, "all kept");
        f.timer_freed(&mut mem);
        assert_eq!(f.held(Pooled::Float), 100);
        assert_eq!(mem.current(), 2001 * 80 - 24, "the 101st float is freed");
        for _ in 0..1900 {
            f.timer_freed(&mut mem);
        }
        assert_eq!((f.held(Pooled::Float), f.held(Pooled::Tuple2)), (100, 2000));
        assert_eq!(mem.current(), 100 * 24 + 2000 * 56);
        // Made again: the held ones first, then new memory.
        for _ in 0..100 {
            f.timer_made(&mut mem);
        }
        assert_eq!(mem.current(), 100 * 24 + 2000 * 56);
        f.timer_made(&mut mem);
        assert_eq!(
            mem.current(),
            100 * 24 + 2000 * 56 + 24,
            "a new float, a held 2-tuple"
        );
        for _ in 0..2000 {
            f.tuple1_made(&mut mem);
        }
        for _ in 0..2000 {
            f.tuples1_freed(1, &mut mem);
        }
        f.tuple1_made(&mut mem);
        f.tuple1_made(&mut mem);
        f.tuples1_freed(1, &mut mem);
        f.tuples1_freed(1, &mut mem);
        assert_eq!(f.held(Pooled::Tuple1), 2000);
    }

    /// A program's own tuples (`itertools.batched`'s batches) go through
    /// the free list of their length, up to 20 items: a freed one stays
    /// traced and the next of its length takes it back. 1-tuples share the
    /// wake-ups' list. 3.11 and 3.12 put a freed 20-item tuple on its list
    /// but never take one from there (`tuple20` in their profiles).
    #[test]
    fn a_programs_tuples_go_through_the_list_of_their_length() {
        let mut f = real();
        let p = crate::experiment::config_for_version(crate::scenario::PythonVersion::V3_12);
        let mut t = TupleLists::for_profile(&p.profile);
        let mut mem = Ledger::with_baseline(0);
        t.made(5, &mut f, &mut mem);
        assert_eq!(mem.current(), tuple_bytes(5));
        t.freed(5, &mut f, &mut mem);
        assert_eq!((mem.current(), t.held(5, &f)), (80, 1));
        t.made(5, &mut f, &mut mem);
        assert_eq!((mem.current(), t.held(5, &f)), (80, 0));
        // Longer than 20 items: no list.
        t.made(21, &mut f, &mut mem);
        assert_eq!(mem.current(), 80 + 208);
        t.freed(21, &mut f, &mut mem);
        assert_eq!((mem.current(), t.held(21, &f)), (80, 0));
        // A 1-tuple freed by the program is the next wake-up's args.
        t.made(1, &mut f, &mut mem);
        t.freed(1, &mut f, &mut mem);
        f.tuple1_made(&mut mem);
        assert_eq!(mem.current(), 80 + 48);
        // 20 items on 3.12: kept when freed, never taken back.
        for _ in 0..3 {
            t.made(20, &mut f, &mut mem);
            t.freed(20, &mut f, &mut mem);
        }
        assert_eq!((mem.current(), t.held(20, &f)), (128 + 3 * 200, 3));
        assert_eq!(mem.allocations(), 1 + 1 + 1 + 3);
        // 3.13 takes it back.
        let p = crate::experiment::config_for_version(crate::scenario::PythonVersion::V3_13);
        let (mut f, mut t) = (
            FreeLists::for_profile(&p.profile),
            TupleLists::for_profile(&p.profile),
        );
        let mut mem = Ledger::with_baseline(0);
        for _ in 0..3 {
            t.made(20, &mut f, &mut mem);
            t.freed(20, &mut f, &mut mem);
        }
        assert_eq!((mem.current(), t.held(20, &f)), (200, 1));
    }
}
