//! Buffer growth that stops at a known bound.
//!
//! A `Vec` doubles when full, so a buffer that ends at 10,000,001 entries
//! holds room for 16,777,216: two thirds more memory than it uses. When the
//! run knows how many tasks it can hold at most ([`Config::expected_tasks`]
//! (super::Config::expected_tasks)), the buffers indexed by task double as
//! usual but stop at that bound, and only double past it if it was wrong.
//! Only memory depends on it, never a result.

use std::collections::VecDeque;

/// The capacity to grow to from `len` (full): double, but not past `bound`
/// while below it (0: no bound). Always above `len`.
#[inline]
fn target(len: usize, bound: usize) -> usize {
    let doubled = (len * 2).max(8);
    if len < bound {
        doubled.min(bound)
    } else {
        doubled
    }
}

/// Make room for one more element of `v`.
#[inline(always)]
fn reserve_one<T>(v: &mut Vec<T>, bound: usize) {
    #[cold]
    fn grow<T>(v: &mut Vec<T>, bound: usize) {
        let len = v.len();
        v.reserve_exact(target(len, bound) - len);
    }
    if v.len() == v.capacity() {
        grow(v, bound);
    }
}

/// `v.push(value)`, growing as [`reserve_one`] does. After that check
/// there is room, so the push's own check is left out: `Vec::push` would
/// compare the length with the capacity a second time on every call.
#[inline(always)]
pub(crate) fn push<T>(v: &mut Vec<T>, bound: usize, value: T) {
    reserve_one(v, bound);
    let len = v.len();
    // SAFETY: `reserve_one` leaves `len < v.capacity()` (it grows a full
    // vector by at least one element, see `target`), so slot `len` is
    // allocated and unused, and `len + 1` elements are then initialised.
    unsafe {
        v.as_mut_ptr().add(len).write(value);
        v.set_len(len + 1);
    }
}

/// Make room for one more element of `d`.
#[inline(always)]
pub(crate) fn reserve_one_back<T>(d: &mut VecDeque<T>, bound: usize) {
    #[cold]
    fn grow<T>(d: &mut VecDeque<T>, bound: usize) {
        let len = d.len();
        d.reserve_exact(target(len, bound) - len);
    }
    if d.len() == d.capacity() {
        grow(d, bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_bound_then_past_it() {
        let mut v: Vec<u32> = Vec::new();
        let mut caps = Vec::new();
        for i in 0..100 {
            reserve_one(&mut v, 50);
            v.push(i);
            if caps.last() != Some(&v.capacity()) {
                caps.push(v.capacity());
            }
        }
        assert_eq!(caps, [8, 16, 32, 50, 100]);
        let mut w: Vec<u32> = Vec::new();
        for i in 0..100 {
            push(&mut w, 50, i);
        }
        assert_eq!(w, v);
        assert_eq!(w.capacity(), 100);
        for len in [0, 1, 7, 8, 49, 50, 51, 1000] {
            for bound in [0, 1, 8, 50, 1000] {
                assert!(target(len, bound) > len, "{len} {bound}");
            }
        }
        let mut d: VecDeque<u32> = VecDeque::new();
        for i in 0..20 {
            reserve_one_back(&mut d, 0);
            d.push_back(i);
        }
        assert!(d.capacity() >= 20 && d.capacity() <= 32);
    }
}
