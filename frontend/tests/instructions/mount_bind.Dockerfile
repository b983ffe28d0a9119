FROM alpine AS build
RUN echo hi > /out
FROM alpine
RUN --mount=type=bind,from=build,source=/out,target=/in cat /in
RUN --mount=target=/src,rw --mount=type=bind,src=ctx,dst=/ctx,readonly=false ls /src
RUN --mount=type=bind,target=/x,ro=true,from=build true
