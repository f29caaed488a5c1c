#!/usr/bin/env bash
# The simulator's memory (issue 33): `assay agent-sim` with N agents (default
# 2000) heartbeating every 10 s against a server on loopback (ports
# 18543/18544, a temporary directory), its resident memory 25 s after all
# are ready. Stops everything it started.
#
#   bench/sim-memory.sh [N]            BIN=/path/to/assay for another build
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=$PWD/target/release/assay; fi
N=${1:-2000}
W=$(mktemp -d /tmp/simmem.XXXX)

$BIN server --data "$W/data" --listen 127.0.0.1:18543 --agent-listen 127.0.0.1:18544 --max-connections-per-ip $((N + 100)) >"$W/out" 2>"$W/err" &
S=$!
trap 'kill $S ${SIM:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
until [ -s "$W/out" ]; do sleep 0.2; done
export ASSAY_SERVER=http://127.0.0.1:18543 ASSAY_TOKEN=$(head -1 "$W/out")
FP=$(sed -n 's/.*fingerprint (SHA-256) //p' "$W/err")
T=$($BIN fleet enrollment create --uses "$N")
$BIN agent-sim --server https://127.0.0.1:18544 --agents "$N" --enroll-token "$T" --ca-fingerprint "$FP" --state-dir "$W/sim" --duration 3m --heartbeat 10s >"$W/sim.json" 2>"$W/sim.err" &
SIM=$!
until grep -q "agents ready" "$W/sim.err"; do kill -0 $SIM || { cat "$W/sim.err"; exit 1; }; sleep 1; done
sleep 25
echo "agent-sim with $N agents: $(grep -E 'VmRSS|VmHWM' /proc/$SIM/status | tr -s ' \n' ' ')"
