#!/usr/bin/env bash
# `make bench`: slipway vs dockerd 20.10's BuildKit vs buildah 1.28 on the same Dockerfiles, with
# hyperfine, in one run. Results: target/bench/<timestamp>/ (hyperfine JSON + markdown) and a
# summary with ratios in target/bench/<timestamp>/summary.md.
#
#   1. cold 3-platform build of examples/parallel-stages (empty caches, base fetched from the registry)
#   2. parallel stages: whole build vs its critical path (deps+test built alone) and vs the sum of stages
#   3. no-op rebuild
#   4. one-file-change rebuild (src/app.sh changes)
#   5. cache-mount rebuild speedup (examples/cache-mounts: rebuild after a change, warm cache mount
#      vs the same Dockerfile without the cache mount)
#   6. cold build with empty local state, with a registry cache vs without (examples/parallel-stages,
#      linux/amd64; slipway `--cache-to/--cache-from type=registry,mode=max`, docker's inline cache,
#      buildah's `--cache-to/--cache-from`)
#
# Environment: SLIPWAY_BENCH_PROFILE=release|debug (default release), SLIPWAY_BENCH_RUNS (default 3),
# SLIPWAY_REGISTRY_ADDR (default 127.0.0.1:5000), SLIPWAY_BENCH_ONLY (a space-separated subset of
# cold3 parallel noop onechange cachemount regcache; default all, and only then is the summary written).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
addr=${SLIPWAY_REGISTRY_ADDR:-127.0.0.1:5000}
export SLIPWAY_REGISTRY_ADDR=$addr
runs=${SLIPWAY_BENCH_RUNS:-3}
profile=${SLIPWAY_BENCH_PROFILE:-release}
platforms=linux/amd64,linux/arm64,linux/arm/v7
base="$addr/library/busybox:latest"
out="$root/target/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*"; }

for bin in hyperfine skopeo buildah /usr/sbin/dockerd /usr/bin/docker jq; do
    command -v "$bin" >/dev/null || { echo "bench.sh: $bin missing; run scripts/setup.sh" >&2; exit 1; }
done

step "registry at $addr"
curl -fsS -o /dev/null "http://$addr/v2/" 2>/dev/null || bash scripts/registry.sh start

step "build slipway ($profile)"
flags=(); [ "$profile" = release ] && flags+=(--release)
cargo build -q -p slipway-cli --bin slipway "${flags[@]}"
slipway="${CARGO_TARGET_DIR:-$root/target}/$profile/slipway"
export SLIPWAY=$slipway

step "seed $base"
skopeo inspect --tls-verify=false --raw "docker://$base" >/dev/null 2>&1 || bash scripts/seed-base-images.sh "$addr"

work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
dd="$work/dockerd"
mkdir -p "$dd"
step "private dockerd (data root $dd)"
/usr/sbin/dockerd --data-root "$dd/root" --exec-root "$dd/exec" --pidfile "$dd/pid" -H "unix://$dd/docker.sock" \
    --iptables=false --ip6tables=false --bridge=none --insecure-registry "$addr" >"$dd/log" 2>&1 &
dockerd_pid=$!
cleanup() {
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    grep " $work" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    buildah --root "$work/buildah/root" --runroot "$work/buildah/run" --storage-driver vfs rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
export DOCKER_HOST="unix://$dd/docker.sock" DOCKER_BUILDKIT=1 DOCKER_CONFIG="$work/docker-config"
for _ in $(seq 1 100); do /usr/bin/docker version >/dev/null 2>&1 && break; sleep 0.2; done
/usr/bin/docker version >/dev/null

# Command templates. Each takes the Dockerfile context directory last.
sw_data="$work/slipway-data"
SW="$slipway build --progress plain --data-dir $sw_data --build-arg BASE=$base"
DK="/usr/bin/docker build -q --network none --build-arg BASE=$base"
BH="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver vfs bud -q --isolation chroot --tls-verify=false --layers --build-arg BASE=$base"
BH_RMI="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver vfs rmi --all --force"
DK_PRUNE="/usr/bin/docker builder prune -af"

hf() { # hf NAME [hyperfine args...]
    local name=$1; shift
    hyperfine --shell bash --style basic --runs "$runs" --export-json "$out/$name.json" --export-markdown "$out/$name.md" "$@"
}
mean() { jq -r ".results[$2].mean" "$out/$1.json"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
only=${SLIPWAY_BENCH_ONLY:-cold3 parallel noop onechange cachemount regcache}
want() { [[ " $only " == *" $1 "* ]]; }

# Short stage durations keep the run affordable; the shape is what matters.
ps_args="--build-arg DEPS_SECONDS=2 --build-arg TEST_SECONDS=3 --build-arg BUILD_SECONDS=2"
cp -r examples/parallel-stages "$work/ps"
cp -r examples/cache-mounts "$work/cm"

want cold3 && {
step "1. cold 3-platform build (examples/parallel-stages; caches emptied before each run)"
# dockerd 20.10 cannot export a multi-platform image to its store: it builds the platforms one by one.
hf cold3 \
    -n slipway --prepare "rm -rf $sw_data" "$SW $ps_args --platform $platforms -t $addr/bench/cold:slipway --push $work/ps" \
    -n docker --prepare "$DK_PRUNE" "for p in ${platforms//,/ }; do $DK $ps_args --platform \$p -t bench-cold $work/ps || exit 1; done" \
    -n buildah --prepare "$BH_RMI" "$BH $ps_args --platform $platforms --manifest bench-cold-\$RANDOM $work/ps"
}

want parallel && {
step "2. parallel stages: whole build vs critical path (deps+test) vs sum of the stages, linux/amd64, no cache"
hf parallel \
    -n "slipway whole" --prepare "rm -rf $sw_data" "$SW $ps_args -o type=oci,dest=$work/ps.tar $work/ps" \
    -n "slipway critical path (--target test)" --prepare "rm -rf $sw_data" "$SW $ps_args --target test -o type=oci,dest=$work/ps.tar $work/ps" \
    -n "docker whole" --prepare "$DK_PRUNE" "$DK $ps_args $work/ps" \
    -n "docker critical path (--target test)" --prepare "$DK_PRUNE" "$DK $ps_args --target test $work/ps" \
    -n "buildah whole" --prepare "$BH_RMI" "$BH $ps_args $work/ps" \
    -n "buildah critical path (--target test)" --prepare "$BH_RMI" "$BH $ps_args --target test $work/ps"
}
stages_sum=$((2 + 3 + 2))

want noop && {
step "3. no-op rebuild (everything cached)"
$SW $ps_args -o "type=oci,dest=$work/ps.tar" "$work/ps" >/dev/null 2>&1
$DK $ps_args "$work/ps" >/dev/null
$BH $ps_args "$work/ps" >/dev/null
hf noop \
    -n slipway "$SW $ps_args -o type=oci,dest=$work/ps.tar $work/ps" \
    -n docker "$DK $ps_args $work/ps" \
    -n buildah "$BH $ps_args $work/ps"
}

want onechange && {
step "4. one-file-change rebuild (src/app.sh changes before each run)"
change="echo \"# change \$RANDOM\$RANDOM\" >> $work/ps/src/app.sh"
hf onechange \
    -n slipway --prepare "$change" "$SW $ps_args -o type=oci,dest=$work/ps.tar $work/ps" \
    -n docker --prepare "$change" "$DK $ps_args $work/ps" \
    -n buildah --prepare "$change" "$BH $ps_args $work/ps"
}

want cachemount && {
step "5. cache-mount rebuild (requirements.txt changes; warm cache mount vs no cache mount)"
sed -e 's/--mount=type=cache,target=\/cache,id=example-packages //' -e 's|sh fetch.sh requirements.txt /cache|mkdir -p /cache \&\& sh fetch.sh requirements.txt /cache|' \
    "$work/cm/Dockerfile" >"$work/cm/Dockerfile.nomount"
cm_args="--build-arg FETCH_SECONDS=2"
$SW $cm_args -o "type=oci,dest=$work/cm.tar" "$work/cm" >/dev/null 2>&1
$DK $cm_args "$work/cm" >/dev/null
$BH $cm_args "$work/cm" >/dev/null
bump="echo >> $work/cm/requirements.txt"
hf cachemount \
    -n "slipway cache mount" --prepare "$bump" "$SW $cm_args -o type=oci,dest=$work/cm.tar $work/cm" \
    -n "slipway no mount" --prepare "$bump" "$SW $cm_args -f $work/cm/Dockerfile.nomount -o type=oci,dest=$work/cm.tar $work/cm" \
    -n "docker cache mount" --prepare "$bump" "$DK $cm_args $work/cm" \
    -n "docker no mount" --prepare "$bump" "$DK $cm_args -f $work/cm/Dockerfile.nomount $work/cm" \
    -n "buildah cache mount" --prepare "$bump" "$BH $cm_args $work/cm" \
    -n "buildah no mount" --prepare "$bump" "$BH $cm_args -f $work/cm/Dockerfile.nomount $work/cm"
}

want regcache && {
step "6. cold build, empty local state: with a registry cache vs without (linux/amd64)"
git -C "$root" show HEAD:examples/parallel-stages/src/app.sh >"$work/ps/src/app.sh" 2>/dev/null || true
rc="$addr/bench/regcache"
rm -rf "$sw_data"
$SW $ps_args --cache-to "type=registry,ref=$rc:slipway,mode=max" -o "type=oci,dest=$work/ps.tar" "$work/ps" >/dev/null 2>&1
$DK_PRUNE >/dev/null
$DK $ps_args --build-arg BUILDKIT_INLINE_CACHE=1 -t "$rc:docker" "$work/ps" >/dev/null
/usr/bin/docker push -q "$rc:docker" >/dev/null
$BH_RMI >/dev/null 2>&1 || true
$BH $ps_args --cache-to "$rc-buildah" "$work/ps" >/dev/null
DK_WIPE="$DK_PRUNE >/dev/null; /usr/bin/docker image rm -f $rc:docker >/dev/null 2>&1; true"
hf regcache \
    -n "slipway no cache" --prepare "rm -rf $sw_data" "$SW $ps_args -o type=oci,dest=$work/ps.tar $work/ps" \
    -n "slipway registry cache" --prepare "rm -rf $sw_data" "$SW $ps_args --cache-from type=registry,ref=$rc:slipway -o type=oci,dest=$work/ps.tar $work/ps" \
    -n "docker no cache" --prepare "$DK_WIPE" "$DK $ps_args $work/ps" \
    -n "docker registry (inline) cache" --prepare "$DK_WIPE" "$DK $ps_args --cache-from $rc:docker $work/ps" \
    -n "buildah no cache" --prepare "$BH_RMI" "$BH $ps_args $work/ps" \
    -n "buildah registry cache" --prepare "$BH_RMI" "$BH $ps_args --cache-from $rc-buildah $work/ps"
}

if [ -n "${SLIPWAY_BENCH_ONLY:-}" ]; then
    for f in "$out"/*.md; do cat "$f"; echo; done
    echo "bench.sh: results in $out"
    exit 0
fi

step "summary"
{
    echo "# slipway benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, slipway $profile build, $runs runs each)"
    echo
    echo "| benchmark | slipway (s) | docker 20.10 BuildKit (s) | buildah 1.28 (s) | slipway / docker | slipway / buildah |"
    echo "|---|---|---|---|---|---|"
    for b in cold3:0:1:2 noop:0:1:2 onechange:0:1:2; do
        IFS=: read -r name s d h <<<"$b"
        sm=$(mean "$name" "$s"); dm=$(mean "$name" "$d"); bm=$(mean "$name" "$h")
        printf '| %s | %.2f | %.2f | %.2f | %s | %s |\n' "$name" "$sm" "$dm" "$bm" "$(ratio "$sm" "$dm")" "$(ratio "$sm" "$bm")"
    done
    echo
    echo "Parallel stages (sum of stage sleeps ${stages_sum}s, critical path deps+test 5s):"
    echo
    echo "| builder | whole build (s) | critical path alone (s) | whole / critical path |"
    echo "|---|---|---|---|"
    for i in 0 2 4; do
        w=$(mean parallel "$i"); c=$(mean parallel $((i + 1)))
        printf '| %s | %.2f | %.2f | %s |\n' "$(jq -r ".results[$i].command" "$out/parallel.json" | cut -d' ' -f1)" "$w" "$c" "$(ratio "$w" "$c")"
    done
    echo
    echo "Cache-mount rebuild after a requirements change (3 packages x 2s fetch):"
    echo
    echo "| builder | warm cache mount (s) | no cache mount (s) | speedup |"
    echo "|---|---|---|---|"
    for i in 0 2 4; do
        w=$(mean cachemount "$i"); n=$(mean cachemount $((i + 1)))
        printf '| %s | %.2f | %.2f | %sx |\n' "$(jq -r ".results[$i].command" "$out/cachemount.json" | cut -d' ' -f1)" "$w" "$n" "$(ratio "$n" "$w")"
    done
    echo
    echo "Cold build with empty local state, linux/amd64: registry cache vs none:"
    echo
    echo "| builder | no cache (s) | registry cache (s) | speedup |"
    echo "|---|---|---|---|"
    for i in 0 2 4; do
        n=$(mean regcache "$i"); c=$(mean regcache $((i + 1)))
        printf '| %s | %.2f | %.2f | %sx |\n' "$(jq -r ".results[$i].command" "$out/regcache.json" | cut -d' ' -f1)" "$n" "$c" "$(ratio "$n" "$c")"
    done
} | tee "$out/summary.md"
echo
echo "bench.sh: results in $out"
