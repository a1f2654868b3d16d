#!/usr/bin/env bash
# Cache hits against nginx serving the same PNG from a file, interleaved in one run
# (vellum, nginx, vellum, nginx, ...): `wrk -t2 -c64` on one cached card-a URL, with
# nginx configured by the peer harness's ../shared/peers/nginx/nginx.conf. Prints each
# side's req/s and p99, and vellum's ratio to nginx in every pair. Loopback only; bounded
# (ROUNDS x 2 x SECS seconds); both servers stop on exit. Needs Debian's `wrk` and `nginx`.
#
#   benches/http/hits.sh        # ROUNDS=2 SECS=8 PORT=3918 NGINX_PORT=18081 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-2}
secs=${SECS:-8}
port=${PORT:-3918}
nginx_port=${NGINX_PORT:-18081}
conf=${NGINX_CONF:-../shared/peers/nginx/nginx.conf}
cargo build --release --quiet

prefix=$(mktemp -d)
./target/release/vellum serve --addr "127.0.0.1:$port" >/dev/null 2>&1 &
vellum_pid=$!
nginx_pid=
stop() {
  kill "$vellum_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$prefix"
}
trap stop EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

url="http://127.0.0.1:$port/og/card-a.png?title=How%20we%20rendered%20a%20million%20social%20cards"
mkdir -p "$prefix/static" "$prefix/logs" "$prefix/tmp"
curl -sf -o "$prefix/static/card.png" "$url"
# nginx's workers run as an unprivileged user: let them read the file.
chmod 755 "$prefix" "$prefix/static"
chmod 644 "$prefix/static/card.png"
sed "s/127.0.0.1:18080/127.0.0.1:$nginx_port/" "$conf" >"$prefix/nginx.conf"
nginx -p "$prefix/" -c nginx.conf -g 'daemon off;' 2>/dev/null &
nginx_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/card.png" && break; sleep 0.1; done
cmp -s <(curl -s "$url") <(curl -s "http://127.0.0.1:$nginx_port/card.png") ||
  { echo "nginx and vellum serve different bytes" >&2; exit 1; }

field() { awk -v k="$1" '$1 == k {print $2}'; }
hits() { # url -> "req/s p99"
  local out
  out=$(wrk -t2 -c64 -d"${secs}s" --latency "$1")
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers from $1" >&2; exit 1; fi
  echo "$(echo "$out" | field Requests/sec:) $(echo "$out" | field 99%)"
}
echo "card-a PNG, $(stat -c %s "$prefix/static/card.png") bytes; wrk -t2 -c64 -d${secs}s; $(nproc) cores"
for round in $(seq "$rounds"); do
  read -r v_rps v_p99 <<<"$(hits "$url")"
  read -r n_rps n_p99 <<<"$(hits "http://127.0.0.1:$nginx_port/card.png")"
  echo "pair $round: vellum $v_rps req/s (p99 $v_p99), nginx $n_rps req/s (p99 $n_p99):" \
    "$(awk -v a="$v_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a / b }')x nginx"
done
