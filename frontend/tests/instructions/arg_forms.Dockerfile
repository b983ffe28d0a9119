# BASE selects the base image
ARG BASE=alpine:3.20
ARG A B=2 C=
FROM ${BASE} AS base
# VERSION is the version to build
ARG VERSION=1.0 EMPTY=
ARG NOVALUE
FROM base
ARG VERSION
