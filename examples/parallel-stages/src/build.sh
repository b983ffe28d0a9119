#!/bin/sh
# "Build": copy the app into the output directory with a build stamp.
set -e
out=$1
mkdir -p "$out"
cp src/app.sh "$out/app.sh"
echo "built for $(uname -m)" > "$out/BUILD"
