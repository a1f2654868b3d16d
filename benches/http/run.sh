#!/usr/bin/env bash
# HTTP figures for card-a against a release server on 127.0.0.1 (needs Debian's `wrk`):
#   1. cold renders one at a time (a new title every request): req/s, p50, p99, CPU per render
#   2. cold renders two in flight: req/s and its ratio to (1)
#   3. cache hits, `wrk -t2 -c64` on one URL: req/s, p50, p99
#   4. RSS after 10,000 distinct renders over every template, both themes, 8 colours,
#      scales 1 and 2 and PNG, JPEG and WebP, against the cache budget, and the peak
# Bounded: about 90 s plus up to 5 min for (4); everything stops on exit.
#
#   benches/http/run.sh              # CACHE_MB=256 PORT=3917 SECS=15 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${PORT:-3917}
cache_mb=${CACHE_MB:-256}
secs=${SECS:-15}
here=benches/http
cargo build --release --quiet
./target/release/vellum serve --addr "127.0.0.1:$port" --cache-mb "$cache_mb" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port/og/card-a.png?title="
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
renders() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^vellum_render_seconds_count/ {print $2}'; }
field() { awk -v k="$1" '$1 == k {print $2}'; }
cold() { # threads connections -> "req/s p50 p99 cpu-ms-per-render"
  local before_ticks before_renders out
  before_ticks=$(cpu_ticks); before_renders=$(renders)
  out=$(wrk -t"$1" -c"$2" -d"${secs}s" --latency -s "$here/unique_titles.lua" "$base")
  awk -v t0="$before_ticks" -v t1="$(cpu_ticks)" -v r0="$before_renders" -v r1="$(renders)" \
      -v hz="$(getconf CLK_TCK)" -v rps="$(echo "$out" | field Requests/sec:)" \
      -v p50="$(echo "$out" | field 50%)" -v p99="$(echo "$out" | field 99%)" \
      'BEGIN { printf "%s %s %s %.1f\n", rps, p50, p99, (t1 - t0) * 1000 / hz / (r1 - r0) }'
}

read -r one_rps one_p50 one_p99 one_cpu <<<"$(cold 1 1)"
echo "cold, one at a time:  $one_rps req/s, p50 $one_p50, p99 $one_p99, $one_cpu ms CPU per render"
read -r two_rps two_p50 two_p99 two_cpu <<<"$(cold 2 2)"
echo "cold, two in flight:  $two_rps req/s, p50 $two_p50, p99 $two_p99, $two_cpu ms CPU per render" \
  "($(awk -v a="$two_rps" -v b="$one_rps" 'BEGIN { printf "%.2f", a / b }')x one at a time)"

hit="${base}How%20we%20rendered%20a%20million%20social%20cards"
curl -sf -o /dev/null "$hit"
out=$(wrk -t2 -c64 -d10s --latency "$hit")
echo "cache hits, -t2 -c64: $(echo "$out" | field Requests/sec:) req/s," \
  "p50 $(echo "$out" | field 50%), p99 $(echo "$out" | field 99%)"

# Every template, both post themes, 8 colours, scales 1 and 2, PNG, JPEG and WebP: each
# distinct card a render, 10,000 of them counted from here (the cold runs above are card
# A's). RSS is read once the last of them has finished; the peak includes the renders in
# flight.
in_flight() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^vellum_renders_in_flight / {print $2}'; }
mixed_from=$(renders)
for _ in $(seq 60); do
  [ $(($(renders) - mixed_from)) -ge 10000 ] && break
  wrk -t2 -c2 -d5s -s "$here/mixed_cards.lua" "http://127.0.0.1:$port/" >/dev/null
done
for _ in $(seq 50); do [ "$(in_flight)" = 0 ] && break; sleep 0.1; done
rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
echo "memory after $(($(renders) - mixed_from)) distinct renders of every template" \
  "(and $mixed_from of card A before), cache budget $cache_mb MiB:" \
  "RSS $rss MiB (the budget + $((rss - cache_mb)) MiB), peak $hwm MiB (+ $((hwm - cache_mb)) MiB)"
