# copy-exclude spelled without --exclude. Exclude patterns match like .dockerignore patterns,
# relative to the source: *.md drops README.md but not sub/notes.md; tmp drops the tmp directory.
ARG BASE
FROM $BASE
COPY docs/guide.txt docs/index.txt /docs/
COPY docs/sub/ /docs/sub/
