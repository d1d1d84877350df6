#!/usr/bin/env bash
# Keel's whole test suite: set up the machine, build once (release, so tests
# and benchmarks share one build), check formatting and lints, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo fmt --all -- --check
cargo build --release --workspace --all-targets --locked
cargo clippy --release --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc --release --workspace --no-deps --locked -q
cargo nextest run --release --workspace --locked --no-fail-fast
