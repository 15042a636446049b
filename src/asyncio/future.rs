//! Futures awaited by one task: the sleep future, a semaphore waiter, a
//! TaskGroup's `_on_completed_fut`.
//!
//! CPython futures take any number of callbacks; every future the modelled
//! primitives create is awaited by exactly one task, so a slot stores that
//! task's `__wakeup` only.

use super::task::TaskId;

/// A future: the task awaiting it while pending, [`FutSlot::DONE`] once it
/// has a result (4 bytes: a semaphore can hold a waiter per live task).
#[derive(Clone, Copy, Debug)]
struct FutSlot(u32);

impl FutSlot {
    const DONE: FutSlot = FutSlot(u32::MAX);
}

/// A slab of futures; ids are reused after [`Futures::remove`], last freed
/// first. The free slots form a list through their own 4 bytes, so the slab
/// needs no memory beyond its slots.
#[derive(Debug)]
pub(crate) struct Futures {
    slots: Vec<FutSlot>,
    /// The last freed slot ([`NO_FREE`] if none); a free slot holds the
    /// one freed before it.
    free_head: u32,
}

/// The end of [`Futures`]' free list.
const NO_FREE: u32 = u32::MAX;

impl Default for Futures {
    fn default() -> Self {
        Futures {
            slots: Vec::new(),
            free_head: NO_FREE,
        }
    }
}

impl Futures {
    /// Forget every future, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free_head = NO_FREE;
    }

    /// Bytes of buffer held.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<FutSlot>()
    }

    /// A pending future awaited by `waiter`.
    /// `bound`: most futures alive at once, if known (0: unknown; see
    /// [`growth`](super::growth)).
    #[inline]
    pub(crate) fn create(&mut self, waiter: TaskId, bound: usize) -> u32 {
        let slot = FutSlot(u32::try_from(waiter.index()).expect("task indices fit in 32 bits"));
        debug_assert!(slot.0 != FutSlot::DONE.0);
        if self.free_head != NO_FREE {
            let id = self.free_head;
            self.free_head = self.slots[id as usize].0;
            self.slots[id as usize] = slot;
            id
        } else {
            super::growth::push(&mut self.slots, bound, slot);
            // The one place future ids are made: a handle carries them.
            super::event_loop::handle_index(self.slots.len() - 1)
        }
    }

    /// Mark done; returns the task whose `__wakeup` must be scheduled.
    pub(crate) fn set_result(&mut self, id: u32) -> Option<TaskId> {
        let slot = &mut self.slots[id as usize];
        debug_assert!(slot.0 != FutSlot::DONE.0, "future {id} resolved twice");
        if slot.0 == FutSlot::DONE.0 {
            return None;
        }
        let waiter = TaskId::from_index(slot.0 as usize);
        *slot = FutSlot::DONE;
        Some(waiter)
    }

    /// Where the future's slot is, for a prefetch hint (any id gives some
    /// address; it is never dereferenced).
    #[inline]
    pub(crate) fn slot_address(&self, id: u32) -> *const u8 {
        self.slots.as_ptr().wrapping_add(id as usize).cast()
    }

    /// The task a pending future wakes, for a prefetch hint: any id gives
    /// some task or none, never a panic (a freed slot holds a link, which
    /// reads as some task).
    #[inline]
    pub(crate) fn waiter_hint(&self, id: u32) -> Option<TaskId> {
        let slot = self.slots.get(id as usize)?;
        (slot.0 != FutSlot::DONE.0).then(|| TaskId::from_index(slot.0 as usize))
    }

    /// `fut.done()`.
    pub(crate) fn done(&self, id: u32) -> bool {
        self.slots[id as usize].0 == FutSlot::DONE.0
    }

    /// Forget a consumed future.
    pub(crate) fn remove(&mut self, id: u32) {
        self.slots[id as usize] = FutSlot(self.free_head);
        self.free_head = id;
    }
}

/// `fut = loop.create_future()`, awaited by the task that creates it and
/// resolved by anyone with `fut.set_result(None)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PyFuture {
    id: u32,
}

/// `loop.create_future()`: a future the running task will await.
pub fn create_future() -> PyFuture {
    super::event_loop::with_loop(|st| PyFuture {
        id: st.await_new_future(),
    })
}

impl PyFuture {
    /// `fut.set_result(None)`: the awaiting task resumes in the next
    /// iteration. A no-op if the future is already done.
    pub fn set_result(self) {
        super::event_loop::with_loop(|st| {
            if !st.futures.done(self.id) {
                st.set_result(self.id);
            }
        });
    }
}

impl std::future::IntoFuture for PyFuture {
    type Output = ();
    type IntoFuture = AwaitFuture;

    fn into_future(self) -> AwaitFuture {
        AwaitFuture { id: self.id }
    }
}

/// `await fut` for a [`PyFuture`].
#[derive(Debug)]
pub struct AwaitFuture {
    id: u32,
}

impl std::future::Future for AwaitFuture {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let id = self.id;
        super::event_loop::with_loop(|st| {
            if !st.futures.done(id) {
                return std::task::Poll::Pending;
            }
            st.drop_future(id);
            std::task::Poll::Ready(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_futures_are_reused_last_freed_first() {
        let mut f = Futures::default();
        let ids: Vec<u32> = (0..4).map(|t| f.create(TaskId::from_index(t), 0)).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(f.set_result(1).map(TaskId::index), Some(1));
        assert!(f.done(1));
        f.remove(1);
        f.remove(3);
        assert_eq!(f.create(TaskId::from_index(9), 0), 3);
        assert_eq!(f.create(TaskId::from_index(8), 0), 1);
        assert!(!f.done(1));
        assert_eq!(f.set_result(1).map(TaskId::index), Some(8));
        assert_eq!(f.create(TaskId::from_index(7), 0), 4);
        f.clear();
        assert_eq!(f.create(TaskId::from_index(0), 0), 0);
    }
}
