# slipway: the two front-door commands are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
# Incremental state is several GB per build and worthless on a fresh CI machine.
export CARGO_INCREMENTAL ?= 0

.PHONY: setup build test test-conformance demo bench fuzz fmt clippy clean-registry cluster cluster-down

setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --bins

# Unit, conformance (needs ../shared), registry and runtime integration tests.
# The end-to-end harness runs the slipway binary this same `cargo test` builds (left alone,
# it would run `cargo build -p slipway-cli`, which resolves features differently and
# compiles a second copy of the dependency tree).
test: export SLIPWAY_BIN ?= $(abspath $(or $(CARGO_TARGET_DIR),target))/debug/slipway
test: setup
	mkdir -p target; $(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log; \
	status=$${PIPESTATUS[0]}; \
	echo; echo "== test summary =="; \
	awk '/^test result:/ {p+=$$4; f+=$$6; i+=$$8} END {printf "%d passed, %d failed, %d skipped\n", p, f, i}' target/test.log; \
	exit $$status

test-conformance:
	$(CARGO) test -p slipway-frontend --test conformance_parser --test conformance_shell

demo: setup
	bash scripts/demo.sh

# A local farm in the background (3 coordinators, 3 workers: amd64 native, arm64 and
# arm/v7 emulated), mutual TLS with a dev CA; `make cluster-down` stops it.
CLUSTER_DIR ?= target/dev-cluster
SLIPWAY_BIN = $${CARGO_TARGET_DIR:-target}/debug/slipway
cluster: setup
	$(CARGO) build -p slipway-cli --bin slipway
	$(SLIPWAY_BIN) dev-cluster up --dir $(CLUSTER_DIR) --coordinators 3 --workers 3

cluster-down:
	$(SLIPWAY_BIN) dev-cluster down --dir $(CLUSTER_DIR)

bench: setup
	bash scripts/bench.sh
	bash scripts/bench-farm.sh

fuzz:
	bash scripts/fuzz.sh parse 600
	bash scripts/fuzz.sh expand 600

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
