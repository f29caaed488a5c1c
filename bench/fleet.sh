#!/usr/bin/env bash
# The fleet at scale (issue 14): one `assay server` and `assay agent-sim`
# with N simulated agents on loopback, heartbeating every 60 s. Measures,
# in one run:
#   1. heartbeat latency (p50/p99 over the whole run, load included),
#   2. one run over every agent with 1-minute collections, all built-in
#      packages and the Debian feed, from start to COMPLETED,
#   3. the re-evaluation of every agent's latest telemetry after a feed
#      import, from the import to an empty queue,
#   4. the preview of a new version of a published package on every
#      agent's latest telemetry (`assay fleet package publish --dry-run`),
#   5. the fleet's package inventory: which hosts run a package at a
#      version (`assay fleet packages`), every agent sending its fixture's
#      packages and PACKAGES synthetic ones (default 1500),
#   6. the server's peak RSS (VmHWM) and its RSS at the end.
#
#   bench/fleet.sh [AGENTS] [postgres://...]     (default 10000, SQLite)
#   bench/fleet.sh --quick [postgres://...]      (CI: 20 agents heartbeating
#                                                 every 5 s; checks each step
#                                                 completes, ~2 minutes)
#   WORKERS=N bench/fleet.sh ...                 (the server's --workers, default 2)
#   PACKAGES=N bench/fleet.sh ...                (synthetic packages per agent, default 1500)
#   DURATION=30m bench/fleet.sh ...              (how long the agents run, default 15m: all
#                                                 the steps must end within it)
#   BIN=/path/to/assay bench/fleet.sh ...        (another build as the peer)
#
# It builds the release binary, uses ports 18443/18444 and a temporary
# directory, and stops everything it started. Needs ../shared/data/osv.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=
if [ "${1:-}" = --quick ]; then QUICK=1; shift; set -- 20 "$@"; fi
AGENTS=${1:-10000}
DATABASE=${2:-}
HEARTBEAT=$([ -n "$QUICK" ] && echo 5 || echo 60)
PACKAGES=${PACKAGES:-1500}
FEED=../shared/data/osv/debian-12-security.zip
[ -f "$FEED" ] || { echo "skipped: $FEED is absent"; exit 0; }
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$PWD/target/release/assay
fi
WORK=$(mktemp -d)
ADMIN=127.0.0.1:18443
AGENT=127.0.0.1:18444
SERVER=
SIM=
cleanup() {
    # `|| true`: under `set -e` a failed kill (a process already gone)
    # would end the trap before the server is stopped.
    [ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

$BIN server --data "$WORK/data" --listen $ADMIN --agent-listen $AGENT ${DATABASE:+--database "$DATABASE"} \
    --workers "${WORKERS:-2}" --max-connections-per-ip $((AGENTS + 100)) --max-agents-per-run "$AGENTS" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
until [ -s "$WORK/server.out" ]; do sleep 0.2; done
export ASSAY_SERVER=http://$ADMIN ASSAY_TOKEN
ASSAY_TOKEN=$(head -1 "$WORK/server.out")
FINGERPRINT=$(sed -n 's/.*fingerprint (SHA-256) //p' "$WORK/server.err")
TOKEN=$($BIN fleet enrollment create --uses "$AGENTS" --tag fleet=sim)
$BIN fleet feed import --osv "$FEED" >/dev/null
$BIN fleet target create sim --tag fleet >/dev/null
$BIN fleet template create all --target sim --duration 1m --package cis-linux \
    --package security-best-practices --package runtime-behavior --package cve >/dev/null

echo "== $AGENTS agents on $([ -n "$DATABASE" ] && echo PostgreSQL || echo SQLite), $(nproc) cores"
$BIN agent-sim --server https://$AGENT --agents "$AGENTS" --enroll-token "$TOKEN" \
    --ca-fingerprint "$FINGERPRINT" --state-dir "$WORK/sim" --duration "${DURATION:-15m}" --heartbeat "${HEARTBEAT}s" \
    --packages "$PACKAGES" \
    >"$WORK/sim.json" 2>"$WORK/sim.err" &
SIM=$!
until grep -q "agents ready" "$WORK/sim.err"; do
    kill -0 $SIM 2>/dev/null || { cat "$WORK/sim.err"; exit 1; }
    sleep 1
done
sed 's/^/   /' "$WORK/sim.err"
# One heartbeat round, so that every agent is HEALTHY and in the target.
sleep $((HEARTBEAT + 5))

start=$(now)
RUN=$($BIN fleet run start all --format json | jq -r .id)
# Polled from the list of runs: `run show` lists every agent of the run
# (19,000 rows every 2 s would be load of the bench's own making).
while :; do
    state=$($BIN fleet run list --limit 5 --format json 2>/dev/null | jq -r --arg id "$RUN" '.items[] | select(.id == $id) | .state')
    case $state in COMPLETED|COMPLETED_WITH_ERRORS|FAILED|ERROR|CANCELED) break ;; esac
    sleep 2
done
echo "run over $AGENTS agents: $state in $(since "$start") s (1-minute collection included)"
[ "$state" = COMPLETED ] || { echo "the run ended $state"; tail -20 "$WORK/server.err"; exit 1; }
$BIN fleet run show "$RUN" --format json | jq -c '{agents: (.agents | length), findings, exclusions: (.exclusions | length)}'

start=$(now)
$BIN fleet feed import --osv "$FEED" >/dev/null
while [ "$($BIN fleet feed show --format json | jq -r .reevaluations_pending)" != 0 ]; do sleep 1; done
echo "re-evaluation of $AGENTS agents after a feed import: $(since "$start") s"

# 4. The preview of a new version of a team's package (issue 28): every
# agent's latest telemetry evaluated with the published version and the
# candidate, nothing written. Its peer: the re-evaluation above (one
# evaluation per agent, written) in the same run.
PKG=$WORK/pkg
cp -r examples/ssh-hardening "$PKG"
$BIN fleet package publish "$PKG" >/dev/null
while [ "$($BIN fleet feed show --format json | jq -r .reevaluations_pending)" != 0 ]; do sleep 1; done
sed -i 's/const MAX_AUTH_TRIES = 4/const MAX_AUTH_TRIES = 3/' "$PKG/common.assay"
sed -i 's/^version: 1.0.0/version: 1.1.0/' "$PKG/package.yaml"
start=$(now)
$BIN fleet package publish "$PKG" --dry-run --format json >"$WORK/preview.json"
echo "preview of a package version on $AGENTS agents: $(since "$start") s," \
    "$(jq '[.rules[].flips | length] | add // 0' "$WORK/preview.json") flip(s) over $(jq '.hosts | length' "$WORK/preview.json") hosts"

# 5. Which hosts run a package: sim-lib-0 below 1.0.10 is on the agents
# whose index ends in 0 to 9 of every 20 (agent-sim --packages); every
# page followed; then one page, and a package of the fixtures. For scale,
# step 4 reads (and evaluates) every agent's latest telemetry once, which
# is what answering without the inventory would read per query.
if [ "$PACKAGES" -gt 0 ]; then
    expected=$(python3 -c "print(sum(1 for i in range($AGENTS) if i % 20 < 10))")
    start=$(now)
    hosts=$($BIN fleet packages --name sim-lib-0 --version '<1.0.10' --format json | jq '[.items[].agent] | unique | length')
    echo "inventory: hosts with sim-lib-0 <1.0.10 over $AGENTS agents x $PACKAGES packages: $hosts (expected $expected), every page, in $(since "$start") s"
    [ "$hosts" = "$expected" ] || { echo "the inventory found $hosts hosts, not $expected"; exit 1; }
    start=$(now)
    $BIN fleet packages --name sim-lib-0 --version '<1.0.10' --limit 100 --format json >/dev/null
    echo "inventory: the first page (100 hosts) in $(since "$start") s"
    start=$(now)
    n=$($BIN fleet packages --name openssl --format json | jq '.items | length')
    echo "inventory: openssl on $n host(s), every page, in $(since "$start") s"
fi

echo "server memory: $(grep -E 'VmHWM|VmRSS' /proc/$SERVER/status | tr -s ' \n' ' ')"
kill -INT $SIM
wait $SIM || true
SIM=
echo "agent-sim:"
jq -c . "$WORK/sim.json"
jq -e '.errors == {} and .uploads.count == '"$AGENTS" "$WORK/sim.json" >/dev/null ||
    { echo "the simulated agents saw errors or missed uploads"; exit 1; }
