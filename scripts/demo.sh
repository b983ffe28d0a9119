#!/usr/bin/env bash
# `make demo`: one multi-platform build, end to end, on this machine.
#
#   setup -> local registry (scripts/registry.sh) -> build slipway -> seed the busybox base
#   -> slipway build --platform linux/amd64,linux/arm64,linux/arm/v7 --push examples/parallel-stages
#   -> print the index (slipway imagetools inspect, skopeo inspect --raw)
#   -> per platform: skopeo copy to an OCI layout, umoci unpack, runc run `uname -m`
#      (expects x86_64, aarch64, armv7l; the foreign ones run under QEMU via binfmt_misc).
#
# Environment: SLIPWAY_DEMO_RELEASE=1 builds slipway in release mode; SLIPWAY_REGISTRY_ADDR
# (default 127.0.0.1:5000); SLIPWAY_DEMO_EXAMPLE (default parallel-stages).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
addr=${SLIPWAY_REGISTRY_ADDR:-127.0.0.1:5000}
export SLIPWAY_REGISTRY_ADDR=$addr
example=${SLIPWAY_DEMO_EXAMPLE:-parallel-stages}
image="$addr/demo/app:1"
platforms=(linux/amd64 linux/arm64 linux/arm/v7)
step() { printf '\n==> %s\n' "$*"; }

step "setup"
bash scripts/setup.sh

step "registry at $addr"
if curl -fsS -o /dev/null "http://$addr/v2/" 2>/dev/null; then
    echo "a registry already answers at http://$addr/v2/; using it"
else
    bash scripts/registry.sh start
fi

step "build slipway"
profile=debug
cargo_flags=()
if [ "${SLIPWAY_DEMO_RELEASE:-0}" = 1 ]; then profile=release; cargo_flags+=(--release); fi
cargo build -p slipway-cli --bin slipway "${cargo_flags[@]}"
slipway="${CARGO_TARGET_DIR:-$root/target}/$profile/slipway"
export SLIPWAY=$slipway

step "seed $addr/library/busybox:latest (built by slipway from Debian's busybox-static)"
bash scripts/seed-base-images.sh "$addr"

step "slipway build --platform $(IFS=,; echo "${platforms[*]}") -t $image --push examples/$example"
"$slipway" build --platform "$(IFS=,; echo "${platforms[*]}")" \
    --build-arg "BASE=$addr/library/busybox:latest" \
    -t "$image" --push "examples/$example"

step "slipway imagetools inspect $image"
"$slipway" imagetools inspect "$image"

step "skopeo inspect --raw $image"
skopeo inspect --raw --tls-verify=false "docker://$image" | jq .

work=$(mktemp -d /tmp/slipway-demo.XXXXXX)
cleanup() {
    for p in "${platforms[@]}"; do runc delete -f "slipway-demo-$$-${p//\//-}" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

declare -A expected=([linux/amd64]=x86_64 [linux/arm64]=aarch64 [linux/arm/v7]=armv7l)
failed=0
for p in "${platforms[@]}"; do
    IFS=/ read -r os arch variant <<<"$p"
    tag=${p//\//-}
    step "run uname -m in the $p image (skopeo copy -> umoci unpack -> runc)"
    override=(--override-os "$os" --override-arch "$arch")
    [ -n "${variant:-}" ] && override+=(--override-variant "$variant")
    skopeo "${override[@]}" copy -q --src-tls-verify=false "docker://$image" "oci:$work/layout:$tag"
    umoci unpack --image "$work/layout:$tag" "$work/bundle-$tag" >/dev/null
    cfg="$work/bundle-$tag/config.json"
    jq '.process.args = ["uname", "-m"] | .process.terminal = false' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
    out=$(runc run --bundle "$work/bundle-$tag" "slipway-demo-$$-$tag" </dev/null)
    printf '%-14s uname -m: %s\n' "$p" "$out"
    if [ "$out" != "${expected[$p]}" ]; then
        echo "demo: $p printed '$out', expected '${expected[$p]}'" >&2
        failed=1
    fi
done

if [ "$failed" -ne 0 ]; then
    echo; echo "demo: FAILED" >&2
    exit 1
fi
echo; echo "demo: ok: one index, three platforms, each ran (x86_64, aarch64, armv7l)"
