"""The ``[server]`` client under ``--tracemalloc`` (``harness.py --server
--tracemalloc``); imported by the harness only for that mode.

The blog's strategies with ``await asyncio.sleep(latency)`` replaced by
``await server_call(req)``: bpsim's ``client::call`` as a real program
writes it (``asyncio.timeout``, an awaited future resolved by an I/O
event, retries, ``asyncio.sleep`` backoff).  What is traced is what such
a program's asyncio side holds.  The harness's own side of the service
(the station and its heaps, the per-request draws, the reader Handle and
selector key of each request's "connection") must not be: the station is
another process in a real deployment, and a real connection's objects are
not modelled by bpsim.  So each strategy runs twice, from the same
inputs: once untraced in a fresh child interpreter with the real
``Station`` (``--record-service``, JSON on stdout), which records what every ``select``
call decided (its wake-up and the responses it returned) and when each
request reached the station; then traced, with all of that prebuilt
before ``tracemalloc`` starts and replayed by ``_ServiceSelector``, which
allocates nothing per call.  The replay checks that every request
reaches the station at the recorded time with the recorded work, and
that every recorded ``select`` call is used, so a divergence is an error,
never a silently different run.
"""

import asyncio
import gc
import json
import selectors
import subprocess
import tracemalloc

# The harness module (``install``): its strategies, loop and station.
H = None
FAKE_FD_BASE = None
ServiceError = None


def install(harness):
    """Bind the harness module whose strategies this module drives."""
    global H, FAKE_FD_BASE, ServiceError, _ServiceSelector, ServiceLoop
    H = harness
    FAKE_FD_BASE = harness.FAKE_FD_BASE
    ServiceError = harness.ServiceError
    if ServiceLoop is None:
        _ServiceSelector, ServiceLoop = _make_loop_classes(harness)



class Conn:
    """One attempt's line to the service, built with its reader Handle and
    selector event before tracing starts (a real client's connection: its
    own objects are not counted).  ``fut`` is the awaited future while the
    attempt waits (cleared when it ends, as ``asyncio.StreamReader`` clears
    its waiter)."""

    __slots__ = ("fut", "sent_at", "work", "handle", "event")


def _deliver(conn):
    """The reader callback: the attempt's response is in."""
    fut = conn.fut
    if fut is not None and not fut.done():
        fut.set_result(None)


class _NoDebugLoop:
    """Stands in for the loop while reader Handles are built before it
    exists (``Handle.__init__`` asks ``get_debug``); ``bind`` sets the
    real one."""

    @staticmethod
    def get_debug():
        return False


def _new_conn(loop, token, sent_at, work):
    conn = Conn()
    conn.fut = None
    conn.sent_at = sent_at
    conn.work = work
    conn.handle = asyncio.Handle(_deliver, (conn,), loop, None)
    fd = FAKE_FD_BASE + token
    key = selectors.SelectorKey(fd, fd, selectors.EVENT_READ,
                                (conn.handle, None))
    conn.event = (key, selectors.EVENT_READ)
    return conn


class RecordLink:
    """The untraced run: the real ``Station``; records each request's
    arrival and each ``select`` call's decision."""

    def __init__(self, server):
        self.station = H.Station(server.capacity, server.discipline)
        self.conns = {}
        self.arrivals = []   # (time, work) per request to the station
        self.script = []     # (due, [arrival index, ...]) per select call
        self._due = None

    def send(self, loop, work):
        station = self.station
        token = station.seq + 1
        now = loop._vtime
        station.arrive(now, work, token)
        conn = _new_conn(loop, token, now, work)
        self.conns[token] = conn
        self.arrivals.append((now, work))
        return conn

    def next_due(self):
        self._due = self.station.next_event()
        return self._due

    def due(self, now):
        tokens = self.station.pop_due(now)
        self.script.append((self._due, [t - 1 for t in tokens]))
        return [self.conns.pop(t).event for t in tokens]

    def to_json(self):
        return {"arrivals": self.arrivals, "script": self.script}


class ReplayLink:
    """The traced run: a recording's arrivals and ``select`` decisions,
    every object built before tracing starts."""

    def __init__(self, recording):
        loop = _NoDebugLoop()
        self.conns = [_new_conn(loop, k + 1, t, w)
                      for k, (t, w) in enumerate(recording["arrivals"])]
        self.script = [
            (due, [self.conns[k].event for k in ks] if ks else ())
            for due, ks in recording["script"]]
        self._conns = iter(self.conns)
        self._script = iter(self.script)
        self._cur = None

    def bind(self, loop):
        """Give the reader Handles the real loop (no allocation)."""
        for conn in self.conns:
            conn.handle._loop = loop

    def send(self, loop, work):
        conn = next(self._conns, None)
        if conn is None or conn.sent_at != loop._vtime or conn.work != work:
            raise RuntimeError("[server] replay diverged from its recording "
                               "at a request to the station")
        return conn

    def next_due(self):
        self._cur = next(self._script, None)
        if self._cur is None:
            raise RuntimeError("[server] replay: more select calls than "
                               "recorded")
        return self._cur[0]

    def due(self, now):
        return self._cur[1]

    def check_done(self):
        if (next(self._conns, None) is not None
                or next(self._script, None) is not None):
            raise RuntimeError("[server] replay: fewer requests or select "
                               "calls than recorded")


_ServiceSelector = None
ServiceLoop = None


def _make_loop_classes(h):
    """The selector and loop classes, built on the harness's."""
    MAXIMUM_SELECT_TIMEOUT = h.MAXIMUM_SELECT_TIMEOUT
    VirtualClockLoop = h.VirtualClockLoop

    class _ServiceSelector(selectors.DefaultSelector):
        """``_VirtualClockSelector``'s clock and delivery rules, with the
        station's decisions taken from the loop's link (recorded or
        replayed)."""

        def __init__(self, loop):
            super().__init__()
            self._vloop = loop

        def select(self, timeout=None):
            loop = self._vloop
            link = loop.link
            due = link.next_due()
            if timeout is None:
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
                if due is not None and due < wake:
                    loop._vtime = max(due, loop._vtime)
                else:
                    loop._vtime = wake
            events = super().select(0)
            responses = link.due(loop._vtime)
            if not responses:
                return events
            if not events:
                return responses
            events.extend(responses)
            return events


    class ServiceLoop(VirtualClockLoop):
        """The virtual-clock loop talking to the service through ``link``
        (a class attribute, set before tracing: no per-instance state)."""

        link = None

        def __init__(self):
            self._vtime = 0.0
            self.iterations = 0
            self.compactions = 0
            asyncio.SelectorEventLoop.__init__(self, _ServiceSelector(self))

    return _ServiceSelector, ServiceLoop


# The run's [server] (set before each run, with LINK).
SRV = None
LINK = None
# Draws of a request without errors or retries: (coin, jitter) per attempt.
_NO_DRAWS = ((1.0, 0.0),)


async def server_call(req):
    """bpsim's ``client::call``: ``req`` is ``(work, draws)``; True if the
    request succeeded (perhaps after retries)."""
    work, draws = req
    loop = asyncio.get_running_loop()
    srv = SRV
    for attempt in range(srv.retries + 1):
        coin, jitter = draws[attempt]
        try:
            if srv.timeout is None:
                conn = LINK.send(loop, work)
                conn.fut = fut = loop.create_future()
                try:
                    await fut
                finally:
                    conn.fut = None
            else:
                async with asyncio.timeout(srv.timeout):
                    conn = LINK.send(loop, work)
                    conn.fut = fut = loop.create_future()
                    try:
                        await fut
                    finally:
                        conn.fut = None
            if coin < srv.error_rate:
                raise ServiceError
            return True
        except (TimeoutError, ServiceError):
            if attempt == srv.retries:
                return False
        await asyncio.sleep(srv.delay(attempt, jitter))
    return False


async def server_process(req):
    await server_call(req)


async def server_process_sem(req, sem):
    async with sem:
        await server_call(req)


async def server_process_release(req, sem):
    try:
        await server_call(req)
    finally:
        sem.release()


async def server_worker(q):
    while True:
        req = await q.get()
        if req is None:
            return
        await server_call(req)


async def server_adaptive_limit():
    loop = asyncio.get_running_loop()
    params = H.PARAMS
    target, lo = params.target_latency, params.min_limit
    hi, inc, dec = H._adaptive_max(H.CONCURRENCY), params.increase, params.decrease
    limit, in_flight, wake = float(H.CONCURRENCY), 0, None

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

    async def process_adaptive(req):
        start, ok = loop.time(), False
        try:
            ok = await server_call(req)
        finally:
            done(loop.time() - start, ok)

    async with asyncio.TaskGroup() as tg:
        for req in H.LAT:
            while in_flight >= int(limit):
                wake = loop.create_future()
                await wake
            in_flight += 1
            tg.create_task(process_adaptive(req))


def _use_server_client():
    """Point the blog's strategies at ``server_call`` instead of sleeps (they
    look these names up when they run)."""
    g = vars(H)
    g["process"] = server_process
    g["process_sem"] = server_process_sem
    g["process_release"] = server_process_release
    g["worker"] = server_worker
    H.PLAIN["adaptive_limit"] = server_adaptive_limit


def run_plain_server(name, args):
    """Run one uninstrumented strategy against the [server] under
    ``tracemalloc`` (record untraced in a child, replay traced here), or,
    with ``--record-service``, just record."""
    global SRV, LINK
    srv = args.server_model
    draws = srv.draws
    # The blog iterates over existing URLs: here, existing (work, draws).
    reqs = [(w, tuple(draws[i]) if draws is not None else _NO_DRAWS)
            for i, w in enumerate(args.latencies)]
    _use_server_client()
    strategy = H.PLAIN[name]
    SRV = srv
    if args.record_service:
        LINK = ServiceLoop.link = RecordLink(srv)
        H.LAT, H.CONCURRENCY = reqs, args.concurrency
        with asyncio.Runner(loop_factory=ServiceLoop) as runner:
            runner.run(strategy())
        return LINK.to_json()
    cmd = H._child_cmd(name, args, tracemalloc_flag=False)
    cmd.append("--record-service")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"recording the service for {name!r} failed "
                           f"with exit status {proc.returncode}")
    recording = json.loads(proc.stdout)
    del proc
    LINK = ServiceLoop.link = ReplayLink(recording)
    del recording
    H.LAT, H.CONCURRENCY = reqs, args.concurrency
    gc.collect()
    tracemalloc.start()
    with asyncio.Runner(loop_factory=ServiceLoop) as runner:
        loop = runner.get_loop()
        LINK.bind(loop)
        runner.run(strategy())
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    LINK.check_done()
    H.LAT = []
    return {"strategy": name, "duration_s": loop._vtime,
            "peak_memory_bytes": peak, "final_memory_bytes": current,
            "responses": len(LINK.conns)}

