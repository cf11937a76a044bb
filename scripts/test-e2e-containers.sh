#!/usr/bin/env bash
# The e2e tests on containers that testcontainers starts (LocalStack, DynamoDB Local, moto), with
# every AWS_ENDPOINT_URL_* unset (`just test-e2e-containers`). Where no Docker engine answers
# (localstack/engine.sh check), it says the container path was NOT run and why, and fails unless
# E2E_CONTAINERS_OPTIONAL=1. E2E_CONTAINER_NETWORK, unless set: localstack/engine.sh network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

me=test-e2e-containers
# The harness takes a stack named in the environment first; none may leak in from the shell.
for name in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do unset "$name"; done

if ! problem=$(./localstack/engine.sh check); then
  echo "$me: the e2e tests on containers were NOT run: $problem."
  if [ "${E2E_CONTAINERS_OPTIONAL:-}" = 1 ]; then
    echo "$me: E2E_CONTAINERS_OPTIONAL=1, so this is not a failure (CI, which has an engine, runs them)."
    exit 0
  fi
  exit 1
fi
export E2E_CONTAINER_NETWORK="${E2E_CONTAINER_NETWORK:-$(./localstack/engine.sh network)}"
# --locked: the pinned bollard is part of what makes the engine and client agree (tests/e2e/docker_api.rs).
cargo test --locked --test e2e --no-run
started=$SECONDS
cargo test --locked --test e2e
echo "$me: the e2e suite on containers ($E2E_CONTAINER_NETWORK network) took $((SECONDS - started)) s, start-up included"
