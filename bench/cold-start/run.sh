#!/usr/bin/env bash
# `just bench-cold-start [RUNS] [WARM]`: the API function's cold start, as Lambda sees it, beside
# the original design's Node.js function (AWS SDK v3), in the same run, against the local stack.
#
# 1. Builds the two functions as `sam build` does (release, without the `local` feature; for this
#    machine's architecture), the harness (bench/cold-start, std only) and provision-local.
# 2. Installs the Node.js peer's pinned SDK (bench/cold-start/node/package-lock.json, `npm ci`)
#    into the tool cache, once per lock file.
# 3. Starts the local stack (unless it already runs), provisions one table per function.
# 4. Runs the harness: RUNS cold starts of each function, interleaved, each serving 1 + WARM
#    API Gateway events; the processor is timed to its first `next` only. Each function process
#    is pinned to the last CPU. Prints one markdown table; JSON and the functions' logs go under
#    $target/cold-start/.
set -euo pipefail

runs=${1:-10}
warm=${2:-50}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cache="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}"
stack=./localstack/stack.sh
say() { echo "bench-cold-start: $*" >&2; }

# --- builds
# The features cargo-lambda builds with ([package.metadata.lambda.build] in Cargo.toml).
cargo build --release --no-default-features --features aws \
  --bin image-upload-api --bin image-upload-processor
cargo build --bin provision-local
CARGO_TARGET_DIR="$target/cold-start-bench" cargo build --release --quiet \
  --manifest-path bench/cold-start/Cargo.toml
harness="$target/cold-start-bench/release/cold-start-bench"

# --- the Node.js peer
command -v node >/dev/null || { say "node not found: the peer needs Node.js 20 or newer"; exit 1; }
peer="$cache/cold-start-node-$(sha256sum bench/cold-start/node/package-lock.json | cut -c1-12)"
if [ ! -f "$peer/.installed" ]; then
  say "installing the Node.js peer's AWS SDK v3 into $peer (pinned in bench/cold-start/node/package-lock.json)"
  rm -rf "$peer" && mkdir -p "$peer"
  cp bench/cold-start/node/package.json bench/cold-start/node/package-lock.json "$peer/"
  (cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund --silent)
  touch "$peer/.installed"
fi
cp bench/cold-start/node/bootstrap.js bench/cold-start/node/handler.js "$peer/"

# --- the local stack
# (Captured first: with pipefail, `grep -q` closing the pipe early would fail the pipeline.)
status=$("$stack" status 2>&1 || true)
if grep -q "^localstack: running" <<<"$status"; then
  say "using the local stack that already runs"
else
  "$stack" start
  trap '"$stack" stop' EXIT
fi
eval "$("$stack" env)"
export BUCKET_NAME=cold-start-bench TABLE_NAME=ColdStartApi
for table in ColdStartApi ColdStartNode; do
  TABLE_NAME=$table "$target/debug/provision-local" >/dev/null
done

# --- the run
out="$target/cold-start"
rm -rf "$out/logs" && mkdir -p "$out/logs"
cpu=$(($(nproc) - 1))
"$harness" --runs "$runs" --warm "$warm" --cpu "$cpu" --json "$out/results.json" --logs "$out/logs" \
  --event fixtures/apigw/rest-upload-cognito.json --event fixtures/apigw/rest-images-cognito.json \
  --api "image-upload-api (Rust)=$target/release/image-upload-api" \
  --api "Node.js $(node --version), SDK v3 (original design)=TABLE_NAME=ColdStartNode node $peer/bootstrap.js" \
  --init-only "image-upload-processor (Rust, init only)=AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 $target/release/image-upload-processor"
say "JSON: $out/results.json; the functions' logs: $out/logs/"
