#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder of remote or on-disk bytes, with
# libFuzzer through cargo fuzz, on the stable toolchain (no sanitizer: `-s none`
# needs no nightly; overflow checks and debug assertions stay on).
#
#   bash scripts/fuzz.sh                 # every target for 60 s, in parallel
#   bash scripts/fuzz.sh 3600 gossip     # one target for an hour
#   bash scripts/fuzz.sh cmin            # shrink every corpus to the inputs
#                                        # that keep its coverage (before committing)
#
# Each target grows its corpus in fuzz/corpus/<target>/ (committed: the test
# suite replays it, see protocol/tests/fuzz_corpus.rs). A crash leaves its input
# in fuzz/artifacts/<target>/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wire_request wire_response envelope manifest catalogue gossip shard_meta sample)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
target_dir="${SHARDNET_FUZZ_TARGET:-$HOME/.cache/shardnet/fuzz-target}"
(cd fuzz && cargo fuzz build -s none --target-dir "$target_dir")
if [ "$secs" = cmin ]; then
  for t in "${targets[@]}"; do
    min="$(mktemp -d)"
    "$target_dir/x86_64-unknown-linux-gnu/release/$t" -merge=1 -max_len=65536 \
      "$min" "fuzz/corpus/$t" >"fuzz/logs/$t.cmin.log" 2>&1
    before=$(ls "fuzz/corpus/$t" | wc -l)
    rm -rf "fuzz/corpus/$t" && mv "$min" "fuzz/corpus/$t"
    echo "$t: corpus $before -> $(ls "fuzz/corpus/$t" | wc -l) inputs"
  done
  exit 0
fi
mkdir -p fuzz/logs
pids=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  "$target_dir/x86_64-unknown-linux-gnu/release/$t" "fuzz/corpus/$t" \
    -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$secs" -max_len=65536 \
    -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  t="${targets[$i]}"
  if wait "${pids[$i]}"; then
    echo "$t: $(grep -E '^stat::number_of_executed_units' "fuzz/logs/$t.log" | awk '{print $2}') runs, no crash; corpus $(ls "fuzz/corpus/$t" | wc -l) inputs"
  else
    echo "$t: FAILED, see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    failed=1
  fi
done
exit $failed
