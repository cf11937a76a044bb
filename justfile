# Recipes for the image upload service. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

stack := "./localstack/stack.sh"
# Fuzzing flags: optimised, with debug assertions and overflow checks; no sanitizer, because the
# sanitizers are unstable rustc flags and this builds on stable (see fuzz/README.md).
fuzz_flags := "-O --debug-assertions --sanitizer none"
# A 1 MP input that takes longer than this is a finding (a quadratic loop), not a slow machine.
fuzz_timeout := "10"
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

# Like `dev`, with authentication on: a local Cognito user pool, app client and demo user (moto), and the server verifying their ID tokens
dev-auth:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --bin image-upload-local --bin provision-local
    {{stack}} start
    trap '{{stack}} stop' EXIT
    eval "$({{stack}} env)"
    eval "$(./target/debug/provision-local --auth)"
    export AUTH_ISSUER AUTH_AUDIENCE AUTH_JWKS_URL
    cat <<HELP

    The API is at http://127.0.0.1:3000 and every request needs a Cognito ID token.
    The demo user is $COGNITO_USERNAME / $COGNITO_PASSWORD (pool $COGNITO_USER_POOL_ID, app client $COGNITO_CLIENT_ID).
    Sign in against the local Cognito (USER_PASSWORD_AUTH) and keep the ID token:
      token=\$(curl -s $AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER/ -H 'Content-Type: application/x-amz-json-1.1' \\
        -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \\
        -d '{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"$COGNITO_CLIENT_ID","AuthParameters":{"USERNAME":"$COGNITO_USERNAME","PASSWORD":"$COGNITO_PASSWORD"}}' \\
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["AuthenticationResult"]["IdToken"])')
    Then call the API with it (without it: 401):
      curl -s -X POST http://127.0.0.1:3000/upload -H "Authorization: Bearer \$token" -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}'
      curl -s 'http://127.0.0.1:3000/images?limit=5' -H "Authorization: Bearer \$token"

    HELP
    ./target/debug/image-upload-local

# Everything CI checks: formatting, lints, unit/property/mocked-SDK tests, a short run of each fuzz target, e2e tests on the local stack
test: lint test-unit fuzz-smoke test-e2e

# Formatting (the service and the fuzz crate) and clippy with warnings as errors
lint:
    cargo fmt --check
    cargo fmt --check --manifest-path fuzz/Cargo.toml
    cargo clippy --all-targets -- -D warnings

# Unit, property, mocked-SDK and Lambda-entry tests (no stack needed)
test-unit:
    cargo test --lib --test api

# Fuzz one target (upload_request, sniff, jpeg_dc, inspect) for SECONDS; ARGS go to libFuzzer (log in fuzz/logs/)
fuzz TARGET SECONDS *ARGS: fuzz-tools
    #!/usr/bin/env bash
    set -euo pipefail
    ./fuzz/seed-corpus.sh
    mkdir -p fuzz/logs
    log=fuzz/logs/{{TARGET}}.log
    echo "fuzzing {{TARGET}} for {{SECONDS}} s (log: $log)"
    # The fuzz crate has its own target dir (fuzz/target); a CARGO_TARGET_DIR from the shell would
    # hide the binaries from cargo-fuzz.
    if ! env -u CARGO_TARGET_DIR PATH="{{tools}}/bin:$PATH" cargo fuzz run {{fuzz_flags}} {{TARGET}} -- \
        -max_total_time={{SECONDS}} -timeout={{fuzz_timeout}} {{ARGS}} >"$log" 2>&1; then
      grep -E -A1 'panicked at|^SUMMARY|^==[0-9]+==ERROR' "$log" || tail -n 40 "$log"
      grep -E 'Test unit written to|^Reproduce with|^[[:space:]]+cargo fuzz (run|tmin)' "$log" || true
      echo "full log: $log"
      echo "fuzz {{TARGET}}: FAILED; the input is under fuzz/artifacts/{{TARGET}}/ (see fuzz/README.md)"
      exit 1
    fi
    # libFuzzer's last status line: total execs, coverage, corpus size (also in -fork mode).
    grep -E '^#[0-9]+' "$log" | tail -n 1
    grep -E '^Done [0-9]+ runs' "$log" || true
    kinds=$(grep -c '^jpeg_dc differential' "$log" || true)
    if [ "$kinds" -gt 0 ]; then
      echo "$kinds kinds of decode_dc/jpeg-decoder disagreement, reported not failed: grep 'differential' $log"
    fi

# A short run of every fuzz target (FUZZ_SMOKE_SECONDS each, default 20); fails on any crash
fuzz-smoke: fuzz-tools
    #!/usr/bin/env bash
    set -euo pipefail
    for target in upload_request sniff jpeg_dc inspect; do
      {{just_executable()}} fuzz "$target" "${FUZZ_SMOKE_SECONDS:-20}"
    done

# cargo-fuzz, installed into the tool cache on first use
[private]
fuzz-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{tools}}/bin/cargo-fuzz" ]; then
      cargo install --root "{{tools}}" cargo-fuzz --version 0.13.2 --locked
    fi

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
