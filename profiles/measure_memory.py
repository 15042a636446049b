#!/usr/bin/env python3
"""Measure bpsim's memory profile: bytes per simulated object, as tracemalloc counts them.

Usage::

    python3.X profiles/measure_memory.py -o profiles/cpython-3.X.toml [-v]

Writes the profile that ``src/memory/profile.rs`` parses (``python``,
``[measured]``, ``[memory]`` with 19 integer keys). ``-v`` prints, for every
kind, the allocations tracemalloc saw during the measurement, grouped by
(file, line, size), so the attribution can be checked by eye. Standard
library only; CPython 3.11, 3.12 and 3.13 (C-accelerated ``_asyncio``).

Method (see profiles/README.md): differential measurement. For each kind, the
same operation is first done ``W`` times and the results are kept alive
(this drains the free lists: tuples, floats, contexts, FutureIter, ...), then
the traced total is read, the operation is done ``K`` more times with the
results kept in a preallocated holder, and the total is read again.
Container storage that the simulator models separately is subtracted:
list and set buffers by ``sys.getsizeof`` deltas of the containers involved
(the ready queue, the timer heap, ``_scheduled_tasks.data``, ``tg._tasks``)
and deque blocks as the 528-byte traces that appeared or disappeared.
"""

import argparse
import asyncio
import collections
import contextvars
import datetime
import gc
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tracemalloc
import types
from asyncio import futures

import _asyncio

K = 10_000          # objects measured per kind
W = 3_000           # objects created (and kept) first, to drain free lists
DEQUE_BLOCK = 528   # sizeof(block) in Modules/_collectionsmodule.c: 66 pointers
SET_OBJECT_BYTES = 216  # a set object with its inline table and GC header (3.11-3.13)
N_BLOG = 100_000    # tasks per blog run: 3.11 task names are "Task-2".."Task-100001"
URL = "https://example.com"
# Long delays: nothing may fire while a measurement is in progress. The value
# does not matter (floats are all 24 bytes); the blog uses uniform(0.1, 0.2).
LOW, HIGH = 1000.0, 2000.0

# asyncio's WeakSet of scheduled tasks (3.11: _all_tasks, 3.12+: _scheduled_tasks).
SCHEDULED = (_asyncio._scheduled_tasks if hasattr(_asyncio, "_scheduled_tasks")
             else _asyncio._all_tasks)

VERBOSE = False

if asyncio.Task is not _asyncio.Task or asyncio.Future is not _asyncio.Future:
    sys.exit("measure_memory.py: asyncio is not using the C Task/Future (_asyncio)")


import importlib.util as _ilu
_spec = _ilu.spec_from_file_location(
    "harness", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance", "harness.py"))
harness = _ilu.module_from_spec(_spec)
_spec.loader.exec_module(harness)

# ---------------------------------------------------------------------------
# The blog's coroutines (Jamie-Chang/concurreny-bench, backpressure/*.py),
# same bodies, so that their frames have the same size.
# ---------------------------------------------------------------------------

async def process_url(url: str) -> None:
    """batching.py and semaphore2.py."""
    await asyncio.sleep(random.uniform(LOW, HIGH))


async def process_url_zero(url: str) -> None:
    """process_url with a latency of 0: `asyncio.sleep(0)` yields once."""
    await asyncio.sleep(0)


async def process_url_sem(url: str, semaphore: asyncio.Semaphore) -> None:
    """semaphore1.py."""
    async with semaphore:
        await asyncio.sleep(random.uniform(LOW, HIGH))


async def process_url_release(url: str, semaphore: asyncio.Semaphore) -> None:
    """semaphore3.py."""
    try:
        await asyncio.sleep(random.uniform(LOW, HIGH))
    finally:
        semaphore.release()


async def empty_main():
    pass


# ---------------------------------------------------------------------------
# Measurement window
# ---------------------------------------------------------------------------

def _key(trace):
    frame = trace.traceback[0]
    return (os.path.basename(frame.filename), frame.lineno, trace.size)


class Window:
    """Traced bytes allocated between start() and stop().

    ``raw`` is the change of tracemalloc's current total; ``net`` is ``raw``
    minus the growth of the given lists/sets (``sys.getsizeof`` deltas) and
    minus deque blocks (528-byte traces) that appeared or disappeared.
    """

    def __init__(self, label):
        self.label = label

    def start(self, *containers):
        self.containers = containers
        gc.collect()
        gc.disable()
        self.sizes0 = [sys.getsizeof(c) for c in containers]
        self.snap0 = tracemalloc.take_snapshot()
        self.cur0 = tracemalloc.get_traced_memory()[0]

    def stop(self, count):
        cur1 = tracemalloc.get_traced_memory()[0]
        sizes1 = [sys.getsizeof(c) for c in self.containers]
        snap1 = tracemalloc.take_snapshot()
        gc.enable()
        c0 = collections.Counter(map(_key, self.snap0.traces))
        c1 = collections.Counter(map(_key, snap1.traces))
        self.snap0 = None
        diff = {k: c1[k] - c0[k] for k in set(c0) | set(c1) if c1[k] != c0[k]}
        # Deque blocks; the snapshots' own Python objects (tracemalloc.py) are
        # not blocks.
        blocks = sum(d * k[2] for k, d in diff.items()
                     if k[2] == DEQUE_BLOCK and k[0] != "tracemalloc.py")
        grown = sum(b - a for a, b in zip(self.sizes0, sizes1))
        self.count = count
        self.raw = cur1 - self.cur0
        self.blocks = blocks
        self.grown = grown
        self.net = self.raw - blocks - grown
        self.per = self.net / count
        if VERBOSE:
            print(f"  {self.label}: raw {self.raw / count:.2f} B/obj, "
                  f"deque blocks {blocks / count:+.2f}, list/set growth "
                  f"{grown / count:+.2f} -> {self.per:.2f} B/obj")
            for (fn, line, size), d in sorted(diff.items()):
                if abs(d) * 20 >= count and fn != "tracemalloc.py":
                    print(f"      {fn}:{line:<5} size {size:>6} x {d / count:+.3f}"
                          f" = {d * size / count:+9.2f} B/obj")
        return self.per


def per_object(label, make, containers=(), k=K, w=W):
    """Bytes per object for ``make(i)`` (results kept alive), minus containers."""
    warm = [make(i) for i in range(w)]
    holder = [None] * k
    win = Window(label)
    win.start(*containers)
    for i in range(k):
        holder[i] = make(w + i)
    per = win.stop(k)
    return per, holder, warm


async def settle(loop, n=3):
    for _ in range(n):
        await asyncio.sleep(0)


def close_all(*coro_lists):
    for lst in coro_lists:
        for c in lst:
            c.close()


async def cancel_all(loop, *task_lists):
    for lst in task_lists:
        for t in lst:
            t.cancel()
    await settle(loop)


# ---------------------------------------------------------------------------
# The kinds
# ---------------------------------------------------------------------------

async def measure_all():
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    r = {}     # profile values (floats, rounded at the end)
    info = {}  # everything else worth reporting

    def cb(arg=None):
        pass

    # --- coroutine objects of the request coroutines ------------------------
    # Measured on the functions of conformance/harness.py, the reference
    # programs bpsim is checked against (the blog's own bodies, which also
    # call random.uniform, are 24 bytes larger; reported for comparison).
    sem = asyncio.Semaphore(500)
    for name, make in (
        ("harness process(latency)", lambda i: harness.process(0.1)),
        ("harness process_sem(latency, sem)", lambda i: harness.process_sem(0.1, sem)),
        ("harness process_release(latency, sem)",
         lambda i: harness.process_release(0.1, sem)),
        ("blog process_url(url)", lambda i: process_url(URL)),
        ("blog process_url(url, sem)", lambda i: process_url_sem(URL, sem)),
        ("blog process_url_release(url, sem)", lambda i: process_url_release(URL, sem)),
    ):
        per, h, w = per_object(f"coroutine {name}", make)
        # One block each (the `task_object` comparison relies on it).
        info[f"coroutine {name}: sys.getsizeof"] = sys.getsizeof(h[0])
        close_all(h, w)
        info[f"coroutine {name}"] = per
    r["coroutine"] = info["coroutine harness process(latency)"]
    r["coroutine_async_with"] = info["coroutine harness process_sem(latency, sem)"]
    r["coroutine_try_finally"] = info["coroutine harness process_release(latency, sem)"]

    # adaptive_limit's process_adaptive(latency) is nested in its main: build
    # it from its code object with the two cells it closes over (`loop`,
    # `done`), so that its coroutines have the real frame.
    code = next(c for c in harness.adaptive_limit.__code__.co_consts
                if getattr(c, "co_name", None) == "process_adaptive")
    cells = {"loop": loop, "done": cb}
    process_adaptive = types.FunctionType(
        code, vars(harness), code.co_name, None,
        tuple(types.CellType(cells[v]) for v in code.co_freevars))
    per, h, w = per_object("coroutine harness process_adaptive(latency)",
                           lambda i: process_adaptive(0.1))
    info["coroutine harness process_adaptive(latency): sys.getsizeof"] = sys.getsizeof(h[0])
    close_all(h, w)
    r["coroutine_adaptive"] = per

    # --- handle: loop.call_soon(cb, arg) with the task's context -----------
    # Tasks and futures always pass their context, so no Context copy here.
    per, h, w = per_object("handle call_soon(cb, arg, context=ctx)",
                           lambda i: loop.call_soon(cb, URL, context=ctx))
    for x in h + w:
        x.cancel()
    await settle(loop)
    r["handle"] = per
    per, h, w = per_object("Handle alone: call_soon(cb, context=ctx)",
                           lambda i: loop.call_soon(cb, context=ctx))
    for x in h + w:
        x.cancel()
    await settle(loop)
    info["Handle object alone"] = per
    per, h, w = per_object("call_soon(cb, arg) without context",
                           lambda i: loop.call_soon(cb, URL))
    for x in h + w:
        x.cancel()
    await settle(loop)
    info["call_soon(cb, arg) without context= (adds a Context copy)"] = per

    # --- future -------------------------------------------------------------
    per, h, w = per_object("future", lambda i: loop.create_future())
    r["future"] = per
    del h, w

    # --- timer handle -------------------------------------------------------
    futs = [loop.create_future() for _ in range(K + W)]
    delay = random.uniform(LOW, HIGH)
    per, h, w = per_object(
        "timer_handle call_later(d, _set_result_unless_cancelled, fut, None)",
        lambda i: loop.call_later(delay, futures._set_result_unless_cancelled,
                                  futs[i], None),
        containers=(loop._scheduled,))
    for x in h + w:
        x.cancel()
    del h, w, futs
    r["timer_handle"] = per

    # --- task ---------------------------------------------------------------
    # Task.__init__ allocates the Task, a Context copy, the name (3.11: the
    # str "Task-<n>"; 3.12+: the int n, formatted lazily), a WeakSet weakref
    # and, through call_soon, the first-step Handle with its
    # TaskStepMethWrapper callback (args is the empty tuple). The Handle and
    # the wrapper live exactly as long as the step is pending, so they are
    # charged to `handle`; the check below shows Handle + wrapper == Handle +
    # 1-tuple.
    coros = [process_url(URL) for _ in range(K + W)]
    per, h, w = per_object("task create_task (incl. first-step Handle)",
                           lambda i: loop.create_task(coros[i]),
                           containers=(SCHEDULED.data,))
    # The Task object alone (one block): with the coroutine sizes, it tells
    # whether pymalloc hands a freed Task's block to the next coroutine
    # (src/memory/blocks.rs).
    r["task_object"] = sys.getsizeof(h[0])
    wrapper = loop._ready[-1]._callback
    step_wrapper = sys.getsizeof(wrapper)
    info["TaskStepMethWrapper (sys.getsizeof)"] = step_wrapper
    step_handle = info["Handle object alone"] + step_wrapper
    info["first-step handle (Handle + TaskStepMethWrapper)"] = step_handle
    task_auto = per - step_handle
    await cancel_all(loop, h, w)
    del h, w, coros, wrapper

    coros = [process_url(URL) for _ in range(K + W)]
    named = "fixed-name"
    per, h, w = per_object("task create_task(name=<shared str>)",
                           lambda i: loop.create_task(coros[i], name=named),
                           containers=(SCHEDULED.data,))
    task_unnamed = per - step_handle
    await cancel_all(loop, h, w)
    del h, w, coros
    info["task without its name"] = task_unnamed
    info["task name as measured (counter in this process)"] = task_auto - task_unnamed
    # The name the blog's tasks get: Task-2 .. Task-(N_BLOG+1) (main is Task-1).
    if sys.version_info < (3, 12):
        # Eager str "Task-<n>": 54 + digits bytes on 3.11 (PyASCIIObject = 48).
        sizes = [sys.getsizeof(f"Task-{n}") for n in range(2, N_BLOG + 2)]
    else:
        # The counter as an int object, formatted only if get_name() is called;
        # 0..256 are cached small ints.
        sizes = [0 if n <= 256 else sys.getsizeof(n) for n in range(2, N_BLOG + 2)]
    blog_name = sum(sizes) / len(sizes)
    info[f"task name, mean over a {N_BLOG}-task run"] = blog_name
    # `task` is without the name: bpsim charges each task's name by its
    # number, as `task_names` says (src/memory/task_names.rs).
    r["task"] = task_unnamed

    # --- group_callback: task.add_done_callback(tg._on_task_done) ----------
    tg = asyncio.TaskGroup()
    await tg.__aenter__()
    tasks = [loop.create_task(process_url(URL)) for _ in range(K + W)]
    on_done = tg._on_task_done  # only to check the bound method's size
    info["bound method tg._on_task_done (sys.getsizeof)"] = sys.getsizeof(on_done)
    del on_done
    per, h, w = per_object("group_callback add_done_callback(tg._on_task_done)",
                           lambda i: tasks[i].add_done_callback(tg._on_task_done))
    r["group_callback"] = per

    # --- lambda_callback: lambda _: sem.release() as the SECOND callback ----
    def spawn_lambdas(tasks, semaphore):
        # Same shape as the blog's main(): `semaphore` is a cell variable and
        # a new closure is made for every task.
        warm = tasks[:W]
        for t in warm:
            t.add_done_callback(lambda _: semaphore.release())
        win = Window("lambda_callback (lambda + 2nd add_done_callback)")
        win.start()
        for t in tasks[W:]:
            t.add_done_callback(lambda _: semaphore.release())
        return win.stop(len(tasks) - W)

    r["lambda_callback"] = spawn_lambdas(tasks, sem)

    def lambdas_only(n, semaphore):
        holder = [None] * n
        warm = [lambda _: semaphore.release() for _ in range(W)]
        win = Window("  the lambda closure alone")
        win.start()
        for i in range(n):
            holder[i] = lambda _: semaphore.release()
        return win.stop(n), holder, warm

    info["lambda closure alone"] = lambdas_only(K, sem)[0]
    for t in tasks:
        t.remove_done_callback(tg._on_task_done)
    await cancel_all(loop, tasks)
    tg._tasks.clear()
    del tasks

    # --- composite check: tg.create_task(process_url_sem(url, sem)) ---------
    tg2 = asyncio.TaskGroup()
    await tg2.__aenter__()
    per, h, w = per_object(
        "check: tg.create_task(process_url(url, sem)) end to end",
        lambda i: tg2.create_task(process_url_sem(URL, sem)),
        containers=(SCHEDULED.data, tg2._tasks))
    info["check: tg.create_task(process_url(url, sem))"] = per
    info["  = task(measured name) + coroutine(url, sem) + handle + group_callback"] = (
        task_auto + info["coroutine blog process_url(url, sem)"] + step_handle
        + r["group_callback"])
    for t in h + w:
        t.remove_done_callback(tg2._on_task_done)
    await cancel_all(loop, h, w)
    tg2._tasks.clear()
    del h, w

    # --- sleep_coroutine ----------------------------------------------------
    # K tasks of the blog's process_url run their first step and block in
    # asyncio.sleep. Change = K * (sleep frame + delay float + FutureIter +
    # wakeup callback + future + TimerHandle - first-step Handle), plus the
    # heap list and the ready deque (subtracted).
    warm = [loop.create_task(process_url(URL)) for _ in range(W)]
    await settle(loop, 1)
    coros = [process_url(URL) for _ in range(K)]
    tasks = [loop.create_task(c) for c in coros]
    del coros
    win = Window("sleep: first step of K tasks of process_url(url)")
    win.start(loop._scheduled)
    await asyncio.sleep(0)
    step = win.stop(K)
    assert all(t._fut_waiter is not None for t in tasks), "tasks did not block"
    r["sleep_coroutine"] = step + step_handle - r["future"] - r["timer_handle"]
    info["sleep: first step of process_url(url)"] = step
    await cancel_all(loop, tasks, warm)
    del tasks, warm

    # --- sleep_zero ---------------------------------------------------------
    # The same with asyncio.sleep(0): the first step leaves the sleep frame
    # and its __sleep0 generator, and a new step Handle in the ready queue
    # where the first one was. Change = K * (sleep frame + generator + Handle
    # - first-step Handle), the ready deque's blocks subtracted.
    warm = [loop.create_task(process_url_zero(URL)) for _ in range(W)]
    await settle(loop, 1)
    await cancel_all(loop, warm, [])
    coros = [process_url_zero(URL) for _ in range(K)]
    tasks = [loop.create_task(c) for c in coros]
    del coros
    win = Window("sleep(0): first step of K tasks of process_url_zero(url)")
    win.start(loop._scheduled)
    await asyncio.sleep(0)
    r["sleep_zero"] = win.stop(K)
    assert not any(t.done() for t in tasks), "tasks finished"
    await cancel_all(loop, tasks, [])
    del tasks, warm

    # --- acquire_coroutine --------------------------------------------------
    # K tasks of semaphore1's process_url block in `async with sem:`.
    # Change = K * (__aenter__ + acquire() frames + FutureIter + wakeup
    # callback + future - first-step Handle), plus deque blocks (subtracted).
    lock = asyncio.Semaphore(0)
    lock._get_loop()
    warm = [loop.create_task(process_url_sem(URL, lock)) for _ in range(W)]
    await settle(loop, 1)
    coros = [process_url_sem(URL, lock) for _ in range(K)]
    tasks = [loop.create_task(c) for c in coros]
    del coros
    win = Window("acquire: first step of K tasks of process_url(url, sem), sem locked")
    win.start()
    await asyncio.sleep(0)
    step = win.stop(K)
    assert len(lock._waiters) == K + W, "tasks did not block"
    r["acquire_coroutine"] = step + step_handle - r["future"]
    info["acquire: first step of process_url(url, sem)"] = step
    await cancel_all(loop, tasks, warm)
    del tasks, warm

    # --- async_with_exit: what `async with sem:` holds while its body runs --
    # K tasks take a free permit in `async with sem:` and wait on a new
    # future in the body; K others wait on a new future alone. Both first
    # steps create the future, its FutureIter and the wakeup callback; the
    # __aenter__ and acquire() coroutines of the first are freed when the
    # permit is taken at once. What is left is what BEFORE_ASYNC_WITH keeps
    # on the frame's stack until the body ends: the bound `sem.__aexit__`.
    async def with_body(s, use_with):
        if use_with:
            async with s:
                await loop.create_future()
        else:
            await loop.create_future()

    body_steps = {}
    for use_with in (True, False):
        free = asyncio.Semaphore(10 * (K + W))
        warm = [loop.create_task(with_body(free, use_with)) for _ in range(W)]
        await settle(loop, 1)
        tasks = [loop.create_task(with_body(free, use_with)) for _ in range(K)]
        win = Window(f"async_with_exit: first step, {'async with sem: await fut' if use_with else 'await fut'}")
        win.start()
        await asyncio.sleep(0)
        body_steps[use_with] = win.stop(K)
        assert all(t._fut_waiter is not None for t in tasks), "tasks did not block"
        await cancel_all(loop, tasks, warm)
        del tasks, warm
    r["async_with_exit"] = body_steps[True] - body_steps[False]

    # --- semaphore3's variant and main()'s bare `await sem.acquire()` -------
    # (no __aenter__): for the report only.
    lock = asyncio.Semaphore(0)
    lock._get_loop()

    async def bare_acquire(s):
        await s.acquire()

    warm = [loop.create_task(bare_acquire(lock)) for _ in range(W)]
    await settle(loop, 1)
    coros = [bare_acquire(lock) for _ in range(K)]
    tasks = [loop.create_task(c) for c in coros]
    del coros
    win = Window("bare `await sem.acquire()` (main of semaphore2/3)")
    win.start()
    await asyncio.sleep(0)
    step = win.stop(K)
    info["bare await sem.acquire(): acquire frame + FutureIter + wakeup cb"] = (
        step + step_handle - r["future"])
    await cancel_all(loop, tasks, warm)
    del tasks, warm

    # --- wait_call: one asyncio.wait(fs) call in progress --------------------
    # K tasks run the same coroutine; in one window each awaits
    # `asyncio.wait({g})`, in the other `g.add_done_callback(cb)` then a new
    # future. Both windows copy a context onto g and create a future the task
    # waits on, from the same code object (same frame size), so the
    # difference is what the call adds beyond them: the wait() and _wait()
    # coroutines, `fs = set(fs)` (a set object; one key fits its inline
    # table), the `_on_completion` closure and its cells. The set object is
    # charged on its own (216 bytes, src/memory/container.rs), so
    # wait_call = difference - 216.
    async def waits(g, use_wait):
        if use_wait:
            await asyncio.wait({g})
        else:
            g.add_done_callback(cb)
            await loop.create_future()

    def wait_step(use_wait, label):
        gs = [loop.create_future() for _ in range(K + W)]
        warm = [loop.create_task(waits(g, use_wait)) for g in gs[:W]]
        return gs, warm, label

    steps = {}
    for use_wait in (True, False):
        gs, warm, label = wait_step(use_wait, f"wait_call: first step, {'asyncio.wait({g})' if use_wait else 'g.add_done_callback(cb); await new future'}")
        await settle(loop, 1)
        tasks = [loop.create_task(waits(g, use_wait)) for g in gs[W:]]
        win = Window(label)
        win.start()
        await asyncio.sleep(0)
        steps[use_wait] = win.stop(K)
        assert all(t._fut_waiter is not None for t in tasks), "tasks did not block"
        await cancel_all(loop, tasks, warm)
        del tasks, warm, gs
    info["wait_call: asyncio.wait({g}) step less the plain step"] = steps[True] - steps[False]
    r["wait_call"] = steps[True] - steps[False] - SET_OBJECT_BYTES

    # --- task_group: TaskGroup() after __aenter__ ---------------------------
    k = 2000
    warm = []
    for _ in range(500):
        g = asyncio.TaskGroup()
        await g.__aenter__()
        warm.append(g)
    holder = [None] * k
    win = Window("task_group TaskGroup() + __aenter__")
    win.start()
    for i in range(k):
        g = asyncio.TaskGroup()
        await g.__aenter__()
        holder[i] = g
    del g
    r["task_group"] = win.stop(k)
    del holder, warm

    # --- semaphore: Semaphore(500), with its _loop bound ---------------------
    def new_sem(i):
        s = asyncio.Semaphore(500)
        s._get_loop()  # done by the first blocking acquire()
        return s

    per, h, w = per_object("semaphore Semaphore(500) + _get_loop()", new_sem, k=2000,
                           w=500)
    r["semaphore"] = per
    per, h, w = per_object("  Semaphore(500) only", lambda i: asyncio.Semaphore(500),
                           k=2000, w=500)
    info["Semaphore(500) before its first blocking acquire"] = per

    # --- deque: collections.deque() ------------------------------------------
    # Window.net already drops the 528-byte block, so `per` is the object.
    per, h, w = per_object("deque collections.deque()", lambda i: collections.deque(),
                           k=2000, w=500)
    info["empty deque object (without its block)"] = per
    info["deque block"] = DEQUE_BLOCK
    # The simulator's PyDeque never charges the block a deque is born with
    # (it starts "one block, half full"), so `deque` carries it.
    r["deque"] = per + DEQUE_BLOCK
    return r, info


# ---------------------------------------------------------------------------
# Baseline: a fresh interpreter running an empty main under tracemalloc
# ---------------------------------------------------------------------------

BASELINE_CODE = r"""
import asyncio, json, signal, sys, tracemalloc
# As conformance/harness.py does: asyncio.Runner's SIGINT handler (144 B)
# is traced however this process was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
mode = sys.argv[1]
seen = {}
async def main():
    if mode == "blog":
        # The blog's programs call tracemalloc.start() inside main().
        tracemalloc.start()
    seen["current"], seen["peak"] = tracemalloc.get_traced_memory()
if mode == "run":
    tracemalloc.start()
    asyncio.run(main())
elif mode == "factory":
    # As conformance/harness.py does: no event loop policy is created and no
    # loop is set for the thread.
    tracemalloc.start()
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(main())
else:
    asyncio.run(main())
seen["final_current"], seen["final_peak"] = tracemalloc.get_traced_memory()
print(json.dumps(seen))
"""


def measure_baseline(mode):
    """An empty main in a fresh interpreter (asyncio imported before tracing)."""
    out = subprocess.run([sys.executable, "-c", BASELINE_CODE, mode], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


FIRST_ITERATION_CODE = r"""
import json, sys, tracemalloc, importlib.util as u
spec = u.spec_from_file_location('harness', sys.argv[1])
h = u.module_from_spec(spec); spec.loader.exec_module(h)
seen = {}
run_once = h.VirtualClockLoop._run_once
def counting_run_once(self):
    run_once(self)
    if self.iterations == 1:
        seen["current"] = tracemalloc.get_traced_memory()[0]
h.VirtualClockLoop._run_once = counting_run_once
h.run_plain(sys.argv[2], [1000.0], 1, False, True)
print(json.dumps(seen))
"""


def measure_harness_first_iteration(strategy):
    """Traced bytes of the reference harness running `strategy` with one
    request at limit 1, at the end of the loop's first iteration (main has
    created the request's task and waits for its TaskGroup), in a fresh
    interpreter."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "conformance", "harness.py")
    out = subprocess.run([sys.executable, "-c", FIRST_ITERATION_CODE, path, strategy],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["current"]


def measure_harness_empty():
    """Traced peak of the reference harness running gated_spawn with no
    requests, in a fresh interpreter: tracing starts before the loop is
    created, as in conformance/harness.py --tracemalloc."""
    code = (
        "import json, sys, importlib.util as u\n"
        "spec = u.spec_from_file_location('harness', sys.argv[1])\n"
        "h = u.module_from_spec(spec); spec.loader.exec_module(h)\n"
        "r = h.run_plain('gated_spawn', [], 1, False, True)\n"
        "print(json.dumps(r))\n")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "conformance", "harness.py")
    out = subprocess.run([sys.executable, "-c", code, path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["peak_memory_bytes"]


# ---------------------------------------------------------------------------

KEYS = ("baseline", "task", "task_object", "coroutine", "coroutine_async_with",
        "coroutine_try_finally", "handle", "timer_handle", "future",
        "sleep_coroutine", "sleep_zero", "acquire_coroutine", "group_callback",
        "lambda_callback", "task_group", "semaphore", "deque", "wait_call",
        "coroutine_adaptive", "adaptive_main", "async_with_exit")


def task_names():
    """How this CPython names a task created without a name: "str" (3.11,
    "Task-<n>" formatted at once) or "int" (3.12+, the counter kept as an int
    and formatted only by get_name())."""
    return "str" if sys.version_info < (3, 12) else "int"


def batched():
    """How `batching`'s batches are made: "limit" (3.12+, itertools.batched
    makes a tuple for the limit's items and cuts it to the batch's) or
    "exact" (3.11, the conformance harness's stand-in: a tuple of exactly
    the batch's items)."""
    return "limit" if hasattr(itertools, "batched") else "exact"


def main_name_bytes():
    """The traced bytes of main's name (task 1): the str "Task-1" on 3.11; on
    3.12+ the int 1, a cached small int (nothing allocated)."""
    return sys.getsizeof("Task-1") if task_names() == "str" else 0


def render(values, command):
    major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    full = platform.python_version()
    lines = [
        f"# Memory profile of CPython {full}: bytes per simulated object, as tracemalloc counts them.",
        f"# Measured by: {command}",
        "# Method and meaning of each key: profiles/README.md.",
        f'python = "{major_minor}"',
        "",
        "[measured]",
        f'python_full = "{full}"',
        f'command = "{command}"',
        f'machine = "{platform.platform()}"',
        f'date = "{datetime.date.today().isoformat()}"',
        "",
        "[memory]",
    ]
    for k in KEYS:
        lines.append(f"{k} = {values[k]}")
        if k == "task":
            lines.append(f'task_names = "{task_names()}"')
            lines.append(f'batched = "{batched()}"')
    return "\n".join(lines) + "\n"


def main(argv=None):
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="write the profile here (default: stdout)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every measurement with its allocations by line and size")
    parser.add_argument("--json", help="also write all raw numbers here as JSON")
    args = parser.parse_args(argv)
    VERBOSE = args.verbose

    base = measure_baseline("run")
    factory = measure_baseline("factory")
    blog = measure_baseline("blog")
    tracemalloc.start(1)
    values, info = asyncio.run(measure_all())
    tracemalloc.stop()
    # The baseline is what the reference harness holds besides the objects
    # the simulator charges itself: its traced peak for a strategy with no
    # requests (loop, Runner, main's Task and coroutine, a Semaphore, a
    # TaskGroup) minus main's Task and coroutine, the Semaphore and the
    # TaskGroup. (asyncio.run's own loop holds a little more; see the info.)
    empty = measure_harness_empty()
    info["harness, gated_spawn with no requests: traced peak"] = empty
    values["baseline"] = (empty - values["task"] - main_name_bytes()
                          - values["coroutine"] - values["semaphore"]
                          - values["task_group"])
    # adaptive_main: what adaptive_limit's main holds beyond gated_spawn's,
    # both at the end of their first iteration with one request: its larger
    # frame and ten cells, the `done` and `process_adaptive` closures, and
    # its floats; gated_spawn holds a Semaphore there and adaptive_limit a
    # process_adaptive coroutine instead of a process_release one.
    gated = measure_harness_first_iteration("gated_spawn")
    adaptive = measure_harness_first_iteration("adaptive_limit")
    info["harness, first iteration with one request: gated_spawn"] = gated
    info["harness, first iteration with one request: adaptive_limit"] = adaptive
    values["adaptive_main"] = (adaptive - gated + values["semaphore"]
                               - values["coroutine_adaptive"]
                               + values["coroutine_try_finally"])
    info["empty main, asyncio.run: current at main's first statement"] = base["current"]
    info["empty main, asyncio.run: peak at main's first statement"] = base["peak"]
    info["empty main, asyncio.run: peak of the whole run"] = base["final_peak"]
    info["empty main, asyncio.run: current after the run"] = base["final_current"]
    info["empty main, Runner(loop_factory=SelectorEventLoop): current at main's first statement"] = (
        factory["current"])
    info["empty main, Runner(loop_factory=SelectorEventLoop): peak of the whole run"] = (
        factory["final_peak"])
    info["blog style (tracemalloc.start() inside main): current at start"] = blog["current"]

    ints = {k: int(round(values[k])) for k in KEYS}
    mm = f"{sys.version_info.major}.{sys.version_info.minor}"
    command = f"python{mm} profiles/measure_memory.py -o profiles/cpython-{mm}.toml"
    text = render(ints, command)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print(f"# CPython {platform.python_version()}", file=sys.stderr)
    for k in KEYS:
        print(f"#   {k:18} {values[k]:10.2f}", file=sys.stderr)
    for k, v in info.items():
        print(f"#   [{k}] {v:.2f}" if isinstance(v, float) else f"#   [{k}] {v}",
              file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": platform.python_version(), "values": values,
                       "info": info}, f, indent=2)


if __name__ == "__main__":
    main()
