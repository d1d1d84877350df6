#!/usr/bin/env bash
# Set up the machine, build Keel, and run a single-node cluster with the
# default plugins, writing a kubeconfig so kubectl works with no flags.
# Extra arguments go to `keel up` (for example --data-dir, --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo build --release --locked --bin keel
exec "$CARGO_TARGET_DIR/release/keel" up "$@"
