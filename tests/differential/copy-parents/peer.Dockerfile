# copy-parents spelled without --parents.
ARG BASE
FROM $BASE
COPY src/app/main.txt /out/src/app/main.txt
COPY src/cli/main.txt /out/src/cli/main.txt
COPY src/lib/util/helper.txt /out2/src/lib/util/helper.txt
