"""Compare two runs of the memory test (`cargo test --release --test
memory`, its output saved to a file each): the mean and largest |error|
per group of points (the plain grid by limit C, and the [server] grid).

    python3 profiles/experiments/compare_memory.py BEFORE.log AFTER.log
"""

import collections
import re
import sys

ROW = re.compile(r"^(3\.1\d\.\d+)\s+(.*?)\s+(-?\d+)\s+(-?\d+)\s+([+-]\d+\.\d+)%")


def load(path):
    """{(python, point): error in percent} of one saved run."""
    errors = {}
    for line in open(path):
        m = ROW.match(line)
        if m:
            errors[(m.group(1), " ".join(m.group(2).split()))] = float(m.group(5))
    return errors


def group(point):
    fields = point.split()
    return f"plain C={fields[1]}" if fields[0].isdigit() else "[server]"


def main(before_path, after_path):
    before, after = load(before_path), load(after_path)
    groups = collections.defaultdict(list)
    for key, err in before.items():
        if key in after:
            groups[group(key[1])].append((abs(err), abs(after[key])))
    for name, pairs in sorted(groups.items()):
        b, a = [p[0] for p in pairs], [p[1] for p in pairs]
        print(f"{name:12} {len(pairs):3} points  mean |error| {sum(b) / len(b):.2f} % -> "
              f"{sum(a) / len(a):.2f} %   largest {max(b):.2f} % -> {max(a):.2f} %")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
