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
        [--in-process] [--output FILE]
"""

import argparse
import asyncio
import gc
import itertools
import json
import math
import os
import platform
import selectors
import subprocess
import sys
import time
import tracemalloc

# asyncio's clamp on the select timeout (base_events.MAXIMUM_SELECT_TIMEOUT).
MAXIMUM_SELECT_TIMEOUT = 24 * 3600

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
    """Selector that never blocks and advances its loop's virtual clock."""

    def __init__(self, loop):
        super().__init__()
        self._vloop = loop

    def select(self, timeout=None):
        loop = self._vloop
        if timeout is None:
            raise RuntimeError(
                "virtual-clock deadlock: no ready callbacks and no timers")
        if timeout > 0:
            when = loop._scheduled[0]._when
            if when - loop._vtime > MAXIMUM_SELECT_TIMEOUT:
                loop._vtime += float(MAXIMUM_SELECT_TIMEOUT)
            else:
                loop._vtime = when
        return super().select(0)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """SelectorEventLoop on a virtual clock that jumps to the next timer."""

    def __init__(self):
        self._vtime = 0.0
        self.iterations = 0
        super().__init__(_VirtualClockSelector(self))

    def time(self):
        return self._vtime

    def _run_once(self):
        self.iterations += 1
        super()._run_once()


# ---------------------------------------------------------------------------
# Instrumented strategies (virtual mode)
# ---------------------------------------------------------------------------

class Recorder:
    """Plain bookkeeping shared by an instrumented run (never awaits)."""

    def __init__(self, latencies, concurrency):
        self.lat = latencies
        self.concurrency = concurrency
        self.requests = []      # (i, start, end), in completion order
        self.live = 0           # tasks created by main and not yet finished
        self.peak = 0
        self.first = None       # loop.iterations at main's first statement
        self.last = None        # loop.iterations just before main returns
        self.duration = None    # loop.time() just before main returns

    def spawned(self):
        self.live += 1
        if self.live > self.peak:
            self.peak = self.live


async def _i_process(i, rec):
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(rec.lat[i])
    end = loop.time()
    rec.requests.append((i, start, end))
    rec.live -= 1


async def _i_process_sem(i, sem, rec):
    async with sem:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(rec.lat[i])
        end = loop.time()
        rec.requests.append((i, start, end))
    rec.live -= 1


async def _i_process_release(i, sem, rec):
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(rec.lat[i])
        end = loop.time()
        rec.requests.append((i, start, end))
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
        await asyncio.sleep(rec.lat[i])
        end = loop.time()
        rec.requests.append((i, start, end))


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
            await asyncio.sleep(rec.lat[i])
            ok = True
            rec.requests.append((i, start, loop.time()))
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


def run_instrumented(name, latencies, concurrency):
    """Run one instrumented strategy on a fresh virtual-clock loop."""
    rec = Recorder(latencies, concurrency)
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        runner.run(INSTRUMENTED[name](rec))
    return {
        "strategy": name,
        "duration_s": rec.duration,
        "loop_iterations": rec.last - rec.first + 1,
        "peak_live_tasks": rec.peak,
        "completed": len(rec.requests),
        "requests": [list(r) for r in rec.requests],
    }


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
    cmd = [sys.executable, os.path.abspath(__file__),
           "--trace", args.trace,
           "--concurrency", str(args.concurrency),
           "--requests", str(len(args.latencies)),
           "--strategy", name]
    if args.tracemalloc:
        cmd.append("--tracemalloc")
    if args.real:
        cmd.append("--real")
    cmd += _param_args()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child run of {name!r} failed with exit status "
                           f"{proc.returncode}")
    return json.loads(proc.stdout)["results"][0]


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
    parser.add_argument("--tracemalloc", action="store_true",
                        help="uninstrumented runs under tracemalloc; report "
                             "peak/final traced bytes")
    parser.add_argument("--real", action="store_true",
                        help="uninstrumented runs on the default loop with "
                             "real sleeps; report wall time")
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
    results = []
    for name in names:
        if mode == "virtual":
            results.append(
                run_instrumented(name, latencies, args.concurrency))
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
