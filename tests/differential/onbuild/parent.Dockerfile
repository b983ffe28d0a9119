# The parent image of the onbuild case: its triggers run in the child.
ARG BASE
FROM $BASE
RUN mkdir /app
ONBUILD COPY trigger.txt /app/
ONBUILD RUN echo "trigger ran" > /app/ran.txt
ONBUILD ENV TRIGGERED=yes
LABEL parent=yes
