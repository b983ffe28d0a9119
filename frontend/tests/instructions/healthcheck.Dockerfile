FROM alpine
HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1
FROM alpine
HEALTHCHECK CMD ["/bin/check", "--quiet"]
FROM alpine
HEALTHCHECK NONE
