# Sourced by Keel's scripts: one build directory outside the clone, so every
# checkout (and every CI run on the same machine) reuses the same build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/keel-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Which checkout is building: checkouts share the target directory, and the plugin
# artifacts' build script must run again when another checkout built last (its
# rerun-if-changed paths name that checkout's files).
KEEL_CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KEEL_CHECKOUT
