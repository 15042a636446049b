#!/usr/bin/env bash
# Regenerates the charts shown in the README from the shipped scenarios.
# Usage: bash docs/make_charts.sh   (from the repository root)
set -euo pipefail
cargo build --release --quiet
bin=target/release/bpsim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" plot scenarios/blog.toml --output-dir "$tmp" > /dev/null
for chart in memory timeline total_time; do
  cp "$tmp/blog/$chart.png" "docs/blog-$chart.png"
done
for s in variance_sweep concurrency_sweep heavy_tail heavy_tail_pareto server_capacity; do
  "$bin" plot "scenarios/$s.toml" --output-dir "$tmp" > /dev/null
  cp "$tmp/$s/sweep.png" "docs/$s.png"
done
ls -1 docs/*.png
