//! A port of CPython's `heapq` (`Lib/heapq.py`, `Modules/_heapqmodule.c`) for
//! the loop's timer queue.
//!
//! asyncio keeps its timers in a plain `heapq` list ordered by
//! `TimerHandle.__lt__`, which compares deadlines only. Timers that share a
//! deadline therefore come out in whatever order the sift algorithm yields,
//! which is *not* insertion order. To replay CPython bit for bit, this module
//! performs exactly the same element moves as `heappush` and `heappop`.

/// One scheduled timer: a deadline and the index of what fires at it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Timer {
    /// Deadline in virtual seconds (`TimerHandle._when`), as an integer
    /// whose order is the order of the deadlines ([`order_key`]).
    key: u64,
    /// Payload: the future the timer resolves.
    pub(crate) target: u32,
    /// The task waiting on `target`, a hint to prefetch its memory before
    /// the timer fires (it fills the padding; heapq never reads it).
    pub(crate) task: u32,
}

impl Timer {
    /// A timer firing at `when` (not NaN: deadlines are the clock plus a
    /// finite delay).
    #[inline]
    pub(crate) fn new(when: f64, target: u32, task: u32) -> Self {
        Timer {
            key: order_key(when),
            target,
            task,
        }
    }

    /// Deadline in virtual seconds.
    #[inline]
    pub(crate) fn when(&self) -> f64 {
        from_order_key(self.key)
    }

    /// The integer timers are ordered by ([`order_key`]: for deadlines `a`
    /// and `b`, `a < b` exactly when their keys are) for a `when` that is
    /// not below zero (`+0.0`, `-0.0` or above), in one instruction instead
    /// of six: the sign bit set on the bits, which is what `order_key` gives
    /// such a `when`.
    #[inline]
    pub(crate) fn key_of_nonnegative(when: f64) -> u64 {
        debug_assert!(when >= 0.0, "a negative time: {when}");
        when.to_bits() | 1 << 63
    }

    /// This timer's deadline as [`order_key`] gives it.
    #[inline]
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// `TimerHandle.__lt__`: deadlines only.
    #[inline]
    fn lt(&self, other: &Timer) -> bool {
        self.key < other.key
    }
}

/// `x` as an integer that orders like `x` does: for `a` and `b` not NaN,
/// `a < b` exactly when `order_key(a) < order_key(b)`. A heap walk is a
/// chain of compares, each waiting for the last; an integer compare is
/// shorter than a float one, and it cut a 100k-request run by 6-15%.
///
/// Positive values keep their bits with the sign bit set (IEEE 754 orders
/// them as integers); negative ones are inverted, which reverses their
/// order and puts them below. `-0.0` is taken as `+0.0` first, as `<`
/// cannot tell them apart; no deadline is ever `-0.0` anyway (the clock
/// starts at `+0.0` and only grows).
#[inline]
fn order_key(x: f64) -> u64 {
    debug_assert!(!x.is_nan(), "a NaN deadline");
    const SIGN: u64 = 1 << 63;
    let bits = (x + 0.0).to_bits();
    if bits & SIGN == 0 { bits | SIGN } else { !bits }
}

/// The deadline whose [`order_key`] is `key`.
#[inline]
fn from_order_key(key: u64) -> f64 {
    const SIGN: u64 = 1 << 63;
    f64::from_bits(if key & SIGN != 0 { key & !SIGN } else { !key })
}

/// Timers from which a heap pop prefetches the levels below (see
/// `sift_up`), and the loop the memory the next timer's wake-up touches
/// (`State::prepare_iteration`): 2,048 timers are 32 KB, most of a 48 KB
/// L1 cache; below that the heap and what the requests in flight hold stay
/// in the L1 or L2 cache, and the prefetches only take issue slots.
pub(crate) const PREFETCH_FROM_TIMERS: usize = 2048;

/// Bytes per timer: the sifts count in bytes ([`sift_up`]).
const SIZE: usize = std::mem::size_of::<Timer>();

/// A binary min-heap with CPython's exact sift rules.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    items: Vec<Timer>,
}

impl TimerHeap {
    /// An empty heap that reuses `items`' buffer.
    pub(crate) fn from_buffer(mut items: Vec<Timer>) -> Self {
        items.clear();
        TimerHeap { items }
    }

    /// The buffer, for reuse.
    pub(crate) fn into_buffer(self) -> Vec<Timer> {
        self.items
    }

    /// Number of timers scheduled.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The earliest timer, as `heap[0]`.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&Timer> {
        self.items.first()
    }

    /// `heapq.heappush`: append, then `_siftdown(heap, 0, len - 1)`.
    #[inline]
    pub(crate) fn push(&mut self, timer: Timer) {
        self.items.push(timer);
        let heap = &mut self.items[..];
        let pos = heap.len() - 1;
        // SAFETY: `pos < heap.len()` (the item just pushed) and `start = 0`.
        unsafe { sift_down(heap, 0, pos, timer) };
    }

    /// `heapq.heappop`: pop the last item; if the heap is not empty, put it
    /// at the root and `_siftup(heap, 0)`.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Timer> {
        let last = self.items.pop()?;
        let heap = &mut self.items[..];
        let Some(&top) = heap.first() else {
            return Some(last);
        };
        // `heap[0] = last; _siftup(heap, 0)`, with `last` kept in a register
        // while the hole walks down.
        // SAFETY: the heap is not empty, so `0 < heap.len()`.
        unsafe { sift_up(heap, 0, last) };
        Some(top)
    }
}

impl TimerHeap {
    /// Drop the timers `keep` rejects, keeping the others in list order, then
    /// `heapq.heapify` them (what `_run_once` does when more than half of
    /// over 100 timers are cancelled). Returns the dropped timers.
    pub(crate) fn retain_heapify(&mut self, mut keep: impl FnMut(&Timer) -> bool) -> Vec<Timer> {
        let mut dropped = Vec::new();
        self.items.retain(|t| {
            let k = keep(t);
            if !k {
                dropped.push(*t);
            }
            k
        });
        // heapify: `for i in reversed(range(n // 2)): _siftup(x, i)`.
        let heap = &mut self.items[..];
        for i in (0..heap.len() / 2).rev() {
            let item = heap[i];
            // SAFETY: `i < len / 2 <= len`.
            unsafe { sift_up(heap, i, item) };
        }
        dropped
    }
}

/// `_siftup(heap, pos)` where `heap[pos]` is `newitem`: walk the hole at
/// `pos` down to a leaf, always moving the smaller child up (the right one
/// unless `left < right`), then `_siftdown` `newitem` back into place.
///
/// # Safety
/// `pos < heap.len()`.
#[inline]
unsafe fn sift_up(heap: &mut [Timer], pos: usize, newitem: Timer) {
    // The walk counts in bytes, not items: a 16-byte item is beyond an
    // x86 address's scale factor (8 at most), so an index costs a shift
    // on every access, four per level. In bytes a level is twelve
    // instructions instead of seventeen (2-3 % of a run's instructions at
    // a limit of 500, 4-6 % at 10,000).
    let end = heap.len() * SIZE;
    let start = pos * SIZE;
    let base = heap.as_mut_ptr().cast::<u8>();
    // SAFETY (of `at`'s callers): an offset below `end` is in bounds.
    let at = |offset: usize| base.wrapping_add(offset).cast::<Timer>();
    let prefetch = |offset: usize| crate::asyncio::event_loop::prefetch(base.wrapping_add(offset));
    let deep = heap.len() > PREFETCH_FROM_TIMERS;
    // Item i's children are 2i + 1 and 2i + 2: in bytes, 2 * pos + SIZE
    // and the item after it.
    let mut pos = start;
    let mut child = 2 * pos + SIZE;
    // The last item (the heap is not empty): a child before it has a right
    // sibling.
    let last = end - SIZE;
    // The walk is a chain of dependent loads: a level's compare waits for
    // its loads, and the next level's addresses wait for the compare. So
    // it goes down two levels a step, while the four grandchildren exist:
    // the two children and the four grandchildren (64 contiguous bytes) are
    // loaded at once, each pair of grandchildren is compared before it is
    // known which child wins, and the children's compare then only selects.
    // The items move as one level at a time moves them. This runs 1.2-2.4
    // % more instructions per request than a level a step, and a
    // 100k-request run took 3-13 % less time at C=500 and 6-8 % less at
    // C=10,000; three levels a step (eight great-grandchildren, seven
    // compares) gained less than two (2026-12-07, `examples/prof_one`,
    // three copies of each binary, heaps shifted, alternated;
    // `docs/speed.md`, "The timer heap's walk").
    while 2 * child + 4 * SIZE <= last {
        // A large heap outgrows L1 (10,000 timers are 160 KB): start
        // loading the two levels below the grandchildren, items 4c + 3 to
        // 4c + 10 (128 bytes) and 8c + 7 to 8c + 22 (256) of child c, which
        // the next step reads. Without them, runs at C=4,000 and 10,000
        // took 0-4 % longer in 8 of 10 comparisons. Below
        // `PREFETCH_FROM_TIMERS` the heap stays in L1 and prefetches only
        // cost: skipping them there made a 100k-request run at C=500 1-5%
        // faster.
        if deep {
            prefetch(4 * child + 3 * SIZE);
            prefetch(4 * child + 7 * SIZE);
            prefetch(4 * child + 10 * SIZE);
            prefetch(8 * child + 7 * SIZE);
            prefetch(8 * child + 11 * SIZE);
            prefetch(8 * child + 15 * SIZE);
            prefetch(8 * child + 19 * SIZE);
            prefetch(8 * child + 22 * SIZE);
        }
        let grandchild = 2 * child + SIZE;
        // Each choice without a branch, ties going right as in heapq: `not
        // heap[childpos] < heap[rightpos]`.
        // SAFETY: the last grandchild, `grandchild + 3 * SIZE = 2 * child +
        // 4 * SIZE`, is at most `last < end`, and the children are below
        // it; `pos` is in bounds (the caller's `pos`, or a former
        // grandchild).
        unsafe {
            let right_wins = !(*at(child)).lt(&*at(child + SIZE));
            let left_grandchild = grandchild
                + if !(*at(grandchild)).lt(&*at(grandchild + SIZE)) {
                    SIZE
                } else {
                    0
                };
            let right_grandchild = grandchild
                + 2 * SIZE
                + if !(*at(grandchild + 2 * SIZE)).lt(&*at(grandchild + 3 * SIZE)) {
                    SIZE
                } else {
                    0
                };
            let first = child + if right_wins { SIZE } else { 0 };
            let second = if right_wins {
                right_grandchild
            } else {
                left_grandchild
            };
            *at(pos) = *at(first);
            *at(first) = *at(second);
            pos = second;
        }
        child = 2 * pos + SIZE;
    }
    // The last level or two, a level a step, while both children exist.
    while child < last {
        // SAFETY: `child + SIZE <= last < end`, so both children are in
        // bounds, and so is the one chosen; `pos` is in bounds (the
        // caller's `pos`, or a former `child`).
        unsafe {
            let right_wins = !(*at(child)).lt(&*at(child + SIZE));
            child += if right_wins { SIZE } else { 0 };
            *at(pos) = *at(child);
        }
        pos = child;
        child = 2 * pos + SIZE;
    }
    // A last left child without a right sibling.
    if child < end {
        // SAFETY: `child < end`, and `pos` is in bounds as above.
        unsafe { *at(pos) = *at(child) };
        pos = child;
    }
    // SAFETY: `start <= pos < end`, multiples of `SIZE`.
    unsafe { sift_down_bytes(heap, start, pos, newitem) };
}

/// `_siftdown(heap, start, pos)` where `heap[pos]` is `newitem`: move the
/// hole at `pos` up towards `start` while `newitem` is strictly less than
/// the parent, then put `newitem` there.
///
/// # Safety
/// `start <= pos < heap.len()`.
#[inline]
unsafe fn sift_down(heap: &mut [Timer], start: usize, pos: usize, newitem: Timer) {
    debug_assert!(start <= pos && pos < heap.len());
    // SAFETY: as the caller's items, so in bytes.
    unsafe { sift_down_bytes(heap, start * SIZE, pos * SIZE, newitem) };
}

/// [`sift_down`] with `start` and `pos` in bytes from the heap's first item
/// (see [`sift_up`] for why).
///
/// # Safety
/// `start <= pos < heap.len() * SIZE`, both multiples of [`SIZE`].
#[inline]
unsafe fn sift_down_bytes(heap: &mut [Timer], start: usize, mut pos: usize, newitem: Timer) {
    debug_assert!(start <= pos && pos < heap.len() * SIZE);
    debug_assert!(start.is_multiple_of(SIZE) && pos.is_multiple_of(SIZE));
    let base = heap.as_mut_ptr().cast::<u8>();
    let at = |offset: usize| base.wrapping_add(offset).cast::<Timer>();
    while pos > start {
        // Item i's parent is (i - 1) / 2.
        let parent_pos = ((pos - SIZE) >> 1) & !(SIZE - 1);
        // SAFETY: `parent_pos < pos < heap.len() * SIZE`.
        let parent = unsafe { *at(parent_pos) };
        if newitem.lt(&parent) {
            // SAFETY: `pos < heap.len() * SIZE`.
            unsafe { *at(pos) = parent };
            pos = parent_pos;
            continue;
        }
        break;
    }
    // SAFETY: `pos < heap.len() * SIZE` (the caller's, or a former
    // `parent_pos`).
    unsafe { *at(pos) = newitem };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(when: f64, target: u32) -> Timer {
        Timer::new(when, target, 0)
    }

    /// The one-instruction key is the general one wherever it applies.
    #[test]
    fn the_nonnegative_key_is_the_general_key() {
        let mut values = vec![0.0, -0.0, 5e-324, f64::MIN_POSITIVE, 1e-9, 1.0, f64::MAX];
        values.push(f64::INFINITY);
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..10_000 {
            crate::xorshift::next(&mut x);
            values.push(f64::from_bits(x & 0x7FEF_FFFF_FFFF_FFFF));
        }
        for v in values {
            assert_eq!(Timer::key_of_nonnegative(v), order_key(v), "{v:e}");
        }
    }

    /// The integer key orders exactly as `<` on the deadlines, and gives
    /// each deadline back bit for bit (`-0.0` comes back as `+0.0`).
    #[test]
    fn order_keys_order_like_the_deadlines() {
        let mut values = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1.0,
            -1.0,
            0.1 + 0.2,
            0.3,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            crate::xorshift::next(&mut x);
            let v = f64::from_bits(x);
            if !v.is_nan() {
                values.push(v);
            }
            values.push((x >> 11) as f64 / (1u64 << 53) as f64 * 40.0);
        }
        for &a in &values {
            let back = from_order_key(order_key(a));
            assert_eq!(back.to_bits(), (a + 0.0).to_bits(), "{a:e}");
            for &b in values.iter().step_by(7) {
                assert_eq!(order_key(a) < order_key(b), a < b, "{a:e} < {b:e}");
            }
        }
    }

    /// `heapq.heapify` of [5, 3, 3, 1, 3] (all targets distinct) gives
    /// CPython's list: `heapq.heapify(x)` on (when, id) pairs compared by
    /// `when` only yields targets [3, 4, 2, 1, 0].
    #[test]
    fn heapify_follows_heapq() {
        // Build the list directly (pushes would reorder it).
        let mut h = TimerHeap {
            items: vec![
                t(5.0, 0),
                t(3.0, 1),
                t(3.0, 2),
                t(1.0, 3),
                t(3.0, 4),
                t(9.0, 5),
            ],
        };
        let dropped = h.retain_heapify(|x| x.target != 5);
        assert_eq!(dropped, vec![t(9.0, 5)]);
        let order: Vec<u32> = h.items.iter().map(|x| x.target).collect();
        assert_eq!(order, vec![3, 4, 2, 1, 0]);
    }

    /// Probe 4 of ASYNCIO_SEMANTICS.md: twelve timers with one deadline pop
    /// in heapq order, not FIFO. The expected order is what CPython's heapq
    /// gives for items whose `__lt__` compares `when` only.
    #[test]
    fn equal_deadlines_follow_heapq_not_fifo() {
        let mut h = TimerHeap::default();
        for i in 0..12 {
            h.push(t(1.0, i));
        }
        let order: Vec<u32> = std::iter::from_fn(|| h.pop()).map(|x| x.target).collect();
        assert_eq!(order, vec![0, 2, 6, 11, 10, 9, 8, 5, 7, 4, 1, 3]);
    }

    /// A literal, safe port of `Lib/heapq.py`, to check the fast sifts
    /// against.
    fn reference_push(heap: &mut Vec<Timer>, item: Timer) {
        heap.push(item);
        let mut pos = heap.len() - 1;
        let newitem = heap[pos];
        while pos > 0 {
            let parentpos = (pos - 1) >> 1;
            let parent = heap[parentpos];
            if newitem.lt(&parent) {
                heap[pos] = parent;
                pos = parentpos;
                continue;
            }
            break;
        }
        heap[pos] = newitem;
    }

    fn reference_pop(heap: &mut Vec<Timer>) -> Option<Timer> {
        let lastelt = heap.pop()?;
        if heap.is_empty() {
            return Some(lastelt);
        }
        let returnitem = std::mem::replace(&mut heap[0], lastelt);
        reference_siftup(heap, 0);
        Some(returnitem)
    }

    /// `_siftup(heap, pos)`, literally.
    fn reference_siftup(heap: &mut [Timer], startpos: usize) {
        let endpos = heap.len();
        let mut pos = startpos;
        let newitem = heap[pos];
        let mut childpos = 2 * pos + 1;
        while childpos < endpos {
            let rightpos = childpos + 1;
            if rightpos < endpos && !heap[childpos].lt(&heap[rightpos]) {
                childpos = rightpos;
            }
            heap[pos] = heap[childpos];
            pos = childpos;
            childpos = 2 * pos + 1;
        }
        heap[pos] = newitem;
        // _siftdown(heap, startpos, pos), whose `newitem = heap[pos]` is
        // the same item
        while pos > startpos {
            let parentpos = (pos - 1) >> 1;
            let parent = heap[parentpos];
            if newitem.lt(&parent) {
                heap[pos] = parent;
                pos = parentpos;
                continue;
            }
            break;
        }
        heap[pos] = newitem;
    }

    /// Pushes and pops with many ties leave the heap in exactly the state
    /// the literal port does, and pop the same items in the same order.
    #[test]
    fn matches_a_literal_port_of_heapq() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for distinct in [1u64, 2, 3, 7, 1000] {
            let mut fast = TimerHeap::default();
            let mut slow = Vec::new();
            for i in 0..20_000u32 {
                crate::xorshift::next(&mut x);
                if x % 5 < 3 || slow.is_empty() {
                    let timer = t((x % distinct) as f64, i);
                    fast.push(timer);
                    reference_push(&mut slow, timer);
                } else {
                    assert_eq!(fast.pop(), reference_pop(&mut slow));
                }
                assert_eq!(fast.items.len(), slow.len());
            }
            assert_eq!(fast.items, slow);
            while let Some(timer) = reference_pop(&mut slow) {
                assert_eq!(fast.pop(), Some(timer));
            }
            assert_eq!(fast.pop(), None);
        }
    }

    /// `heapify` (a sift from every inner item, not only the root) of lists
    /// of every length below 200 and of 1,000, 2,047-2,049 (around
    /// `PREFETCH_FROM_TIMERS`) and 3,000 items, with many ties, leaves the
    /// list the literal port leaves: the sifts' two-level steps and the
    /// last levels' single ones, from every start and at every depth.
    #[test]
    fn heapify_matches_a_literal_port_of_heapq() {
        let mut x: u64 = 0x5851_F42D_4C95_7F2D;
        for n in (0..200).chain([1000, 2047, 2048, 2049, 3000]) {
            let items: Vec<Timer> = (0..n)
                .map(|i| {
                    crate::xorshift::next(&mut x);
                    t((x % 4) as f64, i)
                })
                .collect();
            let mut fast = TimerHeap {
                items: items.clone(),
            };
            assert!(fast.retain_heapify(|_| true).is_empty());
            let mut slow = items;
            for i in (0..slow.len() / 2).rev() {
                reference_siftup(&mut slow, i);
            }
            assert_eq!(fast.items, slow, "{n} items");
        }
    }

    /// The heap is a correct priority queue: it pops deadlines in
    /// non-decreasing order for arbitrary interleavings of pushes and pops.
    #[test]
    fn pops_in_deadline_order() {
        let mut h = TimerHeap::default();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut popped = Vec::new();
        for i in 0..5000u32 {
            crate::xorshift::next(&mut x);
            h.push(t((x % 97) as f64, i));
            if x.is_multiple_of(3) {
                popped.push(h.pop().unwrap().when());
                // after a pop, the next pop can never be earlier
                if let Some(next) = h.peek() {
                    assert!(next.when() >= *popped.last().unwrap());
                }
            }
        }
        let mut last = f64::NEG_INFINITY;
        while let Some(x) = h.pop() {
            assert!(x.when() >= last);
            last = x.when();
        }
    }
}
