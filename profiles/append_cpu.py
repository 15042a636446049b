#!/usr/bin/env python3
"""Copy the [cpu] tables of a `bpsim calibrate` profile into a shipped one.

Usage::

    python3 profiles/append_cpu.py CALIBRATED.toml profiles/cpython-3.X.toml

The shipped profiles keep the [memory] table measured by measure_memory.py
(pinned by the memory accuracy test) and take their [cpu] and
[cpu.measured...] tables from a calibration; an existing [cpu] part is
replaced.
"""

import sys

MARK = "\n# CPU costs: nanoseconds of loop time per operation"


def main():
    src, dst = sys.argv[1], sys.argv[2]
    cal = open(src, encoding="utf-8").read()
    start = cal.index("\n[cpu]\n") + 1
    end = cal.find("\n[measured]\n", start)
    block = cal[start:] if end < 0 else cal[start:end + 1]
    text = open(dst, encoding="utf-8").read()
    if MARK in text:
        text = text[:text.index(MARK)]
    text = (text.rstrip() + "\n" + MARK + ", measured with tracemalloc on by\n"
            "# the [cpu.measured] command (only its [cpu] tables are kept here).\n"
            + block.rstrip() + "\n")
    open(dst, "w", encoding="utf-8").write(text)


if __name__ == "__main__":
    main()
