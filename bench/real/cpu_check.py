#!/usr/bin/env python3
"""CPU seconds of the harness's strategies on a virtual clock.

Runs each strategy of ``conformance/harness.py`` (its uninstrumented,
blog-shaped programs) on CPython's own event loop with a virtual clock, so
the wall time measured is the interpreter's CPU time alone, and prints one
line per strategy. Compare with what bpsim's cost model charges for the same
run: ``cargo run --release --example cpu_busy -- SCENARIO --no-rounding``.

Usage::

    python3 bench/real/cpu_check.py --trace FILE --concurrency C \\
        [--tracemalloc] [--repeat 3] [--max-per-second R] STRATEGY...
"""

import argparse
import importlib.util
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "calibrate_cpu", os.path.join(HERE, "..", "..", "profiles", "calibrate_cpu.py"))
calibrate_cpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(calibrate_cpu)
harness = calibrate_cpu.harness


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trace", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-per-second", type=float, default=float("inf"))
    parser.add_argument("strategies", nargs="+", choices=harness.STRATEGIES)
    args = parser.parse_args()
    harness.PARAMS.max_per_second = args.max_per_second
    with open(args.trace, encoding="utf-8") as f:
        lat = [float(x) for x in f if x.strip()]
    for name in args.strategies:
        runs = [calibrate_cpu.program_cpu(name, lat, args.concurrency, args.tracemalloc)
                for _ in range(args.repeat)]
        print(f"{name:22} cpu {statistics.median(runs):.3f} s "
              f"(median of {args.repeat})")


if __name__ == "__main__":
    main()
