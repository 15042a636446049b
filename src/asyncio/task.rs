//! Tasks: `loop.create_task`, done callbacks, and awaiting a task.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::with_loop;
use super::semaphore::Semaphore;
use crate::memory::Obj;

/// Index of a task in the loop. The main task is always 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskId(u32);

impl TaskId {
    pub(crate) const MAIN: TaskId = TaskId(0);

    pub(crate) fn from_index(i: usize) -> Self {
        TaskId(u32::try_from(i).expect("more than 2^32 live tasks"))
    }

    #[inline]
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A task's state in the loop.
pub(crate) struct TaskSlot {
    /// The coroutine; `None` while it is being stepped or once it finished.
    pub(crate) coro: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// `fut_callback0`, then the rest, as CPython's C Future stores them.
    first: Option<DoneCallbackKind>,
    rest: Vec<DoneCallbackKind>,
    finished: bool,
    /// Virtual time of `create_task`.
    pub(crate) created: f64,
    /// The coroutine's shape, for the memory model.
    pub(crate) frame: Frame,
    /// Bumped each time the slot is reused, so stale handles see "done".
    pub(crate) generation: u32,
    /// Done callbacks scheduled but not yet run; the task is freed at zero.
    pub(crate) pending_callbacks: u32,
}

impl TaskSlot {
    pub(crate) fn new(
        coro: Pin<Box<dyn Future<Output = ()>>>,
        frame: Frame,
        created: f64,
        generation: u32,
    ) -> Self {
        TaskSlot {
            frame,
            created,
            coro: Some(coro),
            first: None,
            rest: Vec::new(),
            finished: false,
            generation,
            pending_callbacks: 0,
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    fn add(&mut self, cb: DoneCallbackKind) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(cb);
        } else {
            self.rest.push(cb);
        }
    }

    /// Mark finished and hand over the callbacks in registration order.
    pub(crate) fn finish(&mut self) -> impl Iterator<Item = DoneCallbackKind> + use<> {
        self.finished = true;
        let first = self.first.take();
        let rest = std::mem::take(&mut self.rest);
        first.into_iter().chain(rest)
    }
}

/// A callback to run when a task is done (`task.add_done_callback(cb)`).
pub struct DoneCallback(pub(crate) DoneCallbackKind);

/// The callbacks the loop knows how to run without boxing.
pub(crate) enum DoneCallbackKind {
    /// `TaskGroup._on_task_done`.
    Group(u32),
    /// `lambda _: sem.release()`.
    Release(u32),
    /// `Task.__wakeup` of a task awaiting this one.
    Wakeup(TaskId),
    /// `_on_completion` of an `asyncio.wait` over task set `set`; `instance`
    /// (which `wait` call) is bound when the task finishes.
    Wait {
        /// The [`TaskSet`](super::TaskSet).
        set: u32,
        /// The `wait` call current when the task finished.
        instance: u32,
    },
    /// Any other callback.
    Custom(Box<dyn FnOnce()>),
}

impl DoneCallback {
    /// A callback running arbitrary code (charged as one closure).
    pub fn new(f: impl FnOnce() + 'static) -> Self {
        DoneCallback(DoneCallbackKind::Custom(Box::new(f)))
    }

    pub(crate) fn release(sem: Semaphore) -> Self {
        DoneCallback(DoneCallbackKind::Release(sem.id()))
    }
}

impl std::fmt::Debug for DoneCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.0 {
            DoneCallbackKind::Group(_) => "TaskGroup._on_task_done",
            DoneCallbackKind::Release(_) => "lambda: sem.release()",
            DoneCallbackKind::Wakeup(_) => "Task.__wakeup",
            DoneCallbackKind::Wait { .. } => "asyncio.wait._on_completion",
            DoneCallbackKind::Custom(_) => "callback",
        };
        f.write_str(name)
    }
}

/// A handle to a task, as returned by `create_task`.
#[derive(Clone, Copy, Debug)]
pub struct Task {
    pub(crate) id: TaskId,
    pub(crate) generation: u32,
}

impl Task {
    /// `task.add_done_callback(cb)`: `cb` is scheduled with `call_soon` when
    /// the task finishes, after the callbacks registered before it.
    ///
    /// # Panics
    /// If the task is already done (CPython would schedule `cb` at once; the
    /// modelled strategies never do this).
    pub fn add_done_callback(self, cb: DoneCallback) -> Self {
        with_loop(|st| {
            assert!(!self.done_in(st), "add_done_callback on a finished task");
            match &cb.0 {
                DoneCallbackKind::Release(_) | DoneCallbackKind::Custom(_) => {
                    st.alloc(Obj::LambdaCallback)
                }
                DoneCallbackKind::Group(_) => st.alloc(Obj::GroupCallback),
                DoneCallbackKind::Wakeup(_) | DoneCallbackKind::Wait { .. } => {}
            }
            st.tasks[self.id.index()].add(cb.0);
        });
        self
    }

    /// `task.done()`.
    pub fn done(self) -> bool {
        with_loop(|st| self.done_in(st))
    }

    fn done_in(self, st: &super::event_loop::State) -> bool {
        let slot = &st.tasks[self.id.index()];
        slot.generation != self.generation || slot.is_finished()
    }
}

/// The shape of a task's coroutine, which sets the size of its frame in the
/// memory model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Frame {
    /// The body is the request alone: `async def process(url): await ...`.
    #[default]
    Plain,
    /// The body is inside `async with sem:`.
    AsyncWith,
    /// The body is inside `try: ... finally:`.
    TryFinally,
}

impl Frame {
    pub(crate) fn obj(self) -> Obj {
        match self {
            Frame::Plain => Obj::Coroutine,
            Frame::AsyncWith => Obj::CoroutineAsyncWith,
            Frame::TryFinally => Obj::CoroutineTryFinally,
        }
    }
}

/// A coroutine with a declared [`Frame`], for `create_task`.
#[derive(Debug)]
pub struct Coroutine<F> {
    frame: Frame,
    body: F,
}

/// Declare the shape of a coroutine: `create_task(coroutine(Frame::AsyncWith,
/// process(url, sem)))`. Plain futures passed to `create_task` count as
/// [`Frame::Plain`].
pub fn coroutine<F>(frame: Frame, body: F) -> Coroutine<F>
where
    F: Future<Output = ()> + 'static,
{
    Coroutine { frame, body }
}

/// Anything `create_task` accepts: a future, or a [`Coroutine`].
pub trait IntoCoroutine {
    /// The future the task runs.
    type Body: Future<Output = ()> + 'static;
    /// Split into the frame shape and the future.
    fn into_parts(self) -> (Frame, Self::Body);
}

impl<F: Future<Output = ()> + 'static> IntoCoroutine for F {
    type Body = F;
    fn into_parts(self) -> (Frame, F) {
        (Frame::Plain, self)
    }
}

impl<F: Future<Output = ()> + 'static> IntoCoroutine for Coroutine<F> {
    type Body = F;
    fn into_parts(self) -> (Frame, F) {
        (self.frame, self.body)
    }
}

/// `asyncio.create_task(coro)` / `loop.create_task(coro)`: the coroutine's
/// first step runs in the next loop iteration, after everything already
/// scheduled.
pub fn create_task(coro: impl IntoCoroutine) -> Task {
    let (frame, body) = coro.into_parts();
    with_loop(|st| st.spawn(Box::pin(body), frame))
}

/// Virtual time at which the running task was created.
pub fn current_task_created() -> f64 {
    with_loop(|st| st.tasks[st.current.index()].created)
}

/// `await task`: resumes one iteration after the task's last step.
#[derive(Debug)]
pub struct JoinTask {
    task: Task,
    waiting: bool,
}

impl IntoFuture for Task {
    type Output = ();
    type IntoFuture = JoinTask;

    fn into_future(self) -> JoinTask {
        JoinTask {
            task: self,
            waiting: false,
        }
    }
}

impl Future for JoinTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.waiting {
            return Poll::Ready(());
        }
        let task = self.task;
        let done = with_loop(|st| {
            if task.done_in(st) {
                return true;
            }
            let me = st.current;
            st.tasks[task.id.index()].add(DoneCallbackKind::Wakeup(me));
            false
        });
        if done {
            Poll::Ready(())
        } else {
            self.waiting = true;
            Poll::Pending
        }
    }
}
