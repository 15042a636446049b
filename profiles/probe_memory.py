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
        adaptive_limit at C=1: a tracemalloc snapshot at its 500th task,
        largest lines first (the known gap in tests/memory.rs).
    python3.X profiles/probe_memory.py timeline STRATEGY C TRACE [BPSIM] [FROM TO]
        per loop iteration: traced memory at its end, the peak inside it,
        and the bytes CPython's free lists hold (freed tuples, floats,
        dicts and lists stay traced there); with BPSIM, the output of
        `cargo run --release --example mem_timeline -- STRATEGY TRACE C
        3.X` beside it (bpsim's memory at each iteration's end). Prints
        iterations FROM to TO, by default the ten around CPython's peak.
        Parameters as the memory test sets them (`plan` in
        tests/common/harness.rs).

`wait` and `adaptive` run conformance/harness.py's own programs, as the
memory test does (virtual clock, tracemalloc).

The `wait` figures include the probe's own records (a tuple and an int per
mark, about 88 bytes), so read them as differences between phases.
"""

import asyncio
import collections
import random
import re
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


def load_harness():
    """conformance/harness.py as a module: the programs the memory test
    measures, run as it runs them (virtual clock, tracemalloc)."""
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "conformance", "harness.py")
    spec = importlib.util.spec_from_file_location("harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait(c, n):
    harness = load_harness()
    tasks._wait = _wait
    original = asyncio.wait

    async def marked_wait(fs, **kwargs):
        mark("before wait()")
        result = await original(fs, **kwargs)
        mark("after wait()")
        return result

    asyncio.wait = marked_wait
    random.seed(1)
    lat = [0.1 + 0.1 * random.random() for _ in range(n)]
    harness.run_plain("sliding_window", lat, c, False, True)
    middle = len(MARKS) // 2
    start = next(i for i in range(middle, len(MARKS))
                 if MARKS[i][0] == "before wait()")
    base = MARKS[start][1]
    print(f"{sys.version.split()[0]}: one asyncio.wait call, C={c}, N={n}")
    for tag, m in MARKS[start:start + 8]:
        print(f"  {tag:24} {m - base:+8d}")


def adaptive():
    harness = load_harness()
    harness.PARAMS.target_latency = 0.15
    harness.PARAMS.decrease = 0.75
    random.seed(3)
    lat = [0.1 + 0.1 * random.random() for _ in range(1000)]
    snap = {}
    create_task = asyncio.TaskGroup.create_task

    def counting_create_task(self, coro, **kwargs):
        snap["n"] = snap.get("n", 0) + 1
        if snap["n"] == 500:
            snap["s"] = tracemalloc.take_snapshot()
        return create_task(self, coro, **kwargs)

    asyncio.TaskGroup.create_task = counting_create_task
    harness.run_plain("adaptive_limit", lat, 1, False, True)
    print(f"{sys.version.split()[0]}: adaptive_limit, C=1, at the 500th task")
    for stat in snap["s"].statistics("lineno")[:20]:
        print(" ", stat)


def read_bpsim(path):
    """examples/mem_timeline.rs's output: {iteration: (time, bytes)}, and
    the run's peak."""
    rows, top = {}, None
    for line in open(path):
        fields = line.split()
        if len(fields) == 3:
            rows[int(fields[0])] = (float(fields[1]), int(fields[2]))
        elif fields[:1] == ["peak"]:
            top = int(fields[1])
    return rows, top


def free_list_bytes(stats):
    """Traced bytes on the free lists in one `sys._debugmallocstats()`
    report: a tuple, dict or list is its object plus the 16-byte GC
    header, a float or dict-keys object its object alone."""
    total = 0
    for line in stats.splitlines():
        m = re.match(r"\s*(\d+) free (?:\d+-sized )?(\w+) \* (\d+) bytes", line)
        if m and int(m.group(1)):
            n, kind, size = int(m.group(1)), m.group(2), int(m.group(3))
            gc_header = 16 if kind in ("PyTupleObjects", "PyDictObjects", "PyListObjects") else 0
            total += n * (size + gc_header)
    return total


def set_test_params(harness, c, lat):
    """The memory test's parameters (`plan` in tests/common/harness.rs),
    the mean summed in order as there."""
    mean = 0.0
    for x in lat:
        mean += x
    mean /= len(lat)
    harness.PARAMS.max_per_second = 0.8 * c / mean if mean > 0 else 1000.0
    harness.PARAMS.target_latency = 1.2 * mean
    harness.PARAMS.decrease = 0.75


def record_iterations(strategy, c, lat, window):
    """Run `strategy` as the memory test does, recording each iteration's
    traced memory at its end and its peak inside, and the free lists'
    bytes for the iterations in `window`: (end, peak, iterations, free)."""
    import array
    import os
    import tempfile
    harness = load_harness()
    set_test_params(harness, c, lat)
    # Preallocated, so that recording allocates nothing traced.
    size = 20 * len(lat) + 1000
    end, peak = array.array("q", [0]) * size, array.array("q", [0]) * size
    lo, hi = window
    stats = tempfile.TemporaryFile()
    base = harness.VirtualClockLoop._run_once

    def run_once(self):
        # A plain function, not a subclass: `super()` would allocate.
        tracemalloc.reset_peak()
        base(self)
        i = self.iterations
        if i < size:
            end[i], peak[i] = tracemalloc.get_traced_memory()
        if lo <= i <= hi:
            os.write(stats.fileno(), b"=====%d\n" % i)
            saved = os.dup(2)
            os.dup2(stats.fileno(), 2)
            sys._debugmallocstats()
            os.dup2(saved, 2)
            os.close(saved)

    harness.VirtualClockLoop._run_once = run_once
    harness.run_plain(strategy, lat, c, False, True)
    stats.seek(0)
    free = {}
    for block in stats.read().decode().split("=====")[1:]:
        head, _, body = block.partition("\n")
        free[int(head)] = free_list_bytes(body)
    n = max(i for i in range(size) if end[i] or peak[i])
    return end, peak, n, free


def timeline(strategy, c, trace, bpsim=None, window=None):
    lat = [float(line) for line in open(trace) if line.strip()]
    end, peak, n, free = record_iterations(strategy, c, lat, window or (0, -1))
    top = max(range(1, n + 1), key=lambda i: peak[i])
    if window is None:
        # Again, now that the peak's iteration is known, for its free
        # lists: in a fresh interpreter, as asyncio's process-wide state
        # makes a second run in this one cheaper.
        import subprocess
        cmd = [sys.executable, __file__, "timeline", strategy, str(c), trace]
        cmd += [bpsim] if bpsim else []
        cmd += [str(max(1, top - 5)), str(top + 4)]
        sys.exit(subprocess.run(cmd, check=False).returncode)
    ours, ours_peak = read_bpsim(bpsim) if bpsim else ({}, None)
    print(f"{sys.version.split()[0]}: {strategy}, C={c}, {len(lat)} requests: "
          f"peak {peak[top]} B, inside iteration {top} of {n}")
    if ours:
        last = max(ours, key=lambda i: ours[i][1])
        print(f"bpsim: peak {ours_peak} B; highest at an iteration's end "
              f"{ours[last][1]} B, iteration {last} of {len(ours)}")
    head = f"{'iteration':>9} {'end':>8} {'peak in it':>10} {'free lists':>10}"
    if ours:
        head += f" {'bpsim end':>9} {'end-bpsim':>9} {'time (s)':>12}"
    print(head)
    for i in range(window[0], min(window[1], n) + 1):
        row = f"{i:>9} {end[i]:>8} {peak[i]:>10} {free.get(i, ''):>10}"
        if i in ours:
            t, b = ours[i]
            row += f" {b:>9} {end[i] - b:>+9} {t:>12.6f}"
        print(row)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["sizes"]:
        sizes()
    elif args[:1] == ["wait"] and len(args) in (2, 3):
        wait(int(args[1]), int(args[2]) if len(args) == 3 else 3000)
    elif args == ["adaptive"]:
        adaptive()
    elif args[:1] == ["timeline"] and len(args) in (4, 5, 6, 7):
        bpsim = args[4] if len(args) in (5, 7) else None
        window = tuple(map(int, args[-2:])) if len(args) in (6, 7) else None
        timeline(args[1], int(args[2]), args[3], bpsim, window)
    else:
        sys.exit(__doc__)
