FROM alpine
MAINTAINER --boo joe@example.com
