//! Object sizes of one CPython version, as `tracemalloc` counts them.
//!
//! The shipped profiles live in `profiles/cpython-3.1X.toml` and are compiled
//! into the binary. They were measured by `profiles/measure_memory.py` (see
//! `profiles/README.md` for the command and the method).

use serde::Deserialize;

use super::TaskNames;

/// The kinds of object the simulated loop allocates. Each has one size in a
/// [`Profile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Obj {
    /// A Task with its context copy and its weak reference in asyncio's
    /// `_scheduled_tasks`, from `create_task` until it is freed. Its name
    /// is charged by the task's number ([`super::TaskNames`]), or, in a
    /// profile without a naming scheme, is a fixed part of this size.
    Task,
    /// The coroutine object (with its frame) a task runs: a request coroutine
    /// whose body is just the request (`process(url)`).
    Coroutine,
    /// A request coroutine whose body is inside `async with sem:`.
    CoroutineAsyncWith,
    /// A request coroutine whose body is inside `try: ... finally:`.
    CoroutineTryFinally,
    /// `adaptive_limit`'s request coroutine ([`crate::asyncio::Frame::Adaptive`]).
    CoroutineAdaptive,
    /// A `Handle` in the ready queue, from `call_soon` until it runs.
    Handle,
    /// A `TimerHandle` with its arguments, from `call_later` until the sleep
    /// that made it returns.
    TimerHandle,
    /// A Future created by `loop.create_future()`.
    Future,
    /// The `asyncio.sleep` coroutine frame, while the sleep is in progress.
    SleepCoroutine,
    /// `asyncio.sleep(0)` (any delay `<= 0`) while it is suspended: the
    /// sleep coroutine's frame and the `__sleep0` generator it awaits (176
    /// bytes on 3.11-3.13), where a sleep with a delay has a future and a
    /// timer instead (found by a differential test against CPython: runs
    /// of zero latencies were 4-10 % under).
    SleepZero,
    /// The `Semaphore.acquire` coroutine (and `__aenter__` around it) while a
    /// task waits for a permit.
    AcquireCoroutine,
    /// The bound `sem.__aexit__` that `async with sem:` keeps on the frame's
    /// stack (`BEFORE_ASYNC_WITH`) until the body ends: charged from when
    /// the permit is taken until the exit. While the task waits for the
    /// permit, [`Obj::AcquireCoroutine`]'s size includes it. Not charged
    /// until 2026-12-07, when a traceback-keyed `tracemalloc` diff of
    /// `semaphore_in_task` at N = C = 1,000 found it held by every task
    /// (64 B each, `harness.py`'s `async with sem:` line).
    AsyncWithExit,
    /// TaskGroup's `_on_task_done` bound method, one per task in the group.
    GroupCallback,
    /// A `lambda _: sem.release()` done callback and the callback list it
    /// forces the task to allocate.
    LambdaCallback,
    /// What one `asyncio.wait` call holds while it runs, beyond its sets,
    /// its waiter future and a context per task: the `wait()` and `_wait()`
    /// coroutines, the `_on_completion` closure and its cells.
    WaitCall,
    /// What `adaptive_limit`'s main holds beyond the blog's mains: a larger
    /// frame, the cells its two closures share, the `done` and
    /// `process_adaptive` functions with their closure tuples, and the
    /// limit's float.
    AdaptiveMain,
    /// A `[server]` request's client coroutine (`client::call`, the
    /// harness's `server_call`) from its first step until it returns: the
    /// coroutine with its frame and its `range` iterator. On the `[server]`
    /// path it and [`Obj::ClientAwait`] stand where [`Obj::SleepCoroutine`]
    /// stands on the plain one.
    ClientCoroutine,
    /// What an attempt's `await fut` allocates while it waits (the future
    /// itself is [`Obj::Future`]): the `FutureIter` (charged through its
    /// free list, [`Obj::includes_future_iter`]), and the task's
    /// `__wakeup` bound method in the future's callbacks.
    ClientAwait,
    /// What `async with asyncio.timeout(T)` holds while an attempt runs,
    /// beyond its [`Obj::TimerHandle`]: the `Timeout` object and its
    /// deadline, the `_on_timeout` bound method, the bound `__aexit__`.
    Timeout,
    /// The frame object (`PyFrameObject`) of a `[server]` client's
    /// coroutine. CPython 3.11+ runs a frame without one and creates it the
    /// first time a traceback needs it: when the `TimeoutError` of an
    /// expired `asyncio.timeout` or an attempt's error passes through the
    /// client's frame. From then on the running frame keeps it until the
    /// coroutine returns (later exceptions reuse it).
    ClientFrame,
    /// The frame object of `worker_pool`'s worker coroutine (the harness's
    /// `server_worker`) on the `[server]` path. CPython 3.12 and 3.13
    /// create it when a client call whose last attempt timed out returns
    /// to the worker (not after an error, not when a retry succeeds; 3.11
    /// never does), and the worker's running frame keeps it until the
    /// worker returns.
    WorkerFrame,
    /// A 20-item tuple that stays traced after it is freed:
    /// `itertools.batched`'s batch at C = 20 in `batching`. On CPython 3.11
    /// and 3.12 a freed 20-item tuple goes to the tuple free list and the
    /// next 20-item tuple does not take it back (100 creations and frees of
    /// one: +20,000 B traced; of a 19- or 21-item one: +800 B / 0), until
    /// the list holds 2,000; 3.13 reuses it (0 B). 0 in the 3.13 profile.
    Tuple20,
    /// What a timed-out attempt holds only while the client's `except`
    /// clause runs, all freed when it ends, measured as a whole: the
    /// exception chain (the `TimeoutError`, raised from the
    /// `CancelledError`), its tracebacks and the finished
    /// `Timeout.__aexit__` frame they keep, and the `Timeout` object.
    /// Charged and credited at once (it only raises a peak).
    TimeoutError,
    /// The same for an attempt that failed with an error: the exception and
    /// its traceback.
    ServiceError,
    /// What the exit of `async with asyncio.timeout(T)` holds at its peak
    /// when the response came first, above what the attempt holds just
    /// before it: the `Timeout.__aexit__` coroutine, which cancels the
    /// timer. Charged and credited at once, when the attempt's task
    /// resumes (it only raises a peak). Found 2026-12-07 by a
    /// differential test against CPython: one request under a timeout
    /// that never fires was 3.6 % under on 3.12.
    TimeoutExit,
    /// What an expired timeout's exit holds at its peak beyond the
    /// `except` clause that catches its `TimeoutError`
    /// ([`Obj::TimeoutError`]): the `Timeout.__aexit__` coroutine raising
    /// `TimeoutError` from the `CancelledError`, with their tracebacks.
    /// Charged and credited with [`Obj::TimeoutError`], as part of it.
    TimeoutRaise,
}

/// How the version's `itertools.batched` makes the tuple of each batch that
/// `batching` takes (the key `batched` of a profile). The tuple is held
/// while its batch runs, until the next batch replaces it, and goes through
/// CPython's tuple free lists like any tuple
/// ([`crate::memory::free_lists::TupleLists`]).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Batches {
    /// Not charged (a profile without the key), but for a freed 20-item
    /// tuple ([`Obj::Tuple20`]).
    #[default]
    #[serde(skip)]
    Uncharged,
    /// A tuple of exactly the batch's items: the conformance harness's
    /// stand-in on CPython 3.11, which has no `itertools.batched`.
    Exact,
    /// CPython 3.12+: `batched_next` makes a tuple for the limit's items,
    /// fills it and cuts it to the batch's length (the last batch); the
    /// call that finds the input exhausted makes one and frees it. Below
    /// about 200 requests a batch, that empty tuple for a limit of
    /// thousands can be the run's peak (found 2026-12-07 by the
    /// differential memory test: one request at C = 1,720 was 53 % under).
    Limit,
}

/// Per-version sizes in bytes. Field names are the keys of `[memory]` in a
/// profile file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Bytes held once tracing starts and the loop runs the main task.
    pub baseline: i64,
    /// See [`Obj::Task`]: with a [`Profile::task_names`] scheme, without
    /// the task's name; without one, with a fixed name.
    pub task: i64,
    /// How CPython names a task created without a name, so that each
    /// task's name is charged by its number ([`TaskNames`]). A profile
    /// without the key (measured before 2026-12-07) includes a fixed name
    /// in `task`.
    #[serde(default)]
    pub task_names: TaskNames,
    /// How `batching`'s `itertools.batched` makes each batch's tuple
    /// ([`Batches`]). A profile without the key (measured before
    /// 2026-12-07) charges no batch tuple, only a freed 20-item one
    /// ([`Obj::Tuple20`]).
    #[serde(default)]
    pub batched: Batches,
    /// The Task object alone, one pymalloc block (part of `task`). With the
    /// coroutine sizes (each one block too) it decides whether a new Task
    /// lands at a freed Task's address ([`crate::memory::blocks`]). 0
    /// (profiles without the key): never shares a class with a coroutine.
    #[serde(default)]
    pub task_object: i64,
    /// See [`Obj::Coroutine`].
    pub coroutine: i64,
    /// See [`Obj::CoroutineAsyncWith`].
    pub coroutine_async_with: i64,
    /// See [`Obj::CoroutineTryFinally`].
    pub coroutine_try_finally: i64,
    /// See [`Obj::Handle`].
    pub handle: i64,
    /// See [`Obj::TimerHandle`].
    pub timer_handle: i64,
    /// See [`Obj::Future`].
    pub future: i64,
    /// See [`Obj::SleepCoroutine`].
    pub sleep_coroutine: i64,
    /// See [`Obj::SleepZero`]. In a profile measured before it was
    /// (2026-12-07), [`parse`] sets `sleep_coroutine` less its `FutureIter`,
    /// which stood in until then.
    #[serde(default = "unmeasured")]
    pub sleep_zero: i64,
    /// See [`Obj::AcquireCoroutine`].
    pub acquire_coroutine: i64,
    /// See [`Obj::GroupCallback`].
    pub group_callback: i64,
    /// See [`Obj::LambdaCallback`].
    pub lambda_callback: i64,
    /// A `TaskGroup` object and its bookkeeping.
    pub task_group: i64,
    /// A `Semaphore` object.
    pub semaphore: i64,
    /// A deque object (without its blocks).
    pub deque: i64,
    /// See [`Obj::WaitCall`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets `lambda_callback`, which stood in until
    /// then.
    #[serde(default = "unmeasured")]
    pub wait_call: i64,
    /// See [`Obj::CoroutineAdaptive`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets `coroutine_try_finally`.
    #[serde(default = "unmeasured")]
    pub coroutine_adaptive: i64,
    /// See [`Obj::AdaptiveMain`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged).
    #[serde(default = "unmeasured")]
    pub adaptive_main: i64,
    /// See [`Obj::ClientCoroutine`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub client_coroutine: i64,
    /// See [`Obj::ClientAwait`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0: its `client_coroutine` was measured
    /// with the `FutureIter` in it (and without the bound method).
    #[serde(default = "unmeasured")]
    pub client_await: i64,
    /// See [`Obj::Timeout`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets `lambda_callback`, which stood in until
    /// then.
    #[serde(default = "unmeasured")]
    pub timeout: i64,
    /// What an `asyncio.timeout`'s TimerHandle still holds once
    /// `Timeout.__aexit__` has cancelled it (the response came first) and
    /// until it leaves the heap: the handle and its Context copy.
    /// `Handle.cancel` drops the `_on_timeout` bound method, and the handle
    /// never had the args tuple and deadline float of a sleep's
    /// (`timer_handle`), so the ledger credits `timer_handle` less this at
    /// the cancel and charges it back when the handle leaves the heap. In a
    /// profile measured before it was (2026-12-06), [`parse`] sets 0 (no
    /// such credit, as before).
    #[serde(default = "unmeasured")]
    pub timeout_handle: i64,
    /// See [`Obj::ClientFrame`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub client_frame: i64,
    /// See [`Obj::WorkerFrame`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub worker_frame: i64,
    /// See [`Obj::Tuple20`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub tuple20: i64,
    /// See [`Obj::TimeoutError`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub timeout_error: i64,
    /// See [`Obj::ServiceError`]. In a profile measured before it was
    /// (2026-12-06), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub service_error: i64,
    /// See [`Obj::AsyncWithExit`]. In a profile measured before it was
    /// (2026-12-07), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub async_with_exit: i64,
    /// See [`Obj::TimeoutExit`]. In a profile measured before it was
    /// (2026-12-07), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub timeout_exit: i64,
    /// See [`Obj::TimeoutRaise`]. In a profile measured before it was
    /// (2026-12-07), [`parse`] sets 0 (not charged, as before).
    #[serde(default = "unmeasured")]
    pub timeout_raise: i64,
    /// How many bytes more than [`Obj::Timeout`] the process's first
    /// `Timeout` objects hold, in order: the 1st, the 2nd, ...; every later
    /// one holds none. A new instance of a class takes an attribute array
    /// sized by the class's shared keys, which give up one slot with each
    /// instance made until only the attributes' own are left (208 B more
    /// for the first on 3.11 and 3.12, 216 on 3.13, 8 B less for each
    /// next, over the first 23-24). The harness runs each strategy in a
    /// fresh interpreter, so a run's k-th timeout is the process's k-th
    /// Timeout (`src/asyncio/io.rs` counts them). Charged with the
    /// Timeout and credited with it; an expired one's, after the `except`
    /// clause that catches its `TimeoutError`. Empty in a profile measured
    /// before it was (2026-12-07): not charged, as before.
    #[serde(default)]
    pub timeout_first: Vec<i64>,
}

/// A key the profile file does not have (resolved by [`parse`]). Plain
/// `i64` fields, not `Option`s: with these three as `Option<i64>` every
/// strategy ran 15-20 % slower, though no hot path read them and 48 bytes
/// of plain `i64` padding in their place cost nothing (measured
/// 2026-12-06; the cause was not found).
fn unmeasured() -> i64 {
    -1
}

impl Profile {
    /// Give the keys a profile file did not have the sizes bpsim charged
    /// before they were measured.
    fn resolve(&mut self) {
        let fallback = |key: &mut i64, value: i64| {
            if *key < 0 {
                *key = value;
            }
        };
        fallback(
            &mut self.sleep_zero,
            self.sleep_coroutine - crate::asyncio::FUTURE_ITER_BYTES,
        );
        fallback(&mut self.wait_call, self.lambda_callback);
        fallback(&mut self.coroutine_adaptive, self.coroutine_try_finally);
        fallback(&mut self.adaptive_main, 0);
        fallback(&mut self.client_coroutine, 0);
        fallback(&mut self.client_await, 0);
        fallback(&mut self.timeout, self.lambda_callback);
        fallback(&mut self.timeout_handle, 0);
        fallback(&mut self.client_frame, 0);
        fallback(&mut self.worker_frame, 0);
        fallback(&mut self.tuple20, 0);
        fallback(&mut self.timeout_error, 0);
        fallback(&mut self.service_error, 0);
        fallback(&mut self.async_with_exit, 0);
        fallback(&mut self.timeout_exit, 0);
        fallback(&mut self.timeout_raise, 0);
    }
}

impl Obj {
    /// Whether the object's profile size includes the 40-byte `FutureIter`
    /// of an `await fut` (`asyncio.sleep`'s, `Semaphore.acquire`'s, a
    /// `[server]` attempt's). The loop charges the `FutureIter` on its own,
    /// when a future is awaited, through CPython's free list of them.
    #[inline]
    pub fn includes_future_iter(self) -> bool {
        matches!(
            self,
            Obj::SleepCoroutine | Obj::AcquireCoroutine | Obj::ClientAwait
        )
    }

    /// Whether the object's size includes a copy of the context (Task,
    /// `call_later`'s TimerHandle, `add_done_callback` without a context).
    #[inline]
    pub fn copies_context(self) -> bool {
        matches!(
            self,
            Obj::Task | Obj::TimerHandle | Obj::GroupCallback | Obj::LambdaCallback
        )
    }
}

impl Profile {
    /// Bytes the ledger credits when a timeout's TimerHandle is cancelled
    /// in the heap, and charges back when it leaves it (see
    /// [`Profile::timeout_handle`]); 0 without that key.
    #[inline]
    pub fn cancelled_timeout_credit(&self) -> i64 {
        if self.timeout_handle > 0 {
            self.timer_handle - self.timeout_handle
        } else {
            0
        }
    }

    /// Whether a coroutine of kind `coroutine` and the Task object fall in
    /// the same pymalloc size class, so that they take each other's freed
    /// blocks ([`crate::memory::blocks`]).
    #[inline]
    pub fn shares_task_class(&self, coroutine: Obj) -> bool {
        let task = super::blocks::size_class(self.task_object);
        task.is_some() && task == super::blocks::size_class(self.size(coroutine))
    }

    /// This profile with `future_iter` bytes taken out of every object
    /// whose size includes a `FutureIter` ([`Obj::includes_future_iter`]),
    /// except one too small to hold it (a size the profile does not give):
    /// what the loop charges for those objects themselves, their
    /// `FutureIter` going through CPython's free list of them.
    pub fn without_future_iters(&self, future_iter: i64) -> Profile {
        let mut own = self.clone();
        for bytes in [
            &mut own.sleep_coroutine,
            &mut own.acquire_coroutine,
            &mut own.client_await,
        ] {
            if *bytes >= future_iter {
                *bytes -= future_iter;
            }
        }
        own
    }

    /// Size of one object of kind `obj`.
    #[inline]
    pub fn size(&self, obj: Obj) -> i64 {
        match obj {
            Obj::Task => self.task,
            Obj::Coroutine => self.coroutine,
            Obj::CoroutineAsyncWith => self.coroutine_async_with,
            Obj::CoroutineTryFinally => self.coroutine_try_finally,
            Obj::Handle => self.handle,
            Obj::TimerHandle => self.timer_handle,
            Obj::Future => self.future,
            Obj::SleepCoroutine => self.sleep_coroutine,
            Obj::SleepZero => self.sleep_zero,
            Obj::AcquireCoroutine => self.acquire_coroutine,
            Obj::AsyncWithExit => self.async_with_exit,
            Obj::GroupCallback => self.group_callback,
            Obj::LambdaCallback => self.lambda_callback,
            Obj::WaitCall => self.wait_call,
            Obj::CoroutineAdaptive => self.coroutine_adaptive,
            Obj::AdaptiveMain => self.adaptive_main,
            Obj::ClientCoroutine => self.client_coroutine,
            Obj::ClientAwait => self.client_await,
            Obj::Timeout => self.timeout,
            Obj::ClientFrame => self.client_frame,
            Obj::WorkerFrame => self.worker_frame,
            Obj::Tuple20 => self.tuple20,
            Obj::TimeoutError => self.timeout_error,
            Obj::ServiceError => self.service_error,
            Obj::TimeoutExit => self.timeout_exit,
            Obj::TimeoutRaise => self.timeout_raise,
        }
    }
}

/// A profile's `[cpu]` table: nanoseconds of loop time per operation (see
/// [`crate::asyncio::CpuCosts`]).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CpuTable {
    /// Whether the costs were measured with `tracemalloc` tracing on.
    pub tracemalloc: bool,
    /// See [`crate::asyncio::CpuCosts::iteration`].
    pub iteration_ns: f64,
    /// See [`crate::asyncio::CpuCosts::handle`].
    pub handle_ns: f64,
    /// See [`crate::asyncio::CpuCosts::step`].
    pub step_ns: f64,
    /// See [`crate::asyncio::CpuCosts::create`].
    pub create_ns: f64,
    /// See [`crate::asyncio::CpuCosts::timer`].
    pub timer_ns: f64,
    /// See [`crate::asyncio::CpuCosts::finish`].
    pub finish_ns: f64,
    /// See [`crate::asyncio::CpuCosts::callback`].
    pub callback_ns: f64,
    /// See [`crate::asyncio::CpuCosts::semaphore`].
    pub semaphore_ns: f64,
    /// See [`crate::asyncio::CpuCosts::wait`].
    pub wait_ns: f64,
    /// See [`crate::asyncio::CpuCosts::context`].
    pub context_ns: f64,
    /// See [`crate::asyncio::CpuCosts::growth`].
    pub growth_ns: f64,
    /// See [`crate::asyncio::CpuCosts::wake_slack`].
    pub wake_slack_ns: f64,
    /// See [`crate::asyncio::CpuCosts::wait_future`] (absent in profiles
    /// measured before `asyncio.wait` was modelled: 0).
    #[serde(default)]
    pub wait_future_ns: f64,
    /// How and where the costs were measured.
    #[serde(default)]
    pub measured: Option<toml::Table>,
}

impl CpuTable {
    /// The costs in seconds, with `select` rounding on.
    pub fn costs(&self) -> crate::asyncio::CpuCosts {
        let s = |ns: f64| ns * 1e-9;
        crate::asyncio::CpuCosts {
            iteration: s(self.iteration_ns),
            handle: s(self.handle_ns),
            step: s(self.step_ns),
            create: s(self.create_ns),
            timer: s(self.timer_ns),
            finish: s(self.finish_ns),
            callback: s(self.callback_ns),
            semaphore: s(self.semaphore_ns),
            wait: s(self.wait_ns),
            context: s(self.context_ns),
            growth: s(self.growth_ns),
            wake_slack: s(self.wake_slack_ns),
            wait_future: s(self.wait_future_ns),
            select_rounding: true,
        }
    }

    /// Every cost finite and non-negative; else the offending key.
    pub fn check(&self) -> Result<(), &'static str> {
        let keys = [
            ("iteration_ns", self.iteration_ns),
            ("handle_ns", self.handle_ns),
            ("step_ns", self.step_ns),
            ("create_ns", self.create_ns),
            ("timer_ns", self.timer_ns),
            ("finish_ns", self.finish_ns),
            ("callback_ns", self.callback_ns),
            ("semaphore_ns", self.semaphore_ns),
            ("wait_ns", self.wait_ns),
            ("context_ns", self.context_ns),
            ("growth_ns", self.growth_ns),
            ("wake_slack_ns", self.wake_slack_ns),
            ("wait_future_ns", self.wait_future_ns),
        ];
        match keys
            .iter()
            .find(|(_, v)| !(v.is_finite() && *v >= 0.0 && *v < 1e9))
        {
            Some((key, _)) => Err(key),
            None => Ok(()),
        }
    }
}

/// A profile file: `[memory]`, optionally `[cpu]`, and where it came from.
#[derive(Clone, Debug, Deserialize)]
pub struct ProfileFile {
    /// The interpreter version the sizes belong to, e.g. `"3.12.1"`.
    #[allow(dead_code)]
    pub(crate) python: String,
    /// How and where the profile was measured.
    #[allow(dead_code)]
    pub(crate) measured: Option<toml::Table>,
    /// The sizes.
    pub(crate) memory: Profile,
    /// The CPU costs, if measured.
    #[serde(default)]
    pub cpu: Option<CpuTable>,
}

/// Parse a profile file's text.
pub fn parse(text: &str) -> Result<ProfileFile, toml::de::Error> {
    let mut file: ProfileFile = toml::from_str(text)?;
    file.memory.resolve();
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of object. The match stops compiling when a kind is added
    /// to [`Obj`] and not here.
    fn every_obj() -> Vec<Obj> {
        let all = vec![
            Obj::Task,
            Obj::Coroutine,
            Obj::CoroutineAsyncWith,
            Obj::CoroutineTryFinally,
            Obj::CoroutineAdaptive,
            Obj::Handle,
            Obj::TimerHandle,
            Obj::Future,
            Obj::SleepCoroutine,
            Obj::SleepZero,
            Obj::AcquireCoroutine,
            Obj::AsyncWithExit,
            Obj::GroupCallback,
            Obj::LambdaCallback,
            Obj::WaitCall,
            Obj::AdaptiveMain,
            Obj::ClientCoroutine,
            Obj::ClientAwait,
            Obj::Timeout,
            Obj::ClientFrame,
            Obj::WorkerFrame,
            Obj::Tuple20,
            Obj::TimeoutError,
            Obj::ServiceError,
            Obj::TimeoutExit,
            Obj::TimeoutRaise,
        ];
        for obj in &all {
            match obj {
                Obj::Task
                | Obj::Coroutine
                | Obj::CoroutineAsyncWith
                | Obj::CoroutineTryFinally
                | Obj::CoroutineAdaptive
                | Obj::Handle
                | Obj::TimerHandle
                | Obj::Future
                | Obj::SleepCoroutine
                | Obj::SleepZero
                | Obj::AcquireCoroutine
                | Obj::AsyncWithExit
                | Obj::GroupCallback
                | Obj::LambdaCallback
                | Obj::WaitCall
                | Obj::AdaptiveMain
                | Obj::ClientCoroutine
                | Obj::ClientAwait
                | Obj::Timeout
                | Obj::ClientFrame
                | Obj::WorkerFrame
                | Obj::Tuple20
                | Obj::TimeoutError
                | Obj::ServiceError
                | Obj::TimeoutExit
                | Obj::TimeoutRaise => {}
            }
        }
        all
    }

    /// `sleep(0)` is its frame and the 176-byte `__sleep0` generator
    /// (measured: `profiles/measure_memory.py`, "sleep_zero"); a profile
    /// from before the key charges what bpsim charged until then, the
    /// sleep coroutine without its `FutureIter`.
    #[test]
    fn sleep_zero_is_measured_or_falls_back_to_the_sleep_coroutine() {
        for (version, zero) in [("3.11", 432), ("3.12", 424), ("3.13", 424)] {
            let text = crate::profiles::text(version).unwrap();
            let shipped = parse(text).unwrap().memory;
            assert_eq!(shipped.size(Obj::SleepZero), zero, "{version}");
            let old: String = text
                .lines()
                .filter(|l| !l.starts_with("sleep_zero"))
                .map(|l| format!("{l}\n"))
                .collect();
            let old = parse(&old).unwrap().memory;
            assert_eq!(
                old.size(Obj::SleepZero),
                shipped.size(Obj::SleepCoroutine) - 40,
                "{version}"
            );
        }
    }

    #[test]
    fn without_future_iters_takes_them_out_of_exactly_the_objects_that_include_one() {
        for version in ["3.11", "3.12", "3.13"] {
            let profile = crate::profiles::builtin(version).unwrap().memory;
            // 0: a size the profile does not give, too small to take 40 from.
            let mut sparse = profile.clone();
            sparse.client_await = 0;
            for p in [profile, sparse] {
                let own = p.without_future_iters(40);
                for obj in every_obj() {
                    let expected = if obj.includes_future_iter() && p.size(obj) >= 40 {
                        p.size(obj) - 40
                    } else {
                        p.size(obj)
                    };
                    assert_eq!(own.size(obj), expected, "{version} {obj:?}");
                }
            }
        }
    }
}
