FROM golang
RUN --mount=type=cache,target=/root/.cache/go-build go build ./...
RUN --mount=type=cache,id=gomod,target=/go/pkg/mod,sharing=locked,uid=1000,gid=1000,mode=0700 go mod download
RUN --mount=type=cache,target=/var/cache/apt,sharing=private,from=base,source=/cache true
