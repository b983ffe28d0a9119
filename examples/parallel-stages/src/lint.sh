#!/bin/sh
# "Lint": every script in src/ must start with a shebang.
set -e
for f in src/*.sh; do
    head -n1 "$f" | grep -q '^#!/bin/sh' || { echo "lint: $f has no #!/bin/sh" >&2; exit 1; }
done
echo "lint: ok"
