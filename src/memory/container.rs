//! CPython's container growth rules, so that the ledger charges what
//! `tracemalloc` sees when a list, deque or set grows or shrinks.
//!
//! Each model tracks only sizes, never elements, and charges the ledger it
//! is given when its footprint changes.

use super::Ledger;

/// Bytes per pointer slot.
const PTR: i64 = 8;

/// A `list` used as a stack or heap (`Objects/listobject.c::list_resize`).
#[derive(Clone, Debug, Default)]
pub struct PyList {
    len: usize,
    allocated: usize,
}

impl PyList {
    /// `list_resize` to `newsize` when it moves the buffer: the list
    /// over-allocates on the way up and gives back on the way down.
    #[cold]
    #[inline(never)]
    fn realloc(&mut self, newsize: usize, mem: &mut Ledger) {
        let allocated = self.allocated;
        let mut new_allocated = (newsize + (newsize >> 3) + 6) & !3;
        if newsize.saturating_sub(self.len) > new_allocated - newsize {
            new_allocated = (newsize + 3) & !3;
        }
        if newsize == 0 {
            new_allocated = 0;
        }
        self.len = newsize;
        self.allocated = new_allocated;
        mem.resize((new_allocated as i64 - allocated as i64) * PTR);
    }

    /// `list_resize` to `newsize`: a buffer that fits stays unless the list
    /// would fill less than half of it.
    #[inline(always)]
    fn resize(&mut self, newsize: usize, mem: &mut Ledger) {
        if newsize <= self.allocated && newsize >= self.allocated >> 1 {
            self.len = newsize;
        } else {
            self.realloc(newsize, mem);
        }
    }

    /// `list.append` (also `heappush`).
    #[inline(always)]
    pub fn push(&mut self, mem: &mut Ledger) {
        self.resize(self.len + 1, mem);
    }

    /// `list.pop()` (also `heappop`).
    #[inline(always)]
    pub fn pop(&mut self, mem: &mut Ledger) {
        self.resize(self.len - 1, mem);
    }

    /// Items in the list.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the list holds no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Items per deque block (`Modules/_collectionsmodule.c`).
const BLOCKLEN: i64 = 64;
/// Where a fresh deque's indices start.
const CENTER: i64 = (BLOCKLEN - 1) / 2;
/// Freed blocks a deque keeps for reuse instead of returning them.
const MAXFREEBLOCKS: u32 = 16;
/// `sizeof(block)`: left link, 64 item pointers, right link.
pub const DEQUE_BLOCK_BYTES: i64 = (BLOCKLEN + 2) * PTR;

/// A `collections.deque` used as a FIFO (append right, pop left). Blocks
/// that fall off the left are cached (up to 16) rather than freed, exactly as
/// CPython does, so they stay in `tracemalloc`'s count.
///
/// Only the indices move on most appends and pops (several per handle the
/// loop runs); the length is derived, and blocks are counted only when one
/// fills or empties. Each index is kept as the room left in its block
/// (`BLOCKLEN - leftindex`, `BLOCKLEN - rightindex`), counted down: an
/// append or pop is then one decrement and a test of its result, where
/// `rightindex += 1; rightindex == BLOCKLEN` took five instructions.
#[derive(Clone, Debug)]
pub struct PyDeque {
    /// `BLOCKLEN - leftindex`: pops left before the left block is done.
    left_room: i64,
    /// `BLOCKLEN - rightindex`: appends before the right block is full.
    right_room: i64,
    /// Blocks in the deque (at least one: a deque keeps its last block).
    blocks: u32,
    free_blocks: u32,
}

impl Default for PyDeque {
    fn default() -> Self {
        PyDeque {
            left_room: BLOCKLEN - (CENTER + 1),
            right_room: BLOCKLEN - CENTER,
            blocks: 1,
            free_blocks: 0,
        }
    }
}

impl PyDeque {
    /// `deque.append`.
    #[inline(always)]
    pub fn push_back(&mut self, mem: &mut Ledger) {
        // `rightindex += 1`, and the block is full when it reaches BLOCKLEN.
        self.right_room -= 1;
        if self.right_room == 0 {
            self.new_right_block(mem);
        }
    }

    /// The right block is full: the append goes to a new one, from the
    /// cache if it holds one.
    #[cold]
    #[inline(never)]
    fn new_right_block(&mut self, mem: &mut Ledger) {
        // `rightindex = 0`.
        self.right_room = BLOCKLEN;
        self.blocks += 1;
        if self.free_blocks > 0 {
            self.free_blocks -= 1;
        } else {
            mem.alloc(DEQUE_BLOCK_BYTES);
        }
    }

    /// `deque.popleft` (and `remove` of the first item).
    #[inline(always)]
    pub fn pop_front(&mut self, mem: &mut Ledger) {
        debug_assert!(!self.is_empty(), "popleft from an empty deque");
        // `leftindex += 1`, and the block is done when it reaches BLOCKLEN.
        self.left_room -= 1;
        if self.left_room == 0 {
            self.left_block_done(mem);
        }
    }

    /// The pop took the left block's last item: the block leaves (to the
    /// cache if it has room), or, if it was the only one and so the deque
    /// is now empty, it stays and the indices re-center.
    #[cold]
    #[inline(never)]
    fn left_block_done(&mut self, mem: &mut Ledger) {
        if self.blocks > 1 {
            self.blocks -= 1;
            // `leftindex = 0`.
            self.left_room = BLOCKLEN;
            if self.free_blocks < MAXFREEBLOCKS {
                self.free_blocks += 1;
            } else {
                mem.free(DEQUE_BLOCK_BYTES);
            }
        } else {
            *self = PyDeque {
                free_blocks: self.free_blocks,
                ..PyDeque::default()
            };
        }
    }

    /// Items in the deque: `(blocks - 1) * BLOCKLEN + rightindex -
    /// leftindex + 1`.
    pub fn len(&self) -> usize {
        let full = (i64::from(self.blocks) - 1) * BLOCKLEN;
        (full + self.left_room - self.right_room + 1) as usize
    }

    /// True when the deque holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Slots a set keeps inline before it allocates a table.
const SET_MINSIZE: usize = 8;
/// `sizeof(setentry)`: key pointer and hash.
const SET_ENTRY_BYTES: i64 = 16;
/// A set object as tracemalloc counts it (`PySetObject` with its eight
/// inline entries, and the GC header): 216 bytes on CPython 3.11-3.13.
pub const SET_OBJECT_BYTES: i64 = 216;

/// A `set` of tasks (TaskGroup's `_tasks`, the data of asyncio's task
/// WeakSet), keyed by the task's block ([`super::blocks`]), which stands
/// for the address its hash comes from.
///
/// `fill` counts used and dummy slots, and the table is rebuilt when
/// `fill * 5 >= mask * 3` (`Objects/setobject.c::set_add_entry`), for
/// `used * 4` entries (`used * 2` above 50,000), which drops the dummies.
///
/// A discard leaves a dummy. An add reuses one (fill unchanged) when its key
/// left a dummy since the last rebuild: the same address hashes to the same
/// probe path, which meets that dummy before any empty slot. An add of a key
/// new to the table takes an empty slot. (CPython can also reuse another
/// key's dummy that happens to lie on the path; the model ignores that, so
/// with churn over new addresses it overestimates the fill: 2,000 where
/// CPython 3.12 reached 1,785, with the same tables.) With asyncio's
/// first-in, first-out churn and a new Task at the last-freed Task's
/// address, a set holding 1,000 tasks through 9,000 add/discard cycles keeps
/// its 2,048-slot table, as CPython 3.11 and 3.13 do.
///
/// A rebuild allocates the new table before it frees the old one, and
/// tracemalloc's peak sees both.
#[derive(Clone, Debug)]
pub struct PySet {
    used: usize,
    fill: usize,
    size: usize,
    /// The keys that left a dummy, a bit per key (a quarter of a byte per
    /// task, where a stamp per key took 4 bytes).
    dummy: Vec<DummyWord>,
    /// Starts at 1; every rebuild moves it on, dropping all dummies.
    epoch: u32,
}

/// The table rebuilds of a fresh set as `adds` keys are added one by one
/// ([`PySet::built_by_adds`]). Only the adds that cross the three-fifths
/// threshold rebuild the table, each allocating the new one before it frees
/// the old; the tables only grow, so the peak is at the last rebuild, with
/// its old and new table both held.
#[derive(Clone, Copy, Debug)]
pub struct Ladder {
    adds: usize,
    /// The final table's size, the one before it, and how many rebuilds.
    size: usize,
    old: usize,
    rebuilds: u64,
}

impl Ladder {
    fn new(adds: usize) -> Self {
        let mut ladder = Ladder {
            adds,
            ..Ladder::default()
        };
        loop {
            // The add that makes `fill * 5 >= mask * 3`.
            let trigger = (3 * (ladder.size - 1)).div_ceil(5);
            if trigger > adds {
                return ladder;
            }
            ladder.old = ladder.size;
            ladder.size = PySet::resized(trigger);
            ladder.rebuilds += 1;
        }
    }
}

impl Default for Ladder {
    /// The ladder of no adds: the inline table.
    fn default() -> Self {
        Ladder {
            adds: 0,
            size: SET_MINSIZE,
            old: SET_MINSIZE,
            rebuilds: 0,
        }
    }
}

/// 64 keys' dummy bits, valid only in the [`PySet::epoch`] they were set in
/// (so a rebuild drops every dummy in O(1)).
#[derive(Clone, Copy, Debug, Default)]
struct DummyWord {
    bits: u64,
    epoch: u32,
}

impl Default for PySet {
    fn default() -> Self {
        PySet {
            used: 0,
            fill: 0,
            size: SET_MINSIZE,
            dummy: Vec::new(),
            epoch: 1,
        }
    }
}

impl PySet {
    /// `set_table_resize`'s table size for `minused`: the smallest power of
    /// two above it, at least [`SET_MINSIZE`].
    fn size_above(minused: usize) -> usize {
        (minused + 1).next_power_of_two().max(SET_MINSIZE)
    }

    /// The table size `set_add_entry` rebuilds for at `used` keys.
    fn resized(used: usize) -> usize {
        Self::size_above(if used > 50_000 { used * 2 } else { used * 4 })
    }

    fn table_bytes(size: usize) -> i64 {
        if size <= SET_MINSIZE {
            0
        } else {
            size as i64 * SET_ENTRY_BYTES
        }
    }

    /// `set.add` of `key`, not in the set; a rebuild is charged to `mem`.
    #[inline]
    pub fn add(&mut self, key: u32, mem: &mut Ledger) {
        self.used += 1;
        let bit = 1u64 << (key % 64);
        if let Some(word) = self.dummy.get_mut(key as usize / 64)
            && word.epoch == self.epoch
            && word.bits & bit != 0
        {
            // The key's own dummy is on its probe path: reused, no resize
            // check.
            word.bits &= !bit;
            return;
        }
        self.fill += 1;
        let mask = self.size - 1;
        if self.fill * 5 >= mask * 3 {
            self.rebuild(mem);
        }
    }

    /// `set_table_resize`, from an add that filled three fifths.
    #[cold]
    fn rebuild(&mut self, mem: &mut Ledger) {
        let newsize = Self::resized(self.used);
        let new = Self::table_bytes(newsize);
        if new > 0 {
            mem.alloc(new);
        }
        mem.free(Self::table_bytes(self.size));
        self.size = newsize;
        self.fill = self.used;
        self.epoch += 1;
    }

    /// A fresh set filled by `adds` `set.add` calls of distinct keys and no
    /// discard (how `asyncio.wait` builds `done` and `pending`), charged to
    /// `mem` as those adds would be. `ladder` remembers the last count's
    /// rebuilds (a program's calls tend to repeat it).
    pub fn built_by_adds(adds: usize, ladder: &mut Ladder, mem: &mut Ledger) -> Self {
        if ladder.adds != adds {
            *ladder = Ladder::new(adds);
        }
        if ladder.rebuilds > 0 {
            let old = Self::table_bytes(ladder.old);
            mem.alloc_many(old + Self::table_bytes(ladder.size), ladder.rebuilds);
            mem.free(old);
        }
        PySet {
            used: adds,
            fill: adds,
            size: ladder.size,
            ..PySet::default()
        }
    }

    /// `set(other)` of a set holding `used` keys (`set_merge` into an empty
    /// set): one table for twice as many keys, allocated up front if the
    /// keys would fill three fifths of the inline one.
    pub fn copy_of(used: usize, mem: &mut Ledger) -> Self {
        let mut set = PySet {
            used,
            fill: used,
            ..PySet::default()
        };
        if used * 5 >= (SET_MINSIZE - 1) * 3 {
            let newsize = Self::size_above(used * 2);
            mem.alloc(Self::table_bytes(newsize));
            set.size = newsize;
        }
        set
    }

    /// Bytes of the set's table (0 while its keys fit inline).
    pub fn table(&self) -> i64 {
        Self::table_bytes(self.size)
    }

    /// `set.discard` of `key`, in the set: its slot becomes a dummy.
    #[inline]
    pub fn discard(&mut self, key: u32) {
        self.used -= 1;
        match self.dummy.get_mut(key as usize / 64) {
            Some(word) if word.epoch == self.epoch => word.bits |= 1u64 << (key % 64),
            _ => self.first_dummy_in_word(key),
        }
    }

    /// The first dummy of `key`'s word since the last rebuild.
    #[cold]
    fn first_dummy_in_word(&mut self, key: u32) {
        let w = key as usize / 64;
        if w >= self.dummy.len() {
            self.dummy.resize(w + 1, DummyWord::default());
        }
        self.dummy[w] = DummyWord {
            bits: 1u64 << (key % 64),
            epoch: self.epoch,
        };
    }

    /// The set is freed: its table is credited to `mem`.
    pub fn clear(&mut self, mem: &mut Ledger) {
        mem.free(Self::table_bytes(self.size));
        *self = PySet::default();
    }

    /// Elements in the set.
    pub fn len(&self) -> usize {
        self.used
    }

    /// True when the set holds no element.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sys.getsizeof([])` growth for appends 1..=20 on CPython 3.12:
    /// allocated goes 4, 8, 16, 24, 32 (the 0, 4, 8, 16, 24, 32 pattern).
    #[test]
    fn list_over_allocates_like_cpython() {
        let mut l = PyList::default();
        let mut caps = Vec::new();
        let mut mem = Ledger::default();
        for _ in 0..20 {
            l.push(&mut mem);
            caps.push(l.allocated);
        }
        assert_eq!(
            caps,
            vec![
                4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16, 24, 24, 24, 24
            ]
        );
    }

    #[test]
    fn deque_allocates_a_block_every_64_appends_and_caches_freed_ones() {
        let mut d = PyDeque::default();
        let mut mem = Ledger::default();
        // The first block exists from construction: 32 appends fit in it.
        (0..32).for_each(|_| d.push_back(&mut mem));
        assert_eq!(mem.current(), 0);
        d.push_back(&mut mem);
        assert_eq!(mem.current(), DEQUE_BLOCK_BYTES);
        (0..63).for_each(|_| d.push_back(&mut mem));
        assert_eq!((d.len(), mem.current()), (96, DEQUE_BLOCK_BYTES));
        // Draining keeps freed blocks cached (no bytes returned).
        (0..96).for_each(|_| d.pop_front(&mut mem));
        assert_eq!(mem.current(), DEQUE_BLOCK_BYTES);
        assert!(d.is_empty());
    }

    /// CPython's deque indices, as `Modules/_collectionsmodule.c` moves
    /// them (append right, pop left), with its block cache: the model the
    /// countdowns in [`PyDeque`] stand for.
    struct IndexDeque {
        leftindex: i64,
        rightindex: i64,
        blocks: i64,
        free_blocks: u32,
        bytes: i64,
    }

    impl IndexDeque {
        fn new() -> Self {
            IndexDeque {
                leftindex: CENTER + 1,
                rightindex: CENTER,
                blocks: 1,
                free_blocks: 0,
                bytes: 0,
            }
        }

        fn len(&self) -> i64 {
            (self.blocks - 1) * BLOCKLEN + self.rightindex - self.leftindex + 1
        }

        fn append(&mut self) {
            if self.rightindex == BLOCKLEN - 1 {
                if self.free_blocks > 0 {
                    self.free_blocks -= 1;
                } else {
                    self.bytes += DEQUE_BLOCK_BYTES;
                }
                self.blocks += 1;
                self.rightindex = -1;
            }
            self.rightindex += 1;
        }

        fn popleft(&mut self) {
            self.leftindex += 1;
            if self.leftindex == BLOCKLEN {
                if self.len() > 0 {
                    self.blocks -= 1;
                    if self.free_blocks < MAXFREEBLOCKS {
                        self.free_blocks += 1;
                    } else {
                        self.bytes -= DEQUE_BLOCK_BYTES;
                    }
                    self.leftindex = 0;
                } else {
                    // "re-center instead of freeing a block".
                    self.leftindex = CENTER + 1;
                    self.rightindex = CENTER;
                }
            }
        }
    }

    /// The countdowns agree with CPython's indices on every step of random
    /// runs of appends and pops: through many blocks, the cache of 16 freed
    /// ones, and the re-centering of an emptied deque.
    #[test]
    fn deque_countdowns_follow_cpythons_indices() {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for round in 0..50 {
            let (mut d, mut mem, mut reference) =
                (PyDeque::default(), Ledger::default(), IndexDeque::new());
            for _ in 0..20_000 {
                crate::xorshift::next(&mut x);
                // Runs of appends or pops, long enough to cross blocks.
                let run = x % (1 + 40 * (round % 5 + 1));
                let append = (x >> 32).is_multiple_of(2) || reference.len() == 0;
                for _ in 0..run {
                    if append {
                        d.push_back(&mut mem);
                        reference.append();
                    } else if reference.len() > 0 {
                        d.pop_front(&mut mem);
                        reference.popleft();
                    }
                    assert_eq!(d.len() as i64, reference.len());
                    assert_eq!(mem.current(), reference.bytes);
                }
            }
        }
    }

    #[test]
    fn set_churn_at_freed_addresses_reuses_dummies_and_keeps_its_table() {
        let mut mem = Ledger::default();
        let mut s = PySet::default();
        for k in 0..1000 {
            s.add(k, &mut mem);
        }
        assert_eq!(mem.current(), 2048 * 16);
        // First in, first out; the new task at the address just freed.
        for k in 0..9000 {
            s.discard(k % 1000);
            s.add(k % 1000, &mut mem);
        }
        assert_eq!(s.size, 2048);
        assert_eq!(mem.current(), 2048 * 16);
    }

    #[test]
    fn set_churn_at_new_addresses_grows_the_table_once() {
        let mut mem = Ledger::default();
        let mut s = PySet::default();
        for k in 0..1000 {
            s.add(k, &mut mem);
        }
        // Task and coroutine swap blocks: each lane alternates between two
        // addresses, k and k + 1000.
        let mut at = [0u32; 1000];
        for (k, a) in at.iter_mut().enumerate() {
            *a = k as u32;
        }
        for k in 0..9000 {
            let lane = k % 1000;
            s.discard(at[lane]);
            at[lane] = if at[lane] < 1000 {
                at[lane] + 1000
            } else {
                at[lane] - 1000
            };
            s.add(at[lane], &mut mem);
        }
        assert_eq!(s.size, 4096);
        assert_eq!(mem.current(), 4096 * 16);
        // The rebuild held both tables at once.
        assert_eq!(mem.peak(), (2048 + 4096) * 16);
    }

    /// tracemalloc on CPython 3.11-3.13, less the 216-byte set object:
    /// `set(s)` of 1,000 keys 32,768 bytes, of 5 keys 256, of 4 keys 0.
    #[test]
    fn a_set_copy_sizes_its_table_for_twice_the_keys() {
        for (used, table) in [(0, 0), (4, 0), (5, 16 * 16), (1000, 2048 * 16)] {
            let mut mem = Ledger::default();
            let copy = PySet::copy_of(used, &mut mem);
            assert_eq!((copy.table(), mem.current()), (table, table), "{used} keys");
            assert_eq!(copy.len(), used);
        }
    }

    /// `built_by_adds` charges what `add` one key at a time does: the same
    /// final table, the same peak (old and new table at once) and the same
    /// number of allocations. tracemalloc: 5 adds 512 bytes of table, 999
    /// adds 32,768.
    #[test]
    fn a_set_built_by_adds_matches_one_add_at_a_time() {
        for adds in [0, 1, 4, 5, 18, 19, 76, 77, 999, 1000, 60_000] {
            let (mut one, mut all) = (Ledger::default(), Ledger::default());
            let mut s = PySet::default();
            for k in 0..adds {
                s.add(k as u32, &mut one);
            }
            let built = PySet::built_by_adds(adds, &mut Ladder::default(), &mut all);
            assert_eq!(built.size, s.size, "{adds} adds");
            assert_eq!(built.len(), adds);
            assert_eq!(
                (all.current(), all.peak(), all.allocations()),
                (one.current(), one.peak(), one.allocations()),
                "{adds} adds"
            );
        }
        let mut ladder = Ladder::default();
        for (adds, table) in [(5, 512), (999, 32_768), (999, 32_768), (0, 0)] {
            let set = PySet::built_by_adds(adds, &mut ladder, &mut Ledger::default());
            assert_eq!(set.table(), table, "{adds} adds, ladder reused");
        }
    }

    #[test]
    fn set_table_grows_by_four_then_two() {
        let mut mem = Ledger::default();
        let mut s = PySet::default();
        for k in 0..5 {
            s.add(k, &mut mem);
        }
        // 5 * 5 >= 7 * 3: rebuilt for 5 * 4 = 20 -> 32 slots.
        assert_eq!(mem.current(), 32 * 16);
        assert_eq!(s.size, 32);
        s.clear(&mut mem);
        assert_eq!(mem.current(), 0);
    }
}
