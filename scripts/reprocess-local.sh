#!/usr/bin/env bash
# `just reprocess [ARGS]`: brings the local stack's READY images to the renditions RENDITIONS
# names (the default set when unset), through the local upload queue. The local server (`just dev`,
# started with the same RENDITIONS) is the processor that makes them; the progress bar waits for it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack=./localstack/stack.sh
"$stack" start
eval "$("$stack" env)"
scripts/build-local.sh --quiet
target="${CARGO_TARGET_DIR:-target}/debug"
# The queue (and bucket and table, if missing) as `just dev` made them; it prints QUEUE_URL.
eval "$("$target/provision-local")"
echo "reprocess: the local server (just dev) processes the requests; start it with the same RENDITIONS" >&2
exec "$target/reprocess" "$@"
