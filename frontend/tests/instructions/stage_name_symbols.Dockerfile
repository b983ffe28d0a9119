FROM alpine AS build$x
