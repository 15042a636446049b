#!/usr/bin/env python3
"""Where the task sets' table rebuilds come from (conformance/gaps/mixed_scale).

    python3.11 profiles/experiments/set_tables.py [TRACE [C]]

Runs `gated_spawn` of conformance/harness.py under tracemalloc on the
virtual clock, as `profiles/probe_memory.py timeline` does (default: the
mixed_scale gap, C = 245), and records every add of a task to
`tg._tasks`, every discard from it and every Task deallocation, with the
task's address and the set's `used`, `fill` and `mask` read from the
`PySetObject` after each. It then replays the adds and discards through
`Set`, a transcription of CPython 3.11's `Objects/setobject.c`
(`set_add_entry`, `set_discard_entry`, `set_table_resize`, hash =
address >> 4), and prints:

1. how many of the recorded (used, fill, mask) triples the replay of the
   real addresses misses (0: the transcription is exact);
2. the iteration at which the table is rebuilt from 512 to 2,048 slots,
   from the real addresses and from addresses that a model could compute:
   bpsim's rule for which block a new Task gets (`src/memory/blocks.rs`:
   the Task freed last), with block `b` at byte 48 + 192 * (b % 85) of
   16 KiB pool `b // 85` (85 blocks of 192 B fit a 3.11 pymalloc pool),
   the pools at random 16 KiB-aligned addresses (200 draws);
3. the same with bpsim's current set rule (`PySet` in
   `src/memory/container.rs`: an add reuses a dummy only if its own key
   left it).

The recording allocates (ints, the record arrays), which moves where
pymalloc puts the Tasks: the rebuild lands at another iteration than in an
unrecorded run (where `probe_memory.py timeline` sees it at 92). Standard
library only; CPython 3.11 (the set layout read by ctypes is 3.11's to
3.13's).
"""
import array
import asyncio.taskgroups as taskgroups
import ctypes
import os
import random
import sys
import weakref
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import probe_memory  # noqa: E402

POOL, POOL_HEADER, TASK_BYTES = 16384, 48, 192
BLOCKS_PER_POOL = (POOL - POOL_HEADER) // TASK_BYTES
GC_HEADER = 16
ADD, DISCARD, DEALLOC = 0, 1, 2


def record(trace, c):
    """(kind, address, iteration, used, fill, mask) per event."""
    lat = [float(line) for line in open(trace) if line.strip()]
    harness = probe_memory.load_harness()
    probe_memory.set_test_params(harness, c, lat)
    import _asyncio
    all_tasks = _asyncio._all_tasks
    size = 40 * len(lat) + 1000
    cols = [array.array("q", [0]) * size for _ in range(6)]
    n, iteration, groups, refs = [0], [0], [], {}
    word = ctypes.c_ssize_t.from_address

    def rec(kind, address):
        i = n[0]
        n[0] += 1
        s = id(groups[0]._tasks)
        row = (kind, address, iteration[0], word(s + 24).value,
               word(s + 16).value, word(s + 32).value)
        for col, v in zip(cols, row):
            col[i] = v

    base = harness.VirtualClockLoop._run_once

    def run_once(self):
        iteration[0] = self.iterations + 1
        base(self)

    create_task = taskgroups.TaskGroup.create_task

    def create(self, coro, **kw):
        if not groups:
            groups.append(self)
        task = create_task(self, coro, **kw)
        rec(ADD, id(task))
        for r in weakref.getweakrefs(task):
            refs[id(r)] = id(task)
        return task

    on_done = taskgroups.TaskGroup._on_task_done

    def done(self, task):
        on_done(self, task)
        rec(DISCARD, id(task))

    remove = all_tasks._remove

    def removed(r):
        remove(r)
        rec(DEALLOC, refs.get(id(r), -1))

    harness.VirtualClockLoop._run_once = run_once
    taskgroups.TaskGroup.create_task = create
    taskgroups.TaskGroup._on_task_done = done
    all_tasks._remove = removed
    harness.run_plain("gated_spawn", lat, c, False, True)
    return list(zip(*(col[:n[0]] for col in cols)))


class Set:
    """CPython 3.11 `set` of keys given by their hashes (never -1 or 0)."""

    def __init__(self):
        self.table, self.mask, self.fill, self.used = [None] * 8, 7, 0, 0

    def _probe(self, h):
        mask, i, perturb = self.mask, h & self.mask, h
        while True:
            yield from range(i, i + (9 if i + 9 <= mask else 0) + 1)
            perturb >>= 5
            i = (i * 5 + 1 + perturb) & mask

    def add(self, h):
        freeslot = None
        for j in self._probe(h):
            e = self.table[j]
            if e is None:
                break
            if e == -1:
                freeslot = j    # the LAST dummy on the path (3.11-3.13)
        self.used += 1
        if freeslot is not None:
            self.table[freeslot] = h
            return
        self.table[j] = h
        self.fill += 1
        if self.fill * 5 >= self.mask * 3:
            minused = self.used * 4 if self.used <= 50000 else self.used * 2
            size = 8
            while size <= minused:
                size <<= 1
            old = self.table
            self.table, self.mask, self.fill = [None] * size, size - 1, self.used
            for e in old:
                if e is not None and e != -1:
                    for j in self._probe(e):
                        if self.table[j] is None:
                            self.table[j] = e
                            break

    def discard(self, h):
        for j in self._probe(h):
            if self.table[j] == h:
                self.table[j] = -1
                self.used -= 1
                return


class OwnDummySet:
    """bpsim's `PySet` rule: an add takes a dummy only if its key left it."""

    def __init__(self):
        self.mask, self.fill, self.used, self.dummies = 7, 0, 0, set()

    def add(self, h):
        self.used += 1
        if h in self.dummies:
            self.dummies.discard(h)
            return
        self.fill += 1
        if self.fill * 5 >= self.mask * 3:
            size = 8
            while size <= self.used * 4:
                size <<= 1
            self.mask, self.fill, self.dummies = size - 1, self.used, set()

    def discard(self, h):
        self.used -= 1
        self.dummies.add(h)


class LastFreedTask:
    """bpsim's block rule, blocks laid out in pools at `bases`."""

    def __init__(self, bases):
        self.free, self.next, self.bases = [], 0, bases

    def alloc(self):
        if self.free:
            return self.free.pop()
        b = self.next
        self.next += 1
        pool = self.bases[b // BLOCKS_PER_POOL]
        return pool + POOL_HEADER + TASK_BYTES * (b % BLOCKS_PER_POOL) + GC_HEADER

    def dealloc(self, address):
        self.free.append(address)


def replay(events, make_set, blocks=None):
    """The iteration of the rebuild to 2,048 slots (None: none), and how
    many recorded (used, fill, mask) the replay missed."""
    s, moved, rebuilt, missed = make_set(), {}, None, 0
    for kind, address, it, used, fill, mask in events:
        if kind == ADD:
            moved[address] = blocks.alloc() if blocks else address
            s.add(moved[address] >> 4)
            if rebuilt is None and s.mask == 2047:
                rebuilt = it
        elif kind == DISCARD:
            s.discard(moved[address] >> 4)
        elif blocks and address in moved:   # not main's own Task
            blocks.dealloc(moved[address])
        if kind != DEALLOC and (s.used, s.fill, s.mask) != (used, fill, mask):
            missed += 1
    return rebuilt, missed


def main():
    args = sys.argv[1:]
    trace = args[0] if args else os.path.join(
        HERE, "..", "..", "conformance", "gaps", "mixed_scale.trace")
    c = int(args[1]) if len(args) > 1 else 245
    events = record(trace, c)
    rebuilt, missed = replay(events, Set)
    print(f"{len(events)} events; real addresses: rebuilt to 2,048 slots in "
          f"iteration {rebuilt}; (used, fill, mask) missed: {missed}")
    rng = random.Random(1)
    for name, make_set in (("exact set", Set), ("own-dummy rule", OwnDummySet)):
        seen = Counter()
        for _ in range(200):
            bases = [rng.randrange(1 << 20, 1 << 33) * POOL for _ in range(64)]
            seen[replay(events, make_set, LastFreedTask(bases))[0]] += 1
        print(f"last-freed Task blocks in pools, {name}: rebuilt in "
              f"iteration (count of 200 pool layouts) {dict(seen)}")


if __name__ == "__main__":
    main()
