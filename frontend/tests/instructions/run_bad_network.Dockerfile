FROM alpine
RUN --network=bridge echo a
