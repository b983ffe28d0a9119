# copy-link without --link, for peers older than dockerfile 1.4.
ARG BASE
FROM $BASE
RUN mkdir -p /app && echo base > /app/base.txt
COPY a.txt /app/
COPY --chown=1000:1000 dir/ /linked/dir/
COPY a.txt /new/parent/a.txt
