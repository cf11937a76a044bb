#!/usr/bin/env bash
# Builds the local binaries (image-upload-local, provision-local, image-upload-smoke, and the
# operators' tools reprocess, redrive, sweep) into ${CARGO_TARGET_DIR:-target}/debug, as the e2e
# tests build them. One cargo invocation that also builds a test target unifies the dev-dependencies' features (tokio's `full`, the SDK's
# `test-util`) into the binaries; a plain `cargo build` would compile the SDK's crates a second
# time with fewer features, four minutes of `just test` on two cores for the same code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --no-run --test e2e "$@"
