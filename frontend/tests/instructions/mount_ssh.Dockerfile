FROM alpine
RUN --mount=type=ssh git clone git@github.com:x/y
RUN --mount=type=ssh,id=gh,required --mount=type=ssh,target=/ssh.sock,mode=0666 true
