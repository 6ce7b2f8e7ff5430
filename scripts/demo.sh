#!/usr/bin/env bash
# The main job: build shardnet, start a local swarm of 5 nodes on 127.0.0.1 in
# 3 zones, back up a sample tree from node 1 at tier silver (3 copies), show
# where the shards landed, restore on node 5 (which never saw the data) with
# nothing but the owner key, kill two nodes, restore again, watch the survivors
# repair at once the shards left with one copy, and the ones left with two
# (their floor) only when the silent holders' patience runs out (20 s here,
# 48 h by default: protocol/src/patience.rs); then run the simulator's tour
# (`shardnet sim demo`: 8 real nodes in one process lose 2, repair and restore,
# the model replays the same start and must agree, and a 1,000-node model runs
# 30 days). Stops every node it started and removes its temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "building shardnet (the first build compiles RocksDB: 12-25 minutes)..." >&2
cargo build --locked -p shardnet-node -p shardnet-sim
bin="$CARGO_TARGET_DIR/debug/shardnet"

work=$(mktemp -d -t shardnet-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
sn() { local n=$1; shift; "$bin" --data-dir "$work/node$n" "$@"; }

echo "== starting 5 nodes"
# Every peer id carries admission work (protocol/src/admission.rs): the
# default, 20 bits, is ~2^20 key generations per node; this local demo asks
# 16 of all its nodes (a second each).
export SHARDNET_ID_DIFFICULTY=16
for n in 1 2 3 4 5; do sn $n init >/dev/null; done
start() {
  local n=$1; shift
  # A simple command in the background, so that $! is the node's own pid.
  RUST_LOG=shardnet_node=warn "$bin" --data-dir "$work/node$n" node run --listen /ip4/127.0.0.1/tcp/0 \
    --zone "zone$((n % 3))" --heartbeat-ms 500 --down-after 5 --patience-max 20 --scan-interval 2 "$@" \
    > "$work/node$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do sn "$n" node status >/dev/null 2>&1 && return; sleep 0.1; done
  echo "node $n did not start:"; cat "$work/node$n.log"; exit 1
}
start 1
boot=$(sn 1 node status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["listen"][0]+"/p2p/"+s["peer_id"])')
for n in 2 3 4 5; do start $n --bootstrap "$boot"; done
for _ in $(seq 100); do
  live=$(sn 1 peers list --json | python3 -c 'import json,sys; print(sum(p["live"] for p in json.load(sys.stdin)))')
  [ "$live" = 5 ] && break; sleep 0.2
done
sn 1 peers list

echo "== sample tree"
mkdir -p "$work/sample/photos/2026" "$work/sample/docs" "$work/sample/empty"
head -c $((48 << 20)) /dev/urandom > "$work/sample/photos/2026/raw.bin"
for i in $(seq 1 2000); do echo "line $i of a document that compresses well"; done > "$work/sample/docs/notes.txt"
echo "héllo wörld" > "$work/sample/docs/ünïcode ✓.txt"
: > "$work/sample/docs/empty-file"
ln -s docs/notes.txt "$work/sample/notes-link"

echo "== backup from node 1, tier silver (3 copies)"
id=$(sn 1 backup create "$work/sample" --tier silver --name demo)
echo "== shards per node"
for n in 1 2 3 4 5; do
  echo "node $n: $(sn $n shards list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') shards"
done

echo "== node 5 gets only the owner key, lists and restores"
sn 1 keys export | sn 5 keys import --force >/dev/null
sn 5 backup list
sn 5 backup restore "$id" "$work/restored"
diff -r --no-dereference "$work/sample" "$work/restored/sample"
echo "restored tree is byte-identical"

echo "== kill -9 nodes 2 and 3, restore again on node 5"
kill -9 "${pids[1]}" "${pids[2]}"
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true
sn 5 backup restore "$id" "$work/restored-again"
diff -r --no-dereference "$work/sample" "$work/restored-again/sample"
sn 5 backup verify "$id" --full

echo "== the survivors notice (down after 5 s here; 300 s by default) and repair"
short_copies() {  # shards with fewer than $1 copies on the surviving nodes
  for n in 1 4 5; do sn $n shards list --json > "$work/held$n.json"; done
  python3 - "$1" "$work"/held1.json "$work"/held4.json "$work"/held5.json <<'PY'
import collections, json, sys
held = collections.Counter(s["id"] for f in sys.argv[2:] for s in json.load(open(f)))
print(sum(1 for c in held.values() if c < int(sys.argv[1])))
PY
}
killed=$SECONDS
for _ in $(seq 30); do
  [ "$(short_copies 2)" = 0 ] && break
  sleep 1
done
echo "after $((SECONDS - killed)) s: $(short_copies 2) shards below 2 copies (the floor), $(short_copies 3) waiting at 2 for their silent holders"
for _ in $(seq 60); do
  [ "$(short_copies 3)" = 0 ] && break
  sleep 1
done
echo "after $((SECONDS - killed)) s: the silent holders' patience ran out"
for n in 1 4 5; do
  echo "node $n: $(sn $n shards list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') shards"
done
sn 1 rebalance status
if [ "$(short_copies 3)" != 0 ]; then echo "repair did not finish within 90 s"; exit 1; fi
echo "every shard is back at 3 copies on the 3 surviving nodes"
echo "== the simulator's tour: real nodes in one process, then the model"
"$bin" sim demo --out "$work/sim-reports"
mkdir -p sim-reports && cp "$work"/sim-reports/* sim-reports/
echo "reports and plots copied to $(pwd)/sim-reports"
echo "== done: every node started here is stopped on exit"
