//! `asyncio.sleep`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{Handle, State, with_loop};
use crate::memory::Obj;

/// `asyncio.sleep(delay)`.
///
/// With `delay > 0`: a future and `loop.call_later(delay, ...)`, whose
/// deadline is `loop.time() + delay` in `f64`; the timer fires in one
/// iteration and the task resumes in the next, at the same virtual time.
/// With `delay <= 0`: a bare `yield` (CPython's `__sleep0`): the task resumes
/// in the next iteration and no timer is created.
pub fn sleep(delay: f64) -> Sleep {
    Sleep { delay, state: None }
}

/// The future returned by [`sleep`].
#[derive(Debug)]
pub struct Sleep {
    delay: f64,
    /// `None` until the first poll.
    state: Option<Sleeping>,
}

/// A sleep after its first poll: what it waits for. Other futures that
/// sleep inline (a request) hold this instead of a whole [`Sleep`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sleeping {
    /// The future the timer resolves.
    Waiting(u32),
    /// `sleep(0)`: the task yielded once.
    Yielded,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        match self.state {
            None => {
                let delay = self.delay;
                self.state = Some(begin(delay));
                Poll::Pending
            }
            Some(sleeping) => resume(sleeping),
        }
    }
}

/// The first poll of `asyncio.sleep(delay)` in the running task (it always
/// suspends).
#[inline]
pub(crate) fn begin(delay: f64) -> Sleeping {
    with_loop(|st| st.sleep_begin(delay))
}

/// [`begin`], and the virtual time it began at (read before the timer's CPU
/// cost is charged), in one visit to the loop.
#[inline]
pub(crate) fn begin_at(delay: f64) -> (f64, Sleeping) {
    with_loop(|st| (st.now, st.sleep_begin(delay)))
}

/// A later poll of a sleep that [`begin`] started.
#[inline]
pub(crate) fn resume(sleeping: Sleeping) -> Poll<()> {
    with_loop(|st| st.sleep_resume(sleeping))
}

impl State {
    #[inline(always)]
    fn sleep_begin(&mut self, delay: f64) -> Sleeping {
        if delay <= 0.0 {
            self.alloc(Obj::SleepZero);
            let me = self.current;
            self.call_soon(Handle::Step(me));
            Sleeping::Yielded
        } else {
            self.alloc(Obj::SleepCoroutine);
            let fut = self.await_new_future();
            let when = self.now + delay;
            self.call_at(when, fut);
            self.charge(self.config.cpu.timer);
            Sleeping::Waiting(fut)
        }
    }

    fn sleep_resume(&mut self, sleeping: Sleeping) -> Poll<()> {
        match sleeping {
            Sleeping::Waiting(fut) => {
                if !self.futures.done(fut) {
                    return Poll::Pending;
                }
                self.drop_future(fut);
                self.free_sleep_timer();
                self.free(Obj::SleepCoroutine);
                Poll::Ready(())
            }
            Sleeping::Yielded => {
                self.free(Obj::SleepZero);
                Poll::Ready(())
            }
        }
    }
}
