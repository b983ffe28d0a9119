#!/usr/bin/env bash
# Installs what slipway's build, tests and demo need on a Debian 12 machine (root).
# Idempotent: skips what is already there. Usage: scripts/setup.sh
set -euo pipefail

need_pkgs=()
want() { # want BINARY PACKAGE
  command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2")
}
want runc runc
want skopeo skopeo
want umoci umoci
want docker-registry docker-registry
want qemu-aarch64-static qemu-user-static
want update-binfmts binfmt-support
want hyperfine hyperfine
want pigz pigz
want zstd zstd
want protoc protobuf-compiler
want htpasswd apache2-utils
want cc build-essential
want openssl openssl
# Peers for the differential tests and benchmarks (tests/, scripts/bench.sh): dockerd 20.10 with
# BuildKit and buildah 1.28; ssh-agent for the ssh-mount case.
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need_pkgs+=(docker.io)
want buildah buildah
want ssh-agent openssh-client
want jq jq
want curl curl
# The farm tests cut a coordinator off in a network namespace.
want ip iproute2
# Git sources (`ADD <git ref>`): the workers run git; the tests serve repositories with git daemon.
[ -x /usr/lib/git-core/git-daemon ] && command -v git >/dev/null || need_pkgs+=(git)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need_pkgs[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # One stale foreign-arch index can make `apt-get update` exit 100; the install below still works.
  apt-get update -qq || echo "setup: apt-get update exited $? (tolerated)"
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# The Debian package starts a registry on :5000 through its init script on some systems;
# slipway's tests start their own on free ports, the demo uses scripts/registry.sh.

# binfmt_misc handlers for foreign platforms (qemu-user-static registers them with the F flag).
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable || echo "setup: update-binfmts --enable failed; foreign platforms will not run" >&2
fi

# Foreign busybox-static packages for the seed base image (scripts/seed-base-images.sh) and the
# worker tests (scripts/test-rootfs.sh keeps its .deb cache in ${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}).
seed_cache=${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}
mkdir -p "$seed_cache"
missing_debs=()
for arch in amd64 arm64 armhf; do
  ls "$seed_cache"/busybox-static_*_"$arch".deb >/dev/null 2>&1 || missing_debs+=("busybox-static:$arch")
done
if [ "${#missing_debs[@]}" -gt 0 ]; then
  native=$(dpkg --print-architecture)
  for arch in arm64 armhf; do
    if [ "$arch" != "$native" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      dpkg --add-architecture "$arch"
    fi
  done
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || echo "setup: apt-get update exited $? (tolerated)"
  (cd "$seed_cache" && apt-get download -qq "${missing_debs[@]}")
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust (rustup) first" >&2
  exit 1
fi
echo "setup: ok"
