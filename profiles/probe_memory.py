"""Probes behind the memory model's smaller constants, for a given CPython.

    python3.X profiles/probe_memory.py sizes
        tracemalloc sizes of an asyncio.Queue, an Event, a deque, set
        objects and set copies (the Queue and set rules in
        src/asyncio/queue.rs and src/memory/container.rs).
    python3.X profiles/probe_memory.py wait C [N]
        sliding_window with an instrumented copy of asyncio.tasks._wait:
        traced memory at each phase of one asyncio.wait call in the steady
        state (the model in src/asyncio/wait.rs). N defaults to 3,000.
    python3.X profiles/probe_memory.py adaptive
        adaptive_limit at C=1: a tracemalloc snapshot after 500 completions,
        largest lines first (the known gap in tests/memory.rs).

The `wait` figures include the probe's own records (a tuple and an int per
mark, about 88 bytes), so read them as differences between phases.
"""

import asyncio
import collections
import random
import sys
import tracemalloc
from asyncio import tasks


def traced(make, count=200):
    """Bytes that one `make()` leaves traced, averaged over `count` kept
    alive (after one made and dropped, so one-time caches are not
    counted)."""
    make()
    kept = [None] * count
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(count):
        kept[i] = make()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return round((after - before) / count, 1)


def sizes():
    print(sys.version.split()[0])
    print("asyncio.Queue(10)", traced(lambda: asyncio.Queue(10)))
    print("asyncio.Event()", traced(lambda: asyncio.Event()))
    print("asyncio.Semaphore(10)", traced(lambda: asyncio.Semaphore(10)))
    print("collections.deque()", traced(lambda: collections.deque()))
    print("set()", traced(lambda: set()))
    for n in (4, 5, 1000):
        s = set(range(1000, 1000 + n))
        print(f"set(s) of {n}", traced(lambda: set(s)))


MARKS = []


def mark(tag):
    MARKS.append((tag, tracemalloc.get_traced_memory()[0]))


async def _wait(fs, timeout, return_when, loop):
    """Lib/asyncio/tasks.py's _wait (no timeout), with marks."""
    mark("enter _wait")
    waiter = loop.create_future()
    counter = len(fs)

    def _on_completion(f):
        nonlocal counter
        counter -= 1
        if counter <= 0 or return_when == tasks.FIRST_COMPLETED:
            if not waiter.done():
                waiter.set_result(None)

    for f in fs:
        f.add_done_callback(_on_completion)
    mark("callbacks added")
    try:
        await waiter
    finally:
        mark("woken")
        for f in fs:
            f.remove_done_callback(_on_completion)
    mark("callbacks removed")
    done, pending = set(), set()
    for f in fs:
        if f.done():
            done.add(f)
        else:
            pending.add(f)
    mark("done and pending built")
    return done, pending


async def sliding_window(lat, c):
    async def process(latency):
        await asyncio.sleep(latency)

    pending = set()
    for latency in lat:
        if len(pending) >= c:
            mark("before wait()")
            _, pending = await asyncio.wait(
                pending, return_when=asyncio.FIRST_COMPLETED)
            mark("after wait()")
        pending.add(asyncio.create_task(process(latency)))
    if pending:
        await asyncio.wait(pending)


def wait(c, n):
    tasks._wait = _wait
    random.seed(1)
    lat = [0.1 + 0.1 * random.random() for _ in range(n)]
    tracemalloc.start()
    asyncio.run(sliding_window(lat, c))
    tracemalloc.stop()
    middle = len(MARKS) // 2
    start = next(i for i in range(middle, len(MARKS))
                 if MARKS[i][0] == "before wait()")
    base = MARKS[start][1]
    print(f"{sys.version.split()[0]}: one asyncio.wait call, C={c}, N={n}")
    for tag, m in MARKS[start:start + 8]:
        print(f"  {tag:24} {m - base:+8d}")


def adaptive():
    random.seed(3)
    lat = [0.1 + 0.1 * random.random() for _ in range(1000)]
    snap = {}

    async def main():
        loop = asyncio.get_running_loop()
        target, lo, hi, inc, dec = 0.15, 1.0, 4.0, 1.0, 0.75
        limit, in_flight, wake, count = 1.0, 0, None, 0

        def done(latency, ok):
            nonlocal limit, in_flight, wake, count
            in_flight -= 1
            count += 1
            if count == 500:
                snap["s"] = tracemalloc.take_snapshot()
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
            for latency in lat:
                while in_flight >= int(limit):
                    wake = loop.create_future()
                    await wake
                in_flight += 1
                tg.create_task(process_adaptive(latency))

    tracemalloc.start()
    asyncio.run(main())
    tracemalloc.stop()
    print(f"{sys.version.split()[0]}: adaptive_limit, C=1, after 500 completions")
    for stat in snap["s"].statistics("lineno")[:20]:
        print(" ", stat)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["sizes"]:
        sizes()
    elif args[:1] == ["wait"] and len(args) in (2, 3):
        wait(int(args[1]), int(args[2]) if len(args) == 3 else 3000)
    elif args == ["adaptive"]:
        adaptive()
    else:
        sys.exit(__doc__)
