FROM alpine
ARG STAGE=build
RUN --mount=from=$STAGE,target=/x true
