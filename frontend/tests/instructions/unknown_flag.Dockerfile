FROM alpine
RUN --mout=type=cache,target=/x true
