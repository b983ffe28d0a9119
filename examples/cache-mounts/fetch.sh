#!/bin/sh
# fetch.sh REQUIREMENTS CACHE DEST: "download" each package into CACHE unless it is already there
# (a slow step: FETCH_SECONDS per missing package), then install the cached copies into DEST.
set -e
req=$1 cache=$2 dest=$3
mkdir -p "$cache" "$dest"
while read -r pkg; do
    [ -n "$pkg" ] || continue
    if [ ! -f "$cache/$pkg.whl" ]; then
        echo "fetch: downloading $pkg"
        sleep "${FETCH_SECONDS:-4}"
        echo "$pkg wheel" > "$cache/$pkg.whl"
    else
        echo "fetch: $pkg from cache"
    fi
    cp "$cache/$pkg.whl" "$dest/"
done < "$req"
