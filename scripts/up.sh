#!/usr/bin/env bash
# Set up the machine, build Keel and its default plugins, and run a single-node
# cluster with them, writing a kubeconfig so kubectl works with no flags.
# Extra arguments go to `keel up` (for example --data-dir, --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
cargo build --release --locked --bin keel
# The default plugins, built for wasm32-wasip2 without debug info.
cargo build --release --locked --target wasm32-wasip2 \
  --config profile.release.debug=false --config profile.release.strip=true \
  -p keel-plugin-node-resources -p keel-plugin-image-policy -p keel-plugin-host-local
wasm="$CARGO_TARGET_DIR/wasm32-wasip2/release"
exec "$CARGO_TARGET_DIR/release/keel" up \
  --plugin "node-resources=scheduler:$wasm/keel_plugin_node_resources.wasm" \
  --plugin "image-policy=admission:$wasm/keel_plugin_image_policy.wasm" \
  --plugin "host-local=network:$wasm/keel_plugin_host_local.wasm" \
  "$@"
