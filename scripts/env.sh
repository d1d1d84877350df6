# Sourced by Keel's scripts: one build directory outside the clone, so every
# checkout (and every CI run on the same machine) reuses the same build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/keel-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
