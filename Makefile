# portcullis — one entry point for every suite. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test check demo demo-proxy test-proxies test-browser test-rust lint test-c test-python bench fuzz fuzz-smoke vectors

## Every suite: Rust (fmt, clippy, tests), C, Python. Installs what it needs.
test: lint test-rust test-c test-python test-proxies test-browser fuzz-smoke

## The inner loop (under two minutes on a warm build): fmt, clippy, the core crate's tests.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test -p portcullis

## fmt, clippy (its incompatible_msrv lint holds std APIs to each crate's rust-version), rustdoc,
## the locked dependencies against rust-version, and cargo-deny (installed on first use, ~4 min).
DENY_VERSION := 0.20.2
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p portcullis -p portcullis-cli -p portcullis-store -p portcullis-server --no-deps
	python3 .ci/msrv.py
	$(CARGO) deny --version 2>/dev/null | grep -qx "cargo-deny $(DENY_VERSION)" \
		|| $(CARGO) install cargo-deny --version $(DENY_VERSION) --locked
	$(CARGO) deny --workspace check licenses bans sources

## The store's tests run a real PostgreSQL and Redis: pg.sh and redis.sh install them on a
## fresh machine.
test-rust:
	bash crates/portcullis-store/tests/pg.sh
	bash crates/portcullis-store/tests/redis.sh
	$(CARGO) test --workspace

## Debian's nginx and Caddy in front of `portcullis serve`, configured from the README's
## "Behind a proxy" blocks (installs them; under a minute on a warm build).
test-proxies:
	bash crates/portcullis-server/tests/proxies/run.sh

## The Settings > API Keys page in Debian's Chromium driven by Playwright (installs both; a
## minute on a warm build); screenshots in target/artifacts/.
test-browser:
	bash crates/portcullis-server/tests/browser/run.sh

## The C binding's suites (gcc, valgrind, sanitizers).
test-c:
	bash bindings/c/run-tests.sh

## The Python binding's suites (venv, maturin, pytest, stubtest, example app).
test-python:
	bash bindings/python/run-tests.sh

## The main job: issue and check keys on the embedded default store.
demo:
	$(CARGO) run -q -p portcullis-cli -- demo

## A request through nginx and `portcullis serve`: allowed, then refused with 401, 403, 429.
demo-proxy:
	bash examples/proxy-demo/run.sh

## Benchmarks: ratios against the HMAC-SHA256 floor, one summary table (benches/README.md).
## Run on an idle machine. Rust (criterion), then the C and Python harnesses, then the table.
bench:
	$(CARGO) bench -p portcullis-benches --bench core
	$(CARGO) bench -p portcullis-benches --bench memory
	$(CARGO) bench -p portcullis-benches --bench access_token
	$(CARGO) bench -p portcullis-benches --bench store
	bash benches/c/run.sh
	bash benches/python/run.sh
	bash benches/serve/run.sh
	python3 benches/summary.py

## Regenerate the conformance vectors in tests/vectors/ (review the diff before committing).
vectors:
	PORTCULLIS_BLESS=1 $(CARGO) test -p portcullis --test vectors --test oauth_vectors --test error_vectors --test usage_vectors --test limit_vectors

## Fuzz every target (fuzz/, cargo-fuzz on nightly) for FUZZ_SECONDS each; see SECURITY.md.
FUZZ_SECONDS ?= 600
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

## A short fuzz pass of every target (about 20 s each); part of `make test`.
fuzz-smoke:
	bash fuzz/run.sh 20
