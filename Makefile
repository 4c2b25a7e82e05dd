# The two commands of README.md. Both install what they need first (scripts/setup.sh).
.PHONY: demo test lint setup

CARGO ?= cargo
DEMO_DOMAINS ?= 10000
DEMO_DIR ?= out/demo

setup:
	./scripts/setup.sh

# The demo pipeline end to end: generate a private internet, bring it up, scan, aggregate, report.
demo: setup
	$(CARGO) build --release -p uptake-cli
	./scripts/demo.sh target/release/uptake $(DEMO_DOMAINS) $(DEMO_DIR)

# The whole test suite (unit, conformance, private internet).
test: setup
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(CARGO) test --workspace --release

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings
