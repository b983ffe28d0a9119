FROM alpine
ARG CACHE_ID=npm
RUN --mount=type=cache,id=$CACHE_ID,target=/root/.${CACHE_ID} npm ci
RUN --mount=from=build$,target=/x true
