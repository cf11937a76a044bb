#!/usr/bin/env bash
# `just redrive [--limit N]`: moves the local stack's dead letters (the upload queue's
# dead-letter queue, as `just dev` made it) back to the upload queue, once the fault that parked
# them is fixed. The local server (`just dev`) is the processor that takes them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack=./localstack/stack.sh
"$stack" start
eval "$("$stack" env)"
scripts/build-local.sh --quiet
target="${CARGO_TARGET_DIR:-target}/debug"
# The queues (and bucket and table, if missing) as `just dev` made them; it prints QUEUE_URL and
# DEAD_LETTER_QUEUE_URL.
eval "$("$target/provision-local")"
exec "$target/redrive" "$@"
