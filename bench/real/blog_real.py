#!/usr/bin/env python3
"""Accuracy of bpsim's CPU model: predicted against real durations.

Runs the blog's four programs for real (``asyncio.run`` with real sleeps,
``tracemalloc`` on, as the blog measured them; via
``conformance/harness.py --real --tracemalloc``) on the exact workloads of
``scenarios/blog.toml`` and ``scenarios/blog_narrow.toml`` (written by
``bpsim workload``), takes the median of ``--runs`` runs per strategy, and
compares it with ``bpsim run`` on the same scenarios under a CPU profile.

Usage::

    python3 bench/real/blog_real.py --python python3.12 \\
        --profile profiles/cpython-3.12.toml [--runs 3] [-o results.csv]

Each real run takes 20-45 s; the whole script about 12 minutes. Run it on
a quiet machine: the real loop's speed is what is being measured.
Prints a Markdown table (predicted, measured, error) and writes the raw
runs to ``-o``.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRATEGIES = ["batching", "semaphore_in_task", "gated_spawn_callback", "gated_spawn"]
SCENARIOS = ["blog", "blog_narrow"]


def bpsim_cmd(args):
    return [args.bpsim] if args.bpsim else [
        "cargo", "run", "--quiet", "--release", "--manifest-path",
        os.path.join(ROOT, "Cargo.toml"), "--"]


def scenario_with(path, python, profile, out_dir):
    """A copy of the scenario with [model] set to python and profile."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, _, _ = text.partition("[model]")
    text = head + f'[model]\npython = "{python}"\ncpu = "{os.path.abspath(profile)}"\n'
    out = os.path.join(out_dir, os.path.basename(path))
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--python", required=True, help="the CPython to run for real")
    p.add_argument("--profile", required=True, help="bpsim profile with a [cpu] table")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--bpsim", help="the bpsim binary (default: cargo run --release)")
    p.add_argument("-o", "--output", help="CSV of every real run")
    p.add_argument("--skip-real", metavar="CSV",
                   help="reuse the real runs of an earlier -o instead of running them")
    args = p.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        check=True, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bpsim-real-") as tmp:
        runs, predicted = measure(args, version, tmp)
    report(args, version, runs, predicted)


def measure(args, version, tmp):
    """bpsim's predictions, and the real runs unless --skip-real; the traces
    and scenarios live in `tmp`, removed after."""
    runs = []  # (scenario, strategy, run, seconds)
    predicted = {}
    for name in SCENARIOS:
        src = os.path.join(ROOT, "scenarios", f"{name}.toml")
        trace = os.path.join(tmp, f"{name}.trace")
        subprocess.run(bpsim_cmd(args) + ["workload", src, "-o", trace], check=True)
        scen = scenario_with(src, version, args.profile, tmp)
        out = subprocess.run(bpsim_cmd(args) + ["run", scen, "--no-write", "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
        for r in json.loads(out)["results"]:
            predicted[(name, r["strategy"])] = r["duration_s"]
        if args.skip_real:
            continue
        for run in range(args.runs):
            for strategy in STRATEGIES:
                cmd = [args.python, os.path.join(ROOT, "conformance", "harness.py"),
                       "--trace", trace, "--concurrency", "500", "--strategy", strategy,
                       "--real", "--tracemalloc"]
                res = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                text=True).stdout)
                secs = res["results"][0]["duration_s"]
                runs.append((name, strategy, run, secs))
                print(f"  {name:12} {strategy:22} run {run + 1}: {secs:.3f} s",
                      file=sys.stderr, flush=True)
    return runs, predicted


def report(args, version, runs, predicted):
    """Prints the table of predictions against real runs."""
    if args.skip_real:
        with open(args.skip_real, newline="", encoding="utf-8") as f:
            runs = [(r["scenario"], r["strategy"], int(r["run"]), float(r["seconds"]))
                    for r in csv.DictReader(f)]
    elif args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["scenario", "strategy", "run", "seconds"])
            w.writerows(runs)
    print(f"CPython {version}, profile {args.profile}, median of {args.runs} real runs\n")
    print("| scenario | strategy | bpsim predicted (s) | real, median (s) | error |")
    print("|---|---|---:|---:|---:|")
    worst = 0.0
    for name in SCENARIOS:
        for strategy in STRATEGIES:
            real = statistics.median(s for n, st, _, s in runs if n == name and st == strategy)
            pred = predicted[(name, strategy)]
            err = (pred - real) / real
            worst = max(worst, abs(err))
            print(f"| {name} | {strategy} | {pred:.3f} | {real:.3f} | {err * 100:+.1f}% |")
    print(f"\nworst error: {worst * 100:.1f}%")


if __name__ == "__main__":
    main()
