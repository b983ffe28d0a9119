#!/usr/bin/env bash
# Build a minimal busybox rootfs for worker integration tests.
#
#   scripts/test-rootfs.sh DIR ARCH        (ARCH: amd64 | arm64 | armhf)
#
# Uses Debian's busybox-static package for ARCH (adds the dpkg foreign architecture and
# runs apt-get update when the package is not yet known). DIR is replaced; the result has
# bin/ with busybox applet symlinks, etc/passwd, etc/group (root, nobody, app:1000 with
# supplementary group "staff"), and empty proc/ sys/ dev/ tmp/ mount points.
# Downloaded .deb files are cached in ${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DIR ARCH (ARCH: amd64, arm64 or armhf)" >&2
    exit 2
fi
dir=$1
arch=$2
case "$arch" in
    amd64|arm64|armhf) ;;
    *) echo "test-rootfs.sh: unsupported ARCH '$arch' (amd64, arm64 or armhf)" >&2; exit 2 ;;
esac

cache=${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}
mkdir -p "$cache"

deb=$(ls "$cache"/busybox-static_*_"$arch".deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    native=$(dpkg --print-architecture)
    if [ "$arch" != "$native" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        dpkg --add-architecture "$arch"
    fi
    if ! apt-cache show "busybox-static:$arch" >/dev/null 2>&1; then
        # One stale index makes apt-get update exit 100 while the rest is fine.
        rc=0
        apt-get update -qq || rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 100 ]; then
            echo "test-rootfs.sh: apt-get update failed with exit code $rc" >&2
            exit 1
        fi
    fi
    (cd "$cache" && apt-get download -qq "busybox-static:$arch")
    deb=$(ls "$cache"/busybox-static_*_"$arch".deb | head -n1)
fi

tmp=$(mktemp -d "${dir%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg -x "$deb" "$tmp"

mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/root" "$tmp/home/app"
chmod 1777 "$tmp/tmp"
chmod 700 "$tmp/root"
mv "$tmp/bin/busybox" "$tmp/bin/busybox.real" 2>/dev/null || true
[ -e "$tmp/bin/busybox.real" ] || { echo "test-rootfs.sh: no bin/busybox in $deb" >&2; exit 1; }
mv "$tmp/bin/busybox.real" "$tmp/bin/busybox"
rm -rf "$tmp/usr/share/doc" "$tmp/usr/share/man"

# The applet list is a fixed property of Debian's busybox-static build; asking the binary
# itself (`busybox --list`) would need emulation for foreign ARCH, so keep the list here.
applets="sh ash cat chmod chown cp date echo env false grep head hostname id ip ifconfig
ls mkdir mount mv ping printf ps pwd rm rmdir sed sleep stat tail tee test touch true
uname wc whoami which cut sort tr find xargs dd du df ln readlink basename dirname"
for a in $applets; do
    ln -sf busybox "$tmp/bin/$a"
done

cat > "$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PASSWD
cat > "$tmp/etc/group" <<'GROUP'
root:x:0:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$tmp/home/app"

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "test-rootfs.sh: $arch rootfs ready in $dir"
