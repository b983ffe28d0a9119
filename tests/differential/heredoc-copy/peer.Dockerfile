# heredoc-copy with the files in the context.
ARG BASE
FROM $BASE
ARG NAME=slipway
COPY greeting /etc/greeting
COPY literal /etc/literal
