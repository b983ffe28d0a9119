#!/usr/bin/env bash
# Runs one cargo-fuzz target of fuzz/ for a number of seconds.
#   scripts/fuzz.sh TARGET [SECONDS]      e.g. scripts/fuzz.sh expand 600
# Targets: expand (shell word expansion), parse (Dockerfile parser + dump).
# Only stable Rust is installed: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz
# passes (sanitizer, coverage instrumentation). One process, one job (the machine has 2 cores).
# The corpus (fuzz/corpus/TARGET) and crashes (fuzz/artifacts/TARGET) are not committed;
# fuzz/seeds/TARGET holds the committed seed inputs.
set -euo pipefail

target="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
seconds="${2:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
mkdir -p "corpus/$target"
seeds=()
if [ -d "seeds/$target" ]; then
    seeds=("seeds/$target")
fi

export RUSTC_BOOTSTRAP=1
exec cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1
