//! `asyncio.Semaphore` (`Lib/asyncio/locks.py`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{SemaphoreFlavor, State, prefetch, with_loop};
use super::task::DoneCallback;
use crate::memory::Obj;
use crate::memory::container::PyDeque;

/// A semaphore's state in the loop.
#[derive(Debug)]
pub(crate) struct SemState {
    value: u64,
    /// Waiter futures in arrival order.
    pub(crate) waiters: VecDeque<u32>,
    /// How many waiters at the front are done (woken, not yet resumed).
    /// Wake-ups go in FIFO order and woken waiters resume in FIFO order, so
    /// the done ones always form a prefix.
    woken: usize,
    deque: PyDeque,
    has_deque: bool,
}

/// `asyncio.Semaphore(value)`: a handle to a semaphore of the running loop.
///
/// * `acquire()` on an unlocked semaphore takes a permit without yielding.
/// * `locked()` is true while `value == 0` or any waiter is queued, even one
///   already woken but not yet resumed, so newcomers cannot barge: FIFO.
/// * `release()` hands the permit to the first waiter not yet woken, which
///   resumes in the next iteration.
#[derive(Clone, Copy, Debug)]
pub struct Semaphore {
    id: u32,
}

impl Semaphore {
    /// `asyncio.Semaphore(value)`.
    pub fn new(value: u64) -> Self {
        with_loop(|st| {
            let bytes = st.config.profile.semaphore;
            st.mem.alloc(bytes);
            let waiters = st.spare_deques.pop().unwrap_or_default();
            st.semaphores.push(SemState {
                value,
                waiters,
                woken: 0,
                deque: PyDeque::default(),
                has_deque: false,
            });
            Semaphore {
                id: (st.semaphores.len() - 1) as u32,
            }
        })
    }

    pub(crate) fn id(self) -> u32 {
        self.id
    }

    /// `await sem.acquire()` (also `async with sem:`).
    pub fn acquire(self) -> Acquire {
        Acquire {
            sem: self.id,
            fut: None,
        }
    }

    /// `async with sem:` entry (`__aenter__`, which awaits `acquire`). Once
    /// the permit is taken, the body holds the bound `sem.__aexit__`
    /// ([`Obj::AsyncWithExit`]) until [`Semaphore::exit`].
    pub fn enter(self) -> Enter {
        with_loop(|st| st.charge(st.config.cpu.context));
        Enter(self.acquire())
    }

    /// `async with sem:` exit (`__aexit__`, which calls `release`; the bound
    /// method is freed when the call returns).
    pub fn exit(self) {
        with_loop(|st| {
            st.charge(st.config.cpu.context);
            st.release(self.id);
            st.free(Obj::AsyncWithExit);
        });
    }

    /// `sem.release()`.
    pub fn release(self) {
        with_loop(|st| st.release(self.id));
    }

    /// `sem.locked()`.
    pub fn locked(self) -> bool {
        with_loop(|st| st.semaphores[self.id as usize].locked())
    }

    /// Permits available now (`sem._value`).
    pub fn value(self) -> u64 {
        with_loop(|st| st.semaphores[self.id as usize].value)
    }

    /// `lambda _: sem.release()`, for `task.add_done_callback`.
    pub fn releaser(self) -> DoneCallback {
        DoneCallback::release(self)
    }
}

/// `value - 1`, checked in every build: a semaphore's permits can never go
/// below zero (the property tests run in release builds too).
#[inline]
fn take_permit(value: u64) -> u64 {
    value
        .checked_sub(1)
        .expect("invariant: a semaphore never hands out a permit it does not have")
}

impl SemState {
    fn locked(&self) -> bool {
        self.value == 0 || !self.waiters.is_empty()
    }
}

impl State {
    /// `Semaphore.release`.
    // Forced inline, as `wake_up_next` and `Acquire::poll`: out of line,
    // each call on the per-request path saved and restored six registers
    // (`scripts/instructions`: with `TaskSlot::next_callback`, 3-52 fewer
    // instructions per request, depending on the strategy).
    #[inline(always)]
    pub(crate) fn release(&mut self, sem: u32) {
        self.charge(self.config.cpu.semaphore);
        self.semaphores[sem as usize].value += 1;
        self.wake_up_next(sem);
    }

    /// `Semaphore._wake_up_next`: hand a permit to the first waiter that is
    /// not done.
    #[inline(always)]
    fn wake_up_next(&mut self, sem: u32) -> bool {
        let s = &mut self.semaphores[sem as usize];
        let Some(&fut) = s.waiters.get(s.woken) else {
            return false;
        };
        // The waiters further down the queue are woken by the next
        // releases: start fetching their futures and task slots now (with
        // millions of tasks waiting, each was last touched long ago). One
        // test when there are no more than 8 (a program that waits with
        // one task, like the gated ones).
        let (far, near) = if s.waiters.len() > s.woken + 8 {
            (
                s.waiters.get(s.woken + 16).copied(),
                Some(s.waiters[s.woken + 8]),
            )
        } else {
            (None, None)
        };
        s.woken += 1;
        if let Some(f) = far {
            prefetch(self.futures.slot_address(f));
        }
        if let Some(t) = near.and_then(|f| self.futures.waiter_hint(f)) {
            prefetch(self.tasks.as_ptr().wrapping_add(t.index()).cast());
        }
        let s = &mut self.semaphores[sem as usize];
        s.value = take_permit(s.value);
        self.set_result(fut);
        true
    }
}

/// The future returned by [`Semaphore::enter`]: [`Acquire`], then the bound
/// `__aexit__` that the `async with` body holds. While the task waits, the
/// [`Obj::AcquireCoroutine`] it frees on taking the permit includes that
/// method; on an unlocked semaphore it is that coroutine's only survivor.
#[derive(Debug)]
pub struct Enter(Acquire);

impl Future for Enter {
    type Output = ();

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let Acquire { sem, ref mut fut } = self.0;
        with_loop(|st| {
            let poll = st.poll_acquire(sem, fut);
            if poll.is_ready() {
                st.alloc(Obj::AsyncWithExit);
            }
            poll
        })
    }
}

/// The future returned by [`Semaphore::acquire`].
#[derive(Debug)]
pub struct Acquire {
    sem: u32,
    fut: Option<u32>,
}

impl Future for Acquire {
    type Output = ();

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let Acquire { sem, ref mut fut } = *self;
        with_loop(|st| st.poll_acquire(sem, fut))
    }
}

impl State {
    /// A poll of [`Acquire`] on semaphore `sem`, `fut` being the waiter
    /// future of a blocked acquire.
    #[inline(always)]
    fn poll_acquire(&mut self, sem: u32, fut: &mut Option<u32>) -> Poll<()> {
        let st = self;
        match *fut {
            None => {
                st.charge(st.config.cpu.semaphore);
                st.alloc(Obj::AcquireCoroutine);
                let s = &mut st.semaphores[sem as usize];
                if !s.locked() {
                    s.value = take_permit(s.value);
                    st.free(Obj::AcquireCoroutine);
                    return Poll::Ready(());
                }
                if !s.has_deque {
                    s.has_deque = true;
                    let bytes = st.config.profile.deque;
                    st.mem.alloc(bytes);
                }
                st.charge(st.config.cpu.wait);
                let waiter = st.await_new_future();
                let s = &mut st.semaphores[sem as usize];
                crate::asyncio::growth::reserve_one_back(&mut s.waiters, st.config.expected_tasks);
                s.waiters.push_back(waiter);
                s.deque.push_back(&mut st.mem);
                *fut = Some(waiter);
                Poll::Pending
            }
            Some(fut) => {
                if !st.futures.done(fut) {
                    return Poll::Pending;
                }
                let s = &mut st.semaphores[sem as usize];
                // `self._waiters.remove(fut)`: the woken waiters are at the
                // front, and usually this one is the first.
                let pos = if s.waiters.front() == Some(&fut) {
                    s.waiters.pop_front();
                    0
                } else {
                    let pos = s
                        .waiters
                        .iter()
                        .position(|&w| w == fut)
                        .expect("a resumed waiter is queued");
                    s.waiters.remove(pos);
                    pos
                };
                if pos < s.woken {
                    s.woken -= 1;
                }
                s.deque.pop_front(&mut st.mem);
                st.drop_future(fut);
                st.free(Obj::AcquireCoroutine);
                match st.config.semaphore {
                    SemaphoreFlavor::WakeOne => {
                        if st.semaphores[sem as usize].value > 0 {
                            st.wake_up_next(sem);
                        }
                    }
                    SemaphoreFlavor::WakeAll => {
                        while st.semaphores[sem as usize].value > 0 {
                            if !st.wake_up_next(sem) {
                                break;
                            }
                        }
                    }
                }
                Poll::Ready(())
            }
        }
    }
}
