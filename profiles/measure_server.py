"""Measure the two sizes of bpsim's ``[server]`` client path, as tracemalloc
counts them, with the conformance harness's own client (``server_call`` in
``conformance/server_trace.py``):

* ``client_coroutine``: the client's coroutine while an attempt waits for
  its response without a timeout: the coroutine object with its frame, its
  ``range`` iterator, and what ``await fut`` allocates (the future itself,
  ``future``, is not included);
* ``timeout``: what ``async with asyncio.timeout(T)`` adds to a waiting
  attempt beyond the TimerHandle (``timer_handle`` of the profile): the
  ``Timeout`` object and its deadline, the ``_on_timeout`` bound method,
  the ``__aexit__`` bound method on the frame's stack.

K tasks each start one attempt and wait; the traced growth per task is
attributed by line. Usage: ``python3.1X profiles/measure_server.py``
(prints the two keys for that interpreter's profile).
"""

import asyncio
import gc
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


async def _measure():
    loop = asyncio.get_running_loop()
    req = (0.1, ((1.0, 0.0), (1.0, 0.0)))
    warm = [loop.create_task(_run(req)) for _ in range(20)]
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
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    client = 0
    for s in after.compare_to(before, "lineno"):
        frame = s.traceback[0]
        if (os.path.basename(frame.filename) == "server_trace.py"
                or (frame.filename == __file__ and frame.lineno == _LINE)):
            client += s.size_diff
    for t in warm + tasks:
        t.cancel()
    await asyncio.gather(*warm, *tasks, return_exceptions=True)
    return total / K, client / K


# The line of _measure that creates the client's coroutine (inside _run's
# task: ``await server_trace.server_call(req)``).
_LINE = _run.__code__.co_firstlineno + 1


def measure(timeout):
    server_trace.LINK = _Link()
    server_trace.SRV = _Srv(timeout)
    tracemalloc.start()
    try:
        return asyncio.run(_measure())
    finally:
        tracemalloc.stop()


def main():
    total_none, client = measure(None)
    total_timeout, _ = measure(1000.0)
    print(f"# {sys.version.split()[0]}: per waiting attempt {total_none:.1f} B "
          f"without a timeout, {total_timeout:.1f} B with one")
    print(f"client_coroutine = {round(client)}")
    print(f"# timeout: add timer_handle of the profile to get the difference "
          f"{total_timeout - total_none:.1f}")
    print(f"timeout_and_timer = {round(total_timeout - total_none)}")


if __name__ == "__main__":
    main()
