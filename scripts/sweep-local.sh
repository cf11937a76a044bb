#!/usr/bin/env bash
# `just sweep [--repair [--force]] [--grace SECONDS]`: reconciles the local stack's bucket with its table,
# as the deployed sweep function does on its schedule (src/sweep.rs): a report of what no row
# allows, of READY images whose original is gone and of missing renditions; `--repair` repairs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack=./localstack/stack.sh
"$stack" start
eval "$("$stack" env)"
scripts/build-local.sh --quiet
target="${CARGO_TARGET_DIR:-target}/debug"
# The bucket and table as `just dev` made them (created if missing).
eval "$("$target/provision-local")"
exec "$target/sweep" "$@"
