#!/usr/bin/env python3
"""Measure bpsim's CPU cost profile: seconds of loop time per asyncio operation.

Usage::

    python3.X profiles/calibrate_cpu.py [--tracemalloc] [--repeat R] [-n K]

Prints one JSON object: ``{"python_full", "tracemalloc", "costs_ns": {...},
"benchmarks": {...}, "machine"}``. ``bpsim calibrate`` runs this script (it
is compiled into the binary) and writes the costs into a profile's ``[cpu]``
table. Standard library only; CPython 3.11, 3.12 and 3.13.

The model (``src/asyncio/cpu.rs``) charges, while the loop is busy:

* ``iteration``: one ``BaseEventLoop._run_once`` (the ``select(0)`` system
  call and the bookkeeping around the ready queue);
* ``handle``: running one ready ``Handle`` (``Context.run`` and dispatch);
* ``step``: one ``Task.__step`` (entering the task, ``coro.send``, handling
  the yielded future), on top of its handle;
* ``create``: ``tg.create_task(coro(...))``: the coroutine object, the Task,
  its first ``call_soon`` and the TaskGroup's bookkeeping;
* ``timer``: ``asyncio.sleep(d)`` with ``d > 0``: a future, a TimerHandle,
  ``heappush``, and later ``heappop`` and the future's result;
* ``finish``: a task returning: its result, scheduling its done callbacks,
  unregistering it;
* ``callback``: one done callback (the TaskGroup's ``_on_task_done`` or a
  ``lambda``), on top of its handle;
* ``semaphore``: one ``Semaphore.acquire`` or ``release`` call;
* ``context``: entering or leaving ``async with sem:`` (the
  ``__aenter__``/``__aexit__`` coroutines around ``acquire``/``release``);
* ``wait``: an ``acquire`` that blocks: its future, the waiter queue, and
  the wake-up bookkeeping, on top of ``semaphore``;
* ``wake_slack``: when the loop sleeps in ``select`` until a timer, how much
  later than the requested (millisecond-rounded) timeout it wakes up.

Every cost but ``wake_slack`` is measured on a virtual-clock loop (the real
``SelectorEventLoop`` whose selector never sleeps), so that only CPU time is
timed: nine micro-benchmarks, each a known mix of operations, solved one
unknown at a time. ``wake_slack`` is measured on the default loop with real
sleeps. Each benchmark runs ``--repeat`` times and the median is kept; with
``--tracemalloc``, tracing is on during every measurement (it slows every
allocation, and the blog's timings were taken with it on).
"""

import argparse
import datetime
import asyncio
import gc
import json
import math
import os
import platform
import random
import selectors
import statistics
import sys
import time
import tracemalloc

def _load_harness():
    """conformance/harness.py, next to this script's folder (as in the repo,
    and as ``bpsim calibrate`` lays the scripts out)."""
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "harness", os.path.join(here, "..", "conformance", "harness.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()

# The conformance harness's loop: CPython's SelectorEventLoop on a virtual
# clock whose selector never sleeps, counting iterations.
VirtualLoop = harness.VirtualClockLoop


def run_virtual(coro_fn):
    """Run ``coro_fn()`` on a fresh virtual loop; return its result."""
    with asyncio.Runner(loop_factory=VirtualLoop) as runner:
        return runner.run(coro_fn())


async def noop():
    return None


async def sleeper(d):
    await asyncio.sleep(d)


def bench_sleep0(k):
    """One task, k x sleep(0): k x (iteration + handle + step)."""
    async def main():
        loop = asyncio.get_running_loop()
        i0 = loop.iterations
        t0 = time.perf_counter()
        for _ in range(k):
            await asyncio.sleep(0)
        t = time.perf_counter() - t0
        return t, loop.iterations - i0
    t, iters = run_virtual(main)
    return t / k, iters


def bench_sleep0_wide(k, width=100):
    """width tasks each doing k/width x sleep(0), all in step: per handle
    (handle + step) plus iteration / width."""
    per = k // width

    async def spin():
        for _ in range(per):
            await asyncio.sleep(0)

    async def main():
        tasks = [asyncio.ensure_future(spin()) for _ in range(width)]
        await asyncio.sleep(0)  # every task has taken its first step
        t0 = time.perf_counter()
        for t in tasks:
            await t
        return (time.perf_counter() - t0) / (per * width)
    return run_virtual(main)


def bench_handles(k):
    """k plain callbacks run in one iteration: handle."""
    def cb():
        pass

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(k):
            loop.call_soon(cb)
        t0 = time.perf_counter()
        await asyncio.sleep(0)  # this iteration runs all k callbacks
        return (time.perf_counter() - t0) / k
    return run_virtual(main)


def bench_create_and_run(k, extra_callback):
    """tg.create_task(noop()) k times (timed: create), then the tasks run and
    finish and the group's callbacks run (timed: run)."""
    async def main():
        create = run = 0.0
        cb = (lambda _: None)
        async with asyncio.TaskGroup() as tg:
            t0 = time.perf_counter()
            for _ in range(k):
                t = tg.create_task(noop())
                if extra_callback:
                    t.add_done_callback(cb)
            t1 = time.perf_counter()
            create = (t1 - t0) / k
        run = (time.perf_counter() - t1) / k
        return create, run
    return run_virtual(main)


def bench_timers(k):
    """k tasks each sleeping a distinct d > 0: per task, the run after
    creation (two steps, one timer, one finish, one group callback, four
    handles, three iterations)."""
    async def main():
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as tg:
            for i in range(k):
                tg.create_task(sleeper(0.001 * (i + 1)))
            i0 = loop.iterations
            t0 = time.perf_counter()
        return (time.perf_counter() - t0) / k, loop.iterations - i0
    return run_virtual(main)


def bench_semaphore(k):
    """k x (await sem.acquire(); sem.release()) uncontended: 2 semaphore
    calls each."""
    async def main():
        sem = asyncio.Semaphore(1)
        t0 = time.perf_counter()
        for _ in range(k):
            await sem.acquire()
            sem.release()
        return (time.perf_counter() - t0) / (2 * k)
    return run_virtual(main)


async def _plain_waiter(sem):
    await sem.acquire()


async def _async_with_waiter(sem):
    async with sem:
        pass


def bench_blocked(k, waiter):
    """k tasks block on a Semaphore(0) in ``waiter`` (timed: their first
    steps), then are released one by one. With ``await sem.acquire()``: per
    task handle + step + semaphore + wait; through ``async with sem:`` the
    difference is the context manager's entry."""
    async def main():
        sem = asyncio.Semaphore(0)
        tasks = [asyncio.ensure_future(waiter(sem)) for _ in range(k)]
        t0 = time.perf_counter()
        await asyncio.sleep(0)  # this iteration runs all k first steps
        t = (time.perf_counter() - t0) / k
        for _ in range(k):
            sem.release()
        await asyncio.gather(*tasks)
        return t
    return run_virtual(main)


def bench_wait(k, width=200):
    """k calls of ``asyncio.wait(fs, return_when=FIRST_COMPLETED)`` over
    ``width`` pending futures, one of which is already done: per call the
    ``width`` add/remove_done_callback pairs and the done/pending split,
    plus one waiter, one callback handle and one step. Returns the cost per
    future."""
    async def main():
        loop = asyncio.get_running_loop()
        fs = [loop.create_future() for _ in range(width)]
        t0 = time.perf_counter()
        for _ in range(k):
            done_fut = loop.create_future()
            done_fut.set_result(None)
            await asyncio.wait(fs + [done_fut], return_when=asyncio.FIRST_COMPLETED)
        return (time.perf_counter() - t0) / (k * (width + 1))
    return run_virtual(main)


def strategy_cpu(trace, concurrency, tracing):
    """CPU seconds of each of the blog's four programs on a virtual clock
    (the harness's uninstrumented strategies), for the scale check."""
    with open(trace, encoding="utf-8") as f:
        lat = [float(x) for x in f if x.strip()]
    return {name: program_cpu(name, lat, concurrency, tracing)
            for name in ["batching", "semaphore_in_task", "gated_spawn_callback",
                         "gated_spawn"]}


def program_cpu(name, lat, concurrency, tracing):
    """CPU seconds of one of the harness's uninstrumented programs on a
    virtual clock."""
    harness.LAT = lat
    harness.CONCURRENCY = concurrency
    gc.collect()
    if tracing:
        tracemalloc.start()
    t0 = time.perf_counter()
    with asyncio.Runner(loop_factory=harness.VirtualClockLoop) as runner:
        runner.run(harness.PLAIN[name]())
    elapsed = time.perf_counter() - t0
    if tracing:
        tracemalloc.stop()
    return elapsed


class _SlackSelector(selectors.DefaultSelector):
    """Records how much later than its rounded timeout select returns."""

    def __init__(self):
        super().__init__()
        self.slack = []

    def select(self, timeout=None):
        if timeout is None or timeout <= 0:
            return super().select(timeout)
        rounded = math.ceil(timeout * 1e3) * 1e-3
        t0 = time.monotonic()
        events = super().select(timeout)
        self.slack.append(time.monotonic() - t0 - rounded)
        return events


def bench_wake_slack(samples, seed=1):
    """Real sleeps of 0.5-5 ms: mean extra wait beyond the rounded timeout."""
    selector = _SlackSelector()
    rng = random.Random(seed)

    async def main():
        for _ in range(samples):
            await asyncio.sleep(rng.uniform(0.0005, 0.005))

    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as r:
        r.run(main())
    return statistics.median(selector.slack), statistics.mean(selector.slack)


def measure(k, tracing):
    """One pass of every benchmark; per-operation costs in seconds."""
    if tracing:
        tracemalloc.start()
    try:
        gc.collect()
        a, iters_a = bench_sleep0(k)
        b = bench_sleep0_wide(k)
        c = bench_handles(k)
        create, run = bench_create_and_run(k, extra_callback=False)
        create_cb, run_cb = bench_create_and_run(k, extra_callback=True)
        timers, iters_t = bench_timers(k)
        sem = bench_semaphore(k)
        blocked = bench_blocked(k, _plain_waiter)
        blocked_with = bench_blocked(k, _async_with_waiter)
        wait_per = bench_wait(max(1, k // 100))
    finally:
        if tracing:
            tracemalloc.stop()
    # a = iteration + handle + step; b = handle + step + iteration / 100.
    iteration = max(0.0, (a - b) * 100 / 99)
    handle = c
    step = max(0.0, a - iteration - handle)
    # run: per task 2 handles + step + finish + callback (+ ~3 iterations in
    # all, negligible); run_cb adds one handle + callback per task.
    callback = max(0.0, run_cb - run - handle)
    finish = max(0.0, run - 2 * handle - step - callback)
    # timers: per task 4 handles, 2 steps, finish, callback, timer, and
    # iters_t / k iterations.
    timer = max(
        0.0,
        timers - 4 * handle - 2 * step - finish - callback - iters_t / k * iteration,
    )
    wait = max(0.0, blocked - handle - step - sem)
    context = max(0.0, blocked_with - blocked)
    return {
        "wait_future": wait_per,
        "wait": wait,
        "context": context,
        "iteration": iteration,
        "handle": handle,
        "step": step,
        "create": create,
        "timer": timer,
        "finish": finish,
        "callback": callback,
        "semaphore": sem,
    }, {
        "sleep0": a,
        "sleep0_wide": b,
        "handles": c,
        "create": create,
        "run": run,
        "create_with_callback": create_cb,
        "run_with_callback": run_cb,
        "timers": timers,
        "semaphore": sem,
        "blocked_acquire": blocked,
        "blocked_async_with": blocked_with,
        "wait_per_future": wait_per,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracemalloc", action="store_true",
                        help="measure with tracemalloc tracing on")
    parser.add_argument("--repeat", type=int, default=5,
                        help="passes per benchmark; the median is kept (default 5)")
    parser.add_argument("-n", type=int, default=20_000,
                        help="operations per benchmark (default 20000)")
    parser.add_argument("--slack-samples", type=int, default=300,
                        help="real sleeps for wake_slack (default 300)")
    parser.add_argument("--strategies-trace", metavar="FILE",
                        help="also time the four strategies on this trace (virtual "
                             "clock, concurrency 500), median of --repeat passes")
    args = parser.parse_args(argv)
    passes = [measure(args.n, args.tracemalloc) for _ in range(args.repeat)]
    costs = {key: statistics.median(p[0][key] for p in passes) for key in passes[0][0]}
    bench = {key: statistics.median(p[1][key] for p in passes) for key in passes[0][1]}
    slack_median, slack_mean = bench_wake_slack(args.slack_samples)
    costs["wake_slack"] = max(0.0, slack_mean)
    bench["wake_slack_median"] = slack_median
    strategies = {}
    if args.strategies_trace:
        runs = [strategy_cpu(args.strategies_trace, 500, args.tracemalloc)
                for _ in range(args.repeat)]
        strategies = {k: round(statistics.median(r[k] for r in runs), 6) for k in runs[0]}
    out = {
        "strategies_cpu_s": strategies,
        "python_full": platform.python_version(),
        "implementation": platform.python_implementation(),
        "tracemalloc": args.tracemalloc,
        "machine": platform.platform(),
        "date": datetime.date.today().isoformat(),
        "processor": platform.machine(),
        "n": args.n,
        "repeat": args.repeat,
        "costs_ns": {k: round(v * 1e9, 1) for k, v in costs.items()},
        "benchmarks_ns": {k: round(v * 1e9, 1) for k, v in bench.items()},
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
