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
    bin="${CARGO_TARGET_DIR:-target}/debug"
    {{stack}} start
    trap '{{stack}} stop' EXIT
    eval "$({{stack}} env)"
    eval "$("$bin/provision-local")"
    cat <<'HELP'

    The API is at http://127.0.0.1:3000, and uploads are verified and thumbnailed as they arrive.
    The upload page is at http://127.0.0.1:3000/ (its API description at /openapi.yaml).
    Ask for an upload URL, PUT a fixture image to it, then list your images:
      up=$(curl -s -X POST http://127.0.0.1:3000/upload -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}')
      curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Type: image/jpeg' -H 'If-None-Match: *' --data-binary @fixtures/images/sunset-64x48.jpg "$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uploadUrl"])')"
      curl -s 'http://127.0.0.1:3000/images?limit=5'

    HELP
    "$bin/image-upload-local"

# Like `dev`, with authentication on: a local Cognito user pool, app client and demo user (moto), and the server verifying their ID tokens
dev-auth:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --bin image-upload-local --bin provision-local
    bin="${CARGO_TARGET_DIR:-target}/debug"
    {{stack}} start
    trap '{{stack}} stop' EXIT
    eval "$({{stack}} env)"
    eval "$("$bin/provision-local" --auth)"
    export AUTH_ISSUER AUTH_AUDIENCE AUTH_JWKS_URL
    cat <<HELP

    The API is at http://127.0.0.1:3000 and every request needs a Cognito ID token.
    The demo user is $COGNITO_USERNAME / $COGNITO_PASSWORD (pool $COGNITO_USER_POOL_ID, app client $COGNITO_CLIENT_ID).
    The upload page is at http://127.0.0.1:3000/: sign in there as the demo user.
    Sign in against the local Cognito (USER_PASSWORD_AUTH) and keep the ID token:
      token=\$(curl -s $AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER/ -H 'Content-Type: application/x-amz-json-1.1' \\
        -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \\
        -d '{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"$COGNITO_CLIENT_ID","AuthParameters":{"USERNAME":"$COGNITO_USERNAME","PASSWORD":"$COGNITO_PASSWORD"}}' \\
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["AuthenticationResult"]["IdToken"])')
    Then call the API with it (without it: 401):
      curl -s -X POST http://127.0.0.1:3000/upload -H "Authorization: Bearer \$token" -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}'
      curl -s 'http://127.0.0.1:3000/images?limit=5' -H "Authorization: Bearer \$token"

    HELP
    "$bin/image-upload-local"

# Everything CI checks: formatting, lints, the template, unit/property/mocked-SDK tests, the Lambda build, a short run of each fuzz target, e2e tests on the local stack and on containers, the signed-in smoke run, openapi.yaml against the local server (schemathesis) and the Postman collection, the page in a real browser
test: lint lint-infra test-unit build fuzz-smoke test-e2e e2e-containers-in-test smoke-local test-api-description test-browser

# Formatting (the service, the fuzz crate, the peer bench's crate, the cold-start harness) and clippy with warnings as errors (also on the Lambda functions' feature set)
lint:
    cargo fmt --check
    cargo fmt --check --manifest-path fuzz/Cargo.toml
    cargo fmt --check --manifest-path bench/peers/ours/Cargo.toml
    cargo fmt --check --manifest-path bench/cold-start/Cargo.toml
    cargo clippy --all-targets -- -D warnings
    # The Lambda functions' own feature set (what sam build compiles, without `local`).
    cargo clippy --no-default-features --features aws --lib --bins -- -D warnings
    cargo clippy --manifest-path bench/cold-start/Cargo.toml -- -D warnings
    # The template test is left out of `cargo test` (and so of --all-targets): lint it by name.
    cargo clippy --test template -- -D warnings

# template.yaml, offline: sam validate --lint, cfn-lint, checkov (template and expansion), then the template test against the code
lint-infra:
    #!/usr/bin/env bash
    set -euo pipefail
    export SAM_CLI_TELEMETRY=0
    # Nothing here calls AWS; SAM writes the region into the ARNs it generates, so one is needed.
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    sam=$(infra/tools.sh bin sam)
    checkov=$(infra/tools.sh bin checkov)
    "$sam/sam" validate --lint --region "$AWS_REGION" --template-file template.yaml
    "$sam/cfn-lint" template.yaml
    # What `sam deploy` really submits: SAM expanded to plain CloudFormation (samtranslator).
    "$sam/python" infra/expand.py template.yaml target/infra/expanded.json
    "$sam/cfn-lint" target/infra/expanded.json
    "$checkov/python" infra/checkov.py template.yaml target/infra/expanded.json
    # The template against the code's own declarations (tests/template.rs; not in plain `cargo test`).
    IMAGE_UPLOAD_EXPANDED_TEMPLATE="$PWD/target/infra/expanded.json" cargo test --test template

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

# End-to-end tests on containers that testcontainers starts (LocalStack, DynamoDB Local, moto), every AWS_ENDPOINT_URL_* unset; E2E_CONTAINER_NETWORK: bridge where the engine has one, else host. No Docker engine: says the container path was NOT run, and fails unless E2E_CONTAINERS_OPTIONAL=1
test-e2e-containers:
    #!/usr/bin/env bash
    set -euo pipefail
    # The harness takes a stack named in the environment first; none may leak in from the shell.
    for name in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do unset "$name"; done
    # Where testcontainers looks for the engine: DOCKER_HOST, else the first of these sockets.
    engine_host() {
      local host="${DOCKER_HOST:-}" candidate
      if [ -z "$host" ]; then
        for candidate in /var/run/docker.sock "${XDG_RUNTIME_DIR:-/nonexistent}/.docker/run/docker.sock" \
            "$HOME/.docker/run/docker.sock" "$HOME/.docker/desktop/docker.sock"; do
          if [ -e "$candidate" ]; then host="unix://$candidate"; break; fi
        done
      fi
      echo "$host"
    }
    engine_problem() {
      local host
      host=$(engine_host)
      case "$host" in
        "") echo "no DOCKER_HOST and no Docker socket (/var/run/docker.sock, ~/.docker/run/docker.sock)" ;;
        unix://*)
          local socket="${host#unix://}"
          if [ ! -S "$socket" ]; then
            echo "no Docker socket at $socket"
          elif [ ! -r "$socket" ] || [ ! -w "$socket" ]; then
            echo "$socket is not readable and writable by $(id -un) (owner $(stat -c %U:%G "$socket" 2>/dev/null || echo '?'))"
          elif ! curl -sf --max-time 5 --unix-socket "$socket" http://docker/_ping >/dev/null; then
            echo "nothing answers on $socket (is the engine running? localstack/engine.sh start)"
          fi ;;
        tcp://*|http://*)
          if [ "${DOCKER_TLS_VERIFY:-}" != 1 ] && ! curl -sf --max-time 5 "http://${host#*://}/_ping" >/dev/null; then
            echo "nothing answers at DOCKER_HOST=$host"
          fi ;;
      esac
    }
    problem=$(engine_problem)
    if [ -n "$problem" ]; then
      echo "test-e2e-containers: the e2e tests on containers were NOT run: $problem."
      if [ "${E2E_CONTAINERS_OPTIONAL:-}" = 1 ]; then
        echo "test-e2e-containers: E2E_CONTAINERS_OPTIONAL=1, so this is not a failure (CI, which has an engine, runs them)."
        exit 0
      fi
      exit 1
    fi
    # The network, unless set: bridge (mapped ports) where the engine has a bridge network, as any
    # ordinary Docker, rootless or Desktop does (their host network is not this machine's
    # loopback); host where it has none, as the engine `localstack/engine.sh` starts for CI.
    if [ -z "${E2E_CONTAINER_NETWORK:-}" ]; then
      host=$(engine_host)
      case "$host" in
        unix://*) probe=(curl -sf --max-time 5 --unix-socket "${host#unix://}" http://docker/networks/bridge) ;;
        *) probe=(curl -sf --max-time 5 "http://${host#*://}/networks/bridge") ;;
      esac
      if "${probe[@]}" >/dev/null 2>&1; then E2E_CONTAINER_NETWORK=bridge; else E2E_CONTAINER_NETWORK=host; fi
    fi
    export E2E_CONTAINER_NETWORK
    # --locked: the pinned bollard is part of what makes the engine and client agree (tests/e2e/docker_api.rs).
    cargo test --locked --test e2e --no-run
    started=$SECONDS
    cargo test --locked --test e2e
    echo "test-e2e-containers: the e2e suite on containers ($E2E_CONTAINER_NETWORK network) took $((SECONDS - started)) s, start-up included"

# The container path as `just test` runs it: where no engine answers it says so and is NOT run, unless E2E_CONTAINERS_REQUIRED=1 (CI, which has an engine, sets it and so fails without one)
[private]
e2e-containers-in-test:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "${E2E_CONTAINERS_REQUIRED:-}" = 1 ]; then optional=0; else optional=1; fi
    E2E_CONTAINERS_OPTIONAL="$optional" {{just_executable()}} test-e2e-containers

# The whole upload flow against a deployment (API_URL ends with the stage), each step timed; signs in with TOKEN, or COGNITO_CLIENT_ID + COGNITO_USERNAME + COGNITO_PASSWORD in AWS_REGION, else anonymously
smoke API_URL:
    cargo run --quiet --bin image-upload-smoke -- '{{API_URL}}'

# `just smoke` against the local server with authentication on, as against AWS: the local stack with its Cognito (moto), a user signed in with USER_PASSWORD_AUTH, the server verifying ID tokens; stops everything on exit
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
    # The bucket, table and queue, and a user pool, app client and user on the local Cognito.
    eval "$("$bin/provision-local" --auth)"
    port=$(./localstack/local-server.sh free-port)
    # Tokens verified as the API Gateway authorizer would (AUTH_*), and metrics on, to check
    # they reach stdout.
    AUTH_ISSUER="$AUTH_ISSUER" AUTH_AUDIENCE="$AUTH_AUDIENCE" AUTH_JWKS_URL="$AUTH_JWKS_URL" \
      LISTEN_ADDR="127.0.0.1:$port" LOG_FORMAT=json EMF_METRICS=true \
      "$bin/image-upload-local" >"$server_log" 2>&1 &
    server=$!
    api="http://127.0.0.1:$port"
    status=$(./localstack/local-server.sh wait "$api/images" "$server" "$server_log")
    # Without a token the service must refuse, or the signed-in run below proves nothing.
    [ "$status" = 401 ] || { echo "smoke-local: GET /images without a token answered $status, not 401" >&2; exit 1; }
    echo "smoke-local: without a token: 401"
    if ! env -u TOKEN COGNITO_CLIENT_ID="$COGNITO_CLIENT_ID" COGNITO_USERNAME="$COGNITO_USERNAME" \
      COGNITO_PASSWORD="$COGNITO_PASSWORD" "$bin/image-upload-smoke" "$api"; then
      echo "smoke-local: the server's last lines:" >&2
      tail -n 30 "$server_log" >&2
      exit 1
    fi
    for metric in UploadUrlsIssued UploadsReady ThumbnailTime ProcessingTime; do
      grep -q "\"$metric\":" "$server_log" || { echo "smoke-local: the server wrote no $metric metric line" >&2; exit 1; }
    done
    echo "smoke-local: the server wrote its EMF metric lines ($(grep -c '"_aws":' "$server_log") of them)"

# openapi.yaml against the real local server with schemathesis (auth off; auth on with an ID token; auth on without one, every answer a 401), and docs/postman_collection.json against the Postman v2.1 schema and openapi.yaml; stops everything on exit
test-api-description:
    #!/usr/bin/env bash
    set -euo pipefail
    st=$(infra/tools.sh bin schemathesis) # pinned, with hashes: infra/requirements-schemathesis.lock
    # The collection first: it needs no stack.
    postman_schema=$(tests/api-description/postman-schema.sh)
    "$st/python" tests/api-description/check_postman.py docs/postman_collection.json openapi.yaml "$postman_schema"
    cargo build --bin image-upload-local --bin provision-local
    bin="${CARGO_TARGET_DIR:-target}/debug"
    server_log=$(mktemp "${TMPDIR:-/tmp}/api-description-server.XXXXXX")
    server=
    stop_server() {
      if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
      server=
    }
    stop() {
      stop_server
      {{stack}} stop
      rm -f "$server_log"
    }
    trap stop EXIT
    {{stack}} start
    eval "$({{stack}} env)"
    port=$(./localstack/local-server.sh free-port)
    api="http://127.0.0.1:$port"
    # Starts the server with the given environment (NAME=VALUE...) and waits until it answers.
    start_server() {
      env -u AUTH_ISSUER -u AUTH_AUDIENCE -u AUTH_JWKS_URL -u ALLOW_ANONYMOUS "$@" \
        LISTEN_ADDR="127.0.0.1:$port" "$bin/image-upload-local" >"$server_log" 2>&1 &
      server=$!
      ./localstack/local-server.sh wait "$api/images" "$server" "$server_log" >/dev/null
    }
    # One schemathesis run; its summary line goes to the report at the end.
    summary=()
    run_schemathesis() {
      local mode=$1 started=$SECONDS output
      shift
      echo "test-api-description: schemathesis, $mode"
      output=$(mktemp "${TMPDIR:-/tmp}/api-description-run.XXXXXX")
      if ! SCHEMATHESIS_HOOKS=tests/api-description/hooks.py "$st/schemathesis" \
          --config-file tests/api-description/schemathesis.toml run openapi.yaml --url "$api" "$@" \
          2>&1 | tee "$output"; then
        echo "test-api-description: schemathesis found problems ($mode); the server's last lines:" >&2
        tail -n 30 "$server_log" >&2
        rm -f "$output"
        exit 1
      fi
      summary+=("$mode: $(grep -E '[0-9]+ generated' "$output" | sed 's/^ *//') in $((SECONDS - started)) s")
      rm -f "$output"
    }

    # 1. Authentication off, as `just dev`: everyone is the anonymous owner.
    eval "$("$bin/provision-local")"
    start_server ALLOW_ANONYMOUS=true
    run_schemathesis "auth off (anonymous)"
    stop_server

    # 2. Authentication on, as `just dev-auth`: the server verifies ID tokens of the local Cognito.
    eval "$("$bin/provision-local" --auth)"
    start_server AUTH_ISSUER="$AUTH_ISSUER" AUTH_AUDIENCE="$AUTH_AUDIENCE" AUTH_JWKS_URL="$AUTH_JWKS_URL"
    sign_in='{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"'"$COGNITO_CLIENT_ID"'","AuthParameters":{"USERNAME":"'"$COGNITO_USERNAME"'","PASSWORD":"'"$COGNITO_PASSWORD"'"}}'
    token=$(curl -sf "$AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER/" -H 'Content-Type: application/x-amz-json-1.1' \
      -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' -d "$sign_in" |
      "$st/python" -c 'import json,sys; print(json.load(sys.stdin)["AuthenticationResult"]["IdToken"])')
    run_schemathesis "auth on, with an ID token" -H "Authorization: Bearer $token"
    EXPECT_UNAUTHENTICATED=1 run_schemathesis "auth on, without a token (every answer 401)"
    echo
    printf 'test-api-description: %s\n' "${summary[@]}"

# The upload page in a real browser (Debian's chromium, playwright-core) against the local server and stack, signed in as two users and anonymously; screenshots in target/browser-artifacts; stops everything on exit
test-browser:
    #!/usr/bin/env bash
    set -euo pipefail
    chromium="${CHROMIUM:-/usr/bin/chromium}"
    [ -x "$chromium" ] || { echo "test-browser: no chromium at $chromium: install it (apt-get install chromium) or set CHROMIUM" >&2; exit 1; }
    command -v npm >/dev/null || { echo "test-browser: npm not found: install Node.js 20 or newer" >&2; exit 1; }
    # playwright-core, exactly as web/package-lock.json pins it; reinstalled when the lock changes.
    if ! cmp -s web/package-lock.json web/node_modules/.installed-from-lock; then
      (cd web && npm ci --no-audit --no-fund --loglevel=error)
      cp web/package-lock.json web/node_modules/.installed-from-lock
    fi
    artifacts="$PWD/target/browser-artifacts"
    rm -rf "$artifacts" && mkdir -p "$artifacts/bin"
    # Copies of this build's binaries: another cargo build into the same target dir cannot swap
    # them under the test.
    cargo build --bin image-upload-local --bin provision-local
    cp "${CARGO_TARGET_DIR:-target}/debug/image-upload-local" "${CARGO_TARGET_DIR:-target}/debug/provision-local" "$artifacts/bin/"
    bin="$artifacts/bin"
    servers=()
    stop() {
      for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
      {{stack}} stop
    }
    trap stop EXIT
    port=$(./localstack/local-server.sh free-port)
    anon_port=$(./localstack/local-server.sh free-port)
    [ "$port" != "$anon_port" ] || anon_port=$(./localstack/local-server.sh free-port)
    # The page's origins: the bucket's CORS rule must let them PUT (provision-local sets it).
    export ALLOWED_ORIGINS="http://127.0.0.1:$port,http://127.0.0.1:$anon_port"
    {{stack}} start
    eval "$({{stack}} env)"
    # Two users of fresh names (a stack left running keeps its users and their images).
    run="browser-$(date +%s)-$$"
    password='Browser-test-2026'
    COGNITO_USERNAME="$run-2@example.com" COGNITO_PASSWORD="$password" "$bin/provision-local" --auth >/dev/null
    eval "$(COGNITO_USERNAME="$run-1@example.com" COGNITO_PASSWORD="$password" "$bin/provision-local" --auth)"
    start_server() { # NAME PORT ENV...: the local server, its log in the artifacts
      local name=$1 port=$2
      shift 2
      env "$@" LISTEN_ADDR="127.0.0.1:$port" "$bin/image-upload-local" >"$artifacts/$name-server.log" 2>&1 &
      servers+=($!)
      local status
      status=$(./localstack/local-server.sh wait "http://127.0.0.1:$port/config.json" "${servers[-1]}" "$artifacts/$name-server.log")
      [ "$status" = 200 ] || { echo "test-browser: the $name server answered $status for /config.json (log: $artifacts/$name-server.log)" >&2; exit 1; }
    }
    # Signed in: tokens verified as the authorizer would. It also processes the uploads.
    start_server signed-in "$port" AUTH_ISSUER="$AUTH_ISSUER" AUTH_AUDIENCE="$AUTH_AUDIENCE" AUTH_JWKS_URL="$AUTH_JWKS_URL"
    # Anonymous, on the same stack; one queue poller (the one above) is enough for both.
    start_server anonymous "$anon_port" -u AUTH_ISSUER -u AUTH_AUDIENCE -u AUTH_JWKS_URL -u QUEUE_URL
    if ! (cd web && PAGE_URL="http://127.0.0.1:$port" ANON_PAGE_URL="http://127.0.0.1:$anon_port" \
        USER1="$run-1@example.com" PASSWORD1="$password" USER2="$run-2@example.com" PASSWORD2="$password" \
        FIXTURES="$PWD/../fixtures/images" ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
        node --test --test-concurrency=1 --test-reporter=spec tests/*.test.mjs); then
      echo "test-browser: FAILED; screenshots and server logs in $artifacts" >&2
      tail -n 20 "$artifacts/signed-in-server.log" >&2
      exit 1
    fi
    echo "test-browser: screenshots in $artifacts"

# The thumbnail path against libvips (sharp), libjpeg-turbo (Pillow) and naive `image` on 12 MP inputs, one pinned core: one markdown table (peers installed on first use)
bench-peers:
    bench/peers/run.sh

# Criterion benches: the API's cold path, and thumbnails pinned to one core (results in target/criterion)
bench:
    cargo bench --bench cold_path
    cargo bench --bench thumbnail --no-run
    taskset -c 0 cargo bench --bench thumbnail

# The API function's cold start under a local Lambda Runtime API (init, first and warm invocations, peak RSS) beside the original design's Node.js function, on the local stack
bench-cold-start RUNS="10" WARM="50":
    bench/cold-start/run.sh {{RUNS}} {{WARM}}

# Both Lambda functions built by `sam build` (cargo-lambda, arm64, release) into .aws-sam/build, with the zip size of each
build:
    #!/usr/bin/env bash
    set -euo pipefail
    export SAM_CLI_TELEMETRY=0
    sam=$(infra/tools.sh bin sam)
    lambda=$(infra/tools.sh bin lambda) # cargo-lambda and zig, pinned
    rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
      { echo "rustup could not add the aarch64-unknown-linux-gnu target (is rustup installed and the registry reachable?)" >&2; exit 1; }
    started=$SECONDS
    # For BuildMethod rust-cargolambda SAM runs `cargo lambda build --release --arm64 --bin NAME`
    # in the crate itself (that workflow only builds in source: no scratch copy), into cargo's
    # own target dir (CARGO_TARGET_DIR when set), so a second build recompiles only what
    # changed; cargo-lambda finds zig through the tools venv's python.
    PATH="$lambda:$PATH" "$sam/sam" build --template-file template.yaml
    echo "sam build: $((SECONDS - started)) s"
    # What Lambda receives: the bootstrap deflated in a zip, as `sam deploy` uploads it.
    "$sam/python" infra/zip_size.py .aws-sam/build/ApiFunction/bootstrap .aws-sam/build/ProcessorFunction/bootstrap

# Deploy to AWS: build, then `sam deploy` (guided the first time: stack, region, stage, origins, saved in samconfig.toml); prints the outputs and what to try next
deploy: build
    #!/usr/bin/env bash
    set -euo pipefail
    export SAM_CLI_TELEMETRY=0
    sam=$(infra/tools.sh bin sam)
    if stack=$("$sam/python" infra/samconfig.py stack_name); then
      echo "deploying stack $stack (settings in samconfig.toml; \`sam deploy --guided\` to change them)"
      # Nothing changed is a success here: the outputs and next steps follow either way.
      "$sam/sam" deploy --no-fail-on-empty-changeset
    else
      echo "first deployment: sam asks for a stack name, a region and the parameters, and saves them in samconfig.toml"
      "$sam/sam" deploy --guided --no-fail-on-empty-changeset
      stack=$("$sam/python" infra/samconfig.py stack_name) || {
        echo "deployed, but the answers were not saved in samconfig.toml: run \`sam deploy --guided\` again and save them (the other recipes read the stack and region there)"
        exit 1
      }
    fi
    region=$("$sam/python" infra/samconfig.py region)
    outputs=$("$sam/sam" list stack-outputs --stack-name "$stack" --region "$region" --output json)
    output() { "$sam/python" -c 'import json,sys; print(next(o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == sys.argv[1]))' "$1" <<<"$outputs"; }
    "$sam/sam" list stack-outputs --stack-name "$stack" --region "$region" --output table
    aws="$(infra/tools.sh bin awscli)/aws" # the pinned aws CLI, or use your own
    cat <<NEXT

    Deployed. Create a user (no self sign-up; the password needs 12+ characters with upper and
    lower case, a digit and a symbol), then run the whole flow against the deployment:

      $aws cognito-idp admin-create-user --region $region --user-pool-id $(output UserPoolId) \\
        --username you@example.com --message-action SUPPRESS \\
        --user-attributes Name=email,Value=you@example.com Name=email_verified,Value=true
      $aws cognito-idp admin-set-user-password --region $region --user-pool-id $(output UserPoolId) \\
        --username you@example.com --password 'a-Passw0rd-of-yours!' --permanent
      COGNITO_CLIENT_ID=$(output UserPoolClientId) COGNITO_USERNAME=you@example.com \\
        COGNITO_PASSWORD='a-Passw0rd-of-yours!' AWS_REGION=$region just smoke $(output ApiUrl)

    New code only (no CloudFormation round trip): just deploy-code. Everything gone: just destroy.
    NEXT

# The page for the deployed stack as static files in DIR: web/site plus a config.json from the stack's outputs (ApiUrl, UserPoolClientId, Region) and its MaxUploadBytes; host DIR anywhere whose origin is in AllowedOrigins
web-site DIR:
    #!/usr/bin/env bash
    set -euo pipefail
    export SAM_CLI_TELEMETRY=0
    command -v node >/dev/null || { echo "web-site: node not found: install Node.js 20 or newer" >&2; exit 1; }
    sam=$(infra/tools.sh bin sam)
    stack=$("$sam/python" infra/samconfig.py stack_name) || { echo "no deployment in samconfig.toml (or IMAGE_UPLOAD_STACK): run just deploy first"; exit 1; }
    region=$("$sam/python" infra/samconfig.py region)
    aws="$(infra/tools.sh bin awscli)/aws"
    config=$("$aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" --output json | node web/tools/site-config.mjs)
    # DIR reaches the shell quoted by just (quote()), so any name is safe, quotes included.
    dir={{quote(DIR)}}
    mkdir -p "$dir"
    # The page's own files only (config.example.json stays behind: config.json replaces it).
    cp web/site/index.html web/site/style.css web/site/*.js "$dir/"
    printf '%s\n' "$config" >"$dir/config.json"
    origins=$("$aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" \
      --query "Stacks[0].Parameters[?ParameterKey=='AllowedOrigins'].ParameterValue" --output text)
    echo "web-site: the page for stack $stack is in $dir; host it at one of its AllowedOrigins ($origins),"
    echo "or add the origin you host it at to AllowedOrigins (sam deploy --guided) first."

# Push new code of both functions to the deployed stack with `cargo lambda deploy` (no CloudFormation round trip)
deploy-code: build
    #!/usr/bin/env bash
    set -euo pipefail
    sam=$(infra/tools.sh bin sam)
    lambda=$(infra/tools.sh bin lambda)
    aws=$(infra/tools.sh bin awscli)
    stack=$("$sam/python" infra/samconfig.py stack_name) || { echo "no deployment in samconfig.toml (or IMAGE_UPLOAD_STACK): run just deploy first"; exit 1; }
    region=$("$sam/python" infra/samconfig.py region) || { echo "no region in samconfig.toml: set AWS_REGION"; exit 1; }
    for function in ApiFunction ProcessorFunction; do
      name=$("$aws/aws" cloudformation describe-stack-resource --region "$region" --stack-name "$stack" \
        --logical-resource-id "$function" --query StackResourceDetail.PhysicalResourceId --output text)
      # Only the code changes: with no flags for them, cargo-lambda leaves the configuration
      # (role, memory, timeout, environment) as the stack set it.
      PATH="$lambda:$PATH" cargo lambda deploy --region "$region" \
        --binary-path ".aws-sam/build/$function/bootstrap" "$name"
    done
    echo "both functions run the new code; the stack's configuration is unchanged (just deploy changes that)"

# Delete the deployment: empty the bucket (every version), delete the stack, then the log groups it leaves
destroy:
    #!/usr/bin/env bash
    set -euo pipefail
    export SAM_CLI_TELEMETRY=0
    sam=$(infra/tools.sh bin sam)
    aws=$(infra/tools.sh bin awscli)
    stack=$("$sam/python" infra/samconfig.py stack_name) || { echo "no deployment in samconfig.toml (or IMAGE_UPLOAD_STACK)"; exit 1; }
    region=$("$sam/python" infra/samconfig.py region) || { echo "no region in samconfig.toml: set AWS_REGION"; exit 1; }
    # A resource's physical id, or nothing when the stack no longer has it (a second run after a
    # partial failure must be able to finish the job).
    resource() {
      "$aws/aws" cloudformation describe-stack-resource --region "$region" --stack-name "$stack" \
        --logical-resource-id "$1" --query StackResourceDetail.PhysicalResourceId --output text 2>/dev/null || true
    }
    table=$(resource ImageTable)
    if [ -n "$table" ]; then
      protected=$("$aws/aws" dynamodb describe-table --region "$region" --table-name "$table" \
        --query Table.DeletionProtectionEnabled --output text 2>/dev/null || echo gone)
      if [ "$protected" = "True" ]; then
        echo "table $table has deletion protection (TableDeletionProtection=true): nothing deleted."
        echo "Redeploy with TableDeletionProtection=false if you really mean to delete its data."
        exit 1
      fi
    fi
    answer=${CONFIRM_DESTROY:-}
    if [ -z "$answer" ]; then
      read -r -p "Delete stack $stack in $region, with every image and row? Type the stack name: " answer
    fi
    [ "$answer" = "$stack" ] || { echo "not confirmed; nothing deleted"; exit 1; }
    # Stop the processor taking new messages, so nothing writes into the bucket once it is empty.
    processor=$(resource ProcessorFunction)
    if [ -n "$processor" ]; then
      for mapping in $("$aws/aws" lambda list-event-source-mappings --region "$region" --function-name "$processor" \
          --query 'EventSourceMappings[].UUID' --output text); do
        "$aws/aws" lambda update-event-source-mapping --region "$region" --uuid "$mapping" --no-enabled >/dev/null
        echo "disabled the processor's queue mapping $mapping"
      done
    fi
    empty_bucket() {
      local bucket
      bucket=$(resource ImageBucket)
      if [ -n "$bucket" ]; then infra/empty-bucket.sh "$bucket" "$region"; fi
    }
    empty_bucket
    if ! "$sam/sam" delete --stack-name "$stack" --region "$region" --no-prompts; then
      # A message already in flight may have written an object after the bucket was emptied.
      echo "deleting the stack failed; emptying the bucket again and retrying once"
      empty_bucket
      "$sam/sam" delete --stack-name "$stack" --region "$region" --no-prompts
    fi
    # The stack deletes its log groups, but a function invoked while the stack went may have
    # written again and recreated one: remove exactly the stack's own (never another stack's
    # whose name merely starts with this one's).
    for group in "/aws/lambda/$stack-api" "/aws/lambda/$stack-processor" "/aws/apigateway/$stack-access"; do
      found=$("$aws/aws" logs describe-log-groups --region "$region" --log-group-name-prefix "$group" \
        --query "logGroups[?logGroupName=='$group'].logGroupName" --output text)
      if [ "$found" = "$group" ]; then
        "$aws/aws" logs delete-log-group --region "$region" --log-group-name "$group"
        echo "deleted log group $group"
      fi
    done
    echo "stack $stack is gone. Kept on purpose: API Gateway's account-wide CloudWatch role (other APIs may log with it)."

# Start the local stack in the background (`just stack-down` stops it)
stack-up:
    {{stack}} start
    @echo 'point a shell at it with: eval "$(./localstack/stack.sh env)"'

# Stop the local stack
stack-down:
    {{stack}} stop
