FROM alpine
COPY --chown x /y
