# copy-exclude spelled without --exclude.
ARG BASE
FROM $BASE
COPY docs/guide.txt docs/index.txt /docs/
COPY docs/sub/keep.txt /docs/sub/
