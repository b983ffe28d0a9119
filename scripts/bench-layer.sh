#!/usr/bin/env bash
# Layer production throughput: slipway's gzip vs `tar | pigz -p2`, and zstd vs gzip.
# Builds a ~1 GB mixed tree (copies of /usr/share and /usr/lib: many small text files and
# binaries; plus a few large generated files mixing text and binary), builds the mklayer
# example in release mode, and runs hyperfine. Appends nothing by itself: it prints the
# hyperfine table and the ratios (paste them into BENCHMARKS.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tree="${BENCH_TREE:-/tmp/slipway-bench-tree}"
target_gb="${BENCH_GB:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target-oci}"

if [ ! -f "$tree/.complete" ]; then
  rm -rf "$tree"; mkdir -p "$tree"
  # Small files: real text and binaries.
  cp -a /usr/share/doc "$tree/doc" 2>/dev/null || true
  cp -a /usr/share/perl "$tree/perl" 2>/dev/null || true
  cp -a /usr/bin "$tree/bin"
  cp -a /usr/lib/x86_64-linux-gnu "$tree/lib" 2>/dev/null || true
  # Large files: compressible but not trivial (concatenated binaries and man pages).
  i=0
  while [ "$(du -sm "$tree" | cut -f1)" -lt $((target_gb * 1024)) ]; do
    i=$((i + 1))
    { find /usr/bin -type f -size +100k | head -40 | xargs cat; find /usr/share/man -name '*.gz' | head -400 | xargs zcat 2>/dev/null; } \
      | head -c $((64 * 1024 * 1024)) > "$tree/large-$i.bin"
  done
  touch "$tree/.complete"
fi
echo "tree: $(du -sh "$tree" | cut -f1), $(find "$tree" -type f | wc -l) files"

cargo build --release -p slipway-oci --example mklayer
mk="$CARGO_TARGET_DIR/release/examples/mklayer"
"$mk" "$tree" gzip >/dev/null   # warm the page cache

json="$(mktemp)"
hyperfine --warmup 1 --runs "${BENCH_RUNS:-3}" --export-json "$json" \
  -n 'tar|pigz -p2' "tar -C $tree -cf - . | pigz -p2 > /dev/null" \
  -n 'slipway gzip' "$mk $tree gzip --threads 2" \
  -n 'slipway zstd' "$mk $tree zstd --threads 2"

python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
pigz, gz, zs = r["tar|pigz -p2"], r["slipway gzip"], r["slipway zstd"]
print(f"slipway gzip throughput / pigz -p2 throughput = {pigz / gz:.2f} (target >= 0.80)")
print(f"slipway zstd speed / slipway gzip speed       = {gz / zs:.2f} (target >= 3.0)")
PY
