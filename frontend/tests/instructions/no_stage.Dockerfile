ARG A=1
RUN echo $A
