#!/usr/bin/env bash
# Bounded load test against a release server on 127.0.0.1 only: wrk drives a mix of cache
# hits, cold renders and bad requests for DURATION seconds while /healthz is polled and the
# server's RSS is sampled. Prints wrk's status counts, latency, the /healthz misses and the
# peak RSS against the cache budget. Needs wrk (Debian package `wrk`).
#
#   benches/load/run.sh                 # 20 s, 2 threads, 32 connections, 64 MiB cache
#   DURATION=60 CONNECTIONS=64 benches/load/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
CACHE_MB=${CACHE_MB:-64}
PORT=${PORT:-3917}
ADDR=127.0.0.1:$PORT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
cargo build --release --quiet
./target/release/vellum serve --addr "$ADDR" --cache-mb "$CACHE_MB" >/tmp/vellum-load.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://$ADDR/healthz" >/dev/null && break
  sleep 0.1
done

peak_kb=0
health_misses=0
health_checks=0
(
  end=$((SECONDS + DURATION))
  while [ $SECONDS -lt $end ]; do
    rss=$(ps -o rss= -p "$server" | tr -d ' ')
    if curl -sf --max-time 2 "http://$ADDR/healthz" >/dev/null; then ok=1; else ok=0; fi
    echo "$rss $ok"
    sleep 0.5
  done
) >/tmp/vellum-load.samples &
sampler=$!

wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s benches/load/mix.lua "http://$ADDR" | tail -n 8
wait $sampler || true

while read -r rss ok; do
  [ "${rss:-0}" -gt "$peak_kb" ] && peak_kb=$rss
  health_checks=$((health_checks + 1))
  [ "$ok" = 1 ] || health_misses=$((health_misses + 1))
done </tmp/vellum-load.samples
metrics=$(curl -sf "http://$ADDR/metrics")
echo "renders: $(echo "$metrics" | awk '/^vellum_render_seconds_count /{print $2}')," \
     "cache bytes: $(echo "$metrics" | awk '/^vellum_cache_bytes /{print $2}')," \
     "evictions: $(echo "$metrics" | awk '/^vellum_cache_evictions_total /{print $2}')"
echo "healthz: $((health_checks - health_misses))/$health_checks answered within 2 s"
echo "peak RSS: $((peak_kb / 1024)) MiB (cache budget $CACHE_MB MiB)"
