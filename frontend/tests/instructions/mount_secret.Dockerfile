FROM alpine
RUN --mount=type=secret,id=aws cat /run/secrets/aws
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc,required npm ci
RUN --mount=type=secret,id=token,env=TOKEN,uid=1000,mode=0440 ./deploy
RUN --mount=type=secret,target=/etc/cred true
RUN --mount=type=secret,source=dir/key,required=true true
