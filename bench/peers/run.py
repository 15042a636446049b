#!/usr/bin/env python3
"""bpsim against its peers on one latency trace: SimPy, and CPython's own
asyncio on a virtual clock (conformance/harness.py). Checks that the
makespans agree and prints wall times and ratios.

Usage::

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install -r bench/peers/requirements.txt
    python3 bench/peers/run.py --simpy-python /tmp/peers/bin/python [--requests 100000]

Wall times: SimPy's is perf_counter around its run, the median of
--peer-runs fresh processes (default 3); bpsim's is
the median of --processes fresh processes (default 5), each the best of 5
runs (`examples/trace_speed.rs`), the r-th started from its own copy of
the binary and with its heap moved by (r * 2448) mod 4096 bytes, as
`bpsim bench` does (one layout can be up to about 10 % slower than the
next with the same instructions, and where the page cache put the
binary's code up to 2x); CPython's is the
whole harness process, interpreter start-up and trace loading included
(about 0.1 s of its 2-3 s), the median of --peer-runs processes. The floor (`src/bench/floor.rs`, best of 5) is
the same makespan from a bare binary heap of deadlines and nothing else:
SimPy's time over the floor's is the ratio a simulator that did no more
than that would reach. Last, a line says whether bpsim is at least 300x
faster than SimPy for every strategy (the speed issue's target).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRATEGIES = ["batching", "semaphore_in_task", "gated_spawn_callback", "gated_spawn"]


# The speed issue's target: bpsim at least this many times faster than SimPy.
TARGET_RATIO = 300


def machine():
    """The processor and core count, as `bpsim bench`'s header gives them
    (src/bench/machine.rs): ratios from two machines do not compare."""
    name = "unknown processor"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    name = value.strip()
                    break
    except OSError:
        pass
    return f"machine: {name}, {os.cpu_count()} cores"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--simpy-python", required=True, help="a python with simpy installed")
    p.add_argument("--cpython", default=sys.executable, help="CPython for the asyncio peer")
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--concurrency", type=int, default=500)
    p.add_argument("--bpsim", default=os.path.join(ROOT, "target", "release", "bpsim"))
    p.add_argument("--peer-runs", type=int, default=3,
                   help="SimPy and CPython runs per strategy; the median is kept (default 3)")
    p.add_argument("--processes", type=int, default=5,
                   help="fresh trace_speed processes; the median is kept (default 5)")
    p.add_argument("--trace-speed", help="the trace_speed example binary that times bpsim "
                   "(default: cargo run --release --example trace_speed; scripts/pgo-build "
                   "builds a PGO one)")
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="bpsim-peers-")
    scen = os.path.join(tmp, "peers.toml")
    with open(scen, "w", encoding="utf-8") as f:
        f.write(f"name = \"peers\"\nseed = 1\nrequests = {a.requests}\n"
                f"concurrency = {a.concurrency}\n[latency]\ndistribution = \"uniform\"\n"
                "low = 0.1\nhigh = 0.2\n[model]\ncpu = \"none\"\n")
    trace = os.path.join(tmp, "trace.txt")
    subprocess.run([a.bpsim, "workload", scen, "-o", trace], check=True)
    # bpsim on the same trace, for the makespans.
    with open(scen, "w", encoding="utf-8") as f:
        f.write(f"name = \"peers\"\nrequests = {a.requests}\nconcurrency = {a.concurrency}\n"
                f"[latency]\ndistribution = \"trace\"\npath = \"trace.txt\"\n"
                "[model]\ncpu = \"none\"\n")
    out = subprocess.run([a.bpsim, "run", scen, "--no-write", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    bp = {r["strategy"]: r["duration_s"] for r in json.loads(out)["results"]}
    if a.trace_speed:
        timer = [a.trace_speed]
    else:
        subprocess.run(["cargo", "build", "--quiet", "--release", "--manifest-path",
                        os.path.join(ROOT, "Cargo.toml"), "--example", "trace_speed"],
                       check=True)
        timer = [os.path.join(ROOT, "target", "release", "examples", "trace_speed")]
    runs = {}
    for r in range(max(1, a.processes)):
        env = dict(os.environ, BPSIM_HEAP_SHIFT=str(r * 2448 % 4096))
        # Each process from its own copy of the binary: where the page cache
        # put a binary's code moves its time by up to 2x, the same for every
        # process started from one file (`docs/speed.md`; `bpsim bench` does
        # the same).
        copy = os.path.join(tmp, f"trace_speed-{r}")
        shutil.copy2(timer[0], copy)
        timing = subprocess.run([copy] + timer[1:] + [trace, str(a.concurrency)], env=env,
                                check=True, capture_output=True, text=True).stdout
        os.remove(copy)
        for line in timing.splitlines():
            name, wall, floor = line.split()
            runs.setdefault(name, []).append((float(wall), floor))
    # The median process by bpsim's time (the lower middle of an even count),
    # and the floor that process timed.
    bp_wall, floor_wall = {}, {}
    for name, taken in runs.items():
        taken.sort()
        wall, floor = taken[(len(taken) - 1) // 2]
        bp_wall[name] = wall
        if floor != "-":
            floor_wall[name] = float(floor)
    print(machine())
    print(f"{a.requests} requests, limit {a.concurrency}, one trace (uniform(0.1, 0.2), seed 1)\n")
    print("| strategy | makespan bpsim (s) | SimPy (s) | CPython asyncio (s) | bpsim wall (ms) "
          "| SimPy wall (ms) | CPython wall (ms) | SimPy / bpsim | CPython / bpsim "
          "| floor wall (ms) | SimPy / floor | bpsim / floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios = []
    for s in STRATEGIES:
        sp_runs, cp_runs = [], []
        for _ in range(max(1, a.peer_runs)):
            sp_runs.append(json.loads(subprocess.run(
                [a.simpy_python, os.path.join(ROOT, "bench", "peers", "simpy_model.py"),
                 "--trace", trace, "--concurrency", str(a.concurrency), "--strategy", s],
                check=True, capture_output=True, text=True).stdout))
            t0 = time.perf_counter()
            cp = json.loads(subprocess.run(
                [a.cpython, os.path.join(ROOT, "conformance", "harness.py"), "--trace", trace,
                 "--concurrency", str(a.concurrency), "--strategy", s],
                check=True, capture_output=True, text=True).stdout)
            cp_runs.append((time.perf_counter() - t0, cp))
        # The median run of each (the lower middle of an even count).
        sp = sorted(sp_runs, key=lambda r: r["wall_s"])[(len(sp_runs) - 1) // 2]
        cp_wall, cp = sorted(cp_runs, key=lambda r: r[0])[(len(cp_runs) - 1) // 2]
        cp_make = cp["results"][0]["duration_s"]
        for name, m in [("SimPy", sp["makespan_s"]), ("CPython", cp_make)]:
            if abs(m - bp[s]) > 1e-6 * max(1.0, bp[s]):
                print(f"warning: {name} makespan {m} differs from bpsim's {bp[s]} for {s}",
                      file=sys.stderr)
        w = bp_wall[s]
        f = floor_wall[s]
        ratios.append(sp["wall_s"] / w)
        print(f"| {s} | {bp[s]:.6f} | {sp['makespan_s']:.6f} | {cp_make:.6f} | {w * 1e3:.1f} "
              f"| {sp['wall_s'] * 1e3:.0f} | {cp_wall * 1e3:.0f} | {sp['wall_s'] / w:.0f}x "
              f"| {cp_wall / w:.0f}x | {f * 1e3:.2f} | {sp['wall_s'] / f:.0f}x | {w / f:.1f}x |")
    print("\nCPython's wall time includes its interpreter start-up and the trace load "
          "(about 0.1 s); SimPy's and bpsim's are the simulation alone. The floor is "
          "the same makespan from a bare heap of deadlines (src/bench/floor.rs): SimPy / "
          "floor is the ratio a simulator doing no more than that would reach.")
    # The speed issue's target, as `bpsim bench` ends with the others.
    at = sum(r >= TARGET_RATIO for r in ratios)
    print(f"\ntarget, at least {TARGET_RATIO}x faster than SimPy: "
          f"{'met' if at == len(ratios) else 'NOT MET'} ({min(ratios):.0f}x to "
          f"{max(ratios):.0f}x; {at} of the {len(ratios)} strategies at {TARGET_RATIO}x or more)")


if __name__ == "__main__":
    main()
