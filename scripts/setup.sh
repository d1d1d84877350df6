#!/usr/bin/env bash
# Installs what building and testing Keel needs on a fresh Debian machine:
# clang/libclang for the rocksdb crate, make for jemalloc's build, etcd for the side-by-side benchmark,
# kubectl for the end-to-end tests, iproute2 and procps for the cluster tests, runc and
# busybox-static for OCI containers, the
# wasm32-wasip2 target for plugins, and
# componentize-py (from PyPI) for the Python example plugin.
# Idempotent: a second run only checks.
set -euo pipefail

need_apt=()
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang*.so >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
# The cluster tests put members in network namespaces (ip netns, veth, bridges) and stop
# them with kill -TERM.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || need_apt+=(procps)
# The node agent runs OCI containers with runc; their tests build a busybox image from
# the static binary.
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[ -x /bin/busybox ] || need_apt+=(busybox-static)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2
fi
# The pinned version lives in the script that builds Python plugins.
componentize_py=$(sed -n 's/^VERSION=//p' "$(dirname "$0")/build-python-plugin.sh")
if ! componentize-py --version 2>/dev/null | grep -qx "componentize-py $componentize_py"; then
  echo "setup: installing componentize-py $componentize_py" >&2
  python3 -m pip install --quiet "componentize-py==$componentize_py"
fi
echo "setup: ok" >&2
