//! Tasks: `loop.create_task`, done callbacks, and awaiting a task.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::coro::{Coro, CoroPool};
use super::event_loop::{State, scheduled_slot, with_loop};
use super::semaphore::Semaphore;
use crate::memory::Obj;
use crate::memory::task_names::NameClass;

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

/// A task's state in the loop: 40 bytes, since with every request's task
/// alive at once (`semaphore_in_task`) the slots are a large share of
/// bpsim's own memory.
pub(crate) struct TaskSlot {
    /// The coroutine's address in the loop's
    /// [`CoroPool`](super::coro::CoroPool) (none once it finished: the task
    /// is done), its type there, and its frame.
    coro: CoroWord,
    /// Virtual time of `create_task`.
    pub(crate) created: f64,
    /// Done callbacks in registration order (`fut_callback0`, then the rest,
    /// as CPython's C Future stores them).
    callbacks: Callbacks,
    /// Bumped each time the slot is reused, so stale handles see "done".
    pub(crate) generation: u32,
    /// The memory model's pymalloc block of the Task object (its address in
    /// the task sets), and of its coroutine if that is in the same size
    /// class ([`NO_BLOCK`] if not). A freed slot's `block` links the loop's
    /// list of free slots.
    pub(crate) block: u32,
    pub(crate) coro_block: u32,
}

/// [`TaskSlot::coro_block`] of a coroutine outside the Task's size class.
pub(crate) const NO_BLOCK: u32 = u32::MAX;

/// A coroutine's address (low 48 bits; 0 once it finished), its type index
/// in the pool (next 8), its [`Frame`] (next 2) and the size class of its
/// task's name (top 6, [`NameClass`]), in one word. User-space
/// addresses fit in 48 bits on x86-64 and AArch64 Linux, which hand out
/// higher ones only to a program that asks for them.
#[derive(Clone, Copy)]
struct CoroWord(u64);

impl CoroWord {
    const ADDRESS: u64 = (1 << 48) - 1;
    const TYPE_SHIFT: u32 = 48;
    const FRAME_SHIFT: u32 = 56;
    const NAME_SHIFT: u32 = 58;

    fn new(ptr: NonNull<u8>, coro_type: u8, frame: Frame, name: NameClass) -> Self {
        debug_assert!(name < 64, "a name class fits 6 bits");
        let address = ptr.as_ptr().expose_provenance() as u64;
        assert!(
            address & !Self::ADDRESS == 0,
            "a coroutine at {address:#x}, above 2^48: this platform's addresses do not fit a task slot"
        );
        CoroWord(
            address
                | u64::from(coro_type) << Self::TYPE_SHIFT
                | u64::from(frame.bits()) << Self::FRAME_SHIFT
                | u64::from(name) << Self::NAME_SHIFT,
        )
    }

    #[inline]
    fn ptr(self) -> Option<NonNull<u8>> {
        NonNull::new(std::ptr::with_exposed_provenance_mut(
            (self.0 & Self::ADDRESS) as usize,
        ))
    }

    #[inline]
    fn coro_type(self) -> u8 {
        (self.0 >> Self::TYPE_SHIFT) as u8
    }

    #[inline]
    fn frame(self) -> Frame {
        Frame::from_bits((self.0 >> Self::FRAME_SHIFT) as u8 & 3)
    }

    #[inline]
    fn name(self) -> NameClass {
        (self.0 >> Self::NAME_SHIFT) as NameClass
    }

    fn clear_address(&mut self) {
        self.0 &= !Self::ADDRESS;
    }
}

impl TaskSlot {
    pub(crate) fn new(
        coro: Coro,
        frame: Frame,
        name: NameClass,
        created: f64,
        generation: u32,
    ) -> Self {
        let (ptr, coro_type) = coro.into_parts();
        TaskSlot {
            coro: CoroWord::new(ptr, coro_type, frame, name),
            created,
            callbacks: Callbacks::default(),
            generation,
            block: NO_BLOCK,
            coro_block: NO_BLOCK,
        }
    }

    /// The coroutine's shape, for the memory model.
    #[inline]
    pub(crate) fn frame(&self) -> Frame {
        self.coro.frame()
    }

    /// The size class of the task's name, for the memory model.
    #[inline]
    pub(crate) fn name(&self) -> NameClass {
        self.coro.name()
    }

    /// The coroutine (in `pool`), if it has not finished.
    #[inline]
    pub(crate) fn coro(&self, pool: &CoroPool) -> Option<Coro> {
        self.coro
            .ptr()
            .map(|ptr| pool.get(ptr, self.coro.coro_type()))
    }

    /// The coroutine returned (or was dropped): forget it. The task is
    /// done from now on.
    pub(crate) fn clear_coro(&mut self) {
        self.coro.clear_address();
    }

    /// The coroutine returned.
    pub(crate) fn is_finished(&self) -> bool {
        self.coro.ptr().is_none()
    }

    /// The task finished (its coroutine is already cleared); returns how
    /// many done callbacks must be scheduled.
    pub(crate) fn finish(&mut self) -> u32 {
        debug_assert!(self.is_finished());
        u32::from(self.callbacks.len)
    }

    /// `n` done callbacks are scheduled (all of them, when it finished);
    /// true when nothing else keeps the task alive (it can be freed now).
    pub(crate) fn set_pending(&mut self, n: u32) -> bool {
        let n = u16::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_CALLBACKS)
            .expect("at most 32,767 callbacks");
        self.callbacks.pending = self.callbacks.pending & HELD | n;
        self.callbacks.pending == 0
    }

    /// One scheduled done callback ran; true when nothing keeps the task
    /// alive any more (it can be freed).
    pub(crate) fn callback_ran(&mut self) -> bool {
        self.callbacks.pending -= 1;
        self.callbacks.pending == 0
    }

    /// A set of the program's holds a reference to the task: it outlives
    /// its done callbacks until [`TaskSlot::unhold`].
    pub(crate) fn hold(&mut self) {
        self.callbacks.pending |= HELD;
    }

    /// The set let the finished task go; true when nothing keeps it alive
    /// any more (its done callbacks all ran).
    pub(crate) fn unhold(&mut self) -> bool {
        self.callbacks.pending &= !HELD;
        self.callbacks.pending == 0
    }

    /// The `index`-th done callback (registration order).
    pub(crate) fn callback_at(
        &self,
        index: usize,
        overflow: &[Vec<StoredCallback>],
    ) -> StoredCallback {
        self.callbacks.get(index, overflow)
    }

    /// The done callback the next `Handle::Done` of this task runs: the
    /// callbacks run in registration order, one per handle.
    // Forced inline: see `State::release`.
    #[inline(always)]
    pub(crate) fn next_callback(&self, overflow: &[Vec<StoredCallback>]) -> StoredCallback {
        let index = usize::from(self.callbacks.len - (self.callbacks.pending & !HELD));
        self.callbacks.get(index, overflow)
    }
}

/// A done callback as the loop stores it: callbacks that carry more than an
/// index (closures) wait in the loop's `boxed_callbacks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoredCallback {
    /// [`DoneCallbackKind::Group`].
    Group(u32),
    /// [`DoneCallbackKind::Release`].
    Release(u32),
    /// [`DoneCallbackKind::Wakeup`].
    Wakeup(TaskId),
    /// [`DoneCallbackKind::Wait`] of this task set (the `wait` call it
    /// belongs to is recorded when the task finishes).
    Wait(u32),
    /// Any other callback: its index in `State::boxed_callbacks`.
    Boxed(u32),
}

/// Bits of a packed callback that say which kind it is.
const KIND_BITS: u32 = 3;
/// Largest index a packed callback holds (2^29 - 1: more tasks, groups or
/// closures than fit in memory).
const MAX_PACKED_INDEX: u32 = u32::MAX >> KIND_BITS;

impl StoredCallback {
    /// Four bytes: the kind in the low bits, the index above.
    fn pack(self) -> u32 {
        let (kind, index) = match self {
            StoredCallback::Group(g) => (0, g),
            StoredCallback::Release(s) => (1, s),
            StoredCallback::Wakeup(t) => (2, t.0),
            StoredCallback::Wait(set) => (3, set),
            StoredCallback::Boxed(i) => (4, i),
        };
        assert!(
            index <= MAX_PACKED_INDEX,
            "more than 2^29 tasks or callbacks"
        );
        index << KIND_BITS | kind
    }

    fn unpack(packed: u32) -> Self {
        let index = packed >> KIND_BITS;
        match packed & ((1 << KIND_BITS) - 1) {
            0 => StoredCallback::Group(index),
            1 => StoredCallback::Release(index),
            2 => StoredCallback::Wakeup(TaskId(index)),
            3 => StoredCallback::Wait(index),
            _ => StoredCallback::Boxed(index),
        }
    }
}

/// A task's done callbacks in registration order: up to two inline,
/// packed (every modelled strategy registers at most two); past two, the
/// first stays inline and the others go to one of the loop's overflow
/// lists. 12 bytes.
#[derive(Debug, Default)]
struct Callbacks {
    /// The first callback; the second while there are at most two, else
    /// the index of the overflow list in `State::callback_overflow` that
    /// holds the second on.
    inline: [u32; 2],
    /// Registered (at most [`MAX_CALLBACKS`]: a task awaited by more tasks
    /// at once is refused with a panic, which no scenario can reach).
    len: u16,
    /// Scheduled but not yet run, once the task finished, and [`HELD`] while
    /// a set of the program's references the task; it is freed at zero.
    pending: u16,
}

/// [`Callbacks::pending`]'s top bit: a set the program holds (such as the
/// `done` set `asyncio.wait` returned) still references the task.
const HELD: u16 = 1 << 15;
/// The most done callbacks a task can have (`pending`'s other bits).
const MAX_CALLBACKS: u16 = HELD - 1;

impl Callbacks {
    fn get(&self, index: usize, overflow: &[Vec<StoredCallback>]) -> StoredCallback {
        if index == 0 || !self.spilled() {
            StoredCallback::unpack(self.inline[index])
        } else {
            overflow[self.inline[1] as usize][index - 1]
        }
    }

    /// Past two callbacks: all but the first are in an overflow list.
    fn spilled(&self) -> bool {
        self.len > 2
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
    #[inline]
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
            st.add_callback(self.id, cb.0);
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
    /// `adaptive_limit`'s `process_adaptive(latency)`: the request inside
    /// `try: ... finally:`, timed with `loop.time()`, reporting to the
    /// controller's `done` (two more locals and two free variables).
    Adaptive,
}

impl Frame {
    fn bits(self) -> u8 {
        match self {
            Frame::Plain => 0,
            Frame::AsyncWith => 1,
            Frame::TryFinally => 2,
            Frame::Adaptive => 3,
        }
    }

    fn from_bits(bits: u8) -> Self {
        match bits {
            0 => Frame::Plain,
            1 => Frame::AsyncWith,
            2 => Frame::TryFinally,
            _ => Frame::Adaptive,
        }
    }

    pub(crate) fn obj(self) -> Obj {
        match self {
            Frame::Plain => Obj::Coroutine,
            Frame::AsyncWith => Obj::CoroutineAsyncWith,
            Frame::TryFinally => Obj::CoroutineTryFinally,
            Frame::Adaptive => Obj::CoroutineAdaptive,
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
    with_loop(|st| st.spawn(body, frame))
}

/// Virtual time at which the running task was created.
pub fn current_task_created() -> f64 {
    // SAFETY: the current task is one the loop stepped in this run.
    with_loop(|st| unsafe { st.slot(st.current) }.created)
}

/// [`current_task_created`] and [`time`](super::time), in one visit to the
/// loop.
pub(crate) fn current_task_created_and_time() -> (f64, f64) {
    // SAFETY: as in `current_task_created`.
    with_loop(|st| (unsafe { st.slot(st.current) }.created, st.now))
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
            st.add_callback(task.id, DoneCallbackKind::Wakeup(me));
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

impl State {
    /// `task.add_done_callback(cb)` on the loop's side: store `cb` after the
    /// callbacks registered before it.
    #[inline(always)]
    pub(crate) fn add_callback(&mut self, task: TaskId, cb: DoneCallbackKind) {
        let stored = match cb {
            DoneCallbackKind::Group(g) => StoredCallback::Group(g),
            DoneCallbackKind::Release(s) => StoredCallback::Release(s),
            DoneCallbackKind::Wakeup(t) => StoredCallback::Wakeup(t),
            DoneCallbackKind::Wait { set, .. } => StoredCallback::Wait(set),
            other => {
                let slot = Some(other);
                let index = match self.free_boxed_callbacks.pop() {
                    Some(i) => {
                        self.boxed_callbacks[i as usize] = slot;
                        i
                    }
                    None => {
                        self.boxed_callbacks.push(slot);
                        (self.boxed_callbacks.len() - 1) as u32
                    }
                };
                StoredCallback::Boxed(index)
            }
        };
        let cbs = &mut self.tasks[task.index()].callbacks;
        match cbs.len {
            0 | 1 => cbs.inline[usize::from(cbs.len)] = stored.pack(),
            2 => {
                // The third: the second moves out to a list, which the
                // second inline word now names.
                let list = match self.free_callback_overflow.pop() {
                    Some(i) => i,
                    None => {
                        self.callback_overflow.push(Vec::new());
                        (self.callback_overflow.len() - 1) as u32
                    }
                };
                let second = StoredCallback::unpack(cbs.inline[1]);
                cbs.inline[1] = list;
                let overflow = &mut self.callback_overflow[list as usize];
                overflow.push(second);
                overflow.push(stored);
            }
            _ => self.callback_overflow[cbs.inline[1] as usize].push(stored),
        }
        cbs.len = cbs
            .len
            .checked_add(1)
            .filter(|&n| n <= MAX_CALLBACKS)
            .expect("at most 32,767 done callbacks on one task");
    }

    /// The callback the next `Handle::Done` of the finished `task` runs.
    #[inline(always)]
    pub(crate) fn next_done_callback(&mut self, task: TaskId) -> DoneCallbackKind {
        // SAFETY: called by `run_done_callback` for a `Done` handle's task.
        match unsafe { scheduled_slot(&mut self.tasks, task) }
            .next_callback(&self.callback_overflow)
        {
            StoredCallback::Group(g) => DoneCallbackKind::Group(g),
            StoredCallback::Release(s) => DoneCallbackKind::Release(s),
            StoredCallback::Wakeup(t) => DoneCallbackKind::Wakeup(t),
            StoredCallback::Wait(set) => DoneCallbackKind::Wait {
                set,
                instance: self.wait_set_callback_instance(set),
            },
            StoredCallback::Boxed(i) => {
                self.free_boxed_callbacks.push(i);
                self.boxed_callbacks[i as usize]
                    .take()
                    .expect("a boxed callback runs once")
            }
        }
    }

    /// Forget a released task's callbacks (all of them have run).
    pub(crate) fn clear_callbacks(&mut self, task: TaskId) {
        let cbs = &mut self.tasks[task.index()].callbacks;
        if cbs.spilled() {
            let list = cbs.inline[1];
            self.callback_overflow[list as usize].clear();
            self.free_callback_overflow.push(list);
        }
        *cbs = Callbacks::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_slot_is_40_bytes() {
        assert_eq!(std::mem::size_of::<TaskSlot>(), 40);
    }

    #[test]
    fn a_coroutine_word_keeps_address_type_frame_and_name() {
        let mut x = 0u64;
        let ptr = NonNull::from(&mut x).cast::<u8>();
        for frame in [
            Frame::Plain,
            Frame::AsyncWith,
            Frame::TryFinally,
            Frame::Adaptive,
        ] {
            for (coro_type, name) in [(0, 0), (1, 63), (255, 20), (7, 1)] {
                let mut w = CoroWord::new(ptr, coro_type, frame, name);
                assert_eq!(w.ptr(), Some(ptr));
                let parts = (w.coro_type(), w.frame(), w.name());
                assert_eq!(parts, (coro_type, frame, name));
                w.clear_address();
                assert_eq!(w.ptr(), None);
                let parts = (w.coro_type(), w.frame(), w.name());
                assert_eq!(parts, (coro_type, frame, name));
            }
        }
    }

    #[test]
    fn callbacks_pack_and_unpack() {
        for cb in [
            StoredCallback::Group(0),
            StoredCallback::Release(7),
            StoredCallback::Wakeup(TaskId(MAX_PACKED_INDEX)),
            StoredCallback::Wait(12345),
            StoredCallback::Boxed(1 << 20),
        ] {
            assert_eq!(StoredCallback::unpack(cb.pack()), cb);
        }
    }
}
