"""Measure the sizes of bpsim's ``[server]`` client path, as tracemalloc
counts them, with the conformance harness's own client (``server_call`` in
``conformance/server_trace.py``):

* ``client_coroutine``: the client's coroutine while an attempt waits for
  its response without a timeout: the coroutine object with its frame and
  its ``range`` iterator;
* ``client_await``: what ``await fut`` allocates while the attempt waits
  (the future itself, ``future``, is not included): the ``FutureIter`` and
  the task's ``__wakeup`` bound method (allocated by the C task step, so
  attributed to ``Handle._run``'s line);
* ``timeout``: what ``async with asyncio.timeout(T)`` adds to a waiting
  attempt beyond the TimerHandle (``timer_handle`` of the profile): the
  ``Timeout`` object and its deadline, the ``_on_timeout`` bound method,
  the ``__aexit__`` bound method on the frame's stack.

K tasks each start one attempt and wait, on the harness's virtual clock;
the traced growth per task is attributed by line, leaving out the storage
of the containers bpsim models on its own (the task WeakSet's table, the
timer heap's list).

What a failed attempt (timed out, or answered with ``ServiceError``) leaves
behind, measured on the harness's virtual clock:

* ``client_frame``: the client's frame object. CPython 3.11+ creates it
  the first time an exception's traceback passes through the frame and the
  running frame keeps it until the coroutine returns. Measured as the growth
  per task from "first attempt waiting" to "second attempt waiting" after
  a timeout, and after an error (the two must agree): nothing else is left
  (the failed attempt's future, kept by the ``fut`` local through the
  backoff, is freed when the second attempt replaces it);
* ``timeout_error``, ``service_error``: what the ``except`` clause of a
  timed-out / errored attempt holds that is freed when the clause ends
  (the exceptions, their tracebacks, for a timeout the finished
  ``Timeout.__aexit__`` frame and the ``Timeout`` object): the traced
  memory read inside the clause (``srv.retries`` is read there) less the
  reading right after it (``srv.delay()`` is called there), plus the int
  that stores the first reading (repeated until it settles, see
  ``measure_exception``);
* ``worker_frame``: the frame object that 3.12+ gives the pool worker
  (the harness's ``server_worker``) when a call whose last attempt timed
  out returns to it: the growth attributed to ``server_worker``'s lines,
  per worker, from "waiting for its first request" to "waiting again
  after one that timed out twice" (after an error instead: printed, 0);
* ``timeout_handle``: what a cancelled ``asyncio.timeout`` handle still
  holds in the heap (allocations under ``Timeout.reschedule`` still live
  after the responses came first, the heap kept from compaction by armed
  timers);
* ``tuple20``: what a freed 20-item tuple keeps traced (``batching``'s
  batch at C = 20);
* ``timeout_first``: how much larger than the rest the process's first
  ``Timeout`` objects are, in order (a list: the 1st, the 2nd, ...; then
  0): a new instance of a class takes an attribute array sized by the
  class's shared keys, which give up a slot with each instance made until
  only the attributes' own are left (CPython's ``init_inline_values``,
  3.13's inline values).  The traced memory inside ``async with
  asyncio.timeout(None):`` for the process's k-th Timeout less that for
  its 60th, measured first, in this fresh interpreter;
* ``timeout_exit``: the peak of ``async with``'s exit when the response
  came first (the ``Timeout.__aexit__`` coroutine, which cancels the
  timer), above the traced memory read in the attempt's ``finally``
  clause, just before it;
* ``timeout_raise``: the peak of an expired timeout's exit (its
  ``__aexit__`` coroutine raising ``TimeoutError`` from the
  ``CancelledError``, with their tracebacks) above the traced memory read
  in the ``except`` clause that catches it.  Both with one call at a
  time, from one task (``measure_exits``).

Usage: ``python3.1X profiles/measure_server.py`` (prints the keys for that
interpreter's profile).
"""

import array
import asyncio
import gc
import linecache
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "conformance"))
import harness  # noqa: E402
import server_trace  # noqa: E402

server_trace.install(harness)

K = 2000


class _Link:
    """A station that never answers: every attempt waits."""

    def send(self, loop, work):
        conn = server_trace.Conn()
        conn.fut = None
        return conn


class _Srv:
    retries = 1
    error_rate = 0.0

    def __init__(self, timeout):
        self.timeout = timeout


async def _run(req):
    await server_trace.server_call(req)


def _container_growth(frame):
    """Storage of the containers bpsim models on its own: the task WeakSet's
    table and the timer heap's list (``src/memory/container.rs``)."""
    name = os.path.basename(frame.filename)
    return name == "_weakrefset.py" or (
        name == "base_events.py"
        and "heappush" in linecache.getline(frame.filename, frame.lineno))


def _is_wakeup(frame):
    """An allocation made by the C task step that ``Handle._run`` runs: the
    task's ``__wakeup`` bound method that ``await fut`` adds to the
    future's callbacks."""
    return (os.path.basename(frame.filename) == "events.py"
            and "self._context.run" in linecache.getline(frame.filename,
                                                         frame.lineno))


def _is_await_fut(frame):
    """The client's ``await fut`` line (its ``FutureIter``)."""
    return (os.path.basename(frame.filename) == "server_trace.py"
            and linecache.getline(frame.filename,
                                  frame.lineno).strip() == "await fut")


async def _measure():
    loop = asyncio.get_running_loop()
    req = (0.1, ((1.0, 0.0), (1.0, 0.0)))
    # More than the 255 FutureIter and Context objects the free lists keep,
    # so that the measured ones are new allocations.
    warm = [loop.create_task(_run(req)) for _ in range(300)]
    for _ in range(3):
        await asyncio.sleep(0)
    tasks = [None] * K
    gc.collect()
    before = tracemalloc.take_snapshot()
    for i in range(K):
        tasks[i] = loop.create_task(_run(req))
    for _ in range(3):
        await asyncio.sleep(0)
    after = tracemalloc.take_snapshot()
    total = client = waiting = 0
    for s in after.compare_to(before, "lineno"):
        frame = s.traceback[0]
        if _container_growth(frame):
            continue
        total += s.size_diff
        if _is_wakeup(frame) or _is_await_fut(frame):
            waiting += s.size_diff
        elif (os.path.basename(frame.filename) == "server_trace.py"
                or (frame.filename == __file__ and frame.lineno == _LINE)):
            client += s.size_diff
    for t in warm + tasks:
        t.cancel()
    await asyncio.gather(*warm, *tasks, return_exceptions=True)
    return total / K, client / K, waiting / K


# The line of _measure that creates the client's coroutine (inside _run's
# task: ``await server_trace.server_call(req)``).
_LINE = _run.__code__.co_firstlineno + 1


def measure(timeout):
    server_trace.LINK = _Link()
    server_trace.SRV = _Srv(timeout)
    tracemalloc.start()
    try:
        return _virtual_run(_measure())
    finally:
        tracemalloc.stop()


class _FailLink:
    """Conns built up front (not traced); never answers by itself."""

    def __init__(self, n):
        self.conns = [server_trace.Conn() for _ in range(n)]
        self.sent = 0

    def send(self, loop, work):
        conn = self.conns[self.sent]
        self.sent += 1
        conn.fut = None
        return conn


class _FailSrv:
    """Two attempts that fail (a timeout of 1 s, or an error), 1 s apart."""

    retries = 1

    def __init__(self, error):
        self.timeout = 1000.0 if error else 1.0
        self.error_rate = 1.0 if error else 0.0

    def delay(self, attempt, u):
        return 1.0


def _answer(error):
    """Answer every attempt waiting (error mode only): each fails."""
    if error:
        for conn in server_trace.LINK.conns[:server_trace.LINK.sent]:
            if conn.fut is not None and not conn.fut.done():
                conn.fut.set_result(None)


async def _cycle(tasks, error, between):
    """Attempt 1 waiting (0.5 s after the tasks were created), then attempt
    2 waiting (after a timeout at 1 s or an error at 0.5 s, and 1 s of
    backoff); ``between`` runs at each of the two points. Returns its
    results."""
    await asyncio.sleep(0.5)
    first = between()
    _answer(error)
    await asyncio.sleep(1.6)
    second = between()
    _answer(error)
    await asyncio.gather(*tasks)
    return first, second


def _traced():
    gc.collect()
    return (tracemalloc.get_traced_memory()[0], server_trace.LINK.sent)


async def _measure_frame(error):
    loop = asyncio.get_running_loop()
    req = (0.1, ((0.0, 0.0), (0.0, 0.0)))
    warm = [loop.create_task(_run(req)) for _ in range(20)]
    await _cycle(warm, error, lambda: None)
    tasks = [None] * K
    gc.collect()
    for i in range(K):
        tasks[i] = loop.create_task(_run(req))
    (first, sent1), (second, sent2) = await _cycle(tasks, error, _traced)
    assert sent1 == 40 + K and sent2 == 40 + 2 * K, (sent1, sent2)
    return (second - first) / K


async def _measure_worker_frame(error):
    loop = asyncio.get_running_loop()
    req = (0.1, ((0.0, 0.0), (0.0, 0.0)))
    q = asyncio.Queue()
    warm = [loop.create_task(server_trace.server_worker(q)) for _ in range(20)]
    for _ in warm:
        q.put_nowait(req)
    await _cycle([], error, lambda: None)
    await asyncio.sleep(2)
    for _ in warm:
        q.put_nowait(None)
    await asyncio.gather(*warm)
    tasks = [None] * K
    gc.collect()
    for i in range(K):
        tasks[i] = loop.create_task(server_trace.server_worker(q))
    await asyncio.sleep(0.5)
    gc.collect()
    first = tracemalloc.take_snapshot()
    for _ in range(K):
        q.put_nowait(req)
    await _cycle([], error, lambda: None)
    await asyncio.sleep(2)
    gc.collect()
    second = tracemalloc.take_snapshot()
    assert server_trace.LINK.sent == 40 + 2 * K
    # What was allocated in server_worker's own lines and is still live.
    code = server_trace.server_worker.__code__
    lines = {line for _, _, line in code.co_lines() if line is not None}
    worker = sum(
        s.size_diff for s in second.compare_to(first, "lineno")
        if os.path.basename(s.traceback[0].filename) == "server_trace.py"
        and s.traceback[0].lineno in lines)
    for _ in range(K):
        q.put_nowait(None)
    await asyncio.gather(*tasks)
    return worker / K


def measure_worker_frame(error):
    return _traced_failing_run(_measure_worker_frame, error)


async def _measure_timeout_handle():
    loop = asyncio.get_running_loop()
    req = (0.1, ((1.0, 0.0), (1.0, 0.0)))
    # Timers that stay armed, so that the cancelled ones never make up
    # half the heap (which would make _run_once drop them all).
    sleepers = [loop.create_task(asyncio.sleep(1000)) for _ in range(3 * K)]
    await asyncio.sleep(0)
    gc.collect()
    before = tracemalloc.take_snapshot()
    tasks = [loop.create_task(_run(req)) for _ in range(K)]
    await asyncio.sleep(0.5)
    _answer(True)
    await asyncio.gather(*tasks)
    assert len(loop._scheduled) == 4 * K
    gc.collect()
    after = tracemalloc.take_snapshot()
    # What the handle holds comes from Timeout.reschedule (the handle, its
    # Context) and from asyncio.timeout() itself: the deadline float
    # `loop.time() + delay`, which reschedule passes to call_at, so the
    # cancelled handle keeps it after the Timeout is freed (24 B; left out
    # until 2026-12-07, when a traceback diff of the [server] memory test's
    # errors case found it).
    codes = (asyncio.timeouts.Timeout.reschedule.__code__,
             asyncio.timeouts.timeout.__code__)
    left = sum(
        s.size_diff for s in after.compare_to(before, "traceback")
        if not _container_growth(s.traceback[-1])
        and any(f.filename == code.co_filename
               and code.co_firstlineno <= f.lineno
               < code.co_firstlineno + 40
               for f in s.traceback for code in codes))
    for t in sleepers:
        t.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)
    return left / K


def measure_timeout_handle():
    """What a cancelled ``asyncio.timeout`` handle still holds while it
    waits in the heap (``Handle.cancel`` drops its callback)."""
    server_trace.LINK = _FailLink(K)
    server_trace.SRV = _FailSrv(error=True)
    tracemalloc.start(8)
    try:
        return _virtual_run(_measure_timeout_handle())
    finally:
        tracemalloc.stop()


def measure_tuple20():
    """Traced growth per creation and free of a 20-item tuple (the batch
    ``itertools.batched`` makes at C = 20): 3.11 and 3.12 keep each freed
    one on the tuple free list and never hand it out again."""
    src = list(range(1000, 1020))
    tracemalloc.start()
    try:
        t = tuple(src)
        del t
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            t = tuple(src)
            del t
        return (tracemalloc.get_traced_memory()[0] - before) / 100
    finally:
        tracemalloc.stop()


def _virtual_run(coro):
    with asyncio.Runner(loop_factory=harness.VirtualClockLoop) as runner:
        return runner.run(coro)


def _traced_failing_run(measure, error):
    """Runs `measure(error)` traced, against a service whose every attempt
    fails (an error, or a timeout if `error` is false)."""
    server_trace.LINK = _FailLink(40 + 2 * K)
    server_trace.SRV = _FailSrv(error)
    tracemalloc.start()
    try:
        return _virtual_run(measure(error))
    finally:
        tracemalloc.stop()


def measure_frame(error):
    return _traced_failing_run(_measure_frame, error)


_READINGS = [0] * 5
_N = [0]


def _read():
    _READINGS[_N[0]] = tracemalloc.get_traced_memory()[0]
    _N[0] += 1


class _ReadingSrv(_FailSrv):
    """``retries`` is read at the loop's start and in the ``except``
    clause, ``delay`` called right after it: each takes a reading."""

    @property
    def retries(self):
        _read()
        return 1

    def delay(self, attempt, u):
        _read()
        return 1.0


async def _measure_exception(error):
    loop = asyncio.get_running_loop()
    req = (0.1, ((0.0, 0.0), (0.0, 0.0)))
    task = loop.create_task(server_trace.server_call(req))
    await asyncio.sleep(0.5)
    _answer(error)
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _measure_exception_once(error):
    server_trace.LINK = _FailLink(4)
    server_trace.SRV = _ReadingSrv(error)
    _N[0] = 0
    tracemalloc.start()
    try:
        _virtual_run(_measure_exception(error))
        # The int one reading stores: two readings in a row differ by it.
        _read()
        _read()
    finally:
        tracemalloc.stop()
    _, inside, after, a, b = _READINGS
    return inside - after + (b - a)


def measure_exception(error):
    """The reading once it has settled: in a fresh interpreter a timeout's
    falls by 8 B a run over its first two dozen runs (752 to 544 on 3.11,
    cause not identified), then stays; a harness run is past that after
    its first few dozen timeouts. Five equal readings in a row."""
    last, same = None, 0
    for _ in range(200):
        value = _measure_exception_once(error)
        same = same + 1 if value == last else 0
        last = value
        if same == 4:
            return value
    raise RuntimeError("the exception reading did not settle")


def measure_timeout_first(n=60):
    """The first-instance sizes of ``asyncio.timeouts.Timeout``: for k = 1,
    2, ..., the traced memory inside ``async with asyncio.timeout(None):``
    (a Timeout with the attributes of an armed one, and no timer) around
    the process's k-th Timeout, less that around its n-th, until that is
    0. Must run before anything else in the process makes a Timeout."""
    readings = array.array("q", bytes(8 * n))

    async def timeouts():
        # One reading first: the tuple it returns goes to the free list,
        # where the next readings' come from.
        tracemalloc.get_traced_memory()
        for i in range(n):
            async with asyncio.timeout(None):
                readings[i] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        _virtual_run(timeouts())
    finally:
        tracemalloc.stop()
    extra = [r - readings[-1] for r in readings]
    while extra and extra[-1] == 0:
        extra.pop()
    if any(b > a for a, b in zip(extra, extra[1:])) or extra[-1:] == [0] \
            or len(extra) > n // 2:
        raise RuntimeError(f"first Timeouts not shrinking to a fixed size: "
                           f"{extra}")
    return extra


# Readings of the client's exits: (tag, traced memory, peak since the
# previous reading) each; every reading resets the peak.
_EXIT_READ = array.array("q", bytes(8 * 3 * 8 * 1000))
_EXIT_N = [0]
_START, _FINALLY, _AFTER, _EXCEPT = 1, 2, 3, 4


def _exit_read(tag):
    current, peak = tracemalloc.get_traced_memory()
    i = _EXIT_N[0]
    _EXIT_READ[3 * i:3 * i + 3] = array.array("q", (tag, current, peak))
    del current, peak
    _EXIT_N[0] = i + 1
    tracemalloc.reset_peak()


def _exit_deliver(conn):
    conn.future.set_result(None)


class _ExitConn:
    """``server_trace.Conn`` whose ``fut`` takes a reading when the
    client's ``finally`` clause clears it."""

    __slots__ = ("future", "sent_at", "work", "handle", "event")

    @property
    def fut(self):
        return self.future

    @fut.setter
    def fut(self, value):
        self.future = value
        if value is None:
            _exit_read(_FINALLY)


class _ExitLink:
    """Answers every attempt in the next loop iteration (``answer``), with
    Handles built before tracing, or never."""

    def __init__(self, n, answer):
        self.conns = [_ExitConn() for _ in range(n)]
        self.sent = 0
        self.answer = answer

    def send(self, loop, work):
        conn = self.conns[self.sent]
        self.sent += 1
        if self.answer:
            loop._ready.append(conn.handle)
        return conn


class _ExitSrv:
    """No retries; ``retries`` is read when a call starts and in its
    ``except`` clause, ``error_rate`` right after ``async with``: each
    takes a reading."""

    error_rate_value = 0.0

    def __init__(self, timeout):
        self.timeout = timeout

    @property
    def retries(self):
        _exit_read(_EXCEPT if _EXIT_N[0] and _EXIT_READ[3 * _EXIT_N[0] - 3]
                   == _FINALLY else _START)
        return 0

    @property
    def error_rate(self):
        _exit_read(_AFTER)
        return self.error_rate_value


def _exit_transients(answer, k=300):
    """Per call of ``server_call`` (one at a time, ``k`` in a row from one
    task; each attempt answered in the next iteration, or timed out at
    0.5 s): the peak between the ``finally`` clause and the next reading
    above the ``finally`` clause's reading (``answer``), or above the
    ``except`` clause's (timed out). The most common value after the
    first 20 calls."""
    server_trace.LINK = link = _ExitLink(k, answer)
    server_trace.SRV = _ExitSrv(1000.0 if answer else 0.5)
    req = (0.1, ((0.0, 0.0),))

    async def calls():
        loop = asyncio.get_running_loop()
        for conn in link.conns:
            conn.handle = asyncio.Handle(_exit_deliver, (conn,), loop, None)
        gc.collect()
        _EXIT_N[0] = 0
        tracemalloc.start()
        for _ in range(k):
            await server_trace.server_call(req)
        tracemalloc.stop()

    _virtual_run(calls())
    reads = [tuple(_EXIT_READ[3 * i:3 * i + 3]) for i in range(_EXIT_N[0])]
    want = (_FINALLY, _AFTER) if answer else (_FINALLY, _EXCEPT)
    values = []
    for (tag_a, cur_a, _), (tag_b, cur_b, peak_b) in zip(reads, reads[1:]):
        if (tag_a, tag_b) == want:
            values.append(peak_b - (cur_a if answer else cur_b))
    if len(values) != k:
        raise RuntimeError(f"expected {k} exits, read {len(values)}")
    values = values[20:]
    return max(set(values), key=values.count)


def measure_exits():
    """``timeout_exit`` and ``timeout_raise`` (see the module's
    docstring)."""
    return _exit_transients(answer=True), _exit_transients(answer=False)


def main():
    # First: it needs a process that has made no Timeout yet.
    first = measure_timeout_first()
    total_none, client, waiting = measure(None)
    total_timeout, _, _ = measure(1000.0)
    print(f"# {sys.version.split()[0]}: per waiting attempt {total_none:.1f} B "
          f"without a timeout, {total_timeout:.1f} B with one")
    print(f"client_coroutine = {round(client)}")
    print(f"client_await = {round(waiting)}")
    print(f"# timeout: add timer_handle of the profile to get the difference "
          f"{total_timeout - total_none:.1f}")
    print(f"timeout_and_timer = {round(total_timeout - total_none)}")
    print(f"timeout_handle = {round(measure_timeout_handle())}")
    frame_timeout = measure_frame(error=False)
    frame_error = measure_frame(error=True)
    print(f"# client_frame: {frame_timeout:.1f} B per task after a timeout, "
          f"{frame_error:.1f} after an error")
    print(f"client_frame = {round(frame_timeout)}")
    worker_timeout = measure_worker_frame(error=False)
    worker_error = measure_worker_frame(error=True)
    print(f"# worker_frame: {worker_timeout:.1f} B per worker after a timeout, "
          f"{worker_error:.1f} after an error")
    print(f"worker_frame = {round(worker_timeout)}")
    print(f"tuple20 = {round(measure_tuple20())}")
    print(f"timeout_error = {measure_exception(error=False)}")
    print(f"service_error = {measure_exception(error=True)}")
    print(f"timeout_first = {first}")
    timeout_exit, timeout_raise = measure_exits()
    print(f"timeout_exit = {timeout_exit}")
    print(f"timeout_raise = {timeout_raise}")


if __name__ == "__main__":
    main()
