//! A set of pending tasks and `asyncio.wait` over it (`Lib/asyncio/tasks.py`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{State, with_loop};
use super::task::{DoneCallback, DoneCallbackKind, IntoCoroutine, Task, TaskId};
use crate::memory::Obj;
use crate::memory::container::{Ladder, PySet, SET_OBJECT_BYTES};

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
    /// The `pending` set's table: a fresh set from each `wait` call,
    /// added to by `create_task` (the program never discards from it).
    set: PySet,
    /// The `done` set the last `wait` call returned, which the program
    /// holds (as `_`) until the next call returns.
    done: Option<PySet>,
    /// `wait`'s copy of `pending` (`fs = set(fs)`), while a call runs.
    copy: PySet,
    /// How the last call's `pending` and `done` sets grew.
    ladders: [Ladder; 2],
    /// Which `wait` call is current: bumped by every call, so that the
    /// completion callbacks of an earlier call are told apart.
    instance: u32,
    /// For each finished task whose completion callback has not run yet, in
    /// finishing order (which is the order those callbacks run: each task
    /// of a set has this one callback, scheduled when it finishes), the
    /// `wait` call current when it finished.
    finished_in: std::collections::VecDeque<u32>,
    /// The tasks of `pending` that finished (`task.done()`) since the last
    /// `wait` returned, which its next return moves to a `done` set, and
    /// those of the `done` set the program holds: sets keep their tasks
    /// alive after their done callbacks ran.
    finished_tasks: Vec<TaskId>,
    done_tasks: Vec<TaskId>,
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
/// simulation itself does O(log len(fs)) work per call: the callback a task
/// runs when it finishes is the one of the `wait` call current at that
/// moment (the only one registered on it), the tasks found done are those
/// that finished since the previous call returned, and the memory of the
/// sets a call makes follows from their sizes alone:
///
/// * `fs = set(fs)`, a copy with a table for twice its keys;
/// * a context per `add_done_callback`, from the loop's free list of them
///   first, and back to it when the callbacks are removed;
/// * `done, pending = set(), set()`, filled one `add` at a time, while the
///   copy and the previous `pending` are still alive;
/// * `_, pending = ...` then frees the previous `done` and `pending`;
/// * a finished task stays alive while a set holds it: until the `done`
///   set it lands in is dropped by the next call's `_ = ...`, or until
///   main returns (its completion callback having run is not enough).
#[derive(Clone, Copy, Debug)]
pub struct TaskSet {
    id: u32,
}

impl TaskSet {
    /// `pending = set()`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        with_loop(|st| {
            // The set object; its table is `set`'s.
            st.mem.alloc(SET_OBJECT_BYTES);
            st.wait_sets.push(WaitSetState {
                pending: 0,
                set: PySet::default(),
                done: None,
                copy: PySet::default(),
                ladders: [Ladder::default(); 2],
                instance: 0,
                finished_in: std::collections::VecDeque::new(),
                finished_tasks: Vec::new(),
                done_tasks: Vec::new(),
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
            // The set references the task until a `done` set holding it is
            // dropped.
            st.tasks[task.id.index()].hold();
            let s = &mut st.wait_sets[self.id as usize];
            s.pending += 1;
            // A fresh set with no dummies: any key new to it will do.
            let key = s.set.len() as u32;
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
    /// Task `task` of set `set` finished: it counts as done from now on,
    /// and its completion callback belongs to the current `wait` call.
    pub(crate) fn wait_set_task_finished(&mut self, set: u32, task: TaskId) {
        let s = &mut self.wait_sets[set as usize];
        s.finished_in.push_back(s.instance);
        s.finished_tasks.push(task);
    }

    /// Main returned: its frame's sets let go of their finished tasks.
    pub(crate) fn release_wait_set_tasks(&mut self) {
        for set in 0..self.wait_sets.len() {
            let s = &mut self.wait_sets[set];
            let mut held = std::mem::take(&mut s.done_tasks);
            held.append(&mut s.finished_tasks);
            for t in held {
                if self.tasks[t.index()].unhold() {
                    self.release_task(t);
                }
            }
        }
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
                    let n = s.pending;
                    // `fs = set(fs)`.
                    s.copy = PySet::copy_of(n, &mut st.mem);
                    st.mem.alloc(SET_OBJECT_BYTES);
                    // `f.add_done_callback(_on_completion)` copies the
                    // context for each task.
                    st.copy_contexts(n as u32);
                    st.charge(st.config.cpu.wait_future * n as f64);
                    // The `wait()` and `_wait()` coroutines, and the
                    // `_on_completion` closure.
                    st.alloc(Obj::WaitCall);
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
                let s = &mut st.wait_sets[set as usize];
                s.waiter = None;
                let done = s.finished_tasks.len();
                let n = s.pending;
                s.pending -= done;
                // `f.remove_done_callback(_on_completion)`: the contexts.
                st.free_contexts(n as u32);
                let s = &mut st.wait_sets[set as usize];
                // `done, pending = set(), set()`, filled from `fs`.
                st.mem.alloc(2 * SET_OBJECT_BYTES);
                let [pending_ladder, done_ladder] = &mut s.ladders;
                let new_pending = PySet::built_by_adds(s.pending, pending_ladder, &mut st.mem);
                let new_done = PySet::built_by_adds(done, done_ladder, &mut st.mem);
                // `_wait` returns: its frame drops the copy of `fs`, the
                // waiter and `_on_completion`; ...
                let copy = std::mem::take(&mut s.copy);
                st.mem.free(SET_OBJECT_BYTES + copy.table());
                st.drop_future(waiter);
                st.free(Obj::WaitCall);
                // ... `_ = done` drops the previous `done` set, and with it
                // its tasks (neither the old `pending` nor the copy held
                // them), ...
                let s = &mut st.wait_sets[set as usize];
                if let Some(old_done) = s.done.replace(new_done) {
                    st.mem.free(SET_OBJECT_BYTES + old_done.table());
                }
                let found = std::mem::take(&mut s.finished_tasks);
                let mut released = std::mem::replace(&mut s.done_tasks, found);
                for &t in &released {
                    if st.tasks[t.index()].unhold() {
                        st.release_task(t);
                    }
                }
                released.clear();
                let s = &mut st.wait_sets[set as usize];
                s.finished_tasks = released;
                // ... and `pending = pending` the previous `pending`.
                let old_pending = std::mem::replace(&mut s.set, new_pending);
                st.mem.free(SET_OBJECT_BYTES + old_pending.table());
                Poll::Ready(done)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asyncio::{Config, run, sleep};

    fn live() -> i64 {
        with_loop(|st| st.live_objects())
    }

    /// A finished task is not freed when its completion callback has run:
    /// the sets hold it, as in CPython, until `_, pending = await wait(..)`
    /// drops the `done` set it is in, or until main returns.
    #[test]
    fn a_finished_task_lives_until_its_done_set_is_dropped() {
        let report = run(&Config::default(), async {
            let pending = TaskSet::new();
            let before = live();
            pending.create_task(sleep(1.0));
            assert_eq!(pending.wait(ReturnWhen::FirstCompleted).await, 1);
            // The first task (its Task and coroutine) is in `_`.
            assert_eq!(live(), before + 2);
            pending.create_task(sleep(1.0));
            assert_eq!(pending.wait(ReturnWhen::FirstCompleted).await, 1);
            // `_` now holds the second; the first is gone.
            assert_eq!(live(), before + 2);
            pending.create_task(sleep(1.0));
            pending.create_task(sleep(1.0));
            assert_eq!(pending.wait(ReturnWhen::AllCompleted).await, 2);
            assert_eq!(live(), before + 4);
        })
        .expect("runs");
        // Main returned: nothing of its tasks is left.
        let empty = run(&Config::default(), async {
            TaskSet::new();
        })
        .expect("runs");
        assert_eq!(report.live_objects, empty.live_objects);
    }
}
