//! A set of pending tasks and `asyncio.wait` over it (`Lib/asyncio/tasks.py`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{State, with_loop};
use super::task::{DoneCallback, DoneCallbackKind, IntoCoroutine, Task};
use crate::memory::Obj;
use crate::memory::container::PySet;

/// `asyncio.wait`'s `return_when`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// `asyncio.FIRST_COMPLETED`.
    FirstCompleted,
    /// `asyncio.ALL_COMPLETED`.
    AllCompleted,
}

/// A task set's state in the loop.
#[derive(Debug)]
pub(crate) struct WaitSetState {
    /// `len(pending)`.
    pending: usize,
    /// Tasks of `pending` that are done (`task.done()`) but not yet moved to
    /// a `done` set by a `wait` returning.
    finished: usize,
    set: PySet,
    /// Keys of the set's members, oldest first (the model of `pending`'s
    /// memory does not track which task left; it drops the oldest key).
    keys: std::collections::VecDeque<u32>,
    next_key: u32,
    /// Which `wait` call is current: bumped by every call, so that the
    /// completion callbacks of an earlier call are told apart.
    instance: u32,
    /// For each finished task whose completion callback has not run yet, in
    /// finishing order (which is the order those callbacks run: each task
    /// of a set has this one callback, scheduled when it finishes), the
    /// `wait` call current when it finished.
    finished_in: std::collections::VecDeque<u32>,
    /// The current call's waiter future, `_on_completion`'s `counter` and
    /// `return_when`.
    waiter: Option<u32>,
    counter: usize,
    return_when: ReturnWhen,
}

/// A Python set of pending tasks, waited on with `asyncio.wait`:
///
/// ```python
/// pending = set()
/// pending.add(asyncio.create_task(coro))          # TaskSet::create_task
/// done, pending = await asyncio.wait(pending, return_when=FIRST_COMPLETED)
/// ```
///
/// Every `asyncio.wait(fs)` call adds an `_on_completion` done callback to
/// each of the `len(fs)` tasks and removes it again when it returns, then
/// splits `fs` by `f.done()`: O(len(fs)) per call, charged as
/// [`CpuCosts::wait_future`](super::CpuCosts::wait_future) per task. The
/// simulation itself does O(1) work per call: the callback a task runs when
/// it finishes is the one of the `wait` call current at that moment (the
/// only one registered on it), and the tasks found done are those that
/// finished since the previous call returned.
#[derive(Clone, Copy, Debug)]
pub struct TaskSet {
    id: u32,
}

impl TaskSet {
    /// `pending = set()`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        with_loop(|st| {
            st.wait_sets.push(WaitSetState {
                pending: 0,
                finished: 0,
                set: PySet::default(),
                keys: std::collections::VecDeque::new(),
                next_key: 0,
                instance: 0,
                finished_in: std::collections::VecDeque::new(),
                waiter: None,
                counter: 0,
                return_when: ReturnWhen::AllCompleted,
            });
            TaskSet {
                id: (st.wait_sets.len() - 1) as u32,
            }
        })
    }

    /// `pending.add(asyncio.create_task(coro))`.
    pub fn create_task(self, coro: impl IntoCoroutine) -> Task {
        let task = super::task::create_task(coro);
        with_loop(|st| {
            let s = &mut st.wait_sets[self.id as usize];
            s.pending += 1;
            let key = s.next_key;
            s.next_key = s.next_key.wrapping_add(1);
            s.keys.push_back(key);
            s.set.add(key, &mut st.mem);
        });
        // The `_on_completion` callback each `wait` call registers; its
        // closure is charged per call, not per task.
        task.add_done_callback(DoneCallback(DoneCallbackKind::Wait {
            set: self.id,
            instance: 0,
        }))
    }

    /// `len(pending)`.
    pub fn len(self) -> usize {
        with_loop(|st| st.wait_sets[self.id as usize].pending)
    }

    /// `len(pending) == 0`.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// `done, pending = await asyncio.wait(pending, return_when=...)`:
    /// resolves to `len(done)`; the done tasks leave the set.
    pub fn wait(self, return_when: ReturnWhen) -> Wait {
        Wait {
            set: self.id,
            return_when,
            waiter: None,
        }
    }
}

impl State {
    /// A task of set `set` finished: it counts as done from now on, and its
    /// completion callback belongs to the current `wait` call.
    pub(crate) fn wait_set_task_finished(&mut self, set: u32) {
        let s = &mut self.wait_sets[set as usize];
        s.finished += 1;
        s.finished_in.push_back(s.instance);
    }

    /// The `wait` call of the next completion callback of set `set` to run.
    pub(crate) fn wait_set_callback_instance(&mut self, set: u32) -> u32 {
        self.wait_sets[set as usize]
            .finished_in
            .pop_front()
            .expect("a completion callback runs after its task finished")
    }

    /// `_on_completion(f)` of `wait` call `instance`.
    pub(crate) fn wait_on_completion(&mut self, set: u32, instance: u32) {
        let s = &mut self.wait_sets[set as usize];
        if s.instance != instance {
            // An earlier call's callback: its waiter is already done.
            return;
        }
        let Some(waiter) = s.waiter else { return };
        s.counter = s.counter.saturating_sub(1);
        let wake = s.counter == 0 || s.return_when == ReturnWhen::FirstCompleted;
        if wake && !self.futures.done(waiter) {
            self.set_result(waiter);
        }
    }
}

/// The future returned by [`TaskSet::wait`].
#[derive(Debug)]
pub struct Wait {
    set: u32,
    return_when: ReturnWhen,
    waiter: Option<u32>,
}

impl Future for Wait {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<usize> {
        let (set, return_when) = (self.set, self.return_when);
        match self.waiter {
            None => {
                let waiter = with_loop(|st| {
                    let s = &mut st.wait_sets[set as usize];
                    // `assert fs, 'Set of Futures is empty.'`: the modelled
                    // programs never wait on an empty set.
                    assert!(s.pending > 0, "asyncio.wait on an empty set");
                    s.instance = s.instance.wrapping_add(1);
                    s.counter = s.pending;
                    s.return_when = return_when;
                    let n = s.pending as f64;
                    st.charge(st.config.cpu.wait_future * n);
                    st.alloc(Obj::LambdaCallback);
                    let waiter = st.await_new_future();
                    st.wait_sets[set as usize].waiter = Some(waiter);
                    waiter
                });
                self.waiter = Some(waiter);
                Poll::Pending
            }
            Some(waiter) => with_loop(|st| {
                if !st.futures.done(waiter) {
                    return Poll::Pending;
                }
                st.drop_future(waiter);
                st.free(Obj::LambdaCallback);
                let s = &mut st.wait_sets[set as usize];
                s.waiter = None;
                let done = s.finished;
                s.finished = 0;
                s.pending -= done;
                for _ in 0..done {
                    if let Some(key) = s.keys.pop_front() {
                        s.set.discard(key);
                    }
                }
                Poll::Ready(done)
            }),
        }
    }
}
