#!/usr/bin/env bash
# Batch throughput: 1,000 product cards with one render thread, then with every core, in the
# same run (interleaved, best of two each). Prints images/s for each and their ratio (the machine is shared: compare ratios).
#
#   benches/batch/run.sh [ROWS]        # default 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

{
  echo "sku,name,brand,price,old_price,badge"
  for i in $(seq 1 "$rows"); do
    old=$(( i % 3 == 0 ? 120 + i % 50 : 0 ))
    [ "$old" -eq 0 ] && old=""
    echo "SKU-$i,\"Trail boot, model $i\",Northwind,$(( 40 + i % 200 )).99,$old,New"
  done
} >"$work/products.csv"

cores=$(nproc)
run() {
  local jobs=$1
  rm -rf "$work/out"
  ./target/release/vellum batch product "$work/products.csv" -o "$work/out" \
    --name "{sku}.png" --jobs "$jobs" 2>/dev/null | tee /dev/stderr |
    sed -E 's/.*\(([0-9.]+) images\/s\)/\1/'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
echo "rows: $rows, cores: $cores"
# Interleaved, twice each, best of two: neither side gets only the warm or the noisy minutes.
one_a=$(run 1); all_a=$(run "$cores"); all_b=$(run "$cores"); one_b=$(run 1)
one=$(best "$one_a" "$one_b")
all=$(best "$all_a" "$all_b")
awk -v one="$one" -v all="$all" -v cores="$cores" \
  'BEGIN { printf "1 thread: %.1f images/s; %d threads: %.1f images/s; ratio %.2fx\n", one, cores, all, all / one }'
