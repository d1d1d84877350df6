#!/usr/bin/env bash
# Set up the machine, build Keel, and run a single-node cluster with the
# default plugins, writing a kubeconfig so kubectl works with no flags.
# Extra arguments go to `keel up` (for example --data-dir, --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --bin keel
exec ./target/release/keel up "$@"
