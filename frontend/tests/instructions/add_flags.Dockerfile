FROM alpine
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a/
ADD --keep-git-dir=true git@github.com:moby/buildkit.git /bk
ADD --unpack=false --link --chmod=644 --exclude=*.txt data.tar /data/
ADD --chown=app file /
