#!/usr/bin/env bash
# Cold renders of every kind of request, interleaved in one run (each kind in turn, in a
# rotating order, a new title every request, one request at a time) against a release
# server on 127.0.0.1: p50 and p90 of each kind and its p50 as a ratio to card-a's,
# measured in the same run; a JPEG or WebP kind also as a ratio to its own template's PNG.
# Bounded: ROUNDS x (number of kinds) requests; the server stops on exit.
#
#   benches/http/kinds.sh             # ROUNDS=40 PORT=3919 by default
#   FORMATS=1 benches/http/kinds.sh   # every template as PNG, JPEG and WebP instead
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-40}
port=${PORT:-3919}
cargo build --release --quiet
./target/release/vellum serve --addr "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# Each template's query before the title, and the kinds: a name and the URL path.
declare -A query=(
  [card-a]="title="
  [post]="author=Ada%20Lovelace&subtitle=Engineering%20blog&title="
  [product]="price=129.9&old_price=159&badge=-20%25&name="
  [certificate]="achievement=Advanced%20Compiler%20Construction&recipient="
  [travel]="title="
)
kinds=(
  "card-a|/og/card-a.png?${query[card-a]}"
  "post|/og/post.png?${query[post]}"
  "product|/og/product.png?${query[product]}"
  "certificate|/og/certificate.png?${query[certificate]}"
  "card-a@2x|/og/card-a.png?scale=2&${query[card-a]}"
  "post.jpg|/og/post.jpg?${query[post]}"
  "post.webp|/og/post.webp?${query[post]}"
  "travel|/og/travel.png?${query[travel]}"
)
if [ "${FORMATS:-0}" = 1 ]; then
  kinds=()
  for name in card-a post product certificate travel; do
    kinds+=("$name|/og/$name.png?${query[$name]}")
    for ext in jpg webp; do kinds+=("$name.$ext|/og/$name.$ext?${query[$name]}"); done
  done
fi
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
# Each round starts one kind later than the one before, so that every kind follows every
# other equally often: what a render costs depends on what ran just before it (a card after
# a scale=2 card measured about a tenth faster than after card-a).
n=${#kinds[@]}
for round in $(seq "$rounds"); do
  for j in $(seq 0 $((n - 1))); do
    kind=${kinds[$(((j + round - 1) % n))]}
    name=${kind%%|*}
    url="http://127.0.0.1:$port${kind#*|}How%20we%20render%20card%20$round%20$RANDOM"
    code_ms=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$url")
    [ "${code_ms%% *}" = 200 ] || { echo "$name: HTTP ${code_ms%% *} for $url" >&2; exit 1; }
    echo "$name ${code_ms#* }" >>"$out"
  done
done
echo "cold renders, one at a time, $rounds of each kind interleaved; ratios to card-a's p50 in this run"
awk '
  { t[$1, ++n[$1]] = $2 * 1000; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  function pct(name, p,   i, j, m, a, tmp) {
    m = n[name]; for (i = 1; i <= m; i++) a[i] = t[name, i]
    for (i = 2; i <= m; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] > tmp; j--) a[j + 1] = a[j]; a[j + 1] = tmp }
    return a[int((m - 1) * p) + 1]
  }
  END {
    base = pct("card-a", 0.5)
    for (i = 1; i <= k; i++) {
      name = order[i]
      printf "%-16s p50 %6.2f ms  p90 %6.2f ms  %.2fx card-a", name, pct(name, 0.5), pct(name, 0.9), pct(name, 0.5) / base
      png = substr(name, 1, index(name, ".") - 1)
      if (index(name, ".") && (png in seen)) printf "  %.2fx %s.png", pct(name, 0.5) / pct(png, 0.5), png
      printf "\n"
    }
  }' "$out"
