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

/// A slab of futures; ids are reused after [`Futures::remove`].
#[derive(Debug, Default)]
pub(crate) struct Futures {
    slots: Vec<FutSlot>,
    free: Vec<u32>,
}

impl Futures {
    /// Forget every future, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
    }

    /// Bytes of buffer held.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<FutSlot>() + self.free.capacity() * 4
    }

    /// A pending future awaited by `waiter`.
    pub(crate) fn create(&mut self, waiter: TaskId) -> u32 {
        let slot = FutSlot(u32::try_from(waiter.index()).expect("task indices fit in 32 bits"));
        debug_assert!(slot.0 != FutSlot::DONE.0);
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
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

    /// `fut.done()`.
    pub(crate) fn done(&self, id: u32) -> bool {
        self.slots[id as usize].0 == FutSlot::DONE.0
    }

    /// Forget a consumed future.
    pub(crate) fn remove(&mut self, id: u32) {
        self.free.push(id);
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
