FROM alpine
ONBUILD RUN echo triggered
onbuild COPY --from=build /a /b
ONBUILD ADD <<EOF /x
body
EOF
