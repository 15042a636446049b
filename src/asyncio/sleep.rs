//! `asyncio.sleep`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{Handle, with_loop};
use crate::memory::Obj;

/// `asyncio.sleep(delay)`.
///
/// With `delay > 0`: a future and `loop.call_later(delay, ...)`, whose
/// deadline is `loop.time() + delay` in `f64`; the timer fires in one
/// iteration and the task resumes in the next, at the same virtual time.
/// With `delay <= 0`: a bare `yield` (CPython's `__sleep0`): the task resumes
/// in the next iteration and no timer is created.
pub fn sleep(delay: f64) -> Sleep {
    Sleep {
        delay,
        state: SleepState::Start,
    }
}

/// The future returned by [`sleep`].
#[derive(Debug)]
pub struct Sleep {
    delay: f64,
    state: SleepState,
}

#[derive(Debug, Clone, Copy)]
enum SleepState {
    Start,
    Waiting(u32),
    Yielded,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let delay = self.delay;
        match self.state {
            SleepState::Start => {
                self.state = with_loop(|st| {
                    st.alloc(Obj::SleepCoroutine);
                    if delay <= 0.0 {
                        let me = st.current;
                        st.call_soon(Handle::Step(me));
                        SleepState::Yielded
                    } else {
                        let fut = st.await_new_future();
                        let when = st.now + delay;
                        st.call_at(when, fut);
                        st.charge(st.config.cpu.timer);
                        SleepState::Waiting(fut)
                    }
                });
                Poll::Pending
            }
            SleepState::Waiting(fut) => with_loop(|st| {
                if !st.futures.done(fut) {
                    return Poll::Pending;
                }
                st.drop_future(fut);
                st.free(Obj::TimerHandle);
                st.free(Obj::SleepCoroutine);
                Poll::Ready(())
            }),
            SleepState::Yielded => {
                with_loop(|st| st.free(Obj::SleepCoroutine));
                Poll::Ready(())
            }
        }
    }
}
