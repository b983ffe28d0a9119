#!/usr/bin/env bash
# Seed the local registry with the multi-platform busybox base image the examples, the demo,
# the benchmarks and the differential tests build FROM.
#
#   scripts/seed-base-images.sh [REGISTRY]      (default 127.0.0.1:5000)
#
# The rootfs of each platform comes from Debian's busybox-static package (scripts/test-rootfs.sh,
# plus every applet busybox provides); the index REGISTRY/library/busybox:latest is then built and
# pushed by slipway itself from a `FROM scratch` Dockerfile, for linux/amd64, linux/arm64 and
# linux/arm/v7. Environment: SLIPWAY (the slipway binary; default: target/{release,debug}/slipway),
# SLIPWAY_SEED_PLATFORMS (default linux/amd64,linux/arm64,linux/arm/v7).
set -euo pipefail

registry=${1:-127.0.0.1:5000}
root=$(cd "$(dirname "$0")/.." && pwd)
platforms=${SLIPWAY_SEED_PLATFORMS:-linux/amd64,linux/arm64,linux/arm/v7}

slipway=${SLIPWAY:-}
if [ -z "$slipway" ]; then
    tdir=${CARGO_TARGET_DIR:-$root/target}
    for c in "$tdir/release/slipway" "$tdir/debug/slipway"; do
        if [ -x "$c" ]; then slipway=$c; break; fi
    done
fi
if [ -z "$slipway" ] || [ ! -x "$slipway" ]; then
    echo "seed-base-images.sh: no slipway binary (set SLIPWAY or run cargo build -p slipway-cli)" >&2
    exit 1
fi

ctx=$(mktemp -d /tmp/slipway-seed.XXXXXX)
trap 'rm -rf "$ctx"' EXIT

# Debian arch -> the ${TARGETARCH}${TARGETVARIANT} the Dockerfile selects the rootfs with.
declare -A dirname_of=([amd64]=amd64 [arm64]=arm64 [armhf]=armv7)
amd64_busybox=
for arch in amd64 arm64 armhf; do
    dir="$ctx/rootfs-${dirname_of[$arch]}"
    bash "$root/scripts/test-rootfs.sh" "$dir" "$arch" >/dev/null
    [ "$arch" = amd64 ] && amd64_busybox="$dir/bin/busybox"
done

# Every applet of Debian's busybox-static (same configuration on every architecture), asked
# from the native amd64 binary; test-rootfs.sh only links a subset.
applets=$("$amd64_busybox" --list-full)
for arch in amd64 arm64 armhf; do
    dir="$ctx/rootfs-${dirname_of[$arch]}"
    while read -r path; do
        [ -n "$path" ] || continue
        [ -e "$dir/$path" ] || [ -L "$dir/$path" ] && continue
        mkdir -p "$dir/$(dirname "$path")"
        ln -s /bin/busybox "$dir/$path"
    done <<<"$applets"
    mkdir -p "$dir/var/tmp" "$dir/run" && chmod 1777 "$dir/var/tmp"
done

cat >"$ctx/Dockerfile" <<'DOCKERFILE'
# The seed base image: Debian's busybox-static for each target platform.
FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY rootfs-${TARGETARCH}${TARGETVARIANT}/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
DOCKERFILE

echo "seed-base-images.sh: building $registry/library/busybox:latest for $platforms with $slipway"
"$slipway" build --platform "$platforms" -t "$registry/library/busybox:latest" --push "$ctx"
echo "seed-base-images.sh: pushed $registry/library/busybox:latest"
