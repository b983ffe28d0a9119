FROM alpine
WORKDIR /a /b
