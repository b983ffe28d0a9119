# copy-chmod spelled for BuildKit 0.8 (dockerd 20.10), which makes the directories it creates for a COPY
# destination 0755; BuildKit v0.32 gives them an octal --chmod's permission bits (fsutil 183e7fb).
ARG BASE
FROM $BASE
COPY --chmod=0755 script.sh /usr/local/bin/script
COPY --chmod=600 secret.conf /etc/secret.conf
COPY --chmod=0750 --chown=app:app dir /srv/dir
RUN chmod 750 /srv /srv/dir
