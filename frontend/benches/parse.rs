//! Parser throughput on a generated, realistic 5,000-line multi-stage Dockerfile.

use std::fmt::Write as _;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use slipway_frontend::parser::parse;

const TARGET_LINES: usize = 5_000;

/// One stage of a typical multi-stage build (about 60 lines).
fn push_stage(out: &mut String, i: usize) {
    let prev = i.saturating_sub(1);
    let _ = write!(
        out,
        r#"# ---- stage {i}: build the component ----
# It compiles, tests and packages component {i}.
ARG BASE_{i}=debian:bookworm-slim
FROM ${{BASE_{i}}} AS stage{i}
ARG VERSION={i}.0.1 TARGETARCH
ENV LANG=C.UTF-8 \
    PATH=/opt/app{i}/bin:$PATH \
    APP_HOME="/opt/app {i}"
ENV LEGACY_{i} some legacy value
LABEL org.opencontainers.image.title="component-{i}" \
      org.opencontainers.image.version=$VERSION maintainer="team@example.com"
WORKDIR /src/component{i}
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt \
    apt-get update && \
    apt-get install -y --no-install-recommends \
        build-essential \
        ca-certificates \
        curl \
        git \
        pkg-config && \
    rm -rf /var/lib/apt/lists/*
COPY --from=stage{prev} --chown=1000:1000 --chmod=0755 /out/bin/ /usr/local/bin/
COPY --link go.mod go.sum ./
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/archive-{i}.tar.gz /tmp/
COPY ["conf/app {i}.toml", "/etc/app/"]
RUN <<EOF
set -eux
echo "building component {i}"
make -j"$(nproc)" VERSION="$VERSION"
make test
EOF
COPY <<-CONF /etc/app/extra-{i}.conf
	listen = 0.0.0.0:{i}
	workers = 4
	CONF
RUN ["/bin/sh", "-c", "echo exec form {i} && ls -la /usr/local/bin"]
RUN set -eux; \
    for f in a b c; do \
      echo "$f"; \
    done
EXPOSE 80{i} 443/tcp
VOLUME ["/data{i}", "/logs{i}"]
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD curl -fsS http://localhost:80{i}/healthz || exit 1
ONBUILD COPY . /app/src
STOPSIGNAL SIGTERM
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENTRYPOINT ["/usr/local/bin/app{i}", "--config", "/etc/app/app {i}.toml"]
CMD ["serve", "--port", "80{i}"]

"#
    );
}

fn generate(lines: usize) -> String {
    let mut out =
        String::from("# syntax=docker/dockerfile:1\n# check=skip=JSONArgsRecommended\n\n");
    let mut i = 0;
    while out.lines().count() < lines {
        push_stage(&mut out, i);
        i += 1;
    }
    out
}

fn bench_parse(c: &mut Criterion) {
    let source = generate(TARGET_LINES);
    let line_count = source.lines().count();
    let parsed = parse(&source).map(|r| r.ast.children.len());
    match parsed {
        Ok(n) => eprintln!("generated Dockerfile: {line_count} lines, {n} instructions"),
        Err(e) => panic!(
            "generated Dockerfile does not parse: {e} (line {})",
            e.line()
        ),
    }
    c.bench_function(&format!("parse {line_count}-line Dockerfile"), |b| {
        b.iter(|| parse(black_box(&source)))
    });
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
