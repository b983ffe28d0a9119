# heredoc-run spelled without heredocs.
ARG BASE
FROM $BASE
RUN mkdir -p /hd && echo "first line" > /hd/one.txt && echo "second $HOME" >> /hd/one.txt
RUN echo "with sh" > /hd/two.txt
