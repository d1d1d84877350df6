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
  -p keel-plugin-node-unschedulable -p keel-plugin-node-name -p keel-plugin-taint-toleration \
  -p keel-plugin-node-affinity -p keel-plugin-node-resources -p keel-plugin-pod-topology-spread \
  -p keel-plugin-inter-pod-affinity -p keel-plugin-balanced-allocation -p keel-plugin-host-local \
  -p keel-plugin-schema -p keel-plugin-namespace-lifecycle -p keel-plugin-limit-ranger \
  -p keel-plugin-pod-security -p keel-plugin-image-policy -p keel-plugin-resource-quota \
  -p keel-plugin-replicaset -p keel-plugin-deployment -p keel-plugin-garbage-collector \
  -p keel-plugin-node-lifecycle -p keel-plugin-node-ipam
wasm="$CARGO_TARGET_DIR/wasm32-wasip2/release"
# Plugins run in the order given here: the scheduler's filters in kube-scheduler's order,
# with its score weights (TYPE/WEIGHT); the admission chain with ResourceQuota last.
# Controllers take their kinds and grants, and some admission plugins the namespaces they act
# in, from deploy/plugins/NAME.yaml (--plugin-spec).
exec "$CARGO_TARGET_DIR/release/keel" up \
  --plugin "node-unschedulable=scheduler:$wasm/keel_plugin_node_unschedulable.wasm" \
  --plugin "node-name=scheduler:$wasm/keel_plugin_node_name.wasm" \
  --plugin "taint-toleration=scheduler/3:$wasm/keel_plugin_taint_toleration.wasm" \
  --plugin "node-affinity=scheduler/2:$wasm/keel_plugin_node_affinity.wasm" \
  --plugin "node-resources=scheduler/1:$wasm/keel_plugin_node_resources.wasm" \
  --plugin "pod-topology-spread=scheduler/2:$wasm/keel_plugin_pod_topology_spread.wasm" \
  --plugin "inter-pod-affinity=scheduler/2:$wasm/keel_plugin_inter_pod_affinity.wasm" \
  --plugin "balanced-allocation=scheduler/1:$wasm/keel_plugin_balanced_allocation.wasm" \
  --plugin "host-local=network:$wasm/keel_plugin_host_local.wasm" \
  --plugin "schema=admission:$wasm/keel_plugin_schema.wasm" \
  --plugin "namespace-lifecycle=admission:$wasm/keel_plugin_namespace_lifecycle.wasm" \
  --plugin "limit-ranger=admission:$wasm/keel_plugin_limit_ranger.wasm" \
  --plugin-spec "limit-ranger=deploy/plugins/limit-ranger.yaml" \
  --plugin "pod-security=admission:$wasm/keel_plugin_pod_security.wasm" \
  --plugin "image-policy=admission:$wasm/keel_plugin_image_policy.wasm" \
  --plugin "resource-quota=admission:$wasm/keel_plugin_resource_quota.wasm" \
  --plugin-spec "resource-quota=deploy/plugins/resource-quota.yaml" \
  --plugin "replicaset=controller:$wasm/keel_plugin_replicaset.wasm" \
  --plugin-spec "replicaset=deploy/plugins/replicaset.yaml" \
  --plugin "deployment=controller:$wasm/keel_plugin_deployment.wasm" \
  --plugin-spec "deployment=deploy/plugins/deployment.yaml" \
  --plugin "garbage-collector=controller:$wasm/keel_plugin_garbage_collector.wasm" \
  --plugin-spec "garbage-collector=deploy/plugins/garbage-collector.yaml" \
  --plugin "node-lifecycle=controller:$wasm/keel_plugin_node_lifecycle.wasm" \
  --plugin-spec "node-lifecycle=deploy/plugins/node-lifecycle.yaml" \
  --plugin "node-ipam=controller:$wasm/keel_plugin_node_ipam.wasm" \
  --plugin-spec "node-ipam=deploy/plugins/node-ipam.yaml" \
  "$@"
