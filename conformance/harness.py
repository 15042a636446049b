#!/usr/bin/env python3
"""Conformance harness: run the blog's four backpressure strategies on CPython.

This script runs the four strategies of the asyncio backpressure blog post
(batching, semaphore inside the task, semaphore before spawn released by a
done callback, semaphore before spawn released in the task) with the REAL
CPython asyncio implementation and prints one JSON object that the Rust test
suite of ``bpsim`` compares, bit for bit, with the simulator's own output.
Only the standard library is used; Python 3.11, 3.12 and 3.13 are supported.

Workload
--------
Latencies come from a trace file holding one float per line; line ``i``
(0-based) is the latency of request ``i``.  Request ``i`` performs exactly
``await asyncio.sleep(latency[i])``; requests are numbered ``0..N-1`` in the
order in which the strategy's main loop iterates over them.

The virtual clock
-----------------
``VirtualClockLoop`` is a ``SelectorEventLoop`` whose ``time()`` returns a
virtual clock (``_vtime``, starting at 0.0) and whose selector never sleeps.
asyncio's ``BaseEventLoop._run_once`` is left untouched: it computes the
select timeout as usual (0 when callbacks are ready, otherwise the distance
to the earliest timer, clamped to 86400 s) and calls ``selector.select``.
Our selector polls the real selector with ``select(0)`` (so the loop's
self-pipe keeps working) and, when the timeout is positive, *jumps* the clock
to the earliest timer's deadline: ``_vtime = _scheduled[0]._when`` (set
exactly, never ``_vtime + timeout``, so the clock lands bit-exactly on the
deadline) or, if that deadline is more than 86400 s away, ``_vtime += 86400``
like the clamp in ``_run_once``.  A ``None`` timeout (nothing ready, nothing
scheduled) is a deadlock and raises ``RuntimeError``.  Everything else
(timer heap order, the 1 ns clock-resolution window, ready-queue FIFO order,
Task/TaskGroup/Semaphore behaviour) is CPython's own, so the run is a
deterministic replay of what CPython would do with zero CPU cost per step.
The loop also counts ``_run_once`` calls in ``loop.iterations``.

A downstream service: ``--server``
----------------------------------
With ``--server`` (virtual or ``--tracemalloc`` mode; under ``--tracemalloc``
see "The [server] client under --tracemalloc" below), request ``i`` is bpsim's ``[server]``
client instead of a sleep::

    for attempt in range(RETRIES + 1):
        try:
            async with asyncio.timeout(TIMEOUT):    # None: no timer
                await call(latency[i])              # raises ServiceError
            break                                   # if the coin says so
        except (TimeoutError, ServiceError):
            if attempt == RETRIES:
                break
            await asyncio.sleep(backoff(attempt, jitter))

``call`` creates a future, sends ``latency[i]`` seconds of work to
``Station`` (a port of bpsim's ``src/server/station.rs``, FIFO with a
capacity or processor sharing, doing the same floating-point operations in
the same order) and registers a reader for a fake file descriptor with
``loop.add_reader``; the reader callback removes itself and sets the
future's result unless it is done.  The selector, besides jumping the
clock, wakes early at the station's next response (``min`` of it and the
timer deadline, or the response alone when there is no timer) and returns
the keys of every response due by the clock, so ``_process_events`` queues
the readers before ``_run_once`` moves the due timers: CPython's own I/O,
timeout, cancellation (``_must_cancel``) and lazy timer-removal code runs.
A timed-out attempt's reader stays registered: the station still serves
it.  The error coin and jitter of each attempt come from ``--draws``
(computed by bpsim from each request's ChaCha stream).  Each request also
records its status (``ok``, ``error``, ``timeout``), attempts, errors and
timeouts; each result reports ``compactions`` (the timer-heap rebuilds
``_run_once`` made) and ``races`` (timeouts that fired after the response
was in).

Modes
-----
* virtual (default): instrumented strategies on the virtual clock.  Each
  request records ``(i, start, end)`` (``loop.time()`` around the sleep) in
  completion order; the harness also reports the peak number of live tasks
  created by the strategy (main excluded), the number of loop iterations from
  main's first statement to its return (inclusive), the virtual duration and
  the number of completed requests.  The bookkeeping never awaits or
  schedules anything, so it does not perturb the schedule.
* ``--tracemalloc``: uninstrumented copies of the strategies (exactly the
  blog's shape) on the virtual clock, with ``tracemalloc`` started right
  before the ``asyncio.Runner`` is created and read right after it closes;
  reports the traced peak and final sizes and the virtual duration.
* ``--real``: the same uninstrumented strategies on the default event loop
  with real sleeps (``asyncio.run``), timed with ``time.perf_counter()``;
  may be combined with ``--tracemalloc``.  Meant for later calibration.

In the two uninstrumented modes every strategy runs in its own fresh child
interpreter (``sys.executable`` re-running this script with one
``--strategy``), because asyncio keeps process-wide state that only grows
(e.g. the module-level WeakSet of all tasks), which would otherwise make a
strategy's traced memory depend on the strategies run before it.
``--in-process`` turns this off.  ``gc.collect()`` runs before each traced
run.

Usage::

    python3 conformance/harness.py --trace FILE --concurrency C \\
        [--requests N] [--strategy NAME ...] [--tracemalloc] [--real] \\
        [--in-process] [--output FILE] \\
        [--server [--server-capacity K] [--discipline D] [--error-rate P]
         [--timeout T] [--retries R] [--backoff KIND] [--backoff-base B]
         [--backoff-max M] [--jitter J] [--draws FILE]]
"""

import argparse
import asyncio
from asyncio import base_events
import gc
import heapq
import itertools
import json
import math
import os
import platform
import selectors
import signal
import subprocess
import sys
import time
import tracemalloc

# asyncio's clamp on the select timeout (base_events.MAXIMUM_SELECT_TIMEOUT).
MAXIMUM_SELECT_TIMEOUT = 24 * 3600

# asyncio.Runner.run installs its own SIGINT handler (a functools.partial of
# a bound method: 144 B, traced) only when SIGINT has Python's default
# handler. A process started in the background by a non-interactive shell
# inherits SIGINT ignored, and every traced peak was then 144 B lower than in
# the same run from a terminal or CI. Restoring the default here, at import
# and so before any tracing, makes the reference the same however the
# harness was started: that of a program run from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

STRATEGIES = (
    "batching",
    "semaphore_in_task",
    "gated_spawn_callback",
    "gated_spawn",
    "worker_pool",
    "sliding_window",
    "rate_limited",
    "adaptive_limit",
)

# The blog's four, run when no --strategy is given (the others take
# parameters: --max-per-second, --adaptive).
BLOG_STRATEGIES = STRATEGIES[:4]


class Params:
    """Parameters of rate_limited and adaptive_limit."""
    max_per_second = math.inf
    target_latency = math.inf
    min_limit = 1.0
    max_limit = None          # default: 4 * concurrency
    increase = 1.0
    decrease = 0.9


PARAMS = Params()


if hasattr(itertools, "batched"):  # Python 3.12+
    batched = itertools.batched
else:  # Python 3.11
    class batched:
        """``itertools.batched`` for 3.11, allocating what it allocates.

        The blog's batching program uses ``itertools.batched`` (3.12+). This
        stand-in holds the same state in an object of the same size (48 B)
        and makes one tuple of exactly the batch's length per batch. The usual
        recipe, a generator doing ``tuple(islice(it, n))``, is not faithful
        under ``tracemalloc``:

        - ``islice`` has no length hint, so ``tuple()`` allocates 10 slots and
          reallocates down. A short tuple made that way is never taken from
          its size's free list but is pushed onto it when freed, and that free
          list (2000 tuples per size, still counted by ``tracemalloc``) grows
          by one tuple per batch: +48 B per batch at C=1, up to 96 KB;
        - ``list(...)`` as the intermediate has the same flaw for list objects
          (80 x 56 B); a list display (``[*...]``) takes them from the free
          list;
        - a generator object with its frame is about 200 B larger than the
          ``batched`` object.
        """

        __slots__ = ("_it", "_n")

        def __init__(self, iterable, n):
            if n < 1:
                raise ValueError("n must be at least one")
            self._it = iter(iterable)
            self._n = n

        def __iter__(self):
            return self

        def __next__(self):
            batch = tuple([*itertools.islice(self._it, self._n)])
            if not batch:
                raise StopIteration
            return batch


# ---------------------------------------------------------------------------
# Virtual-clock event loop
# ---------------------------------------------------------------------------

class _VirtualClockSelector(selectors.DefaultSelector):
    """Selector that never blocks and advances its loop's virtual clock.

    With a ``[server]`` station it also delivers the station's responses:
    each request in flight is a fake file descriptor (``FAKE_FD_BASE`` +
    the request's arrival number) registered with ``loop.add_reader``, and
    ``select`` returns the keys of the responses due by the (advanced)
    clock, as epoll returns the sockets that became readable.  Fake
    descriptors are kept in the selector's own key map only, never in
    epoll.
    """

    def __init__(self, loop):
        super().__init__()
        self._vloop = loop

    def register(self, fileobj, events, data=None):
        if _is_fake_fd(fileobj):
            return selectors._BaseSelectorImpl.register(
                self, fileobj, events, data)
        return super().register(fileobj, events, data)

    def unregister(self, fileobj):
        if _is_fake_fd(fileobj):
            return selectors._BaseSelectorImpl.unregister(self, fileobj)
        return super().unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        if _is_fake_fd(fileobj):
            return selectors._BaseSelectorImpl.modify(
                self, fileobj, events, data)
        return super().modify(fileobj, events, data)

    def select(self, timeout=None):
        loop = self._vloop
        station = loop.station
        due = station.next_event() if station is not None else None
        if timeout is None:
            # Nothing ready, no timer: only a response can wake the loop.
            if due is None:
                raise RuntimeError(
                    "virtual-clock deadlock: no ready callbacks and no timers")
            loop._vtime = max(due, loop._vtime)
        elif timeout > 0:
            when = loop._scheduled[0]._when
            if when - loop._vtime > MAXIMUM_SELECT_TIMEOUT:
                wake = loop._vtime + float(MAXIMUM_SELECT_TIMEOUT)
            else:
                wake = when
            # A response due before the timer wakes the loop early.
            if due is not None and due < wake:
                loop._vtime = max(due, loop._vtime)
            else:
                loop._vtime = wake
        events = super().select(0)
        if station is not None:
            for token in station.pop_due(loop._vtime):
                key = self._fd_to_key[FAKE_FD_BASE + token]
                events.append((key, selectors.EVENT_READ))
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """SelectorEventLoop on a virtual clock that jumps to the next timer."""

    # The [server] station of the run (set by run_instrumented), if any.
    station = None

    def __init__(self):
        self._vtime = 0.0
        self.iterations = 0
        self.compactions = 0
        super().__init__(_VirtualClockSelector(self))

    def time(self):
        return self._vtime

    def _run_once(self):
        self.iterations += 1
        # Count the heap compactions _run_once is about to make (more than
        # half of over 100 timers cancelled): bookkeeping only.
        n = len(self._scheduled)
        if (n > base_events._MIN_SCHEDULED_TIMER_HANDLES
                and self._timer_cancelled_count / n
                > base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION):
            self.compactions += 1
        super()._run_once()


# ---------------------------------------------------------------------------
# The downstream service ([server]): bpsim's station, and the asyncio client
# ---------------------------------------------------------------------------

# Fake file descriptors of requests in flight start here (far above any real
# descriptor).
FAKE_FD_BASE = 1 << 40


def _is_fake_fd(fileobj):
    return isinstance(fileobj, int) and fileobj >= FAKE_FD_BASE


class Station:
    """The service on the other end: bpsim's ``src/server/station.rs``.

    Every floating-point operation is the Rust code's, in the same order,
    so the response times are bit-identical.  ``capacity`` servers (None:
    unlimited) work FIFO, or, with ``processor_sharing``, all requests at
    the station share ``capacity`` units of work per second (each progresses
    at ``min(1, capacity / n)``).  Among responses due at the same time, the
    earlier arrival comes out first.  The station knows nothing of client
    time-outs: an abandoned request is still served.
    """

    def __init__(self, capacity, discipline):
        self.capacity = capacity
        self.ps = discipline == "processor_sharing"
        self.seq = 0
        self.events = []    # FIFO: heap of (response time, arrival, token)
        self.free_at = []   # FIFO: heap of the busy servers' free times
        self.jobs = []      # PS: heap of (virtual finish, arrival, token)
        self.v = 0.0        # PS: work each job in service has received
        self.last_t = 0.0   # PS: ... as of this time

    def arrive(self, now, work, token):
        """A request of ``work`` seconds arrives at ``now``."""
        self.seq += 1
        if self.ps and self.capacity is not None:
            self._advance(now)
            heapq.heappush(self.jobs, (self.v + work, self.seq, token))
        elif self.capacity is None:
            heapq.heappush(self.events, (now + work, self.seq, token))
        else:
            if len(self.free_at) < self.capacity:
                start = now
            else:
                start = max(heapq.heappop(self.free_at), now)
            done = start + work
            heapq.heappush(self.free_at, done)
            heapq.heappush(self.events, (done, self.seq, token))

    def _rate(self, n):
        k = float(self.capacity)
        n = float(n)
        return 1.0 if n <= k else k / n

    def _advance(self, t):
        if t > self.last_t:
            self.v += (t - self.last_t) * self._rate(len(self.jobs))
            self.last_t = t

    def next_event(self):
        """When the next response is due (None: nothing at the station)."""
        if self.events:
            return self.events[0][0]
        if not self.jobs:
            return None
        finish = self.jobs[0][0]
        r = self._rate(len(self.jobs))
        return self.last_t + (max(finish - self.v, 0.0) / r)

    def pop_due(self, now):
        """The tokens of the responses due at or before ``now``, in order."""
        out = []
        while self.events and not self.events[0][0] > now:
            out.append(heapq.heappop(self.events)[2])
        if not self.jobs:
            return out
        # Processor sharing: each departure changes the others' rate.
        while True:
            t = self.next_event()
            if t is None or t > now:
                break
            self._advance(t)
            finish, _, token = heapq.heappop(self.jobs)
            self.v = max(self.v, finish)
            out.append(token)
        self._advance(now)
        return out


class ServiceError(Exception):
    """The service answered with an error."""


class Server:
    """A ``[server]`` table and the per-request random draws.

    ``draws[i]`` lists ``(coin, jitter)`` for each attempt of request ``i``
    (computed by bpsim from request ``i``'s ChaCha stream and handed over in
    a file); None when bpsim draws nothing (no errors and no retries), where
    the attempt uses ``(1.0, 0.0)``.
    """

    def __init__(self, args, draws):
        self.capacity = args.server_capacity
        self.discipline = args.discipline
        self.error_rate = args.error_rate
        self.timeout = args.timeout
        self.retries = args.retries
        self.backoff = args.backoff
        self.base = args.backoff_base
        self.max = (args.backoff_max if args.backoff_max is not None
                    else max(10.0, args.backoff_base))
        self.jitter = args.jitter
        self.draws = draws

    def delay(self, attempt, u):
        """bpsim's ``Backoff::delay``: the wait before retry ``attempt``."""
        if self.backoff == "fixed":
            d = self.base
        else:
            d = min(self.base * 2.0 ** min(attempt, 1023), self.max)
        if self.jitter == "full":
            return u * d
        if self.jitter == "equal":
            return d / 2.0 + u * d / 2.0
        return d


def _on_response(loop, fd, fut):
    """The reader callback of a request in flight: its response is in."""
    loop.remove_reader(fd)
    if not fut.done():
        fut.set_result(None)


async def _service_call(loop, work, coin, error_rate, sent):
    """Send ``work`` seconds of work to the station and await the response
    (an I/O event); raise ServiceError if this attempt fails.  The future
    is appended to ``sent`` (to tell afterwards whether a timeout beat a
    response that was already in)."""
    fut = loop.create_future()
    sent.append(fut)
    station = loop.station
    token = station.seq + 1
    station.arrive(loop.time(), work, token)
    fd = FAKE_FD_BASE + token
    loop.add_reader(fd, _on_response, loop, fd, fut)
    await fut
    if coin < error_rate:
        raise ServiceError


async def server_request(i, rec):
    """Request ``i`` against the ``[server]``: bpsim's ``client::call``.

    Returns ``(status, attempts, errors, timeouts)``.  The reader of an
    abandoned (timed-out) attempt stays registered until its response
    comes, as the station still serves it.
    """
    loop = asyncio.get_running_loop()
    srv = rec.server
    work = rec.lat[i]
    draws = srv.draws[i] if srv.draws is not None else None
    attempts = errors = timeouts = 0
    status = "ok"
    for attempt in range(srv.retries + 1):
        coin, jitter = draws[attempt] if draws is not None else (1.0, 0.0)
        attempts += 1
        sent = []
        try:
            async with asyncio.timeout(srv.timeout):
                await _service_call(loop, work, coin, srv.error_rate, sent)
            status = "ok"
        except TimeoutError:
            timeouts += 1
            status = "timeout"
            if sent and sent[0].done() and not sent[0].cancelled():
                # The response was in, the task's wake-up queued, and the
                # timeout still won (Task._must_cancel).
                rec.races += 1
        except ServiceError:
            errors += 1
            status = "error"
        if status == "ok" or attempt == srv.retries:
            break
        await asyncio.sleep(srv.delay(attempt, jitter))
    return (status, attempts, errors, timeouts)


# ---------------------------------------------------------------------------
# Instrumented strategies (virtual mode)
# ---------------------------------------------------------------------------

class Recorder:
    """Plain bookkeeping shared by an instrumented run (never awaits)."""

    def __init__(self, latencies, concurrency, server=None):
        self.lat = latencies
        self.concurrency = concurrency
        self.server = server    # a Server, or None: requests are sleeps
        self.requests = []      # (i, start, end[, outcome]), completion order
        self.live = 0           # tasks created by main and not yet finished
        self.peak = 0
        self.first = None       # loop.iterations at main's first statement
        self.last = None        # loop.iterations just before main returns
        self.duration = None    # loop.time() just before main returns
        self.races = 0          # [server]: timeouts that beat a response

    def spawned(self):
        self.live += 1
        if self.live > self.peak:
            self.peak = self.live

    def request(self, i):
        """Request ``i``'s awaitable: ``asyncio.sleep(latency[i])`` itself,
        or the calls to the ``[server]`` (returning their outcome)."""
        if self.server is None:
            return asyncio.sleep(self.lat[i])
        return server_request(i, self)

    def record(self, i, start, end, outcome):
        """Log request ``i`` as finished (``outcome``: what ``request``
        returned)."""
        if outcome is None:
            self.requests.append((i, start, end))
        else:
            self.requests.append((i, start, end, *outcome))

    @staticmethod
    def ok(outcome):
        """Whether the request succeeded (a sleep always does)."""
        return outcome is None or outcome[0] == "ok"


async def _i_process(i, rec):
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = await rec.request(i)
    end = loop.time()
    rec.record(i, start, end, out)
    rec.live -= 1


async def _i_process_sem(i, sem, rec):
    async with sem:
        loop = asyncio.get_running_loop()
        start = loop.time()
        out = await rec.request(i)
        end = loop.time()
        rec.record(i, start, end, out)
    rec.live -= 1


async def _i_process_release(i, sem, rec):
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        out = await rec.request(i)
        end = loop.time()
        rec.record(i, start, end, out)
    finally:
        sem.release()
        rec.live -= 1


async def _i_batching(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    for batch in batched(range(len(rec.lat)), rec.concurrency):
        async with asyncio.TaskGroup() as tg:
            for i in batch:
                tg.create_task(_i_process(i, rec))
                rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_semaphore_in_task(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    sem = asyncio.Semaphore(rec.concurrency)
    async with asyncio.TaskGroup() as tg:
        for i in range(len(rec.lat)):
            tg.create_task(_i_process_sem(i, sem, rec))
            rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_gated_spawn_callback(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    sem = asyncio.Semaphore(rec.concurrency)
    async with asyncio.TaskGroup() as tg:
        for i in range(len(rec.lat)):
            await sem.acquire()
            tg.create_task(_i_process(i, rec)).add_done_callback(
                lambda _: sem.release())
            rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_gated_spawn(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    sem = asyncio.Semaphore(rec.concurrency)
    async with asyncio.TaskGroup() as tg:
        for i in range(len(rec.lat)):
            await sem.acquire()
            tg.create_task(_i_process_release(i, sem, rec))
            rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_worker(q, rec):
    while True:
        i = await q.get()
        if i is None:
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        out = await rec.request(i)
        end = loop.time()
        rec.record(i, start, end, out)


async def _i_worker_pool(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    q = asyncio.Queue(maxsize=rec.concurrency)
    async with asyncio.TaskGroup() as tg:
        for _ in range(rec.concurrency):
            tg.create_task(_i_worker(q, rec))
            rec.spawned()
        for i in range(len(rec.lat)):
            await q.put(i)
        for _ in range(rec.concurrency):
            await q.put(None)
    rec.live = 0
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_sliding_window(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    pending = set()
    for i in range(len(rec.lat)):
        if len(pending) >= rec.concurrency:
            _, pending = await asyncio.wait(
                pending, return_when=asyncio.FIRST_COMPLETED)
        pending.add(asyncio.create_task(_i_process(i, rec)))
        rec.spawned()
    if pending:
        await asyncio.wait(pending)
    rec.duration = loop.time()
    rec.last = loop.iterations


async def _i_rate_limited(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    sem = asyncio.Semaphore(rec.concurrency)
    period = 1.0 / PARAMS.max_per_second
    next_start = loop.time()
    async with asyncio.TaskGroup() as tg:
        for i in range(len(rec.lat)):
            await sem.acquire()
            while (now := loop.time()) < next_start:
                await asyncio.sleep(next_start - now)
            next_start = max(next_start, now) + period
            tg.create_task(_i_process_release(i, sem, rec))
            rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


def _adaptive_max(concurrency):
    if PARAMS.max_limit is None:
        return 4.0 * concurrency
    return PARAMS.max_limit


async def _i_adaptive_limit(rec):
    loop = asyncio.get_running_loop()
    rec.first = loop.iterations
    target, lo = PARAMS.target_latency, PARAMS.min_limit
    hi, inc, dec = _adaptive_max(rec.concurrency), PARAMS.increase, PARAMS.decrease
    limit, in_flight, wake = float(rec.concurrency), 0, None

    def done(latency, ok):
        nonlocal limit, in_flight, wake
        in_flight -= 1
        if not ok or latency > target:
            limit = max(lo, limit * dec)
        else:
            limit = min(hi, limit + inc / limit)
        if wake is not None and in_flight < int(limit):
            wake.set_result(None)
            wake = None

    async def process(i):
        start, ok = loop.time(), False
        try:
            out = await rec.request(i)
            ok = rec.ok(out)
            rec.record(i, start, loop.time(), out)
        finally:
            rec.live -= 1
            done(loop.time() - start, ok)

    async with asyncio.TaskGroup() as tg:
        for i in range(len(rec.lat)):
            while in_flight >= int(limit):
                wake = loop.create_future()
                await wake
            in_flight += 1
            tg.create_task(process(i))
            rec.spawned()
    rec.duration = loop.time()
    rec.last = loop.iterations


INSTRUMENTED = {
    "batching": _i_batching,
    "semaphore_in_task": _i_semaphore_in_task,
    "gated_spawn_callback": _i_gated_spawn_callback,
    "gated_spawn": _i_gated_spawn,
    "worker_pool": _i_worker_pool,
    "sliding_window": _i_sliding_window,
    "rate_limited": _i_rate_limited,
    "adaptive_limit": _i_adaptive_limit,
}


def run_instrumented(name, latencies, concurrency, server=None):
    """Run one instrumented strategy on a fresh virtual-clock loop (against
    a fresh station if ``server`` is given)."""
    rec = Recorder(latencies, concurrency, server)
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        if server is not None:
            runner.get_loop().station = Station(server.capacity,
                                                server.discipline)
        runner.run(INSTRUMENTED[name](rec))
        compactions = runner.get_loop().compactions
    result = {
        "strategy": name,
        "duration_s": rec.duration,
        "loop_iterations": rec.last - rec.first + 1,
        "peak_live_tasks": rec.peak,
        "completed": len(rec.requests),
        "requests": [list(r) for r in rec.requests],
    }
    if server is not None:
        result["compactions"] = compactions
        result["races"] = rec.races
    return result


# ---------------------------------------------------------------------------
# Uninstrumented strategies (--tracemalloc and --real): the blog's shape
# ---------------------------------------------------------------------------

# Set before each run; module-level so the coroutines mirror the blog's
# one-argument ``process(url)`` / two-argument ``process(url, sem)``. The
# strategies iterate over the already-loaded latency floats, as the blog's
# iterate over already-existing URL strings, so that no per-request object
# (such as an int index above 256) is allocated that the blog's programs do
# not allocate.
LAT = []
CONCURRENCY = 1


async def process(latency):
    await asyncio.sleep(latency)


async def process_sem(latency, sem):
    async with sem:
        await asyncio.sleep(latency)


async def process_release(latency, sem):
    try:
        await asyncio.sleep(latency)
    finally:
        sem.release()


async def batching():
    for batch in batched(LAT, CONCURRENCY):
        async with asyncio.TaskGroup() as tg:
            for latency in batch:
                tg.create_task(process(latency))


async def semaphore_in_task():
    sem = asyncio.Semaphore(CONCURRENCY)
    async with asyncio.TaskGroup() as tg:
        for latency in LAT:
            tg.create_task(process_sem(latency, sem))


async def gated_spawn_callback():
    sem = asyncio.Semaphore(CONCURRENCY)
    async with asyncio.TaskGroup() as tg:
        for latency in LAT:
            await sem.acquire()
            tg.create_task(process(latency)).add_done_callback(
                lambda _: sem.release())


async def gated_spawn():
    sem = asyncio.Semaphore(CONCURRENCY)
    async with asyncio.TaskGroup() as tg:
        for latency in LAT:
            await sem.acquire()
            tg.create_task(process_release(latency, sem))


async def worker(q):
    while True:
        latency = await q.get()
        if latency is None:
            return
        await asyncio.sleep(latency)


async def worker_pool():
    q = asyncio.Queue(maxsize=CONCURRENCY)
    async with asyncio.TaskGroup() as tg:
        for _ in range(CONCURRENCY):
            tg.create_task(worker(q))
        for latency in LAT:
            await q.put(latency)
        for _ in range(CONCURRENCY):
            await q.put(None)


async def sliding_window():
    pending = set()
    for latency in LAT:
        if len(pending) >= CONCURRENCY:
            _, pending = await asyncio.wait(
                pending, return_when=asyncio.FIRST_COMPLETED)
        pending.add(asyncio.create_task(process(latency)))
    if pending:
        await asyncio.wait(pending)


async def rate_limited():
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(CONCURRENCY)
    period = 1.0 / PARAMS.max_per_second
    next_start = loop.time()
    async with asyncio.TaskGroup() as tg:
        for latency in LAT:
            await sem.acquire()
            while (now := loop.time()) < next_start:
                await asyncio.sleep(next_start - now)
            next_start = max(next_start, now) + period
            tg.create_task(process_release(latency, sem))


async def adaptive_limit():
    loop = asyncio.get_running_loop()
    target, lo = PARAMS.target_latency, PARAMS.min_limit
    hi, inc, dec = _adaptive_max(CONCURRENCY), PARAMS.increase, PARAMS.decrease
    limit, in_flight, wake = float(CONCURRENCY), 0, None

    def done(latency, ok):
        nonlocal limit, in_flight, wake
        in_flight -= 1
        if not ok or latency > target:
            limit = max(lo, limit * dec)
        else:
            limit = min(hi, limit + inc / limit)
        if wake is not None and in_flight < int(limit):
            wake.set_result(None)
            wake = None

    async def process_adaptive(latency):
        start, ok = loop.time(), False
        try:
            await asyncio.sleep(latency)
            ok = True
        finally:
            done(loop.time() - start, ok)

    async with asyncio.TaskGroup() as tg:
        for latency in LAT:
            while in_flight >= int(limit):
                wake = loop.create_future()
                await wake
            in_flight += 1
            tg.create_task(process_adaptive(latency))


PLAIN = {
    "batching": batching,
    "semaphore_in_task": semaphore_in_task,
    "gated_spawn_callback": gated_spawn_callback,
    "gated_spawn": gated_spawn,
    "worker_pool": worker_pool,
    "sliding_window": sliding_window,
    "rate_limited": rate_limited,
    "adaptive_limit": adaptive_limit,
}


# ---------------------------------------------------------------------------
# The [server] client under --tracemalloc: conformance/server_trace.py
# ---------------------------------------------------------------------------
#
# Kept in its own module, imported only for --server --tracemalloc: defined
# here, its ~40 extra module globals moved some plain --tracemalloc peaks by
# 1,024 B (3.12 and 3.13 rate_limited at C=10), so the plain runs keep this
# module as it was.


def run_plain_server(name, args):
    """See ``server_trace.run_plain_server``."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import server_trace
    server_trace.install(sys.modules[__name__])
    return server_trace.run_plain_server(name, args)


def run_plain(name, latencies, concurrency, real, trace_memory):
    """Run one uninstrumented strategy; optionally traced, optionally real."""
    global LAT, CONCURRENCY
    LAT = latencies
    CONCURRENCY = concurrency
    strategy = PLAIN[name]
    # Start every traced run from the same collector state, independent of
    # what ran before in this process.
    gc.collect()
    result = {"strategy": name}
    if real:
        if trace_memory:
            tracemalloc.start()
        t0 = time.perf_counter()
        asyncio.run(strategy())
        wall = time.perf_counter() - t0
        if trace_memory:
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        result["duration_s"] = wall
    else:
        tracemalloc.start()
        with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
            loop = runner.get_loop()
            runner.run(strategy())
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # Runner.close() (shutdown_asyncgens, shutdown_default_executor)
        # schedules no timer, so the clock is still where main returned.
        result["duration_s"] = loop._vtime
    if trace_memory:
        result["peak_memory_bytes"] = peak
        result["final_memory_bytes"] = current
    LAT = []
    return result


def run_in_child(name, args):
    """Run one uninstrumented strategy in a fresh interpreter.

    asyncio keeps process-wide state that only ever grows (the task registry
    is a module-level WeakSet whose hash table never shrinks, the logging
    cache, ...), so a traced run is cheaper when another strategy ran before
    it in the same process.  A fresh child per strategy makes each number
    independent of the strategy list and matches the blog, which ran every
    program as its own process.
    """
    cmd = _child_cmd(name, args, tracemalloc_flag=args.tracemalloc)
    if args.real:
        cmd.append("--real")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child run of {name!r} failed with exit status "
                           f"{proc.returncode}")
    return json.loads(proc.stdout)["results"][0]


def _child_cmd(name, args, tracemalloc_flag):
    """This script re-run on one strategy with the same trace, parameters
    and [server]."""
    cmd = [sys.executable, os.path.abspath(__file__),
           "--trace", args.trace,
           "--concurrency", str(args.concurrency),
           "--requests", str(len(args.latencies)),
           "--strategy", name]
    if tracemalloc_flag:
        cmd.append("--tracemalloc")
    cmd += _param_args()
    if args.server:
        cmd += ["--server", "--discipline", args.discipline,
                "--error-rate", repr(args.error_rate),
                "--retries", str(args.retries),
                "--backoff", args.backoff,
                "--backoff-base", repr(args.backoff_base),
                "--jitter", args.jitter]
        if args.server_capacity is not None:
            cmd += ["--server-capacity", str(args.server_capacity)]
        if args.timeout is not None:
            cmd += ["--timeout", repr(args.timeout)]
        if args.backoff_max is not None:
            cmd += ["--backoff-max", repr(args.backoff_max)]
        if args.draws is not None:
            cmd += ["--draws", args.draws]
    return cmd


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def load_trace(parser, path, limit):
    """Read latencies (one float per line); exit 2 on any problem."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        parser.error(f"cannot read trace file {path!r}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        parser.error(f"trace file {path!r} is not UTF-8 text: {exc}")
    if limit is not None:
        if limit > len(lines):
            parser.error(f"--requests {limit}: trace file {path!r} has "
                         f"only {len(lines)} line(s)")
        lines = lines[:limit]
    latencies = []
    for lineno, line in enumerate(lines, 1):
        try:
            value = float(line)
        except ValueError:
            parser.error(f"{path}:{lineno}: not a float: {line!r}")
        if not math.isfinite(value):
            parser.error(f"{path}:{lineno}: latency must be finite: {line!r}")
        latencies.append(value)
    return latencies


def load_server(parser, args):
    """The [server] of the run, with its draws file; exit 2 on a problem."""
    if args.real:
        parser.error("--server runs in virtual or --tracemalloc mode only")
    if args.server_capacity is not None and args.server_capacity < 1:
        parser.error("--server-capacity must be at least 1")
    if args.discipline == "processor_sharing" and args.server_capacity is None:
        parser.error("processor sharing needs --server-capacity")
    if args.retries < 0:
        parser.error("--retries must not be negative")
    if args.timeout is not None and not args.timeout > 0:
        parser.error("--timeout must be positive")
    draws = None
    if args.error_rate > 0 or args.retries > 0:
        if args.draws is None:
            parser.error("--draws is needed with --error-rate > 0 or "
                         "--retries > 0")
        want = 2 * (args.retries + 1)
        try:
            with open(args.draws, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            parser.error(f"cannot read draws file {args.draws!r}: "
                         f"{exc.strerror}")
        if len(lines) < len(args.latencies):
            parser.error(f"draws file {args.draws!r} has {len(lines)} "
                         f"line(s) for {len(args.latencies)} requests")
        draws = []
        for lineno, line in enumerate(lines[:len(args.latencies)], 1):
            try:
                values = [float(v) for v in line.split()]
            except ValueError:
                parser.error(f"{args.draws}:{lineno}: not floats: {line!r}")
            if len(values) != want:
                parser.error(f"{args.draws}:{lineno}: {len(values)} values, "
                             f"expected {want}")
            draws.append(list(zip(values[0::2], values[1::2])))
    return Server(args, draws)


def _param_args():
    """The strategy parameters as command-line arguments (for children)."""
    args = ["--max-per-second", repr(PARAMS.max_per_second),
            "--target-latency", repr(PARAMS.target_latency),
            "--min-limit", repr(PARAMS.min_limit),
            "--increase", repr(PARAMS.increase),
            "--decrease", repr(PARAMS.decrease)]
    if PARAMS.max_limit is not None:
        args += ["--max-limit", repr(PARAMS.max_limit)]
    return args


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Replay the blog's asyncio backpressure strategies with "
                    "real CPython asyncio on a virtual clock and print JSON.")
    parser.add_argument("--trace", required=True, metavar="FILE",
                        help="latency trace: one float (seconds) per line")
    parser.add_argument("--concurrency", required=True, type=int,
                        metavar="C", help="concurrency limit (>= 1)")
    parser.add_argument("--requests", type=int, metavar="N",
                        help="use the first N lines (default: all)")
    parser.add_argument("--strategy", action="append", choices=STRATEGIES,
                        metavar="NAME",
                        help="strategy to run (repeatable; default: the "
                             "blog's four): " + ", ".join(STRATEGIES))
    parser.add_argument("--max-per-second", type=float, default=math.inf,
                        help="rate_limited: most request starts per second")
    parser.add_argument("--target-latency", type=float, default=math.inf,
                        help="adaptive_limit: latency above which to back off")
    parser.add_argument("--min-limit", type=float, default=1.0,
                        help="adaptive_limit: smallest limit")
    parser.add_argument("--max-limit", type=float, default=None,
                        help="adaptive_limit: largest limit (default 4 x C)")
    parser.add_argument("--increase", type=float, default=1.0,
                        help="adaptive_limit: additive increase per window")
    parser.add_argument("--decrease", type=float, default=0.9,
                        help="adaptive_limit: multiplicative decrease")
    server = parser.add_argument_group(
        "[server]", "send requests to a downstream service (virtual mode "
        "only); defaults as in bpsim's [server] table")
    server.add_argument("--server", action="store_true",
                        help="requests go to the service instead of "
                             "sleeping")
    server.add_argument("--server-capacity", type=int, default=None,
                        metavar="K", help="requests served at once "
                                          "(default: unlimited)")
    server.add_argument("--discipline", default="fifo",
                        choices=("fifo", "processor_sharing"))
    server.add_argument("--error-rate", type=float, default=0.0,
                        help="probability that an attempt fails")
    server.add_argument("--timeout", type=float, default=None,
                        help="asyncio.timeout around each attempt, seconds "
                             "(default: none)")
    server.add_argument("--retries", type=int, default=0)
    server.add_argument("--backoff", default="exponential",
                        choices=("exponential", "fixed"))
    server.add_argument("--backoff-base", type=float, default=0.1)
    server.add_argument("--backoff-max", type=float, default=None,
                        help="default: max(10, base)")
    server.add_argument("--jitter", default="full",
                        choices=("none", "full", "equal"))
    server.add_argument("--draws", metavar="FILE",
                        help="line i: request i's (coin, jitter) per "
                             "attempt, 2 x (retries + 1) floats (needed "
                             "with --error-rate > 0 or --retries > 0)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="uninstrumented runs under tracemalloc; report "
                             "peak/final traced bytes")
    parser.add_argument("--real", action="store_true",
                        help="uninstrumented runs on the default loop with "
                             "real sleeps; report wall time")
    parser.add_argument("--record-service", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--output", metavar="FILE",
                        help="write the JSON here instead of stdout")
    parser.add_argument("--in-process", action="store_true",
                        help="with --tracemalloc/--real, run every strategy "
                             "in this process instead of one fresh child "
                             "process each (memory then depends on what ran "
                             "before)")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.requests is not None and args.requests < 0:
        parser.error("--requests must not be negative")
    if args.output is not None:
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir):
            parser.error(f"--output: directory {out_dir!r} does not exist")
    args.latencies = load_trace(parser, args.trace, args.requests)
    args.server_model = None
    if args.server:
        args.server_model = load_server(parser, args)
    if args.record_service and not (
            args.server and args.strategy and len(args.strategy) == 1):
        parser.error("--record-service needs --server and one --strategy")
    PARAMS.max_per_second = args.max_per_second
    PARAMS.target_latency = args.target_latency
    PARAMS.min_limit = args.min_limit
    PARAMS.max_limit = args.max_limit
    PARAMS.increase = args.increase
    PARAMS.decrease = args.decrease
    return args


def main(argv=None):
    args = parse_args(argv)
    latencies = args.latencies
    names = args.strategy or list(BLOG_STRATEGIES)
    if args.real:
        mode = "real"
    elif args.tracemalloc:
        mode = "tracemalloc"
    else:
        mode = "virtual"
    if args.record_service:
        # Internal: the untraced run whose service decisions a traced
        # --server --tracemalloc run replays, as JSON on stdout.
        json.dump(run_plain_server(names[0], args), sys.stdout)
        sys.stdout.write("\n")
        return 0
    results = []
    for name in names:
        if mode == "tracemalloc" and args.server and (
                args.in_process or len(names) == 1):
            results.append(run_plain_server(name, args))
        elif mode == "virtual":
            results.append(
                run_instrumented(name, latencies, args.concurrency,
                                 args.server_model))
        elif args.in_process or len(names) == 1:
            results.append(run_plain(name, latencies, args.concurrency,
                                     real=args.real,
                                     trace_memory=args.tracemalloc))
        else:
            results.append(run_in_child(name, args))
    report = {
        "python": platform.python_version(),
        "mode": mode,
        "concurrency": args.concurrency,
        "requests": len(latencies),
        "results": results,
    }
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                json.dump(report, f)
                f.write("\n")
        except OSError as exc:
            print(f"harness.py: cannot write {args.output!r}: "
                  f"{exc.strerror}", file=sys.stderr)
            return 1
    else:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
