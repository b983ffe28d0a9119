FROM alpine
RUN --mount=type=volume,target=/x true
RUN --mount=type=cahce,target=/x true
RUN --mount=type=cache,target=/x,sharing=al true
RUN --mount=target=/x,foo=bar true
RUN --mount=target=/x,bogus true
RUN --mount=target=/x,required true
RUN --mount=type=bind,target=/x,mode=0755 true
RUN --mount=type=tmpfs,target=/x,size=big true
RUN --mount=type=cache,target=/x,uid=root true
RUN --mount=type=secret,from=x,id=a true
RUN --mount=type=secret true
RUN --mount=type=secret,id=a,source=b true
RUN --mount=type=bind,target=/x,sharing=shared true
RUN --mount=type=ssh,source=/agent true
RUN --mount=type=bind,target=/x,ro=maybe true
