#!/usr/bin/env bash
# The Lambda functions built by `sam build` (cargo-lambda, arm64, release) into .aws-sam/build,
# then the zip size of each binary (`just build`): the API's and the processor's, which the sweep
# function runs too (SAM builds it again for that function, from cargo's fresh target: seconds).
# Installs the pinned aws-sam-cli, cargo-lambda and zig on first use, and the
# aarch64-unknown-linux-gnu target with rustup.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0
sam=$(infra/tools.sh bin sam)
lambda=$(infra/tools.sh bin lambda) # cargo-lambda and zig, pinned
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
  { echo "rustup could not add the aarch64-unknown-linux-gnu target (is rustup installed and the registry reachable?)" >&2; exit 1; }
started=$SECONDS
# For BuildMethod rust-cargolambda SAM runs `cargo lambda build --release --arm64 --bin NAME` in
# the crate itself (that workflow only builds in source: no scratch copy), into cargo's own target
# dir (CARGO_TARGET_DIR when set), so a second build recompiles only what changed; cargo-lambda
# finds zig through the tools venv's python. SAM builds one function after another; both binaries
# are built first in one cargo run, so that their fat-LTO links (minutes each, one core each) run
# side by side, and SAM's own builds find them fresh.
PATH="$lambda:$PATH" cargo lambda build --release --arm64 \
  --bin image-upload-api --bin image-upload-processor
echo "cargo lambda build: $((SECONDS - started)) s"
PATH="$lambda:$PATH" "$sam/sam" build --template-file template.yaml
echo "sam build: $((SECONDS - started)) s"
# What Lambda receives: the bootstrap deflated in a zip, as `sam deploy` uploads it.
"$sam/python" infra/zip_size.py .aws-sam/build/ApiFunction/bootstrap .aws-sam/build/ProcessorFunction/bootstrap
