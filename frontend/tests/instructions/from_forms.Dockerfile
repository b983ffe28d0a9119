# builder compiles everything
FROM --platform=$BUILDPLATFORM golang:1.22 AS Builder
FROM scratch
FROM builder as final
