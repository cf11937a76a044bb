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

# The whole upload flow against a deployment (API_URL ends with the stage), each step timed; signs in with TOKEN, or COGNITO_CLIENT_ID + COGNITO_USERNAME + COGNITO_PASSWORD in AWS_REGION, else anonymously
smoke API_URL:
    cargo run --quiet --bin image-upload-smoke -- '{{API_URL}}'

# `just smoke` against the local server on the local stack, anonymously: starts the stack and the server on a free port, stops both on exit
smoke-local:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --bin image-upload-local --bin provision-local --bin image-upload-smoke
    bin="${CARGO_TARGET_DIR:-target}/debug"
    server_log=$(mktemp "${TMPDIR:-/tmp}/smoke-local-server.XXXXXX")
    server=
    stop() {
      if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
      {{stack}} stop
      rm -f "$server_log"
    }
    trap stop EXIT
    {{stack}} start
    eval "$({{stack}} env)"
    eval "$("$bin/provision-local")"
    # A free port: the first of a few random ones that nothing answers on.
    port=
    for candidate in $(shuf -i 20000-60000 -n 50); do
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
    done
    [ -n "$port" ] || { echo "smoke-local: no free port found" >&2; exit 1; }
    # Anonymous for now: no token verification, and metrics on, to check they reach stdout.
    env -u AUTH_ISSUER -u AUTH_AUDIENCE -u AUTH_JWKS_URL \
      LISTEN_ADDR="127.0.0.1:$port" LOG_FORMAT=json EMF_METRICS=true \
      "$bin/image-upload-local" >"$server_log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
      curl -s -o /dev/null "http://127.0.0.1:$port/images" && break
      kill -0 "$server" 2>/dev/null || { echo "smoke-local: the server exited:" >&2; cat "$server_log" >&2; exit 1; }
      sleep 0.1
    done
    if ! env -u TOKEN -u COGNITO_CLIENT_ID -u COGNITO_USERNAME -u COGNITO_PASSWORD \
      "$bin/image-upload-smoke" "http://127.0.0.1:$port"; then
      echo "smoke-local: the server's last lines:" >&2
      tail -n 30 "$server_log" >&2
      exit 1
    fi
    for metric in UploadUrlsIssued UploadsReady ThumbnailTime ProcessingTime; do
      grep -q "\"$metric\":" "$server_log" || { echo "smoke-local: the server wrote no $metric metric line" >&2; exit 1; }
    done
    echo "smoke-local: the server wrote its EMF metric lines ($(grep -c '"_aws":' "$server_log") of them)"

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
