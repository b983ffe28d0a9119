#!/bin/sh
# "Tests": the dependencies are installed and the app prints its greeting.
set -e
for m in left-pad router logger; do
    test -f "modules/$m/VERSION" || { echo "test: module $m missing" >&2; exit 1; }
done
out=$(sh src/app.sh)
[ "$out" = "hello from slipway on $(uname -m)" ] || { echo "test: unexpected output: $out" >&2; exit 1; }
echo "tests passed on $(uname -m)"
