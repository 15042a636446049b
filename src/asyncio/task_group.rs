//! `asyncio.TaskGroup` (`Lib/asyncio/taskgroups.py`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{State, with_loop};
use super::task::{DoneCallbackKind, IntoCoroutine, Task, TaskId};
use crate::memory::Obj;
use crate::memory::container::PySet;

/// A task group's state in the loop.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    /// `len(self._tasks)`.
    tasks: usize,
    set: PySet,
    /// `self._on_completed_fut` while the parent waits in `__aexit__`.
    on_completed: Option<u32>,
}

/// `async with asyncio.TaskGroup() as tg:` — [`TaskGroup::new`] is the
/// `__aenter__` (it never yields) and [`TaskGroup::join`] the `__aexit__`.
#[derive(Clone, Copy, Debug)]
pub struct TaskGroup {
    id: u32,
}

impl TaskGroup {
    /// Enter a new task group.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        with_loop(|st| {
            let bytes = st.config.profile.task_group;
            st.mem.alloc(bytes);
            st.groups.push(GroupState::default());
            TaskGroup {
                id: (st.groups.len() - 1) as u32,
            }
        })
    }

    /// `tg.create_task(coro)`: a task whose first done callback is the
    /// group's `_on_task_done`.
    pub fn create_task(self, coro: impl IntoCoroutine) -> Task {
        let (frame, body) = coro.into_parts();
        with_loop(|st| {
            let task = st.spawn(body, frame);
            // SAFETY: the task just spawned.
            let block = unsafe { st.task_block(task.id) };
            let g = &mut st.groups[self.id as usize];
            g.tasks += 1;
            g.set.add(block, &mut st.mem);
            // `task.add_done_callback(self._on_task_done)`, in the same
            // borrow of the loop (the task was just created: not done).
            st.alloc(Obj::GroupCallback);
            st.add_callback(task.id, DoneCallbackKind::Group(self.id));
            task
        })
    }

    /// Leave the group (`__aexit__`): returns at once if no task is left,
    /// otherwise two iterations after the last task's final step.
    pub fn join(self) -> Join {
        Join {
            group: self.id,
            fut: None,
        }
    }
}

impl State {
    /// `TaskGroup._on_task_done(task)`.
    #[inline(always)]
    pub(crate) fn on_task_done(&mut self, group: u32, task: TaskId) {
        // SAFETY: the task whose done callback runs (`run_done_callback`).
        let block = unsafe { self.task_block(task) };
        let g = &mut self.groups[group as usize];
        g.tasks -= 1;
        g.set.discard(block);
        if g.tasks == 0
            && let Some(fut) = g.on_completed
            && !self.futures.done(fut)
        {
            self.set_result(fut);
        }
    }
}

/// The future returned by [`TaskGroup::join`].
#[derive(Debug)]
pub struct Join {
    group: u32,
    fut: Option<u32>,
}

impl Future for Join {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let group = self.group;
        let prev = self.fut;
        let next = with_loop(|st| {
            if let Some(fut) = prev {
                if !st.futures.done(fut) {
                    return Err(());
                }
                st.drop_future(fut);
                st.groups[group as usize].on_completed = None;
            }
            // `while self._tasks: await self._on_completed_fut`
            if st.groups[group as usize].tasks == 0 {
                let bytes = st.config.profile.task_group;
                st.mem.free(bytes);
                st.groups[group as usize].set.clear(&mut st.mem);
                return Ok(None);
            }
            let fut = st.await_new_future();
            st.groups[group as usize].on_completed = Some(fut);
            Ok(Some(fut))
        });
        match next {
            Err(()) => Poll::Pending,
            Ok(None) => Poll::Ready(()),
            Ok(Some(fut)) => {
                self.fut = Some(fut);
                Poll::Pending
            }
        }
    }
}
