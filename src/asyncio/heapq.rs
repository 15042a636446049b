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
    /// Deadline in virtual seconds (`TimerHandle._when`).
    pub(crate) when: f64,
    /// Payload: the future the timer resolves.
    pub(crate) target: u32,
    /// The task waiting on `target`, a hint to prefetch its memory before
    /// the timer fires (it fills the padding; heapq never reads it).
    pub(crate) task: u32,
}

impl Timer {
    /// `TimerHandle.__lt__`: deadlines only.
    #[inline]
    fn lt(&self, other: &Timer) -> bool {
        self.when < other.when
    }
}

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
    pub(crate) fn push(&mut self, timer: Timer) {
        self.items.push(timer);
        let last = self.items.len() - 1;
        self.sift_down(0, last);
    }

    /// `heapq.heappop`: pop the last item; if the heap is not empty, put it
    /// at the root and `_siftup(heap, 0)`.
    pub(crate) fn pop(&mut self) -> Option<Timer> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_up(0);
        Some(top)
    }

    /// `_siftdown`: move the item at `pos` up towards `start` while it is
    /// strictly less than its parent.
    #[inline]
    fn sift_down(&mut self, start: usize, pos: usize) {
        sift_down(&mut self.items, start, pos);
    }

    /// `_siftup`: walk the item at `pos` down to a leaf, always moving the
    /// smaller child up (the right one unless `left < right`), then
    /// `_siftdown` it back into place.
    fn sift_up(&mut self, mut pos: usize) {
        let heap = &mut self.items[..];
        let endpos = heap.len();
        let startpos = pos;
        let newitem = heap[pos];
        let mut childpos = 2 * pos + 1;
        // While both children exist: choose the smaller one without a branch
        // (ties go right, as in heapq: `not heap[childpos] < heap[rightpos]`).
        while childpos + 1 < endpos {
            // SAFETY: `childpos + 1 < endpos == heap.len()`, so both children
            // are in bounds, and so is the one chosen; `pos` is in bounds
            // (`heap[pos]` was read above, and later `pos` is a former
            // `childpos`).
            unsafe {
                let right_wins = !heap
                    .get_unchecked(childpos)
                    .lt(heap.get_unchecked(childpos + 1));
                childpos += usize::from(right_wins);
                *heap.get_unchecked_mut(pos) = *heap.get_unchecked(childpos);
            }
            pos = childpos;
            childpos = 2 * pos + 1;
        }
        // A last left child without a right sibling.
        if childpos < endpos {
            heap[pos] = heap[childpos];
            pos = childpos;
        }
        heap[pos] = newitem;
        sift_down(heap, startpos, pos);
    }
}

/// `_siftdown` on a slice (see [`TimerHeap::sift_down`]).
#[inline]
fn sift_down(heap: &mut [Timer], start: usize, mut pos: usize) {
    let newitem = heap[pos];
    while pos > start {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(when: f64, target: u32) -> Timer {
        Timer {
            when,
            target,
            task: 0,
        }
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

    /// The heap is a correct priority queue: it pops deadlines in
    /// non-decreasing order for arbitrary interleavings of pushes and pops.
    #[test]
    fn pops_in_deadline_order() {
        let mut h = TimerHeap::default();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut popped = Vec::new();
        for i in 0..5000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            h.push(t((x % 97) as f64, i));
            if x.is_multiple_of(3) {
                popped.push(h.pop().unwrap().when);
                // after a pop, the next pop can never be earlier
                if let Some(next) = h.peek() {
                    assert!(next.when >= *popped.last().unwrap());
                }
            }
        }
        let mut last = f64::NEG_INFINITY;
        while let Some(x) = h.pop() {
            assert!(x.when >= last);
            last = x.when;
        }
    }
}
