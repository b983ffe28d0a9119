#!/usr/bin/env bash
# Farm benchmarks (part of `make bench`): the same 3-platform build of examples/parallel-stages on a
# local farm (3 coordinators, 3 workers, `slipway dev-cluster`) vs embedded (the one-process farm in the
# CLI's process), cold each time (--no-cache), with hyperfine; the no-op rebuild on both; and build submissions committed per second on
# 3 local coordinators (coordinator/src/farm/raft/tests/bench.rs: concurrent SubmitBuild commands
# through Raft over real gRPC on loopback; SLIPWAY_RAFT_BENCH=<writers>x<each> sets the shape). Results: target/bench/farm-<timestamp>/.
#
# Environment: SLIPWAY_BENCH_PROFILE=release|debug (default release), SLIPWAY_BENCH_RUNS (default 3),
# SLIPWAY_REGISTRY_ADDR (default 127.0.0.1:5000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
addr=${SLIPWAY_REGISTRY_ADDR:-127.0.0.1:5000}
runs=${SLIPWAY_BENCH_RUNS:-3}
profile=${SLIPWAY_BENCH_PROFILE:-release}
platforms=linux/amd64,linux/arm64,linux/arm/v7
base="$addr/library/busybox:latest"
out="$root/target/bench/farm-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*"; }

command -v hyperfine >/dev/null || { echo "bench-farm.sh: hyperfine missing; run scripts/setup.sh" >&2; exit 1; }
step "registry at $addr"
curl -fsS -o /dev/null "http://$addr/v2/" 2>/dev/null || bash scripts/registry.sh start

step "build slipway ($profile)"
flags=(); [ "$profile" = release ] && flags+=(--release)
cargo build -q -p slipway-cli --bin slipway "${flags[@]}"
slipway="${CARGO_TARGET_DIR:-$root/target}/$profile/slipway"
export SLIPWAY=$slipway
skopeo inspect --tls-verify=false --raw "docker://$base" >/dev/null 2>&1 || bash scripts/seed-base-images.sh "$addr"

work=$(mktemp -d /tmp/slipway-bench-farm.XXXXXX)
cleanup() {
    "$slipway" dev-cluster down --dir "$work/farm" >/dev/null 2>&1 || true
    grep " $work" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step "dev-cluster: 3 coordinators, 3 workers"
"$slipway" dev-cluster up --dir "$work/farm" --coordinators 3 --workers 3 >/dev/null
builder=$(cat "$work/farm/builder")
ctx="$root/examples/parallel-stages"

step "3-platform build: farm (3 workers) vs embedded (1 worker), --no-cache"
hyperfine --runs "$runs" --warmup 1 --export-json "$out/farm-vs-embedded.json" --export-markdown "$out/farm-vs-embedded.md" \
    -n farm "$slipway build --builder $builder --tls-dir $work/farm/certs --no-cache --progress quiet --platform $platforms --build-arg BASE=$base $ctx" \
    -n embedded "$slipway build --data-dir $work/embedded --no-cache --progress quiet --platform $platforms --build-arg BASE=$base $ctx"

step "no-op rebuild (everything cached), linux/amd64: farm (3+3) vs embedded"
noop_args="--progress quiet --build-arg BASE=$base --build-arg DEPS_SECONDS=2 --build-arg TEST_SECONDS=3 --build-arg BUILD_SECONDS=2"
farm_noop="$slipway build --builder $builder --tls-dir $work/farm/certs $noop_args $ctx"
emb_noop="$slipway build --data-dir $work/embedded-noop $noop_args $ctx"
$farm_noop >/dev/null 2>&1
$emb_noop >/dev/null 2>&1
hyperfine --runs "$((runs * 3))" --warmup 2 --export-json "$out/noop.json" --export-markdown "$out/noop.md" \
    -n farm-noop "$farm_noop" -n embedded-noop "$emb_noop"

step "submissions committed per second on 3 local coordinators"
cargo test -q --release -p slipway-coordinator --lib farm::raft::tests::bench -- --ignored --nocapture 2>&1 | tee "$out/raft_submit.txt"

farm=$(jq '.results[] | select(.command=="farm") | .mean' "$out/farm-vs-embedded.json")
emb=$(jq '.results[] | select(.command=="embedded") | .mean' "$out/farm-vs-embedded.json")
{
    echo "# Farm benchmarks ($(date -u +%FT%TZ), $profile, $runs runs)"
    echo
    printf '| build | mean (s) | vs embedded |\n|---|---|---|\n'
    printf '| farm, 3 workers | %.2f | %.2fx |\n' "$farm" "$(awk -v e="$emb" -v f="$farm" 'BEGIN{print e/f}')"
    printf '| embedded, 1 worker | %.2f | 1.00x |\n' "$emb"
    echo
    printf '| no-op rebuild | mean (ms) |\n|---|---|\n'
    for n in farm-noop embedded-noop; do
        printf '| %s | %.1f |\n' "$n" "$(jq ".results[] | select(.command==\"$n\") | .mean * 1000" "$out/noop.json")"
    done
    echo
    grep -E "submissions|commits" "$out/raft_submit.txt" || true
} | tee "$out/summary.md"
