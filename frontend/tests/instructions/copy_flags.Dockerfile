FROM alpine AS build
FROM alpine
COPY --from=build --chown=1000:1000 --chmod=0755 --link /out /bin/
COPY --parents --exclude=*.md --exclude=docs/ ./src/ /app/
COPY --link=false a b /dst/
COPY ["with space", "/dst/"]
