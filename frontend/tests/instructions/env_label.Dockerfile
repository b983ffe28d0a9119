FROM alpine
ENV A=1 B="two words" C=
ENV LEGACY value with spaces
LABEL org.opencontainers.image.title="x" version=1
