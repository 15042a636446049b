//! Requests to the downstream service, seen from the loop: I/O whose
//! responses arrive when the [`Station`] has served them, optionally
//! inside `asyncio.timeout`.
//!
//! ```python
//! async with asyncio.timeout(T):      # a TimerHandle at loop.time() + T
//!     await conn.request(...)         # the response is an I/O event
//! ```
//!
//! Responses are processed as CPython's `_run_once` processes I/O: events
//! ready when `select` returns are queued before the timers due in the
//! same iteration. When the timeout fires first, `_on_timeout` cancels the
//! task: the awaited future is cancelled and the task resumes in the next
//! iteration with `CancelledError`, which `Timeout.__aexit__` turns into
//! `TimeoutError`. If the response was already in (the future done, its
//! wake-up pending) the task still resumes with `CancelledError`
//! (`_must_cancel`): the timeout wins the race, as in CPython. A response
//! that comes first cancels the timer, which stays in the heap until it
//! reaches the head or the heap is compacted (CPython's lazy removal).
//! A deadline not after `loop.time()` (a timeout below half the float step
//! at the current time) is a `call_soon` handle instead, as
//! `Timeout.reschedule` makes it: it runs in the next iteration in
//! ready-queue order, ahead of that iteration's I/O and timers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{Handle, State, with_loop};
use crate::memory::Obj;
use crate::server::station::Station;

/// Timer targets with this bit set are `asyncio.timeout` handles.
pub(crate) const TIMEOUT_TAG: u32 = 1 << 31;

/// The requests in flight to the station, and the armed timeouts.
#[derive(Debug)]
pub(crate) struct IoState {
    pub(crate) station: Station,
    /// Per station token: the future awaiting the response (`None` once
    /// the client gave up), and a generation to tell reuses apart.
    slots: Vec<(Option<u32>, u32)>,
    free_slots: Vec<u32>,
    pub(crate) timeouts: Vec<TimeoutSlot>,
    free_timeouts: Vec<u32>,
    /// `loop._timer_cancelled_count`.
    pub(crate) cancelled: usize,
    /// Scratch buffer for due responses.
    pub(crate) due: Vec<u32>,
    /// `asyncio.timeout` calls so far: the Timeout objects made
    /// (`Profile::timeout_first`).
    timeouts_made: usize,
    /// The first-instance bytes of the Timeout whose expiry the running
    /// task has just met, held until its `except` clause ends
    /// ([`timeout_error_clause`]).
    expired_first: i64,
}

/// One `asyncio.timeout` handle.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TimeoutSlot {
    /// The future the guarded request awaits.
    fut: u32,
    /// `_on_timeout` ran.
    fired: bool,
    /// `TimerHandle.cancel()` was called (the request finished first).
    pub(crate) cancelled: bool,
    /// Still in the timer heap.
    in_heap: bool,
    /// A `call_soon` handle still in the ready queue (the deadline was not
    /// after `loop.time()`).
    queued: bool,
    /// The request is over (its task resumed).
    closed: bool,
    /// The bytes of its Timeout beyond [`Obj::Timeout`]'s: one of the
    /// process's first instances (`Profile::timeout_first`).
    first: u32,
}

impl IoState {
    pub(crate) fn new(station: Station) -> Self {
        IoState {
            station,
            slots: Vec::new(),
            free_slots: Vec::new(),
            timeouts: Vec::new(),
            free_timeouts: Vec::new(),
            cancelled: 0,
            due: Vec::new(),
            timeouts_made: 0,
            expired_first: 0,
        }
    }

    fn release_timeout(&mut self, t: u32) {
        let s = self.timeouts[t as usize];
        if s.closed && !s.in_heap && !s.queued {
            self.free_timeouts.push(t);
        }
    }
}

/// How a request to the station ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOutcome {
    /// The response arrived.
    Responded,
    /// `asyncio.timeout` expired first (`TimeoutError`).
    TimedOut,
}

/// [`keep`](super::keep) an object of kind `obj` unless the profile sizes
/// it at 0 bytes (a key the profile does not have, or an object the
/// version does not make), so that it counts as no allocation. Returns
/// whether it was charged (release it with [`release`](super::release)
/// only then).
pub fn keep_sized(obj: Obj) -> bool {
    with_loop(|st| {
        let sized = st.config.profile.size(obj) != 0;
        if sized {
            st.alloc(obj);
        }
        sized
    })
}

/// Charge an object of kind `obj` that the program frees at once but whose
/// memory a CPython free list keeps traced for the rest of the run (such as
/// [`Obj::Tuple20`]): in the ledger, but not a live object. Returns whether
/// anything was charged (not when the profile sizes it at 0 bytes).
pub fn keep_freed(obj: Obj) -> bool {
    with_loop(|st| {
        let bytes = st.config.profile.size(obj);
        if bytes != 0 {
            st.mem.alloc(bytes);
        }
        bytes != 0
    })
}

/// The `except` clause that catches an expired timeout's `TimeoutError`
/// (after [`request`] returned [`IoOutcome::TimedOut`]), charged and
/// credited at once: what the clause holds ([`Obj::TimeoutError`]) and,
/// at the raise just before it, the `__aexit__` coroutine and the rest of
/// [`Obj::TimeoutRaise`] on top; then the first-instance bytes of the
/// expired Timeout (`Profile::timeout_first`), which the clause held.
pub fn timeout_error_clause() {
    with_loop(|st| {
        let raise = st.config.profile.size(Obj::TimeoutRaise);
        if st.config.profile.size(Obj::TimeoutError) + raise != 0 {
            st.alloc_with(Obj::TimeoutError, raise);
            st.free_with(Obj::TimeoutError, raise);
        }
        let first = st
            .io
            .as_mut()
            .map_or(0, |io| std::mem::take(&mut io.expired_first));
        st.mem.free(first);
    });
}

/// `async with asyncio.timeout(timeout): await <request of work seconds>`.
///
/// # Panics
/// If the loop runs without a station ([`Config::server`](super::Config)).
pub fn request(work: f64, timeout: Option<f64>) -> IoRequest {
    IoRequest {
        work,
        timeout,
        state: None,
    }
}

/// The future returned by [`request`].
#[derive(Debug)]
pub struct IoRequest {
    work: f64,
    timeout: Option<f64>,
    /// (future, station token, its generation, timeout slot).
    state: Option<(u32, u32, u32, Option<u32>)>,
}

impl Future for IoRequest {
    type Output = IoOutcome;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<IoOutcome> {
        let (work, timeout) = (self.work, self.timeout);
        match self.state {
            None => {
                let state = with_loop(|st| st.start_request(work, timeout));
                self.state = Some(state);
                Poll::Pending
            }
            Some((fut, token, generation, t)) => {
                with_loop(|st| st.finish_request(fut, token, generation, t))
            }
        }
    }
}

impl State {
    fn io(&mut self) -> &mut IoState {
        self.io
            .as_mut()
            .expect("a request to the service needs a [server] station")
    }

    fn start_request(&mut self, work: f64, timeout: Option<f64>) -> (u32, u32, u32, Option<u32>) {
        // `asyncio.timeout(T).__aenter__` (`Timeout.reschedule`):
        // `call_at(loop.time() + T)`, or `call_soon` if that deadline is not
        // after `loop.time()` (T below half the float step at `now`).
        let t = timeout.map(|delay| {
            let when = self.now + delay;
            let soon = when <= self.now;
            let first = self
                .config
                .profile
                .timeout_first
                .get(self.io.as_ref().map_or(0, |io| io.timeouts_made))
                .map_or(0, |&b| b.max(0));
            let io = self.io();
            io.timeouts_made += 1;
            let slot = TimeoutSlot {
                in_heap: !soon,
                queued: soon,
                first: first as u32,
                ..TimeoutSlot::default()
            };
            let t = match io.free_timeouts.pop() {
                Some(t) => {
                    io.timeouts[t as usize] = slot;
                    t
                }
                None => {
                    io.timeouts.push(slot);
                    (io.timeouts.len() - 1) as u32
                }
            };
            self.alloc_with(Obj::Timeout, first);
            if soon {
                self.call_soon(Handle::Timeout(t));
            } else {
                self.call_at_target(when, TIMEOUT_TAG | t);
            }
            self.charge(self.config.cpu.timer);
            t
        });
        let fut = self.await_new_future();
        let now = self.now;
        let io = self.io();
        let token = match io.free_slots.pop() {
            Some(token) => token,
            None => {
                io.slots.push((None, 0));
                (io.slots.len() - 1) as u32
            }
        };
        io.slots[token as usize].0 = Some(fut);
        let generation = io.slots[token as usize].1;
        io.station.arrive(now, work, token);
        if let Some(t) = t {
            io.timeouts[t as usize].fut = fut;
        }
        (fut, token, generation, t)
    }

    fn finish_request(
        &mut self,
        fut: u32,
        token: u32,
        generation: u32,
        t: Option<u32>,
    ) -> Poll<IoOutcome> {
        if !self.futures.done(fut) {
            return Poll::Pending;
        }
        let exit = Obj::TimeoutExit;
        if let Some(t) = t
            && !self.io().timeouts[t as usize].fired
            && self.config.profile.size(exit) != 0
        {
            // `Timeout.__aexit__` cancelling the timer, while the attempt's
            // objects (its future too) are all alive: a peak only.
            self.alloc(exit);
            self.free(exit);
        }
        self.drop_future(fut);
        let mut outcome = IoOutcome::Responded;
        if let Some(t) = t {
            let first = i64::from(self.io().timeouts[t as usize].first);
            let fired = self.io().timeouts[t as usize].fired;
            if fired {
                // The `except` clause still holds the Timeout (through
                // the traceback): its first-instance bytes go with the
                // clause.
                self.free(Obj::Timeout);
                self.io().expired_first += first;
            } else {
                self.free_with(Obj::Timeout, first);
            }
            let credit = self.config.profile.cancelled_timeout_credit();
            let io = self.io();
            let slot = &mut io.timeouts[t as usize];
            slot.closed = true;
            let mut credited = false;
            if slot.fired {
                outcome = IoOutcome::TimedOut;
            } else {
                // `Timeout.__aexit__`: `self._timeout_handler.cancel()`,
                // counted in `_timer_cancelled_count` only while the handle
                // is in the heap (`TimerHandle._scheduled`).
                slot.cancelled = true;
                if slot.in_heap {
                    io.cancelled += 1;
                    credited = true;
                }
            }
            io.release_timeout(t);
            if credited {
                // `Handle.cancel` frees the `_on_timeout` bound method; the
                // handle left in the heap holds `timeout_handle` bytes.
                self.mem.free(credit);
            }
        }
        if outcome == IoOutcome::TimedOut {
            // The client gave up; the station still serves the request.
            let io = self.io();
            if io.slots[token as usize].1 == generation {
                io.slots[token as usize].0 = None;
            }
        }
        Poll::Ready(outcome)
    }

    /// `_on_timeout` (a fired, not cancelled timeout handle).
    pub(crate) fn run_timeout(&mut self, t: u32) {
        let io = self.io();
        let slot = &mut io.timeouts[t as usize];
        let (queued, cancelled, fut) = (slot.queued, slot.cancelled, slot.fut);
        slot.queued = false;
        slot.fired |= !cancelled;
        if queued {
            // The `call_soon` Handle leaves the ready queue.
            self.free(Obj::Handle);
            self.io().release_timeout(t);
        }
        if cancelled {
            return;
        }
        if !self.futures.done(fut) {
            // `task.cancel()` -> `fut.cancel()`: the task wakes next
            // iteration with CancelledError.
            self.set_result(fut);
        }
        // Otherwise the response is in and the wake-up queued: the task
        // resumes with CancelledError all the same (`_must_cancel`).
    }

    /// A timeout handle left the heap (popped or compacted away).
    pub(crate) fn timeout_left_heap(&mut self, t: u32) {
        self.free(Obj::TimerHandle);
        let io = self.io();
        let cancelled = io.timeouts[t as usize].cancelled;
        io.timeouts[t as usize].in_heap = false;
        io.release_timeout(t);
        if cancelled {
            // The part of `timer_handle` credited at the cancel: a negative
            // free, so that it counts as no allocation (the total only
            // falls here).
            let credit = self.config.profile.cancelled_timeout_credit();
            self.mem.free(-credit);
        }
    }

    /// Whether the timer with this target is a cancelled timeout.
    pub(crate) fn timer_cancelled(&self, target: u32) -> bool {
        target & TIMEOUT_TAG != 0
            && self
                .io
                .as_ref()
                .is_some_and(|io| io.timeouts[(target & !TIMEOUT_TAG) as usize].cancelled)
    }

    /// A response arrived: wake its request unless the client gave up.
    pub(crate) fn run_response(&mut self, token: u32) {
        let io = self.io();
        let slot = &mut io.slots[token as usize];
        let fut = slot.0.take();
        slot.1 = slot.1.wrapping_add(1);
        io.free_slots.push(token);
        if let Some(fut) = fut
            && !self.futures.done(fut)
        {
            self.set_result(fut);
        }
    }

    /// `select`: queue the responses due by now, before the timers.
    pub(crate) fn poll_io(&mut self) {
        let now = self.now;
        let Some(io) = self.io.as_mut() else { return };
        let mut due = std::mem::take(&mut io.due);
        due.clear();
        io.station.pop_due(now, &mut due);
        for &token in &due {
            self.enqueue_io(Handle::Response(token));
        }
        if let Some(io) = self.io.as_mut() {
            io.due = due;
        }
    }
}
