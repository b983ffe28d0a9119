FROM alpine
RUN --network=none --security=insecure echo a
RUN --network=host echo b
RUN --device=vendor.com/gpu=all,required echo c
RUN ["echo", "exec form"]
