FROM alpine
RUN <<EOF
echo hello
echo world
EOF
RUN <<-EOT bash
	set -e
	echo tabbed
	EOT
RUN python3 <<PY > /out
print("x")
PY
