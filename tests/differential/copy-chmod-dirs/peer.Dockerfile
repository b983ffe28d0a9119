# copy-chmod-dirs spelled for BuildKit 0.8 (dockerd 20.10), whose fsutil made every directory it
# created for a COPY destination 0755 (an octal mode's permission bits since fsutil 183e7fb,
# 2025) and dropped an octal mode's setuid/setgid/sticky bits, and which ignores a symbolic
# --chmod (BuildKit has them since 2024, fsutil 3a8c87e): chmod(1) gives the v0.32 modes after.
ARG BASE
FROM $BASE
RUN mkdir -m 711 /existing
COPY --chmod=600 tree/ /dst/
COPY --chmod=600 file.txt /a/b/c/
COPY --chmod=4755 file.txt /s/t/
COPY --chmod=640 tree /nodash
COPY --chmod=600 tree/ /existing/
COPY tree/ /sym/deep/
COPY file.txt /symf/a/
ADD --chmod=600 archive.tar /arch/x/
RUN chmod 600 /dst /a /a/b /a/b/c && chmod 640 /nodash && chmod 4755 /s/t/file.txt \
 && find /sym/deep -mindepth 1 -exec chmod u=rwX,go= {} \; && chmod g+w,o-rwx /symf/a/file.txt
