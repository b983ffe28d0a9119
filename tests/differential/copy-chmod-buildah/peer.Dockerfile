# copy-chmod-buildah spelled for buildah 1.28, which makes the directories it creates for a COPY
# destination 0755; BuildKit v0.32 gives them an octal --chmod's permission bits (fsutil 183e7fb).
ARG BASE
FROM $BASE
COPY --chmod=0755 script.sh /usr/local/bin/script
COPY --chmod=600 secret.conf /etc/secret.conf
COPY --chmod=0750 --chown=app:app dir /srv/dir
RUN chmod 750 /srv /srv/dir
