//! The loop itself: state, the thread-local running loop, and `_run_once`.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::task::Poll;

use super::coro::{Coro, CoroPool};
use super::cpu::CpuCosts;
use super::future::Futures;
use super::growth;
use super::heapq::{PREFETCH_FROM_TIMERS, Timer, TimerHeap};
use super::io::{IoState, TIMEOUT_TAG};
use super::queue::QueueState;
use super::semaphore::SemState;
use super::task::{DoneCallbackKind, Frame, NO_BLOCK, StoredCallback, Task, TaskId, TaskSlot};
use super::task_group::GroupState;
use super::wait::WaitSetState;
use crate::memory::blocks::Blocks;
use crate::memory::container::{PyDeque, PyList, PySet};
use crate::memory::free_lists::FreeLists;
use crate::memory::{Ledger, Obj, Profile, TaskNumbers};
use crate::server::station::{Station, StationConfig};

/// `time.get_clock_info('monotonic').resolution` on Linux: timers due within
/// this much after the current time fire in the same iteration.
pub(crate) const CLOCK_RESOLUTION: f64 = 1e-9;

/// `_run_once`'s `end_time = self.time() + self._clock_resolution`: timers
/// due before it fire in this iteration. From 2^24 s (194 days) of virtual
/// time on, 1 ns is less than half the spacing of `f64`s and the sum rounds
/// back to `now`, so a timer due exactly now would never fire: CPython's
/// own loop on a virtual clock spins there forever, and on a real clock it
/// fires once the clock has moved on by a float step. bpsim takes the next
/// `f64` above `now` in that case: the timer fires now, at its deadline.
/// Below 2^24 s this is exactly CPython's sum.
///
/// That is `(now + CLOCK_RESOLUTION).max(now.next_up())`, but the bit work
/// of `next_up` (16 instructions, four loop iterations a request) is done
/// only where the sum does not move: a sum above `now` is an `f64` above
/// it, so it is at least the next one up, and is the maximum.
#[inline(always)]
pub(crate) fn end_time(now: f64) -> f64 {
    let end = now + CLOCK_RESOLUTION;
    if end > now { end } else { now.next_up() }
}
/// `asyncio.base_events.MAXIMUM_SELECT_TIMEOUT`: the longest single wait.
pub(crate) const MAXIMUM_SELECT_TIMEOUT: f64 = 24.0 * 3600.0;

/// Which `Semaphore.acquire` wake-up rule to follow after a waiter resumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SemaphoreFlavor {
    /// CPython 3.11 and 3.12: `if value > 0: _wake_up_next()`.
    #[default]
    WakeOne,
    /// CPython 3.13: `while value > 0: if not _wake_up_next(): break`.
    WakeAll,
}

/// How to run a simulation.
#[derive(Clone, Debug)]
pub struct Config {
    /// Object sizes for the memory ledger.
    pub profile: Profile,
    /// Semaphore wake-up rule of the modelled CPython version.
    pub semaphore: SemaphoreFlavor,
    /// Stop with [`RunError::IterationLimit`] after this many iterations.
    pub max_iterations: u64,
    /// CPU time per loop operation ([`CpuCosts::NONE`]: pure virtual time).
    pub cpu: CpuCosts,
    /// Record a [`Sample`] after every loop iteration in
    /// [`Report::timeline`] (for timeline charts; off by default).
    pub timeline: bool,
    /// The downstream service requests go to (`None`: requests are plain
    /// sleeps, as in the blog).
    pub station: Option<StationConfig>,
    /// The most tasks the run can hold at once, if known (0: unknown). The
    /// buffers that hold an entry per task grow toward it and stop there,
    /// instead of doubling past it: only bpsim's own memory depends on it.
    pub expected_tasks: usize,
    /// Whether the program draws each request's latency as the request
    /// sleeps, as the blog's `asyncio.sleep(random.uniform(a, b))` does: a
    /// new float (24 B) that the sleep holds, part of the profile's
    /// `sleep_coroutine`. False for a program that reads its latencies from
    /// a list made before tracing started (a recorded trace; the conformance
    /// harness): its sleeps then hold no float of their own, and the loop
    /// charges every sleep that much less (the program's other sleeps, such
    /// as `rate_limited`'s pacing, one at a time, with it). Requests to a
    /// [`Config::station`] do not sleep, and the sleeps between their
    /// attempts hold a float they compute, so a run with one charges it
    /// either way.
    pub drawn_latencies: bool,
}

/// The latency float of a drawn request's sleep ([`Config::drawn_latencies`]).
pub(crate) const LATENCY_FLOAT_BYTES: i64 = 24;

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: crate::profiles::builtin(crate::profiles::DEFAULT_PYTHON)
                .expect("the default profile is compiled in")
                .memory,
            semaphore: SemaphoreFlavor::WakeOne,
            max_iterations: u64::MAX,
            cpu: CpuCosts::NONE,
            timeline: false,
            station: None,
            expected_tasks: 0,
            drawn_latencies: true,
        }
    }
}

/// What a finished run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Virtual time at which the main coroutine returned.
    pub duration_s: f64,
    /// Loop iterations from the one in which main first ran (1) to the one in
    /// which it returned.
    pub loop_iterations: u64,
    /// Most tasks alive at once, the main task excluded.
    pub peak_live_tasks: u64,
    /// Tasks created, the main task excluded.
    pub tasks_created: u64,
    /// Peak of simulated Python memory (what `tracemalloc` would report).
    pub peak_memory_bytes: i64,
    /// Simulated Python memory still held when main returned.
    pub final_memory_bytes: i64,
    /// Simulated allocations.
    pub allocations: u64,
    /// Largest ready-queue snapshot run in one iteration.
    pub peak_ready: u64,
    /// Most timers scheduled at once.
    pub peak_timers: u64,
    /// Simulated objects (tasks, coroutines, handles, futures, ...) still
    /// alive when main returned: those main itself holds, whatever the
    /// number of requests (a leak would grow with it).
    pub live_objects: i64,
    /// CPU time charged by [`Config::cpu`], in seconds (0 under pure
    /// virtual time).
    pub busy_s: f64,
    /// The loop's state after each iteration, if [`Config::timeline`] asked
    /// for it (empty otherwise).
    pub timeline: Vec<Sample>,
}

/// The loop's state at the end of one iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Virtual time, seconds.
    pub time_s: f64,
    /// Tasks alive (the main task excluded).
    pub live_tasks: u64,
    /// Simulated Python memory held, bytes.
    pub memory_bytes: i64,
}

/// Why a run did not complete.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Nothing is ready and no timer is scheduled, but main has not returned:
    /// the strategy waits for something that never happens. Fatal.
    #[error(
        "deadlock at t={time}s after {iterations} loop iterations: nothing is ready and no timer is scheduled"
    )]
    Deadlock {
        /// Virtual time when the loop stalled.
        time: f64,
        /// Iterations run.
        iterations: u64,
    },
    /// [`Config::max_iterations`] was reached. Fatal.
    #[error("stopped after {0} loop iterations (the configured limit)")]
    IterationLimit(u64),
    /// A CPU cost in [`Config::cpu`] is negative, infinite or NaN: the
    /// clock could move back. Profiles are checked when read, so only a
    /// config built in code can get here.
    #[error("CPU cost `{name}` is {value} s: costs must be finite and at least 0")]
    InvalidCost {
        /// The [`CpuCosts`] field.
        name: &'static str,
        /// Its value, in seconds.
        value: f64,
    },
}

/// An entry of the ready queue: what a CPython `Handle` would call.
#[derive(Clone, Copy)]
pub(crate) enum Handle {
    /// `Task.__step` called without arguments: a task's first step, or its
    /// next after `asyncio.sleep(0)` (a `TaskStepMethWrapper`).
    Step(TaskId),
    /// `Task.__wakeup(fut)` after an awaited future: a step whose Handle's
    /// `args` is the 1-tuple `(fut,)` ([`crate::memory::free_lists::Pooled::Tuple1`]).
    Wakeup(TaskId),
    /// A fired `TimerHandle`: `futures._set_result_unless_cancelled(fut)`.
    SetResult(u32),
    /// The next done callback of a finished task (they run in registration
    /// order, one per handle).
    Done(TaskId),
    /// A fired `asyncio.timeout` handle (`Timeout._on_timeout`).
    Timeout(u32),
    /// A response from the station (an I/O callback).
    Response(u32),
}

/// A [`Handle`] in 4 bytes, as the ready queue stores it (it holds one per
/// live task when every task is created at once): 3 bits of kind, 29 of
/// index. A `Step` packs to its task's index.
#[derive(Clone, Copy)]
pub(crate) struct PackedHandle(u32);

impl PackedHandle {
    const SHIFT: u32 = 29;
    /// The largest index a handle can carry (tasks, futures, timeouts and
    /// station calls are numbered from 0 and reused, so this bounds the
    /// ones alive at once: 2^29 tasks would hold over 20 GiB).
    pub(crate) const MAX_INDEX: u32 = (1 << Self::SHIFT) - 1;

    /// Tasks and futures get indices through [`handle_index`], which
    /// refuses those that do not fit, so theirs are not tested again here,
    /// on every handle; timeouts' and responses' are.
    #[inline(always)]
    fn new(handle: Handle) -> Self {
        let (kind, index) = match handle {
            Handle::Step(t) => (0, t.index() as u32),
            Handle::Wakeup(t) => (1, t.index() as u32),
            Handle::SetResult(f) => (2, f),
            Handle::Done(t) => (3, t.index() as u32),
            Handle::Timeout(t) => (4, handle_index(t as usize)),
            Handle::Response(r) => (5, handle_index(r as usize)),
        };
        debug_assert!(index <= Self::MAX_INDEX);
        PackedHandle(kind << Self::SHIFT | index)
    }

    #[inline(always)]
    fn get(self) -> Handle {
        let index = self.0 & Self::MAX_INDEX;
        match self.0 >> Self::SHIFT {
            0 => Handle::Step(TaskId::from_index(index as usize)),
            1 => Handle::Wakeup(TaskId::from_index(index as usize)),
            2 => Handle::SetResult(index),
            3 => Handle::Done(TaskId::from_index(index as usize)),
            4 => Handle::Timeout(index),
            _ => Handle::Response(index),
        }
    }

    /// The task a `Step` or `Wakeup` handle steps, and whether it is a
    /// `Wakeup` (kinds 0 and 1: one test for both).
    #[inline(always)]
    fn step_task(self) -> Option<(usize, bool)> {
        (self.0 >> (Self::SHIFT + 1) == 0).then_some((
            (self.0 & Self::MAX_INDEX) as usize,
            self.0 >> Self::SHIFT != 0,
        ))
    }
}

/// `index` as the index of a task, future, timeout or response, which a
/// [`PackedHandle`] carries in 29 bits.
///
/// # Panics
/// Past [`PackedHandle::MAX_INDEX`]: more than 2^29 alive at once.
#[inline(always)]
pub(crate) fn handle_index(index: usize) -> u32 {
    assert!(
        index <= PackedHandle::MAX_INDEX as usize,
        "more than 2^29 live tasks, futures or timeouts"
    );
    index as u32
}

/// The ready queue, in two parts: `_run_once` runs every handle that is
/// ready when it starts (after moving due timers in), and anything scheduled
/// meanwhile waits for the next iteration. So the handles of the running
/// iteration (`running`, from `next_handle` on) and those scheduled for the
/// next (`ready`) can live in two plain vectors that swap roles each
/// iteration.
///
/// Each vector starts 16-byte aligned: every iteration swaps them, and the
/// compiler moves a `Vec` as a 16-byte piece (its first two words) and an
/// 8-byte one. When a 16-byte move straddled two cache lines, the
/// iteration's next reads of the vectors waited on the split store. Inside
/// [`State`], at the offsets the compiler gave the fields, that happened for
/// one of the four 16-byte offsets within a line at which `malloc` could put
/// the state: `gated_spawn` took 10.1-10.8 ms a run instead of 8.6-9.1 in
/// one process in four (`BPSIM_HEAP_SHIFT` of `examples/prof_one`, in steps
/// of 16 bytes, 2026-12-07).
#[repr(C, align(16))]
struct ReadyQueue {
    ready: Vec<PackedHandle>,
    /// Puts `running` at a multiple of 16 bytes.
    _align_running: u64,
    running: Vec<PackedHandle>,
    next_handle: usize,
}

const _: () = assert!(std::mem::offset_of!(ReadyQueue, running) % 16 == 0);

/// The loop's state. One per running simulation, held in [`LOOP`].
pub(crate) struct State {
    pub(crate) now: f64,
    queue: ReadyQueue,
    scheduled: TimerHeap,
    pub(crate) tasks: Vec<TaskSlot>,
    /// Where the tasks' coroutines live.
    coros: CoroPool,
    /// The last freed task slot ([`NO_FREE_TASK`] if none): a free slot's
    /// `block` holds the slot freed before it, so reusing slots costs no
    /// memory beyond them.
    free_task_head: u32,
    /// Done callbacks that do not pack into 4 bytes (closures), and the
    /// free entries of that slab.
    pub(crate) boxed_callbacks: Vec<Option<DoneCallbackKind>>,
    pub(crate) free_boxed_callbacks: Vec<u32>,
    /// The done callbacks of tasks that have more than two, all but the
    /// first (which stays in the task slot), and the free lists.
    pub(crate) callback_overflow: Vec<Vec<StoredCallback>>,
    pub(crate) free_callback_overflow: Vec<u32>,
    pub(crate) futures: Futures,
    pub(crate) semaphores: Vec<SemState>,
    /// Empty deques with buffers from earlier runs, for semaphores' waiters.
    pub(crate) spare_deques: Vec<VecDeque<u32>>,
    pub(crate) groups: Vec<GroupState>,
    pub(crate) queues: Vec<QueueState>,
    pub(crate) wait_sets: Vec<WaitSetState>,
    pub(crate) io: Option<IoState>,
    /// The task whose step is running.
    pub(crate) current: TaskId,
    pub(crate) config: Config,
    pub(crate) mem: Ledger,
    ready_deque: PyDeque,
    heap_list: PyList,
    scheduled_tasks: PySet,
    /// Freed blocks of the Task object's pymalloc size class.
    task_class: Blocks,
    live_tasks: u64,
    peak_live_tasks: u64,
    tasks_created: u64,
    /// The interpreter's task counter, which names tasks (main is 1).
    task_numbers: TaskNumbers,
    peak_ready: u64,
    peak_timers: u64,
    timeline: Vec<Sample>,
    busy: f64,
    /// Whether any operation costs CPU time ([`State::charge`]).
    timed: bool,
    /// The main task has finished: the run ends with this iteration.
    main_finished: bool,
    /// The bytes [`State::alloc`] charges for each kind of object: the
    /// profile's sizes, less the `FutureIter` inside those that include one
    /// (see [`State::own_size`]), worked out once per run.
    own_sizes: Profile,
    /// Objects charged with [`State::alloc`] (and Futures), and those
    /// credited: their difference is the objects live, and the first also
    /// counts towards the allocations (see [`Ledger::alloc_uncounted`]).
    objects_allocated: u64,
    objects_freed: u64,
    /// Freed contexts CPython keeps for reuse.
    free_contexts: u32,
    /// Freed `FutureIter`s CPython keeps for reuse.
    free_future_iters: u32,
    /// Freed 1- and 2-tuples and floats CPython keeps for reuse.
    free_lists: FreeLists,
}

/// A `contextvars.Context` object as tracemalloc counts it (with its GC
/// header): 64 bytes on CPython 3.11-3.13.
const CONTEXT_BYTES: i64 = 64;
/// Freed contexts CPython keeps for reuse (`CONTEXT_FREELIST_MAXLEN`, 255
/// in 3.11-3.13); tracemalloc still counts them.
const CONTEXT_FREELIST: u32 = 255;
/// A `FutureIter` (what `await fut` makes of a C `_asyncio.Future`, and
/// frees when the await returns) as tracemalloc counts it: 40 bytes (24 and
/// the GC header) on CPython 3.11-3.13.
pub(crate) const FUTURE_ITER_BYTES: i64 = 40;
/// Freed `FutureIter`s CPython keeps for reuse: `FI_FREELIST_MAXLEN`, 255,
/// in `Modules/_asynciomodule.c` of 3.11-3.13 (`fi_freelist`).
/// `FutureIter_dealloc` pushes onto it instead of `PyObject_GC_Del`, so
/// tracemalloc still counts the block, and `future_new_iter` pops from it
/// before allocating. The GC does not clear it (`_PyGC_ClearAllFreeLists`
/// clears the tuple, float, list, dict and Context ones), and it is empty
/// when tracing starts: 10 tasks awaiting 10 futures leave 400 B traced at
/// the `await` line after they finish, 300 leave 10,200 (255 of them), on
/// 3.11.7, 3.12.1 and 3.13.0 alike.
const FI_FREELIST_MAXLEN: u32 = 255;

thread_local! {
    /// Buffers left by the thread's last run.
    static SPARE_BUFFERS: Cell<Option<Buffers>> = const { Cell::new(None) };
    /// The state of the loop running on this thread, or null. Owned by the
    /// [`run`] call that set it, which clears it before freeing the state.
    static LOOP: Cell<*mut State> = const { Cell::new(std::ptr::null_mut()) };
    /// Re-entrancy guard for [`with_loop`] (debug builds).
    #[cfg(debug_assertions)]
    static BORROWED: Cell<bool> = const { Cell::new(false) };
}

/// [`State::slot`], to change, of the loop's `tasks` alone (so that other
/// fields of the state can be borrowed beside it).
///
/// # Safety
/// As [`State::slot`]: `id` is a task the loop made in this run.
#[inline(always)]
pub(crate) unsafe fn scheduled_slot(tasks: &mut [TaskSlot], id: TaskId) -> &mut TaskSlot {
    debug_assert!(
        id.index() < tasks.len(),
        "task {} of {}",
        id.index(),
        tasks.len()
    );
    // SAFETY: in bounds, by the caller's promise (see `State::slot`).
    unsafe { tasks.get_unchecked_mut(id.index()) }
}

/// Run `f` on the running loop's state.
///
/// # Panics
/// When called outside [`run`], like asyncio's "no running event loop".
#[inline]
pub(crate) fn with_loop<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let state = LOOP.get();
    assert!(!state.is_null(), "no running bpsim event loop");
    #[cfg(debug_assertions)]
    let _guard = ReentrancyGuard::enter(&BORROWED, "with_loop");
    // SAFETY: `state` was leaked from a `Box` by `run` on this thread and
    // stays valid until `run` clears `LOOP` (in `RunningLoop::drop`) before
    // freeing it. The closures given to `with_loop` only touch the state and
    // never call `with_loop` again (debug builds assert this), so this is the
    // only live reference to it.
    f(unsafe { &mut *state })
}

/// Debug builds: panics if a function that hands out `&mut` to
/// thread-local state through a raw pointer ([`with_loop`], the workload's
/// `with_active`) is entered while already inside it, which would make two
/// live `&mut` to the same state.
#[cfg(debug_assertions)]
pub(crate) struct ReentrancyGuard(&'static std::thread::LocalKey<Cell<bool>>);

#[cfg(debug_assertions)]
impl ReentrancyGuard {
    /// Enter `what`, whose `flag` says whether it is entered already.
    pub(crate) fn enter(flag: &'static std::thread::LocalKey<Cell<bool>>, what: &str) -> Self {
        assert!(!flag.replace(true), "{what} re-entered");
        ReentrancyGuard(flag)
    }
}

#[cfg(debug_assertions)]
impl Drop for ReentrancyGuard {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// `loop.time()`: the current virtual time in seconds.
pub fn time() -> f64 {
    with_loop(|st| st.now)
}

/// Charge an object of kind `obj` that the running program allocates and
/// keeps until main returns (state of its own that no engine type models,
/// such as [`Obj::AdaptiveMain`]).
pub fn keep(obj: Obj) {
    with_loop(|st| st.alloc(obj));
}

/// Credit an object of kind `obj` charged with [`keep`] that the running
/// program frees before main returns (such as [`Obj::ClientCoroutine`]).
pub fn release(obj: Obj) {
    with_loop(|st| st.free(obj));
}

impl State {
    fn new(config: Config) -> Self {
        let mem = Ledger::with_baseline(config.profile.baseline);
        let spare = SPARE_BUFFERS.take().unwrap_or_default();
        // Every field but the two that shape idle waits, compared with zero
        // (so a cost added to `CpuCosts` later is covered too).
        let timed = config.cpu
            != CpuCosts {
                wake_slack: config.cpu.wake_slack,
                select_rounding: config.cpu.select_rounding,
                ..CpuCosts::NONE
            };
        let mut own_sizes = config.profile.without_future_iters(FUTURE_ITER_BYTES);
        if !config.drawn_latencies
            && config.station.is_none()
            && own_sizes.sleep_coroutine >= LATENCY_FLOAT_BYTES
        {
            own_sizes.sleep_coroutine -= LATENCY_FLOAT_BYTES;
        }
        let free_lists = FreeLists::for_profile(&config.profile);
        let task_numbers = TaskNumbers::new(config.profile.task_names);
        State {
            now: 0.0,
            queue: ReadyQueue {
                ready: spare.ready,
                _align_running: 0,
                running: spare.running,
                next_handle: 0,
            },
            scheduled: TimerHeap::from_buffer(spare.timers),
            tasks: spare.tasks,
            coros: CoroPool::default(),
            free_task_head: NO_FREE_TASK,
            boxed_callbacks: Vec::new(),
            free_boxed_callbacks: Vec::new(),
            callback_overflow: Vec::new(),
            free_callback_overflow: Vec::new(),
            futures: spare.futures,
            semaphores: Vec::new(),
            spare_deques: spare.deques,
            groups: Vec::new(),
            queues: Vec::new(),
            wait_sets: Vec::new(),
            io: config
                .station
                .map(|s| IoState::new(Station::new(s.capacity, s.discipline))),
            current: TaskId::MAIN,
            config,
            mem,
            ready_deque: PyDeque::default(),
            heap_list: PyList::default(),
            scheduled_tasks: PySet::default(),
            task_class: Blocks::default(),
            live_tasks: 0,
            peak_live_tasks: 0,
            tasks_created: 0,
            task_numbers,
            peak_ready: 0,
            peak_timers: 0,
            timeline: Vec::new(),
            busy: 0.0,
            timed,
            main_finished: false,
            own_sizes,
            objects_allocated: 0,
            objects_freed: 0,
            free_contexts: 0,
            free_future_iters: 0,
            free_lists,
        }
    }

    /// Charge one object of kind `obj`. An object whose profile size
    /// includes a `FutureIter` ([`Obj::includes_future_iter`]) is charged
    /// without it: [`State::await_new_future`] charges the `FutureIter`
    /// through its free list.
    #[inline]
    pub(crate) fn alloc(&mut self, obj: Obj) {
        self.alloc_with(obj, 0);
    }

    /// [`State::alloc`] of `obj` and `extra` bytes that belong to it (a
    /// task's name), in one charge.
    #[inline]
    pub(crate) fn alloc_with(&mut self, obj: Obj, extra: i64) {
        let mut bytes = self.own_size(obj) + extra;
        if obj.copies_context() && self.free_contexts > 0 {
            self.free_contexts -= 1;
            bytes -= CONTEXT_BYTES;
        }
        self.mem.alloc_uncounted(bytes);
        self.objects_allocated += 1;
    }

    /// Credit one object of kind `obj` (without its `FutureIter`, as
    /// [`State::alloc`]).
    #[inline]
    pub(crate) fn free(&mut self, obj: Obj) {
        self.free_with(obj, 0);
    }

    /// [`State::free`] of `obj` and `extra` bytes charged with it
    /// ([`State::alloc_with`]).
    #[inline]
    pub(crate) fn free_with(&mut self, obj: Obj, extra: i64) {
        let mut bytes = self.own_size(obj) + extra;
        if obj.copies_context() && self.free_contexts < CONTEXT_FREELIST {
            self.free_contexts += 1;
            bytes -= CONTEXT_BYTES;
        }
        self.mem.free(bytes);
        self.objects_freed += 1;
    }

    /// Simulated objects alive now (see [`Report::live_objects`]).
    pub(crate) fn live_objects(&self) -> i64 {
        self.objects_allocated as i64 - self.objects_freed as i64
    }

    /// The bytes [`State::alloc`] charges for `obj`: its profile size, less
    /// the `FutureIter` in it ([`Obj::includes_future_iter`], when the size
    /// holds one), which [`State::await_new_future`] charges.
    #[inline]
    fn own_size(&self, obj: Obj) -> i64 {
        self.own_sizes.size(obj)
    }

    /// Copy `n` contexts: those the free list holds are reused, the rest
    /// are new memory.
    pub(crate) fn copy_contexts(&mut self, n: u32) {
        let reused = n.min(self.free_contexts);
        self.free_contexts -= reused;
        self.mem.alloc(CONTEXT_BYTES * i64::from(n - reused));
    }

    /// Free `n` contexts: the free list keeps up to its capacity (still
    /// traced), the rest are freed.
    pub(crate) fn free_contexts(&mut self, n: u32) {
        let kept = n.min(CONTEXT_FREELIST - self.free_contexts);
        self.free_contexts += kept;
        self.mem.free(CONTEXT_BYTES * i64::from(n - kept));
    }

    /// The loop is busy for `seconds` of CPU time (0.0 under pure virtual
    /// time, which leaves the clock bit for bit unchanged).
    #[inline]
    pub(crate) fn charge(&mut self, seconds: f64) {
        // Under pure virtual time every cost is zero and adding it is skipped:
        // `x + 0.0 == x` bit for bit unless `x` is -0.0, and neither clock
        // ever is (both start at +0.0 and only add costs and waits).
        if self.timed {
            self.now += seconds;
            self.busy += seconds;
        }
    }

    /// [`State::charge`] where whether the run is timed is known at compile
    /// time: the loop's own charges (per iteration, handle, step, done
    /// callback and finished task), in a loop built once for each case
    /// ([`drive`]), so that an untimed run does not test `timed` on each.
    #[inline(always)]
    fn charge_as<const TIMED: bool>(&mut self, seconds: f64) {
        debug_assert_eq!(TIMED, self.timed);
        if TIMED {
            self.now += seconds;
            self.busy += seconds;
        }
    }

    /// `loop.call_soon`: a new Handle at the back of the ready queue.
    #[inline]
    pub(crate) fn call_soon(&mut self, handle: Handle) {
        // A wake-up's `(fut,)` and a done callback's `(task,)` (the `handle`
        // size's last 48 B, as a step's `TaskStepMethWrapper` is) come from
        // the 1-tuple free list when it holds one.
        if matches!(handle, Handle::Wakeup(_) | Handle::Done(_)) {
            self.alloc_with(Obj::Handle, -self.free_lists.tuple1_bytes());
            self.free_lists.tuple1_made(&mut self.mem);
        } else {
            self.alloc(Obj::Handle);
        }
        self.enqueue(handle);
    }

    /// Append an I/O callback (an existing Handle) to the ready deque.
    pub(crate) fn enqueue_io(&mut self, handle: Handle) {
        self.enqueue(handle);
    }

    /// Append to the ready deque (a new Handle, or a fired TimerHandle).
    #[inline]
    fn enqueue(&mut self, handle: Handle) {
        self.ready_deque.push_back(&mut self.mem);
        growth::push(
            &mut self.queue.ready,
            self.config.expected_tasks,
            PackedHandle::new(handle),
        );
    }

    /// `loop.call_at(when, _set_result_unless_cancelled, fut)`.
    #[inline(always)]
    pub(crate) fn call_at(&mut self, when: f64, fut: u32) {
        self.alloc_sleep_timer();
        self.schedule(when, fut);
    }

    /// The loop's free lists of tuples and floats, and the ledger they
    /// charge: for the tuples a program makes itself (`super::tuples`).
    pub(crate) fn free_lists_and_ledger(&mut self) -> (&mut FreeLists, &mut Ledger) {
        (&mut self.free_lists, &mut self.mem)
    }

    /// Charge a sleep's `TimerHandle` ([`State::call_at`]): its
    /// `(fut, None)` and its deadline (in the `timer_handle` size) come from
    /// their free lists when they hold one.
    #[inline(always)]
    fn alloc_sleep_timer(&mut self) {
        self.alloc_with(Obj::TimerHandle, -self.free_lists.timer_bytes());
        self.free_lists.timer_made(&mut self.mem);
    }

    /// A sleep's `TimerHandle` ([`State::call_at`]) is freed: its
    /// `(fut, None)` and its deadline go onto their free lists.
    #[inline(always)]
    pub(crate) fn free_sleep_timer(&mut self) {
        self.free_with(Obj::TimerHandle, -self.free_lists.timer_bytes());
        self.free_lists.timer_freed(&mut self.mem);
    }

    /// `loop.call_at(when, ...)` for a timer target (a future, or a
    /// [`TIMEOUT_TAG`]ged timeout handle).
    #[inline(always)]
    pub(crate) fn call_at_target(&mut self, when: f64, target: u32) {
        self.alloc(Obj::TimerHandle);
        self.schedule(when, target);
    }

    /// Push a timer for `target` at `when` onto the heap.
    #[inline(always)]
    fn schedule(&mut self, when: f64, target: u32) {
        self.heap_list.push(&mut self.mem);
        // The prefetch hint: the future's waiter is the task calling (sleep
        // or an `asyncio.timeout`).
        self.scheduled
            .push(Timer::new(when, target, self.current.index() as u32));
        self.peak_timers = self.peak_timers.max(self.scheduled.len() as u64);
    }

    /// `_run_once` step 1: drop cancelled timers, all of them if they are
    /// more than half of over 100 timers (then `heapify` the rest), else
    /// those at the head. Only `asyncio.timeout` handles are ever cancelled.
    fn drop_cancelled_timers(&mut self) {
        let Some(io) = self.io.as_ref() else { return };
        let n = self.scheduled.len();
        if n > 100 && io.cancelled * 2 > n {
            let timeouts = &io.timeouts;
            let dropped = self.scheduled.retain_heapify(|t| {
                t.target & TIMEOUT_TAG == 0
                    || !timeouts[(t.target & !TIMEOUT_TAG) as usize].cancelled
            });
            for t in dropped {
                self.heap_list.pop(&mut self.mem);
                self.timeout_left_heap(t.target & !TIMEOUT_TAG);
            }
            if let Some(io) = self.io.as_mut() {
                io.cancelled = 0;
            }
            return;
        }
        while let Some(head) = self.scheduled.peek().copied() {
            if !self.timer_cancelled(head.target) {
                break;
            }
            if let Some(io) = self.io.as_mut() {
                io.cancelled = io.cancelled.saturating_sub(1);
            }
            self.scheduled.pop();
            self.heap_list.pop(&mut self.mem);
            self.timeout_left_heap(head.target & !TIMEOUT_TAG);
        }
    }

    /// Register a new task (`Task.__init__`): its first step is scheduled.
    pub(crate) fn spawn<F: Future<Output = ()> + 'static>(
        &mut self,
        coro: F,
        frame: Frame,
    ) -> Task {
        let coro = self.coros.insert(coro);
        self.alloc(frame.obj());
        let coro_block = if self.config.profile.shares_task_class(frame.obj()) {
            self.task_class.alloc()
        } else {
            NO_BLOCK
        };
        let name = self.task_numbers.next_name();
        self.alloc_with(Obj::Task, i64::from(self.task_numbers.bytes(name)));
        let block = self.task_class.alloc();
        self.scheduled_tasks.add(block, &mut self.mem);
        let (id, generation) = if self.free_task_head != NO_FREE_TASK {
            // A slot freed earlier in this run (`release_task`).
            let id = TaskId::from_index(self.free_task_head as usize);
            let (next_free, generation) = {
                // SAFETY: a slot `release_task` freed in this run.
                let freed = unsafe { self.slot(id) };
                (freed.block, freed.generation.wrapping_add(1))
            };
            self.free_task_head = next_free;
            // SAFETY: as above.
            *unsafe { self.slot_mut(id) } = TaskSlot::new(coro, frame, name, self.now, generation);
            (id, generation)
        } else {
            growth::push(
                &mut self.tasks,
                self.config.expected_tasks,
                TaskSlot::new(coro, frame, name, self.now, 0),
            );
            // The one place task indices are made: a handle carries them.
            let index = handle_index(self.tasks.len() - 1);
            (TaskId::from_index(index as usize), 0)
        };
        // SAFETY: the slot just reused or pushed.
        let slot = unsafe { self.slot_mut(id) };
        slot.block = block;
        slot.coro_block = coro_block;
        if id != TaskId::MAIN {
            self.charge(self.config.cpu.create);
            self.tasks_created += 1;
            self.live_tasks += 1;
            if self.live_tasks > self.peak_live_tasks {
                self.peak_live_tasks = self.live_tasks;
                self.charge(self.config.cpu.growth);
            }
        }
        self.call_soon(Handle::Step(id));
        Task { id, generation }
    }

    /// The task's coroutine returned: schedule its done callbacks (each in
    /// its own Handle, in registration order).
    fn finish_task<const TIMED: bool>(&mut self, id: TaskId) {
        self.charge_as::<TIMED>(self.config.cpu.finish);
        if id == TaskId::MAIN {
            self.main_finished = true;
            self.release_wait_set_tasks();
        } else {
            self.live_tasks -= 1;
        }
        // SAFETY (and below): the task whose step just returned.
        let pending = unsafe { self.slot_mut(id) }.finish();
        // An `asyncio.wait` callback runs for the `wait` call current now.
        for i in 0..if self.wait_sets.is_empty() {
            0
        } else {
            pending
        } {
            // SAFETY: as above.
            if let StoredCallback::Wait(set) =
                unsafe { self.slot(id) }.callback_at(i as usize, &self.callback_overflow)
            {
                self.wait_set_task_finished(set, id);
            }
        }
        for _ in 0..pending {
            self.call_soon(Handle::Done(id));
        }
        // SAFETY: as above.
        if unsafe { self.slot_mut(id) }.set_pending(pending) {
            self.release_task(id);
        }
    }

    /// The last reference to a finished task is gone: free it.
    ///
    /// `id` has been indexed already: a task that finished, whose done
    /// callback ran, or that a `wait` set let go of (after indexing it with
    /// a bounds test).
    #[inline(always)]
    pub(crate) fn release_task(&mut self, id: TaskId) {
        // SAFETY (and below): a slot of this run, as just said.
        let slot = unsafe { self.slot(id) };
        let (frame, name) = (slot.frame(), slot.name());
        self.free_with(Obj::Task, i64::from(self.task_numbers.bytes(name)));
        self.free(frame.obj());
        self.clear_callbacks(id);
        // `TaskObj_dealloc`: the weakref callback leaves the WeakSet, then
        // the coroutine is freed, then the Task.
        // SAFETY: as above.
        let slot = unsafe { self.slot(id) };
        let (block, coro_block) = (slot.block, slot.coro_block);
        self.scheduled_tasks.discard(block);
        // A block per task, and one per coroutine if they share the class.
        let blocks = self.config.expected_tasks * if coro_block != NO_BLOCK { 2 } else { 1 };
        if coro_block != NO_BLOCK {
            self.task_class.free(coro_block, blocks);
        }
        self.task_class.free(block, blocks);
        if id != TaskId::MAIN {
            // SAFETY: as above.
            unsafe { self.slot_mut(id) }.block = self.free_task_head;
            self.free_task_head = id.index() as u32;
        }
    }

    /// Run one done callback of a finished task. Returns what must run
    /// outside the loop's borrow.
    #[inline(always)]
    fn run_done_callback<const TIMED: bool>(&mut self, task: TaskId) -> Action {
        self.charge_as::<TIMED>(self.config.cpu.callback);
        let cb = self.next_done_callback(task);
        let action = match cb {
            DoneCallbackKind::Group(g) => {
                self.free(Obj::GroupCallback);
                self.on_task_done(g, task);
                Action::None
            }
            DoneCallbackKind::Release(s) => {
                self.free(Obj::LambdaCallback);
                self.release(s);
                Action::None
            }
            DoneCallbackKind::Wait { set, instance } => {
                self.wait_on_completion(set, instance);
                Action::None
            }
            // `Task.__wakeup` steps the awaiting task inside this handle.
            DoneCallbackKind::Wakeup(t) => self.begin_step::<TIMED>(t),
            DoneCallbackKind::Custom(f) => {
                self.free(Obj::LambdaCallback);
                Action::Call(f)
            }
        };
        // SAFETY: a `Done` handle's task, which `finish_task` scheduled.
        if unsafe { self.slot_mut(task) }.callback_ran() {
            self.release_task(task);
        }
        action
    }

    /// `_run_once` steps 1-3: advance the clock if nothing is ready, move
    /// due timers to the ready queue, and take the snapshot of the handles
    /// this iteration runs ([`State::run_next`] runs them one by one).
    #[inline(always)]
    fn prepare_iteration<const TIMED: bool>(
        &mut self,
        iterations: u64,
        io: bool,
    ) -> Result<(), RunError> {
        // Only runs with a `[server]` have I/O and cancellable timers: skip
        // two calls per iteration without one.
        debug_assert_eq!(io, self.io.is_some());
        if io {
            self.drop_cancelled_timers();
        }
        if self.queue.ready.is_empty() {
            let response = if io {
                self.io.as_ref().and_then(|io| io.station.next_event())
            } else {
                None
            };
            match (self.scheduled.peek(), response) {
                (Some(head), _) if head.when() > self.now => {
                    // select(timeout) with timeout = clamp(head - now): the
                    // clock lands exactly on the deadline, unless a
                    // response wakes it earlier.
                    let wake = self
                        .config
                        .cpu
                        .wake(self.now, head.when(), MAXIMUM_SELECT_TIMEOUT);
                    self.now = match response {
                        Some(r) if r < wake => r.max(self.now),
                        _ => wake,
                    };
                }
                (Some(_), _) => {}
                (None, Some(r)) => self.now = r.max(self.now),
                (None, None) => {
                    return Err(RunError::Deadlock {
                        time: self.now,
                        iterations,
                    });
                }
            }
        }
        if io {
            self.poll_io();
        }
        self.charge_as::<TIMED>(self.config.cpu.iteration);
        // The clock starts at +0.0 and only grows.
        let end_time = Timer::key_of_nonnegative(end_time(self.now));
        while let Some(head) = self.scheduled.peek() {
            if head.key() >= end_time {
                break;
            }
            let timer = self.scheduled.pop().expect("peeked");
            self.heap_list.pop(&mut self.mem);
            if timer.target & TIMEOUT_TAG != 0 {
                let t = timer.target & !TIMEOUT_TAG;
                self.timeout_left_heap(t);
                self.enqueue(Handle::Timeout(t));
            } else {
                self.enqueue(Handle::SetResult(timer.target));
            }
        }
        // The next timer to fire: start fetching the memory its wake-up
        // touches (at a large limit, long evicted), an iteration or more
        // ahead. Below `PREFETCH_FROM_TIMERS` timers it is in the L1 or L2
        // cache, and the lookups cost 1-2 % of a run's instructions.
        if self.scheduled.len() >= PREFETCH_FROM_TIMERS
            && let Some(head) = self.scheduled.peek()
        {
            prefetch(self.futures.slot_address(head.target));
            prefetch(self.tasks.as_ptr().wrapping_add(head.task as usize).cast());
        }
        // The snapshot: `running` was run to the end by the last iteration.
        std::mem::swap(&mut self.queue.ready, &mut self.queue.running);
        self.queue.ready.clear();
        self.queue.next_handle = 0;
        let ntodo = self.queue.running.len();
        // A test and a rarely taken store: `max` loads, compares, selects
        // and stores on every iteration.
        if ntodo as u64 > self.peak_ready {
            self.peak_ready = ntodo as u64;
        }
        Ok(())
    }

    /// `Task.__step` up to the poll: the task becomes the current one and
    /// its coroutine is handed out to be polled outside the borrow (nothing
    /// to poll if it already finished).
    #[inline]
    fn begin_step<const TIMED: bool>(&mut self, t: TaskId) -> Action {
        self.charge_as::<TIMED>(self.config.cpu.step);
        self.current = t;
        // SAFETY: a `Step` handle's task, or the one a `Task.__wakeup`
        // callback wakes (the task that was current when it awaited).
        match unsafe { self.slot(t) }.coro(&self.coros) {
            Some(coro) => Action::Step(t, coro),
            None => Action::None,
        }
    }

    /// Software pipelining over the running snapshot: the tasks a few
    /// handles ahead will be stepped soon, so start fetching their slots
    /// now, and the coroutines of those a little closer (their slots, fetched
    /// earlier, say where the coroutine is). With millions of tasks created
    /// at once, each first step otherwise waits on two cache misses.
    ///
    /// Only where the tasks' state outgrows the CPU's L2 cache: below
    /// [`PREFETCH_FROM_TASKS`] slots it is already there, and the lookups
    /// cost 1-3% of a run's instructions for nothing.
    #[inline(always)]
    fn prefetch_ahead(&self) {
        const SLOT_DISTANCE: usize = 16;
        const CORO_DISTANCE: usize = 8;
        if self.tasks.len() < PREFETCH_FROM_TASKS {
            return;
        }
        if let Some(t) = self
            .queue
            .running
            .get(self.queue.next_handle + SLOT_DISTANCE)
            .and_then(|h| h.step_task())
            .map(|(t, _)| t)
        {
            prefetch(self.tasks.as_ptr().wrapping_add(t).cast());
        }
        if let Some(t) = self
            .queue
            .running
            .get(self.queue.next_handle + CORO_DISTANCE)
            .and_then(|h| h.step_task())
            .map(|(t, _)| t)
            && let Some(coro) = self.tasks.get(t).and_then(|slot| slot.coro(&self.coros))
        {
            coro.prefetch();
        }
    }

    /// Pop the next handle of this iteration's snapshot and run what can
    /// run inside the borrow (`None`: the snapshot is done). Handles
    /// scheduled meanwhile go to `ready`, so the snapshot's length is
    /// `_run_once`'s `ntodo`, and its one bounds test is the loop's.
    #[inline(always)]
    fn run_next<const TIMED: bool>(&mut self) -> Option<Action> {
        let packed = *self.queue.running.get(self.queue.next_handle)?;
        self.prefetch_ahead();
        self.queue.next_handle += 1;
        self.charge_as::<TIMED>(self.config.cpu.handle);
        self.ready_deque.pop_front(&mut self.mem);
        // Steps, most handles, tested first: one test instead of the jump
        // table's five instructions.
        if let Some((t, wakeup)) = packed.step_task() {
            // Without a branch on which of the two it is (they alternate
            // in most runs): a first step's `TaskStepMethWrapper` is freed,
            // a wake-up's `(fut,)` goes onto the free list.
            self.free_with(
                Obj::Handle,
                -self.free_lists.tuple1_bytes() * i64::from(wakeup),
            );
            self.free_lists
                .tuples1_freed(u32::from(wakeup), &mut self.mem);
            return Some(self.begin_step::<TIMED>(TaskId::from_index(t)));
        }
        Some(match packed.get() {
            Handle::Step(_) | Handle::Wakeup(_) => unreachable!("steps are run above"),
            Handle::SetResult(fut) => {
                self.set_result(fut);
                Action::None
            }
            Handle::Done(task) => {
                self.free_with(Obj::Handle, -self.free_lists.tuple1_bytes());
                self.free_lists.tuples1_freed(1, &mut self.mem);
                self.run_done_callback::<TIMED>(task)
            }
            Handle::Timeout(t) => {
                self.run_timeout(t);
                Action::None
            }
            Handle::Response(token) => {
                self.run_response(token);
                Action::None
            }
        })
    }

    /// `fut.set_result(...)`: schedule the waiting task's wake-up.
    #[inline(always)]
    pub(crate) fn set_result(&mut self, fut: u32) {
        if let Some(waiter) = self.futures.set_result(fut) {
            // The waiter steps in the next iteration: fetch its coroutine
            // (from `PREFETCH_WAKEUPS_FROM_TASKS` task slots on: with fewer,
            // the coroutines are in the L1 or L2 cache and the lookup, about
            // 20 instructions, costs more than it saves).
            if self.tasks.len() >= PREFETCH_WAKEUPS_FROM_TASKS
                && let Some(coro) = self
                    .tasks
                    .get(waiter.index())
                    .and_then(|slot| slot.coro(&self.coros))
            {
                coro.prefetch();
            }
            self.call_soon(Handle::Wakeup(waiter));
        }
    }

    /// Create a future awaited by the current task (`create_future` then
    /// `await fut`, with its `FutureIter`).
    #[inline(always)]
    pub(crate) fn await_new_future(&mut self) -> u32 {
        // The Future, then the `FutureIter` (the free list's last freed one
        // if it holds any: still traced, nothing to charge), in one charge
        // (nothing is freed between the two, so the peak is the same): on
        // every await of every strategy, and out of line it cost 2-5 % of a
        // run's instructions.
        let future = self.config.profile.size(Obj::Future);
        if self.free_future_iters > 0 {
            self.free_future_iters -= 1;
            self.mem.alloc_uncounted(future);
        } else {
            // The Future is counted below, the `FutureIter` here.
            self.mem.alloc(future + FUTURE_ITER_BYTES);
        }
        self.objects_allocated += 1;
        self.futures
            .create(self.current, self.config.expected_tasks)
    }

    /// The slot of task `id`, a task the loop itself scheduled (a step, a
    /// done callback, the task finishing or being freed), without a bounds
    /// test: these run several times per request, and each test cost two or
    /// three instructions.
    ///
    /// # Safety
    /// `id` is a task the loop made in this run: [`State::spawn`] gives out
    /// only indices of slots in `tasks`, and `tasks` never shrinks during a
    /// run (it is cleared between runs, with the queues and callbacks that
    /// could hold an id). So the ids of handles and callbacks, and the
    /// current task, qualify. Ids from the program's own handles
    /// ([`Task`](super::Task), which could outlive its run) do not: they go
    /// through the bounds-tested `tasks[...]`.
    #[inline(always)]
    pub(crate) unsafe fn slot(&self, id: TaskId) -> &TaskSlot {
        debug_assert!(
            id.index() < self.tasks.len(),
            "task {} of {}",
            id.index(),
            self.tasks.len()
        );
        // SAFETY: in bounds, by the caller's promise (above).
        unsafe { self.tasks.get_unchecked(id.index()) }
    }

    /// [`State::slot`], to change.
    ///
    /// # Safety
    /// As [`State::slot`].
    #[inline(always)]
    unsafe fn slot_mut(&mut self, id: TaskId) -> &mut TaskSlot {
        // SAFETY: the caller's promise.
        unsafe { scheduled_slot(&mut self.tasks, id) }
    }

    /// The block (address) of a live task's Task object.
    ///
    /// # Safety
    /// As [`State::slot`]: a task the loop made in this run (a task group's
    /// task just spawned, or one whose done callback runs).
    #[inline(always)]
    pub(crate) unsafe fn task_block(&self, id: TaskId) -> u32 {
        // SAFETY: the caller's promise.
        unsafe { self.slot(id).block }
    }

    /// The awaited future is consumed after the task resumed (and the
    /// await's `FutureIter` freed).
    #[inline(always)]
    pub(crate) fn drop_future(&mut self, fut: u32) {
        // The `FutureIter` (onto the free list, still traced, unless it is
        // full), then the Future, in one credit.
        let mut bytes = self.config.profile.size(Obj::Future);
        if self.free_future_iters < FI_FREELIST_MAXLEN {
            self.free_future_iters += 1;
        } else {
            bytes += FUTURE_ITER_BYTES;
        }
        self.mem.free(bytes);
        self.objects_freed += 1;
        self.futures.remove(fut);
    }

    fn report(&mut self, iterations: u64) -> Report {
        Report {
            duration_s: self.now,
            loop_iterations: iterations,
            peak_live_tasks: self.peak_live_tasks,
            tasks_created: self.tasks_created,
            peak_memory_bytes: self.mem.peak(),
            final_memory_bytes: self.mem.current(),
            allocations: self.mem.allocations() + self.objects_allocated,
            peak_ready: self.peak_ready,
            peak_timers: self.peak_timers,
            timeline: std::mem::take(&mut self.timeline),
            busy_s: self.busy,
            live_objects: self.live_objects(),
        }
    }
}

impl Drop for State {
    /// Drop the coroutines of unfinished tasks (whatever they hold) before
    /// the pool frees their memory, and keep the big buffers for the
    /// thread's next run.
    fn drop(&mut self) {
        // After a run that completed, every coroutine has returned and been
        // dropped already: skip the walk over (possibly millions of) slots.
        let main_done = self.tasks.first().is_none_or(|main| main.is_finished());
        let unfinished = if self.live_tasks == 0 && main_done {
            &mut [][..]
        } else {
            &mut self.tasks[..]
        };
        for slot in unfinished {
            if let Some(coro) = slot.coro(&self.coros) {
                slot.clear_coro();
                // SAFETY: a slot's `coro` is live until cleared; no poll is in
                // progress while the state is dropped (a panicking poll has
                // already unwound out of the coroutine).
                unsafe { coro.drop_in_place() };
            }
        }
        let mut spare = Buffers {
            tasks: std::mem::take(&mut self.tasks),
            ready: std::mem::take(&mut self.queue.ready),
            running: std::mem::take(&mut self.queue.running),
            timers: std::mem::take(&mut self.scheduled).into_buffer(),
            futures: std::mem::take(&mut self.futures),
            deques: std::mem::take(&mut self.spare_deques),
        };
        spare
            .deques
            .extend(self.semaphores.drain(..).map(|s| s.waiters));
        spare.clear();
        if spare.bytes() <= MAX_SPARE_BYTES {
            SPARE_BUFFERS.set(Some(spare));
        }
    }
}

/// The buffers of a finished run (emptied), kept for the thread's next run:
/// a sweep then reuses memory that is already mapped instead of growing
/// every buffer again and faulting fresh zeroed pages in.
#[derive(Default)]
struct Buffers {
    tasks: Vec<TaskSlot>,
    ready: Vec<PackedHandle>,
    running: Vec<PackedHandle>,
    timers: Vec<Timer>,
    futures: Futures,
    deques: Vec<VecDeque<u32>>,
}

/// Free the memory this thread keeps for its next run: the emptied buffers
/// of its last run (up to 64 MiB) and spare coroutine chunks (up to 32 MiB).
/// Runs reuse them to avoid growing every buffer again; call this to give
/// the memory back, or to measure a run from a cold start.
pub fn free_thread_cache() {
    drop(SPARE_BUFFERS.take());
    super::coro::free_spare_chunks();
}

/// The end of the free task slots' list ([`State::free_task_head`]).
const NO_FREE_TASK: u32 = u32::MAX;

/// Most bytes of buffers a thread keeps between runs.
const MAX_SPARE_BYTES: usize = 64 << 20;

impl Buffers {
    fn clear(&mut self) {
        self.tasks.clear();
        self.ready.clear();
        self.running.clear();
        self.timers.clear();
        self.futures.clear();
        for d in &mut self.deques {
            d.clear();
        }
    }

    fn bytes(&self) -> usize {
        use std::mem::size_of;
        self.tasks.capacity() * size_of::<TaskSlot>()
            + (self.ready.capacity() + self.running.capacity()) * size_of::<PackedHandle>()
            + self.timers.capacity() * size_of::<Timer>()
            + self.futures.capacity_bytes()
            + self
                .deques
                .iter()
                .map(|d| d.capacity() * size_of::<u32>())
                .sum::<usize>()
    }
}

/// What the dispatch loop must do outside the state borrow.
pub(crate) enum Action {
    None,
    /// Poll this task's coroutine (see [`State::begin_step`]).
    Step(TaskId, Coro),
    Call(Box<dyn FnOnce()>),
}

/// Task slots from which [`State::set_result`] prefetches the coroutine of
/// the task it wakes: 2,048 tasks' slots and coroutines (about 100 bytes
/// each) are four times the 48 KB L1 cache, and below that the lookup cost
/// more than it saved (2026-12-07: 43 instructions per request fewer for
/// the gated strategies at C=500, the time within noise at C=500-10,000).
const PREFETCH_WAKEUPS_FROM_TASKS: usize = 2048;

/// Task slots from which [`State::prefetch_ahead`] pays: at about 100
/// bytes of slot and coroutine per task, 16,384 tasks are 1.6 MB, the size
/// of a large L2 cache.
const PREFETCH_FROM_TASKS: usize = 1 << 14;

/// Hint the CPU to bring the cache line at `address` into cache. Never
/// faults and has no effect on results; any address is fine.
#[inline(always)]
pub(crate) fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is only a hint: it does not access memory
    // architecturally and cannot fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Clears the thread's running loop when a run ends, even by panic.
struct RunningLoop;

impl Drop for RunningLoop {
    fn drop(&mut self) {
        // Take the state out first so the coroutines it owns are dropped
        // after the borrow ends.
        let state = LOOP.replace(std::ptr::null_mut());
        if !state.is_null() {
            // SAFETY: `run` created this pointer with `Box::into_raw`, and it
            // is no longer reachable through `LOOP`.
            drop(unsafe { Box::from_raw(state) });
        }
    }
}

/// The state of the loop [`run`] is running, for the loop's own accesses:
/// [`with_loop`] without reading the thread-local back each time.
struct Running(*mut State);

impl Running {
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        #[cfg(debug_assertions)]
        let _guard = ReentrancyGuard::enter(&BORROWED, "with_loop");
        // SAFETY: as in `with_loop`: `run` set this pointer as the running
        // loop and frees it only after its last use (when `RunningLoop` is
        // dropped); the closures given here only touch the state, so this is
        // the only live reference to it.
        f(unsafe { &mut *self.0 })
    }
}

/// Step a task: poll its coroutine once (`Task.__step`, after
/// [`State::begin_step`]).
#[inline]
fn step<const TIMED: bool>(at: &Running, t: TaskId, coro: Coro) {
    // SAFETY: the coroutine is live (a slot's `coro` is cleared when it is
    // dropped, below) and only `step` polls it, one step at a time: handles
    // run one by one outside any borrow of the state.
    if let Poll::Ready(()) = unsafe { coro.poll() } {
        // SAFETY: the coroutine is live and its poll has returned; its slot
        // forgets it before anything else can see it.
        unsafe { coro.drop_in_place() };
        at.with(|st| {
            // SAFETY: the task `begin_step` just stepped.
            unsafe { st.slot_mut(t) }.clear_coro();
            st.coros.recycle(coro);
            st.finish_task::<TIMED>(t);
        });
    }
}

/// Refuse costs that could move the clock back ([`RunError::InvalidCost`]).
/// Out of line: written inside `run`, the test moved the timed loop's code
/// to a worse alignment, and `bpsim bench`'s blog table (four timed runs,
/// one at a time) took 42-45 ms instead of 36.6-38.1 (alternated with a
/// build without the test; building with `-C llvm-args=-align-loops=64`
/// also brought it back, which confirms the cause).
#[inline(never)]
fn check_costs(cpu: &CpuCosts) -> Result<(), RunError> {
    match cpu.first_invalid() {
        Some((name, value)) => Err(RunError::InvalidCost { name, value }),
        None => Ok(()),
    }
}

/// `asyncio.run(main())` on a virtual clock: run `main` as the main task until
/// it returns, and report what the run measured.
///
/// # Panics
/// If called while a run is already in progress on this thread.
pub fn run<F>(config: &Config, main: F) -> Result<Report, RunError>
where
    F: Future<Output = ()> + 'static,
{
    assert!(LOOP.get().is_null(), "bpsim::asyncio::run cannot be nested");
    // The loop relies on a clock that never moves back (its end-of-iteration
    // key, `Timer::key_of_nonnegative`).
    check_costs(&config.cpu)?;
    let state = Box::into_raw(Box::new(State::new(config.clone())));
    LOOP.set(state);
    let _running = RunningLoop;
    // The loop's own accesses, several per handle, use the pointer it set
    // rather than reading it back from the thread-local each time.
    let at = Running(state);
    let main_task = with_loop(|st| st.spawn(main, Frame::Plain));
    debug_assert_eq!(main_task.id, TaskId::MAIN);
    if at.with(|st| st.timed) {
        drive::<true>(&at, config)
    } else {
        drive::<false>(&at, config)
    }
}

/// `run_forever` until the main task returns: `_run_once` after
/// `_run_once`. Built once for a timed run and once for an untimed one
/// (see [`State::charge_as`]).
#[inline(never)]
fn drive<const TIMED: bool>(at: &Running, config: &Config) -> Result<Report, RunError> {
    // In registers: the state is written through a raw pointer, so the
    // compiler would load these from `config` on every iteration.
    let (max_iterations, timeline) = (config.max_iterations, config.timeline);
    let io = at.with(|st| st.io.is_some());
    let mut iterations = 0;
    loop {
        if iterations == max_iterations {
            return Err(RunError::IterationLimit(iterations));
        }
        iterations += 1;
        at.with(|st| st.prepare_iteration::<TIMED>(iterations, io))?;
        while let Some(action) = at.with(State::run_next::<TIMED>) {
            match action {
                Action::None => {}
                Action::Step(t, coro) => step::<TIMED>(at, t, coro),
                Action::Call(f) => f(),
            }
        }
        if timeline {
            at.with(|st| {
                let sample = Sample {
                    time_s: st.now,
                    live_tasks: st.live_tasks,
                    memory_bytes: st.mem.current(),
                };
                st.timeline.push(sample);
            });
        }
        if at.with(|st| {
            debug_assert_eq!(
                st.main_finished,
                st.tasks[TaskId::MAIN.index()].is_finished()
            );
            st.main_finished
        }) {
            return Ok(at.with(|st| st.report(iterations)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(debug_assertions)]
    #[test]
    fn a_reentrancy_guard_refuses_a_second_entry_until_the_first_ends() {
        thread_local! {
            static FLAG: Cell<bool> = const { Cell::new(false) };
        }
        {
            let _first = ReentrancyGuard::enter(&FLAG, "f");
            let second = std::panic::catch_unwind(|| ReentrancyGuard::enter(&FLAG, "f"));
            let message = second.err().and_then(|e| e.downcast::<String>().ok());
            assert_eq!(message.as_deref().map(String::as_str), Some("f re-entered"));
        }
        // The first guard has ended: entering works again.
        drop(ReentrancyGuard::enter(&FLAG, "f"));
        assert!(!FLAG.get());
    }

    /// `await fut` charges a 40-byte `FutureIter` and its end keeps it
    /// charged on a free list of 255 (`FI_FREELIST_MAXLEN`), as measured:
    /// 300 awaits at once leave 255 traced after they return, and 300 more
    /// charge only 45 new ones. A sleep's coroutine is charged without the
    /// `FutureIter` its profile size includes.
    #[test]
    fn freed_future_iters_stay_charged_on_a_free_list_of_255() {
        let mut st = State::new(Config::default());
        let base = st.mem.current();
        let future = st.config.profile.size(Obj::Future);
        let futs: Vec<u32> = (0..300).map(|_| st.await_new_future()).collect();
        assert_eq!(st.mem.current() - base, 300 * (future + FUTURE_ITER_BYTES));
        for &f in &futs {
            st.drop_future(f);
        }
        assert_eq!(st.mem.current() - base, 255 * FUTURE_ITER_BYTES);
        let futs: Vec<u32> = (0..300).map(|_| st.await_new_future()).collect();
        assert_eq!(st.mem.current() - base, 300 * (future + FUTURE_ITER_BYTES));
        for &f in &futs {
            st.drop_future(f);
        }
        let sleep = st.config.profile.size(Obj::SleepCoroutine);
        st.alloc(Obj::SleepCoroutine);
        assert_eq!(
            st.mem.current() - base,
            255 * FUTURE_ITER_BYTES + sleep - FUTURE_ITER_BYTES
        );
    }

    /// CPython keeps up to 255 freed Contexts (still traced) and hands them
    /// out before allocating: freeing 300 keeps 255 charged, and copying 300
    /// again charges only 45 new ones; a Task built on a kept Context
    /// charges its size less the Context.
    #[test]
    fn freed_contexts_stay_charged_on_a_free_list_of_255() {
        let mut st = State::new(Config::default());
        let base = st.mem.current();
        st.copy_contexts(300);
        assert_eq!(st.mem.current() - base, 300 * CONTEXT_BYTES);
        st.free_contexts(300);
        assert_eq!(st.mem.current() - base, 255 * CONTEXT_BYTES);
        st.copy_contexts(300);
        assert_eq!(st.mem.current() - base, 300 * CONTEXT_BYTES);
        st.free_contexts(1);
        let task = st.config.profile.size(Obj::Task);
        st.alloc(Obj::Task);
        assert_eq!(
            st.mem.current() - base,
            300 * CONTEXT_BYTES + task - CONTEXT_BYTES
        );
        st.free(Obj::Task);
        st.alloc(Obj::Future);
        let future = st.config.profile.size(Obj::Future);
        assert_eq!(st.mem.current() - base, 300 * CONTEXT_BYTES + future);
    }

    /// A sleep's `TimerHandle` leaves its `(fut, None)` (56 B) and its
    /// deadline (24 B) on CPython's free lists, which keep 2,000 2-tuples
    /// and 100 floats (and its Context on the Contexts' list of 255): 150
    /// sleeps ended leave 150 x (56 + 64) + 100 x 24 B charged, and the
    /// next 150 take them back, so that the 150 live ones are charged their
    /// whole size again, 50 of them with a new float.
    /// A program that reads its latencies from a list (a replayed trace)
    /// holds no float of its own while a request sleeps; one that draws
    /// them (the blog's `random.uniform`) holds one a sleep.
    #[test]
    fn a_listed_latency_holds_no_float_of_its_own() {
        let peak = |drawn_latencies| {
            let config = Config {
                drawn_latencies,
                ..Config::default()
            };
            run(&config, async { crate::asyncio::sleep(1.0).await })
                .expect("runs")
                .peak_memory_bytes
        };
        assert_eq!(peak(true) - peak(false), LATENCY_FLOAT_BYTES);
    }

    #[test]
    fn a_sleeps_args_and_deadline_stay_charged_on_their_free_lists() {
        let mut st = State::new(Config::default());
        let base = st.mem.current();
        let timer = st.config.profile.size(Obj::TimerHandle);
        for _ in 0..150 {
            st.alloc_sleep_timer();
        }
        assert_eq!(st.mem.current() - base, 150 * timer);
        for _ in 0..150 {
            st.free_sleep_timer();
        }
        assert_eq!(
            st.mem.current() - base,
            150 * (56 + CONTEXT_BYTES) + 100 * 24
        );
        for _ in 0..150 {
            st.alloc_sleep_timer();
        }
        assert_eq!(st.mem.current() - base, 150 * timer);
        assert_eq!(st.mem.peak() - base, 150 * timer);
        assert_eq!(st.free_lists.timer_bytes(), 56 + 24);
    }

    /// The ready queue holds one handle per live task when every task is
    /// created at once.
    #[test]
    fn a_ready_handle_is_4_bytes_and_unpacks_to_itself() {
        assert_eq!(std::mem::size_of::<PackedHandle>(), 4);
        let max = PackedHandle::MAX_INDEX;
        for index in [0, 1, 12_345, max] {
            let task = TaskId::from_index(index as usize);
            for handle in [
                Handle::Step(task),
                Handle::Wakeup(task),
                Handle::SetResult(index),
                Handle::Done(task),
                Handle::Timeout(index),
                Handle::Response(index),
            ] {
                let packed = PackedHandle::new(handle);
                let same = match (packed.get(), handle) {
                    (Handle::Step(a), Handle::Step(b))
                    | (Handle::Wakeup(a), Handle::Wakeup(b))
                    | (Handle::Done(a), Handle::Done(b)) => a == b,
                    (Handle::SetResult(a), Handle::SetResult(b))
                    | (Handle::Timeout(a), Handle::Timeout(b))
                    | (Handle::Response(a), Handle::Response(b)) => a == b,
                    _ => false,
                };
                assert!(same, "index {index}");
                assert_eq!(
                    packed.step_task(),
                    match handle {
                        Handle::Step(_) => Some((index as usize, false)),
                        Handle::Wakeup(_) => Some((index as usize, true)),
                        _ => None,
                    }
                );
            }
        }
    }

    /// `now + 1 ns` below 2^24 s; the next float above `now` from there on,
    /// where `now + 1 ns` rounds back to `now`.
    #[test]
    fn end_time_is_now_plus_the_resolution_and_always_above_now() {
        for now in [0.0, 0.1, 1e3, 8.4e6, 16_777_215.0] {
            assert_eq!(end_time(now), now + CLOCK_RESOLUTION, "{now}");
        }
        for now in [16_777_216.0, 16_780_000.0, 1e9, 1e15] {
            assert_eq!(now + CLOCK_RESOLUTION, now, "{now}");
            assert_eq!(end_time(now), now.next_up(), "{now}");
        }
    }

    /// The branch in [`end_time`] gives the maximum it stands for, bit for
    /// bit, around 2^24 s and at the edges of the `f64`s.
    #[test]
    fn end_time_is_the_maximum_of_the_sum_and_the_next_f64() {
        let max_form = |now: f64| (now + CLOCK_RESOLUTION).max(now.next_up());
        let mut points = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            1e-9,
            0.1,
            1.0,
            f64::MAX,
            f64::INFINITY,
            -1.0,
        ];
        let two_24 = 16_777_216.0_f64;
        let (mut below, mut above) = (two_24, two_24);
        for _ in 0..64 {
            below = below.next_down();
            above = above.next_up();
            points.extend([below, above]);
        }
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..10_000 {
            crate::xorshift::next(&mut x);
            // Finite and not negative: every exponent, random mantissas.
            points.push(f64::from_bits(x & 0x7FEF_FFFF_FFFF_FFFF));
        }
        for now in points {
            assert_eq!(end_time(now).to_bits(), max_form(now).to_bits(), "{now:e}");
        }
        assert!(end_time(f64::NAN).is_nan());
    }

    /// A negative cost set in code is refused before the run starts (the
    /// loop's end-of-iteration key needs a clock that never moves back).
    #[test]
    fn a_negative_cost_is_refused() {
        let mut config = Config::default();
        config.cpu.handle = -1e-6;
        assert_eq!(
            run(&config, async {}),
            Err(RunError::InvalidCost {
                name: "handle",
                value: -1e-6
            })
        );
        config.cpu.handle = 0.0;
        assert!(run(&config, async {}).is_ok());
    }

    #[test]
    #[should_panic(expected = "more than 2^29")]
    fn a_handle_past_2_pow_29_is_refused() {
        PackedHandle::new(Handle::Timeout(PackedHandle::MAX_INDEX + 1));
    }

    #[test]
    fn indices_up_to_2_pow_29_less_1_are_handed_out_and_no_more() {
        let max = PackedHandle::MAX_INDEX as usize;
        assert_eq!(handle_index(max), PackedHandle::MAX_INDEX);
        assert!(std::panic::catch_unwind(|| handle_index(max + 1)).is_err());
    }
}
