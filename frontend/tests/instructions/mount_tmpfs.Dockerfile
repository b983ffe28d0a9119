FROM alpine
RUN --mount=type=tmpfs,target=/tmp/work,size=64m ls /tmp/work
RUN --mount=type=tmpfs,target=/t ls
