#!/usr/bin/env bash
# Side-by-side with Tahoe-LAFS 1.20 on this machine, in one run: the same
# topology for both (5 storage nodes and one client node without storage, all
# on 127.0.0.1), 3 full copies each (Tahoe: shares needed/happy/total 1/3/3;
# shardnet: tier silver), the same random file, operations interleaved
# (Tahoe put, shardnet backup, Tahoe get, shardnet restore) for ROUNDS rounds.
# Only ratios from one run mean anything: absolute figures drift 2-3x between
# machines and days.
#
#   bash scripts/compare-tahoe.sh            # 256 MiB, 2 rounds
#   SIZE_MIB=1024 ROUNDS=3 bash scripts/compare-tahoe.sh
#
# Tahoe-LAFS is installed from the Python registry into a venv under
# ~/.cache/shardnet/tahoe-venv (once). Every process started here is stopped
# and the temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
SIZE_MIB=${SIZE_MIB:-256}
ROUNDS=${ROUNDS:-2}

cargo build --locked -p shardnet-node -p shardnet-sim >&2
bin="$CARGO_TARGET_DIR/debug/shardnet"

venv="$HOME/.cache/shardnet/tahoe-venv"
if ! "$venv/bin/tahoe" --version 2>/dev/null | grep -q "tahoe-lafs: 1.20"; then
  echo "installing tahoe-lafs 1.20.0 into $venv..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "tahoe-lafs==1.20.0"
fi
tahoe="$venv/bin/tahoe"

work=$(mktemp -d -t shardnet-vs-tahoe-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
mbps() { python3 -c "import sys; print(f'{$SIZE_MIB * 1.048576 / ($2 - $1):.1f}')"; }

echo "== Tahoe-LAFS: introducer, 5 storage nodes, 1 client (1-of-3: 3 full copies)" >&2
p=$(free_port)
"$tahoe" create-introducer --port="tcp:$p:interface=127.0.0.1" --location="tcp:127.0.0.1:$p" "$work/tahoe-intro" >/dev/null
"$tahoe" run --allow-stdin-close "$work/tahoe-intro" >"$work/tahoe-intro.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$work/tahoe-intro/private/introducer.furl" ] && break; sleep 0.1; done
furl=$(cat "$work/tahoe-intro/private/introducer.furl")
shares=(--shares-needed=1 --shares-happy=3 --shares-total=3)
for n in 1 2 3 4 5; do
  p=$(free_port)
  "$tahoe" create-node --nickname="storage$n" --introducer="$furl" --webport=none "${shares[@]}" \
    --port="tcp:$p:interface=127.0.0.1" --location="tcp:127.0.0.1:$p" "$work/tahoe-s$n" >/dev/null
  "$tahoe" run --allow-stdin-close "$work/tahoe-s$n" >"$work/tahoe-s$n.log" 2>&1 &
  pids+=($!)
done
web=$(free_port)
"$tahoe" create-client --introducer="$furl" --webport="tcp:$web:interface=127.0.0.1" "${shares[@]}" \
  "$work/tahoe-client" >/dev/null
"$tahoe" run --allow-stdin-close "$work/tahoe-client" >"$work/tahoe-client.log" 2>&1 &
pids+=($!)
connected() {
  python3 - "$web" <<'PY' 2>/dev/null || echo 0
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/?t=json", timeout=2))
print(sum(1 for v in s.get("servers", []) if str(v.get("connection_status", "")).lower().startswith("connected")))
PY
}
for _ in $(seq 600); do [ "$(connected)" = 5 ] && break; sleep 0.2; done
[ "$(connected)" = 5 ] || { echo "Tahoe's client did not connect to 5 storage nodes"; tail "$work"/tahoe-*.log; exit 1; }

echo "== shardnet: 5 storage nodes in 3 zones, 1 client node offering no storage (tier silver: 3 copies)" >&2
export SHARDNET_ID_DIFFICULTY=16
sn() { local n=$1; shift; "$bin" --data-dir "$work/sn$n" "$@"; }
start() {
  local n=$1; shift
  sn "$n" init >/dev/null
  RUST_LOG=shardnet_node=warn "$bin" --data-dir "$work/sn$n" node run --listen /ip4/127.0.0.1/tcp/0 \
    --zone "zone$((n % 3))" "$@" >"$work/sn$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do sn "$n" node status >/dev/null 2>&1 && return; sleep 0.1; done
  echo "shardnet node $n did not start:"; cat "$work/sn$n.log"; exit 1
}
start 1
boot=$(sn 1 node status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["listen"][0]+"/p2p/"+s["peer_id"])')
for n in 2 3 4 5; do start $n --bootstrap "$boot"; done
start 6 --bootstrap "$boot" --capacity 0
for _ in $(seq 300); do
  live=$(sn 6 peers list --json | python3 -c 'import json,sys; print(sum(p["live"] for p in json.load(sys.stdin)))')
  [ "$live" = 6 ] && break; sleep 0.2
done
[ "$live" = 6 ] || { echo "the shardnet swarm did not converge"; exit 1; }

echo "== one random file of $SIZE_MIB MiB" >&2
mkdir -p "$work/data"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/data/file.bin"
sync

rows=()
for r in $(seq "$ROUNDS"); do
  # A fresh file per round, so neither system deduplicates against the last.
  head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/data/file.bin"; sync
  t0=$(now); cap=$("$tahoe" -d "$work/tahoe-client" put "$work/data/file.bin"); t1=$(now)
  rows+=("$r tahoe-put $(mbps "$t0" "$t1")")
  t0=$(now); id=$(sn 6 backup create "$work/data/file.bin" --tier silver --name "round$r"); t1=$(now)
  rows+=("$r shardnet-backup $(mbps "$t0" "$t1")")
  rm -f "$work/tahoe.out"
  t0=$(now); "$tahoe" -d "$work/tahoe-client" get "$cap" "$work/tahoe.out" 2>/dev/null; t1=$(now)
  rows+=("$r tahoe-get $(mbps "$t0" "$t1")")
  cmp "$work/data/file.bin" "$work/tahoe.out"
  rm -rf "$work/restored"
  t0=$(now); sn 6 backup restore "$id" "$work/restored" >/dev/null; t1=$(now)
  rows+=("$r shardnet-restore $(mbps "$t0" "$t1")")
  cmp "$work/data/file.bin" "$work/restored/file.bin"
done

python3 - "$SIZE_MIB" "${rows[@]}" <<'PY'
import collections, sys
size, rows = sys.argv[1], [r.split() for r in sys.argv[2:]]
by = collections.defaultdict(list)
for rnd, what, v in rows:
    by[what].append(float(v))
def rng(k): return f"{min(by[k]):.1f}-{max(by[k]):.1f}" if len(by[k]) > 1 else f"{by[k][0]:.1f}"
print(f"same run, {size} MiB random file, 5 storage nodes + 1 client node, 3 copies, MB/s over {len(by['tahoe-put'])} rounds")
print(f"{'':18}{'Tahoe-LAFS 1.20':>18}{'shardnet':>14}{'ratio':>8}")
for label, t, s in [("backup / put", "tahoe-put", "shardnet-backup"), ("restore / get", "tahoe-get", "shardnet-restore")]:
    ratio = (sum(by[s]) / len(by[s])) / (sum(by[t]) / len(by[t]))
    print(f"{label:18}{rng(t):>18}{rng(s):>14}{ratio:>7.1f}x")
PY
