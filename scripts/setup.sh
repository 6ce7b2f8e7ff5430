#!/usr/bin/env bash
# Installs what building shardnet needs on a fresh Debian machine: libclang (the
# rocksdb crate generates its bindings with bindgen) and a C++ compiler. Safe to
# run again: it installs nothing that is already there.
set -euo pipefail

need=()
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libclang\.so'; then
  need+=(libclang-dev)
fi
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (needed to build RocksDB)..." >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi

# One build cache outside the clone, kept between runs on the same machine: the
# RocksDB C++ build takes 12-25 minutes cold on 2 cores and should happen once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shardnet/target}"
mkdir -p "$CARGO_TARGET_DIR"
