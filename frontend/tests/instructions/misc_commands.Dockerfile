FROM alpine
MAINTAINER someone <a@b.c>
CMD echo hi
CMD ["run", "--fast"]
ENTRYPOINT ["/entry"]
ENTRYPOINT []
EXPOSE 8080/tcp 443 80
VOLUME /data ["/a", "/b"]
VOLUME ["/x", "/y"]
USER app:app
WORKDIR /srv/app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
STOPSIGNAL SIGTERM
