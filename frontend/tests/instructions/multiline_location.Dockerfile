FROM alpine
RUN apt-get update \
 && apt-get install -y \
    curl
COPY --chown=1:1 \
     a /b
