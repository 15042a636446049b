//! What every strategy runs: N requests, a limit, and the request itself.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::StrategyKind;
use super::adaptive_limit::AdaptiveParams;
use crate::asyncio::{self, Sleeping};
use crate::metrics::{RequestStats, RequestTally};
use crate::server::ServerSpec;
use crate::server::client::{self, Attempts, Status};

/// One request as it ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestRecord {
    /// Request index (0-based, the order the program iterates its inputs).
    pub request: u64,
    /// Virtual time at which the task that runs the request was created.
    pub created_s: f64,
    /// Virtual time at which the request's sleep began.
    pub start_s: f64,
    /// Virtual time at which the request's sleep returned.
    pub end_s: f64,
    /// How it ended (always [`Status::Ok`] without a `[server]`).
    pub status: Status,
    /// Attempts made, retries included (1 without a `[server]`).
    pub attempts: u16,
    /// Attempts that failed with an error.
    pub errors: u16,
    /// Attempts that timed out.
    pub timeouts: u16,
}

/// The workload of one run: latencies, limit and strategy parameters.
///
/// Cloning is cheap (a reference count), like passing `urls` around in
/// Python. The tasks of a run do not hold it: a request reaches the
/// latencies and the request log through the run on its thread (see
/// [`request`]), so a task's coroutine is as small as its Python frame's
/// own state allows.
#[derive(Clone, Debug)]
pub struct Workload {
    shared: Arc<Shared>,
}

/// The part of a [`Workload`] fixed for a run.
#[derive(Clone, Debug)]
struct Shared {
    latencies: Arc<[f64]>,
    concurrency: u64,
    params: StrategyParams,
    /// The `[server]` and the seed of its failure draws.
    server: Option<(ServerSpec, u64)>,
    /// Keep a record of every request, or only their totals.
    log_requests: bool,
}

/// Parameters of the strategies that take more than a limit.
///
/// A scenario writes them out through [`StrategyParams::tables`], which
/// knows which strategies run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategyParams {
    /// `rate_limited`: most request starts per second (infinite: none).
    pub max_per_second: f64,
    /// `adaptive_limit`: the AIMD controller.
    pub adaptive: AdaptiveParams,
}

/// The `[rate_limited]` and `[adaptive_limit]` tables of a scenario that
/// runs `strategies`, as the scenario file would write them: made by
/// [`StrategyParams::tables`].
///
/// Serialises as a map of the tables (flattened into the scenario): a
/// table only for a strategy that runs, so that a scenario file rebuilt
/// from it does not warn that a table has no effect, and within
/// `adaptive_limit` no infinite `target_latency` and a `max_limit` only if
/// one was given (without one, as in the file, it follows `concurrency` at
/// each point of a sweep; with one, it stays put).
#[derive(Clone, Copy, Debug)]
pub struct StrategyTables<'a> {
    params: &'a StrategyParams,
    strategies: &'a [StrategyKind],
}

impl serde::Serialize for StrategyTables<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        let p = self.params;
        if self.strategies.contains(&StrategyKind::RateLimited) && p.max_per_second.is_finite() {
            let mut rate = std::collections::BTreeMap::new();
            rate.insert("max_per_second", p.max_per_second);
            map.serialize_entry("rate_limited", &rate)?;
        }
        if self.strategies.contains(&StrategyKind::AdaptiveLimit) {
            let a = &p.adaptive;
            let mut adaptive = std::collections::BTreeMap::new();
            if a.target_latency.is_finite() {
                adaptive.insert("target_latency", a.target_latency);
            }
            adaptive.insert("min_limit", a.min_limit);
            if let Some(max_limit) = a.max_limit {
                adaptive.insert("max_limit", max_limit);
            }
            adaptive.insert("increase", a.increase);
            adaptive.insert("decrease", a.decrease);
            map.serialize_entry("adaptive_limit", &adaptive)?;
        }
        map.end()
    }
}

impl StrategyParams {
    /// The tables a scenario that runs `strategies` writes for these
    /// parameters (see [`StrategyTables`]).
    pub fn tables<'a>(&'a self, strategies: &'a [StrategyKind]) -> StrategyTables<'a> {
        StrategyTables {
            params: self,
            strategies,
        }
    }

    /// These parameters as a run at `concurrency` uses them: `max_limit`
    /// given (`Some`) even when the scenario left it to its default, 4 x
    /// `concurrency`. For a report of a run, not for a scenario (whose
    /// default follows `concurrency` across a sweep).
    pub fn resolved(&self, concurrency: u64) -> Self {
        let mut params = *self;
        params.adaptive.max_limit = Some(self.adaptive.max_limit_at(concurrency));
        params
    }

    /// No rate limit and the AIMD defaults.
    pub fn defaults() -> Self {
        StrategyParams {
            max_per_second: f64::INFINITY,
            adaptive: AdaptiveParams::defaults(),
        }
    }
}

impl Workload {
    /// `latencies[i]` is the latency of request `i` in seconds.
    pub fn new(latencies: Arc<[f64]>, concurrency: u64) -> Self {
        Workload {
            shared: Arc::new(Shared {
                latencies,
                concurrency,
                params: StrategyParams::defaults(),
                server: None,
                log_requests: true,
            }),
        }
    }

    /// The same workload sent to a downstream service; `seed` keys the
    /// per-request failure draws.
    pub fn with_server(mut self, server: Option<ServerSpec>, seed: u64) -> Self {
        Arc::make_mut(&mut self.shared).server = server.map(|s| (s, seed));
        self
    }

    /// The downstream service, if any.
    pub fn server(&self) -> Option<&ServerSpec> {
        self.shared.server.as_ref().map(|(s, _)| s)
    }

    /// The same workload with these strategy parameters.
    pub fn with_params(mut self, params: StrategyParams) -> Self {
        Arc::make_mut(&mut self.shared).params = params;
        self
    }

    /// The same workload, its runs keeping a record of every request in
    /// their [`Outcome`](super::Outcome)'s `requests` (`true`, the default)
    /// or only the totals in its `stats` (`false`): 20 bytes less per
    /// request, 200 MB at 10 million.
    pub fn with_request_log(mut self, keep: bool) -> Self {
        Arc::make_mut(&mut self.shared).log_requests = keep;
        self
    }

    /// The strategy parameters.
    pub fn params(&self) -> &StrategyParams {
        &self.shared.params
    }

    /// Number of requests.
    pub fn requests(&self) -> u64 {
        self.shared.latencies.len() as u64
    }

    /// The concurrency limit `C`.
    pub fn concurrency(&self) -> u64 {
        self.shared.concurrency
    }

    /// Make this workload the one the requests of the run on this thread
    /// read, with an empty request log, until the returned guard is dropped.
    pub(crate) fn activate(&self) -> ActiveRun {
        let active = Box::new(Active {
            latencies: self.shared.latencies.clone(),
            server: self.shared.server,
            log: if self.shared.log_requests {
                RequestLog::with_capacity(self.shared.latencies.len())
            } else {
                RequestLog::default()
            },
            log_requests: self.shared.log_requests,
            tally: RequestTally::default(),
            last_status: None,
            issued: Vec::new(),
            calls: Vec::new(),
            free_calls: Vec::new(),
        });
        assert!(
            ACTIVE.get().is_null(),
            "one simulation at a time per thread"
        );
        let active = Box::into_raw(active);
        ACTIVE.set(active);
        ActiveRun(active)
    }
}

/// The requests of a run in completion order, a column per field: 28
/// bytes per request, 20 where tasks are created in runs at one time
/// (against 48 for a [`RequestRecord`]), since with every
/// request's task alive at once the log is a large share of bpsim's own
/// memory. [`RequestLog::iter`] gives the records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestLog {
    request: Vec<u32>,
    created: TimeColumn,
    start: Vec<f64>,
    end: Vec<f64>,
    /// How each request ended; empty while every request is a plain sleep
    /// (one attempt, `Ok`).
    outcomes: Vec<Attempts>,
}

/// How a plain request (a sleep) ends.
const PLAIN: Attempts = Attempts {
    status: Status::Ok,
    attempts: 1,
    errors: 0,
    timeouts: 0,
};

impl RequestLog {
    /// Room for `n` requests, reserved at once: growing four columns by
    /// doubling would copy them again and again.
    fn with_capacity(n: usize) -> Self {
        RequestLog {
            request: Vec::with_capacity(n),
            created: TimeColumn::with_capacity(n),
            start: Vec::with_capacity(n),
            end: Vec::with_capacity(n),
            outcomes: Vec::new(),
        }
    }

    /// Log a finished request; `plain`: a sleep, not calls to a server.
    fn push(&mut self, i: u32, created: f64, start: f64, end: f64, outcome: Attempts, plain: bool) {
        self.request.push(i);
        self.created.push(created);
        self.start.push(start);
        self.end.push(end);
        if !plain {
            self.outcomes.push(outcome);
        }
    }

    /// Requests logged.
    pub fn len(&self) -> usize {
        self.request.len()
    }

    /// No request was logged.
    pub fn is_empty(&self) -> bool {
        self.request.is_empty()
    }

    /// The `k`-th request to finish.
    pub fn get(&self, k: usize) -> Option<RequestRecord> {
        (k < self.len()).then(|| self.record(k, self.created.get(k)))
    }

    /// The last request to finish.
    pub fn last(&self) -> Option<RequestRecord> {
        self.len().checked_sub(1).and_then(|k| self.get(k))
    }

    /// The records in completion order, walking the runs of `created` once
    /// rather than searching them for every row as [`RequestLog::get`] does.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RequestRecord> + '_ {
        self.created
            .iter()
            .enumerate()
            .map(|(k, created_s)| self.record(k, created_s))
    }

    /// Row `k` (< `len`), whose creation time is `created_s`.
    #[inline]
    fn record(&self, k: usize, created_s: f64) -> RequestRecord {
        let o = self.outcomes.get(k).copied().unwrap_or(PLAIN);
        RequestRecord {
            request: u64::from(self.request[k]),
            created_s,
            start_s: self.start[k],
            end_s: self.end[k],
            status: o.status,
            attempts: o.attempts,
            errors: o.errors,
            timeouts: o.timeouts,
        }
    }
}

/// A column of times that often come in runs of one value (every task of
/// `semaphore_in_task` is created at 0.0, batching's 500 per batch at once):
/// stored as runs while that saves memory, as plain values from the first
/// time it would not. It saves 8 of a log entry's 28 bytes where every
/// request's task is alive at once.
#[derive(Clone, Debug, PartialEq)]
enum TimeColumn {
    Runs {
        /// Each run's first row, and its value.
        starts: Vec<u32>,
        values: Vec<f64>,
        len: usize,
        /// Capacity to give the plain column if it comes to that.
        reserve: usize,
    },
    Plain(Vec<f64>),
}

impl Default for TimeColumn {
    fn default() -> Self {
        TimeColumn::with_capacity(0)
    }
}

impl TimeColumn {
    fn with_capacity(n: usize) -> Self {
        TimeColumn::Runs {
            starts: Vec::new(),
            values: Vec::new(),
            len: 0,
            reserve: n,
        }
    }

    #[inline]
    fn push(&mut self, v: f64) {
        match self {
            TimeColumn::Plain(values) => values.push(v),
            TimeColumn::Runs {
                starts,
                values,
                len,
                reserve,
            } => {
                if values.last().map(|l| l.to_bits()) != Some(v.to_bits()) {
                    // A run costs 12 bytes, a plain value 8: runs stop
                    // paying well before one in four rows starts one.
                    if values.len() > *len / 4 + 16 {
                        let mut plain = Vec::with_capacity((*reserve).max(*len + 1));
                        plain.extend((0..*len).map(|k| Self::run_value(starts, values, k)));
                        plain.push(v);
                        *self = TimeColumn::Plain(plain);
                        return;
                    }
                    starts.push(u32::try_from(*len).expect("fewer than 2^32 requests"));
                    values.push(v);
                }
                *len += 1;
            }
        }
    }

    fn run_value(starts: &[u32], values: &[f64], k: usize) -> f64 {
        let run = starts.partition_point(|&s| s as usize <= k) - 1;
        values[run]
    }

    /// The rows in order, walking the runs rather than searching them.
    fn iter(&self) -> TimeColumnIter<'_> {
        match self {
            TimeColumn::Plain(values) => TimeColumnIter {
                starts: &[],
                values,
                next: 0,
                len: values.len(),
                run: 0,
            },
            TimeColumn::Runs {
                starts,
                values,
                len,
                ..
            } => TimeColumnIter {
                starts,
                values,
                next: 0,
                len: *len,
                run: 0,
            },
        }
    }

    /// Row `k` (< the rows pushed).
    fn get(&self, k: usize) -> f64 {
        match self {
            TimeColumn::Plain(values) => values[k],
            TimeColumn::Runs {
                starts,
                values,
                len,
                ..
            } => {
                assert!(k < *len, "row {k} of {len}");
                Self::run_value(starts, values, k)
            }
        }
    }
}

/// The rows of a [`TimeColumn`], in order ([`TimeColumn::iter`]).
struct TimeColumnIter<'a> {
    /// The runs' first rows; empty when plain (a column in runs with any
    /// row has at least one run).
    starts: &'a [u32],
    /// The runs' values, or every row's when plain.
    values: &'a [f64],
    /// The next row, and how many there are.
    next: usize,
    len: usize,
    /// The run holding `next` (runs only).
    run: usize,
}

impl Iterator for TimeColumnIter<'_> {
    type Item = f64;

    #[inline]
    fn next(&mut self) -> Option<f64> {
        if self.next == self.len {
            return None;
        }
        let k = self.next;
        self.next += 1;
        if self.starts.is_empty() {
            return Some(self.values[k]);
        }
        while self
            .starts
            .get(self.run + 1)
            .is_some_and(|&s| s as usize <= k)
        {
            self.run += 1;
        }
        Some(self.values[self.run])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for TimeColumnIter<'_> {}

impl<'a> IntoIterator for &'a RequestLog {
    type Item = RequestRecord;
    type IntoIter = Box<dyn Iterator<Item = RequestRecord> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Calls to the `[server]` in progress. Boxed: the client's state (its
/// random stream, the timeout) would otherwise sit in every request's future,
/// with a server or without.
type Call = Pin<Box<dyn Future<Output = Attempts>>>;

/// What the requests of the running simulation read and write.
struct Active {
    latencies: Arc<[f64]>,
    server: Option<(ServerSpec, u64)>,
    /// Requests in completion order, if `log_requests`.
    log: RequestLog,
    log_requests: bool,
    /// What the requests add up to, logged or not.
    tally: RequestTally,
    /// How the last request to finish ended.
    last_status: Option<Status>,
    /// When each request was issued, where that is not when its task was
    /// created (NaN); empty unless a strategy called [`mark_issued`].
    issued: Vec<f64>,
    /// The calls of requests in progress, by the index their [`Request`]
    /// holds, and the free indices.
    calls: Vec<Option<Call>>,
    free_calls: Vec<u32>,
}

thread_local! {
    /// The workload of the simulation running on this thread, or null.
    /// Owned by the [`ActiveRun`] that set it, which clears it before
    /// freeing it.
    static ACTIVE: Cell<*mut Active> = const { Cell::new(std::ptr::null_mut()) };
    /// Re-entrancy guard for [`with_active`] (debug builds).
    #[cfg(debug_assertions)]
    static ACTIVE_BORROWED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` on the active run.
///
/// A raw pointer rather than a `RefCell`: this is called twice per request,
/// and the borrow flag's test, set and reset and the `Option` test were 14
/// instructions per request (debug builds still check that `f` does not
/// re-enter).
///
/// # Panics
/// Outside a simulation ([`Workload::activate`]).
#[inline]
fn with_active<R>(f: impl FnOnce(&mut Active) -> R) -> R {
    let active = ACTIVE.get();
    assert!(!active.is_null(), "a request outside a simulation");
    #[cfg(debug_assertions)]
    let _guard = asyncio::ReentrancyGuard::enter(&ACTIVE_BORROWED, "with_active");
    // SAFETY: `active` came from `Box::into_raw` in `Workload::activate`
    // on this thread and stays valid until the `ActiveRun` it returned
    // clears `ACTIVE` before freeing it. The closures given here only touch
    // the workload and never call `with_active` again (debug builds assert
    // this), so this is the only live reference to it.
    f(unsafe { &mut *active })
}

/// While alive, its workload is the active one (see [`Workload::activate`]);
/// it owns it.
pub(crate) struct ActiveRun(*mut Active);

impl ActiveRun {
    /// The request log so far (completion order; empty unless the workload
    /// logs requests), and what the requests add up to.
    pub(crate) fn take_records(&self) -> (RequestLog, RequestStats) {
        with_active(|a| {
            (
                std::mem::take(&mut a.log),
                std::mem::take(&mut a.tally).finish(),
            )
        })
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        // Cleared first: dropping the calls left unfinished must not find
        // the run still active.
        ACTIVE.set(std::ptr::null_mut());
        // SAFETY: `self.0` came from `Box::into_raw` in `Workload::activate`
        // and is freed only here; `ACTIVE` no longer points to it.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

fn index(i: u64) -> u32 {
    u32::try_from(i).expect("request indices fit in 32 bits (at most 10^9 requests)")
}

/// The modelled request `i`: `await asyncio.sleep(latency[i])` (or calls to
/// the `[server]`), logged with its start and end times. Await it where the
/// Python program awaits its request coroutine.
pub fn request(i: u64) -> Request {
    Request {
        start: 0.0,
        i: index(i),
        phase: PackedPhase::new(Phase::Start),
    }
}

/// Request `i` is issued now, before a task picks it up: its log record
/// counts its wait from now rather than from when that task was created (a
/// worker pool's request exists from the moment the producer queues it).
pub fn mark_issued(i: u64) {
    let now = asyncio::time();
    with_active(|a| {
        if a.issued.is_empty() {
            a.issued = vec![f64::NAN; a.latencies.len()];
        }
        a.issued[i as usize] = now;
    });
}

/// [`request`], telling whether it succeeded.
pub fn request_ok(i: u64) -> impl Future<Output = bool> + 'static {
    let r = request_status(i);
    async move { r.await == Status::Ok }
}

/// [`request`], telling how it ended.
pub fn request_status(i: u64) -> impl Future<Output = Status> + 'static {
    let r = request(i);
    async move {
        r.await;
        // The record the request just pushed.
        with_active(|a| a.last_status.unwrap_or_default())
    }
}

/// The future of [`request`]: 16 bytes, whatever the strategy, so that a
/// task's coroutine stays small. Aligned to 4 bytes, not the 8 of its `f64`:
/// a coroutine that holds it next to 4-byte values (a request index, a
/// semaphore) then pads to 4 bytes, not 8 (`semaphore_in_task`'s `process`
/// is 28 bytes, not 32). The fields are only ever copied, never borrowed.
#[derive(Debug)]
#[repr(C, packed(4))]
pub struct Request {
    /// Virtual time of the first poll.
    start: f64,
    i: u32,
    phase: PackedPhase,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Start,
    Sleeping(Sleeping),
    /// Calls to the `[server]`: the index in `Active::calls`.
    Server(u32),
    Done,
}

/// A [`Phase`] in 4 bytes: a sleep's future, a `[server]` call's slot with
/// the top bit set, or one of three reserved values at the top.
#[derive(Clone, Copy, Debug)]
struct PackedPhase(u32);

impl PackedPhase {
    const START: u32 = u32::MAX;
    const DONE: u32 = u32::MAX - 1;
    const YIELDED: u32 = u32::MAX - 2;
    const SERVER: u32 = 1 << 31;

    #[inline(always)]
    fn new(phase: Phase) -> Self {
        PackedPhase(match phase {
            Phase::Start => Self::START,
            Phase::Done => Self::DONE,
            Phase::Sleeping(Sleeping::Yielded) => Self::YIELDED,
            Phase::Sleeping(Sleeping::Waiting(fut)) => {
                assert!(fut < Self::SERVER, "more than 2^31 live futures");
                fut
            }
            Phase::Server(slot) => {
                assert!(
                    slot < Self::YIELDED - Self::SERVER,
                    "more than 2^31 server calls in progress"
                );
                Self::SERVER | slot
            }
        })
    }

    #[inline(always)]
    fn get(self) -> Phase {
        match self.0 {
            Self::START => Phase::Start,
            Self::DONE => Phase::Done,
            Self::YIELDED => Phase::Sleeping(Sleeping::Yielded),
            v if v & Self::SERVER != 0 => Phase::Server(v & !Self::SERVER),
            fut => Phase::Sleeping(Sleeping::Waiting(fut)),
        }
    }
}

impl Future for Request {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let attempts = match self.phase.get() {
            Phase::Start => {
                let i = self.i as usize;
                let (delay, plain) = with_active(|a| (a.latencies[i], a.server.is_none()));
                if plain {
                    // The sleep, and the time it started at, in one visit
                    // to the loop.
                    let (start, sleeping) = asyncio::sleep_begin_at(delay);
                    self.start = start;
                    self.phase = PackedPhase::new(Phase::Sleeping(sleeping));
                    return Poll::Pending;
                }
                self.start = asyncio::time();
                match self.as_mut().start_call(delay, cx) {
                    Poll::Ready(a) => a,
                    Poll::Pending => return Poll::Pending,
                }
            }
            Phase::Sleeping(sleeping) => match asyncio::sleep_resume(sleeping) {
                Poll::Ready(()) => Attempts {
                    attempts: 1,
                    ..Attempts::default()
                },
                Poll::Pending => return Poll::Pending,
            },
            Phase::Server(slot) => match Self::poll_call(slot, cx) {
                Poll::Ready(a) => a,
                Poll::Pending => return Poll::Pending,
            },
            Phase::Done => panic!("a request polled after it returned"),
        };
        self.phase = PackedPhase::new(Phase::Done);
        let i = self.i;
        // Both read from the loop before the run is borrowed once to log.
        let (task_created_s, end_s) = asyncio::current_task_created_and_time();
        let start_s = self.start;
        with_active(|a| {
            let created_s = match a.issued.get(i as usize) {
                Some(&t) if !t.is_nan() => t,
                _ => task_created_s,
            };
            a.tally.record(created_s, start_s, end_s, &attempts);
            a.last_status = Some(attempts.status);
            if a.log_requests {
                let plain = a.server.is_none();
                a.log.push(i, created_s, start_s, end_s, attempts, plain);
            }
        });
        Poll::Ready(())
    }
}

/// The `[server]` path, out of line so that a plain request's poll stays
/// small.
impl Request {
    /// The first poll of a request to the server: start its calls.
    #[inline(never)]
    fn start_call(mut self: Pin<&mut Self>, delay: f64, cx: &mut Context<'_>) -> Poll<Attempts> {
        let i = self.i;
        let (spec, seed) = with_active(|a| a.server).expect("a request to the server");
        let mut call: Call = Box::pin(client::call(spec, seed, u64::from(i), delay));
        let attempts = call.as_mut().poll(cx);
        if attempts.is_pending() {
            let slot = with_active(|a| match a.free_calls.pop() {
                Some(slot) => {
                    a.calls[slot as usize] = Some(call);
                    slot
                }
                None => {
                    a.calls.push(Some(call));
                    (a.calls.len() - 1) as u32
                }
            });
            self.phase = PackedPhase::new(Phase::Server(slot));
        }
        attempts
    }

    /// A later poll of the calls in `slot`.
    #[inline(never)]
    fn poll_call(slot: u32, cx: &mut Context<'_>) -> Poll<Attempts> {
        // Out of the run while it is polled: the call reaches the loop,
        // never the run.
        let mut call =
            with_active(|a| a.calls[slot as usize].take()).expect("a call in progress is stored");
        let attempts = call.as_mut().poll(cx);
        with_active(|a| match attempts {
            Poll::Ready(_) => a.free_calls.push(slot),
            Poll::Pending => a.calls[slot as usize] = Some(call),
        });
        attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task of a request-per-task strategy holds one of these: its
    /// size is bpsim's memory per live task (`docs/speed.md`, "bpsim's own memory").
    #[test]
    fn a_request_future_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Request>(), 16);
    }

    #[test]
    fn a_time_column_keeps_its_values_in_runs_or_plain() {
        // All equal: one run.
        let mut c = TimeColumn::with_capacity(1000);
        for _ in 0..1000 {
            c.push(0.0);
        }
        assert!(matches!(&c, TimeColumn::Runs { values, .. } if values.len() == 1));
        assert_eq!(c.get(999), 0.0);
        // Batches of 50, then all distinct: plain once runs stop paying;
        // -0.0 and 0.0 are different values.
        let mut c = TimeColumn::with_capacity(10);
        let mut expected = Vec::new();
        for k in 0..2000 {
            let v = if k < 500 {
                (k / 50) as f64
            } else {
                k as f64 * 0.1
            };
            let v = if k == 1 { -0.0 } else { v };
            c.push(v);
            expected.push(v);
            if k % 97 == 0 || k == 1999 {
                for (j, e) in expected.iter().enumerate() {
                    assert_eq!(c.get(j).to_bits(), e.to_bits(), "row {j} after {k}");
                }
                // The walk gives the same rows as the search.
                let walked: Vec<u64> = c.iter().map(f64::to_bits).collect();
                let bits: Vec<u64> = expected.iter().map(|e| e.to_bits()).collect();
                assert_eq!(walked, bits, "walk after {k}");
                assert_eq!(c.iter().len(), expected.len());
            }
        }
        assert!(matches!(c, TimeColumn::Plain(_)));
    }

    #[test]
    fn a_phase_packs_and_unpacks() {
        for phase in [
            Phase::Start,
            Phase::Done,
            Phase::Sleeping(Sleeping::Yielded),
            Phase::Sleeping(Sleeping::Waiting(0)),
            Phase::Sleeping(Sleeping::Waiting((1 << 31) - 1)),
            Phase::Server(0),
            Phase::Server(7),
        ] {
            let back = PackedPhase::new(phase).get();
            assert_eq!(format!("{back:?}"), format!("{phase:?}"));
        }
    }

    #[test]
    fn the_log_gives_back_what_it_was_given() {
        let mut log = RequestLog::with_capacity(2);
        log.push(3, 0.0, 1.0, 2.5, PLAIN, true);
        log.push(1, 0.5, 1.5, 2.0, PLAIN, true);
        assert_eq!(log.len(), 2);
        let records: Vec<RequestRecord> = log.iter().collect();
        assert_eq!(records[0].request, 3);
        assert_eq!(records[1].created_s, 0.5);
        assert_eq!(records[1].end_s, 2.0);
        assert_eq!(log.last(), Some(records[1]));
        assert_eq!(log.get(2), None);
        // With a server every request keeps how it ended.
        let mut log = RequestLog::default();
        let failed = Attempts {
            status: Status::Timeout,
            attempts: 3,
            errors: 1,
            timeouts: 2,
        };
        log.push(0, 0.0, 0.0, 1.0, failed, false);
        let r = log.last().expect("one record");
        assert_eq!(
            (r.status, r.attempts, r.errors, r.timeouts),
            (Status::Timeout, 3, 1, 2)
        );
    }
}
