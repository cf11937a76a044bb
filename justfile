# Recipes for the image upload service. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

stack := "./localstack/stack.sh"
tools := env_var_or_default("IMAGE_UPLOAD_STACK_HOME", env_var("HOME") + "/.cache/image-upload-stack") + "/tools"

# List the recipes
default:
    @just --list

# Serve the API at http://127.0.0.1:3000 and process uploads, against the local AWS stack (installed on first use), until Ctrl-C
dev:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --bin image-upload-local --bin provision-local
    {{stack}} start
    trap '{{stack}} stop' EXIT
    eval "$({{stack}} env)"
    eval "$(./target/debug/provision-local)"
    cat <<'HELP'

    The API is at http://127.0.0.1:3000, and uploads are verified and thumbnailed as they arrive.
    Ask for an upload URL, PUT a fixture image to it, then list your images:
      up=$(curl -s -X POST http://127.0.0.1:3000/upload -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}')
      curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Type: image/jpeg' -H 'If-None-Match: *' --data-binary @fixtures/images/sunset-64x48.jpg "$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uploadUrl"])')"
      curl -s 'http://127.0.0.1:3000/images?limit=5'

    HELP
    ./target/debug/image-upload-local

# Everything CI checks: formatting, lints, unit/property/mocked-SDK tests, e2e tests on the local stack
test: lint test-unit test-e2e

# Formatting and clippy with warnings as errors
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Unit, property, mocked-SDK and Lambda-entry tests (no stack needed)
test-unit:
    cargo test --lib --test api

# End-to-end tests: starts the local stack, runs tests/e2e, stops the stack even when tests fail
test-e2e:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo test --test e2e --no-run
    {{stack}} start
    trap '{{stack}} stop' EXIT
    eval "$({{stack}} env)"
    cargo test --test e2e

# Criterion benches: the API's cold path, and thumbnails pinned to one core (results in target/criterion)
bench:
    cargo bench --bench cold_path
    cargo bench --bench thumbnail --no-run
    taskset -c 0 cargo bench --bench thumbnail

# Release build of both Lambda functions (API, processor) for arm64 with cargo-lambda (installed on first use)
build:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{tools}}/bin/cargo-lambda" ]; then
      python3 -m venv "{{tools}}"
      "{{tools}}/bin/pip" install --quiet --disable-pip-version-check cargo-lambda ziglang
    fi
    rustup target add aarch64-unknown-linux-gnu
    PATH="{{tools}}/bin:$PATH" cargo lambda build --release --arm64 --bin image-upload-api --bin image-upload-processor
    ls -l target/lambda/image-upload-api/bootstrap target/lambda/image-upload-processor/bootstrap

# Start the local stack in the background (`just stack-down` stops it)
stack-up:
    {{stack}} start
    @echo 'point a shell at it with: eval "$(./localstack/stack.sh env)"'

# Stop the local stack
stack-down:
    {{stack}} stop
