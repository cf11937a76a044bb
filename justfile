# Recipes for the image upload service: `./just` (or `just`, where it is installed) lists them.
# Each recipe calls scripts or binaries; every script says at its top what it does and takes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @{{just_executable()}} --list

# Serve the API and the upload page at http://127.0.0.1:3000 (or LISTEN_ADDR) and process uploads, against the local AWS stack (installed on first use), until Ctrl-C
dev: (packages "stack")
    scripts/with-local-server.sh --serve --listen "${LISTEN_ADDR:-127.0.0.1:3000}" -- scripts/dev-guide.sh

# Like `dev`, with authentication on: a local Cognito user pool, app client and demo user (moto), and the server verifying their ID tokens
dev-auth: (packages "stack")
    scripts/with-local-server.sh --auth --serve --listen "${LISTEN_ADDR:-127.0.0.1:3000}" -- scripts/dev-guide.sh

# Everything CI checks: formatting, lints, the template, unit/property/mocked-SDK tests, the Lambda build, a short run of each fuzz target, e2e tests on the local stack and on containers, the signed-in smoke run, openapi.yaml against the local server (schemathesis) and the Postman collection, the page in a real browser
test: (packages "test") lint lint-infra test-unit build fuzz-smoke test-e2e e2e-containers-in-test smoke-local test-api-description test-browser

# Formatting (the service, the fuzz crate, the peer bench's crate, the cold-start harness), clippy with warnings as errors (also on the Lambda functions' feature set), shellcheck on the shell scripts, the docs' links
lint: (packages "shellcheck" "nasm")
    @cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 || rustup component add rustfmt clippy
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
    shellcheck just .ci/run $(git ls-files '*.sh')
    python3 scripts/check_links.py

# template.yaml, offline: sam validate --lint, cfn-lint, checkov (template and expansion), then the template test against the code
lint-infra: (packages "venv")
    infra/lint.sh

# Unit, property, mocked-SDK and Lambda-entry tests, and the configuration docs against the code (no stack needed)
test-unit: (packages "nasm")
    cargo test --lib --test api --test configuration_docs

# Fuzz one target (upload_request, sniff, jpeg_dc, inspect, heif_container) for SECONDS; ARGS go to libFuzzer (log in fuzz/logs/)
fuzz TARGET SECONDS *ARGS: (packages "c++" "nasm")
    scripts/fuzz.sh {{TARGET}} {{SECONDS}} {{ARGS}}

# A short run of every fuzz target (FUZZ_SMOKE_SECONDS each, default 20); fails on any crash
fuzz-smoke: (packages "c++" "nasm")
    for target in upload_request sniff jpeg_dc inspect heif_container; do scripts/fuzz.sh "$target" "${FUZZ_SMOKE_SECONDS:-20}"; done

# End-to-end tests: starts the local stack, runs tests/e2e, stops the stack even when tests fail
test-e2e: (packages "stack")
    cargo test --test e2e --no-run
    ./localstack/stack.sh run cargo test --test e2e

# End-to-end tests on containers that testcontainers starts (LocalStack, DynamoDB Local, moto), every AWS_ENDPOINT_URL_* unset; E2E_CONTAINER_NETWORK: bridge where the engine has one, else host. No Docker engine: says the container path was NOT run, and fails unless E2E_CONTAINERS_OPTIONAL=1
test-e2e-containers: (packages "curl" "nasm" "npm")
    scripts/test-e2e-containers.sh

# The load test (tests/e2e/load_test.rs), built with the `load` profile: LOAD_USERS simulated users (default 30) for LOAD_SECONDS (default 180) through the whole flow on the local stack with the processor running, with no fault, the processor killed mid-batch, DynamoDB frozen and S3 slowed (RUN: one of clean, processor_killed_mid_batch, dynamodb_frozen, s3_slowed); prints each run's throughput, latency per step, errors by code and audit
load RUN="": (packages "stack" "nasm")
    cargo test --profile load --test e2e --no-run
    LOAD_USERS="${LOAD_USERS:-30}" LOAD_SECONDS="${LOAD_SECONDS:-180}" LOAD_PACE_MS="${LOAD_PACE_MS:-0}" LOAD_FAULT_SECONDS="${LOAD_FAULT_SECONDS:-10}" ./localstack/stack.sh run cargo test --profile load --test e2e -- --nocapture --test-threads=1 load_test::{{RUN}}

# The container path as `just test` runs it: where no engine answers it says so and is NOT run, unless E2E_CONTAINERS_REQUIRED=1 (CI, which has an engine, sets it and so fails without one)
[private]
e2e-containers-in-test: (packages "curl" "nasm" "npm")
    E2E_CONTAINERS_OPTIONAL=$([ "${E2E_CONTAINERS_REQUIRED:-}" = 1 ] && echo 0 || echo 1) scripts/test-e2e-containers.sh

# The whole upload flow against a deployment (API_URL ends with the stage), each step timed; signs in with TOKEN, or COGNITO_CLIENT_ID + COGNITO_USERNAME + COGNITO_PASSWORD in AWS_REGION, else anonymously
smoke API_URL:
    cargo run --quiet --bin image-upload-smoke -- {{quote(API_URL)}}

# `just smoke` against the local server with authentication on, as against AWS: the local stack with its Cognito (moto), a user signed in with USER_PASSWORD_AUTH, the server verifying ID tokens; stops everything on exit
smoke-local: (packages "stack")
    LOG_FORMAT=json EMF_METRICS=true scripts/with-local-server.sh --auth -- scripts/smoke-local.sh

# openapi.yaml against the real local server with schemathesis (auth off; auth on with an ID token; auth on without one, every answer a 401), and docs/postman_collection.json against the Postman v2.1 schema and openapi.yaml; stops everything on exit
test-api-description: (packages "stack")
    scripts/api-description.sh postman
    # Thousands of upload URLs for one user, none of them used: the limits on uploads in flight and
    # an hour would answer 429 to the valid requests the description says are accepted.
    MAX_UPLOADS_IN_FLIGHT=1000 MAX_UPLOADS_PER_HOUR=1000000 scripts/with-local-server.sh --auth --with-anonymous -- scripts/api-description.sh schemathesis

# The upload page in a real browser (Debian's chromium, playwright-core) against the local server and stack, signed in as two users and anonymously, and resumable uploads of a 20 MB image through the page and through Uppy 6 (docs/uppy); uploads up to 25 MiB; screenshots in target/browser-artifacts; stops everything on exit
test-browser: (packages "stack" "chromium")
    scripts/browser-test.sh prepare
    MAX_UPLOAD_BYTES=26214400 scripts/with-local-server.sh --auth --with-anonymous --spare-origin --logs target/browser-artifacts -- scripts/browser-test.sh run

# The thumbnail path against libvips (sharp), libjpeg-turbo (Pillow) and naive `image` on 12 MP inputs, one pinned core: one markdown table (peers installed on first use)
bench-peers: (packages "npm" "venv" "nasm")
    bench/peers/run.sh

# Criterion benches: the API's cold path, and thumbnails pinned to one core (results in target/criterion)
bench:
    cargo bench --bench cold_path
    cargo bench --bench thumbnail --no-run
    taskset -c 0 cargo bench --bench thumbnail

# A display rendition's bytes and encode time in JPEG, WebP and AVIF at equal SSIM, on one core (natural photos; or the IMAGEs given)
bench-formats *IMAGES:
    bench/formats/run.sh {{IMAGES}}


# The API function's cold start under a local Lambda Runtime API (init, first and warm invocations, peak RSS) beside the original design's Node.js function, on the local stack
bench-cold-start RUNS="10" WARM="50": (packages "stack")
    bench/cold-start/run.sh {{RUNS}} {{WARM}}

# The Lambda functions built by `sam build` (cargo-lambda, arm64, release) into .aws-sam/build, with the zip size of each binary
build: (packages "venv")
    infra/build.sh

# Deploy to AWS: build, then `sam deploy` (guided the first time: stack, region, stage, origins, saved in samconfig.toml); prints the outputs and what to try next
deploy: build
    infra/deploy.sh

# The page for the deployed stack as static files in DIR: web/site plus a config.json from the stack's outputs (ApiUrl, UserPoolClientId, Region) and its MaxUploadBytes; host DIR anywhere whose origin is in AllowedOrigins
web-site DIR:
    infra/web-site.sh {{quote(DIR)}}

# Bring READY images to the configured renditions after RENDITIONS (or the Renditions parameter) changed, through the processor's queue: idempotent, resumable, at most --rate a second (default 20) and --max-queued in the queue (default 10), with a progress bar; `just reprocess` for the local stack (with `just dev` running), `just reprocess deployed` for the deployment in samconfig.toml (your AWS credentials)
reprocess TARGET="local" *ARGS:
    case {{quote(TARGET)}} in deployed) infra/reprocess.sh {{ARGS}} ;; local) scripts/reprocess-local.sh {{ARGS}} ;; -*) scripts/reprocess-local.sh {{quote(TARGET)}} {{ARGS}} ;; *) echo "usage: just reprocess [local|deployed] [--rate N] [--limit N] [--wait SECONDS]" >&2; exit 2 ;; esac

# Move the dead-letter queue's messages back to the upload queue once the fault that parked them is fixed (each message sent, then deleted from the dead letters; a duplicate is processed once), at most --limit N; `just redrive` for the local stack (with `just dev` running to process them), `just redrive deployed` for the deployment in samconfig.toml (your AWS credentials)
redrive TARGET="local" *ARGS:
    case {{quote(TARGET)}} in deployed) infra/redrive.sh {{ARGS}} ;; local) scripts/redrive-local.sh {{ARGS}} ;; -*) scripts/redrive-local.sh {{quote(TARGET)}} {{ARGS}} ;; *) echo "usage: just redrive [local|deployed] [--limit N]" >&2; exit 2 ;; esac

# Reconcile the bucket with the table, as the deployed sweep function does on its schedule: objects no row allows, READY images whose original is gone, missing renditions; a dry run (a report) unless --repair (--force: beyond what a scheduled run repairs unattended); debris younger than --grace SECONDS (default 3600) is spared; `just sweep` for the local stack, `just sweep deployed` for the deployment in samconfig.toml (your AWS credentials)
sweep TARGET="local" *ARGS:
    case {{quote(TARGET)}} in deployed) infra/sweep.sh {{ARGS}} ;; local) scripts/sweep-local.sh {{ARGS}} ;; -*) scripts/sweep-local.sh {{quote(TARGET)}} {{ARGS}} ;; *) echo "usage: just sweep [local|deployed] [--repair [--force]] [--grace SECONDS]" >&2; exit 2 ;; esac

# The deployed CDN's URL-signing key: `rotate` (a new key is deployed, then signs once CloudFront has it everywhere; the old one stays trusted), then once its URLs have expired `retire` (the old key leaves the key group; deploys, deletes its secret)
cdn-key ACTION: build
    infra/cdn-key.sh {{ACTION}}

# Push new code of the three functions (API, processor, sweep) to the deployed stack with `cargo lambda deploy` (no CloudFormation round trip)
deploy-code: build
    infra/deploy-code.sh

# Delete the deployment: empty the bucket (every version), delete the stack, then the log groups it leaves
destroy:
    infra/destroy.sh

# Start the local stack in the background (`just stack-down` stops it)
stack-up: (packages "stack")
    ./localstack/stack.sh start
    @echo 'point a shell at it with: eval "$(./localstack/stack.sh env)"'

# Stop the local stack
stack-down:
    ./localstack/stack.sh stop

# The system packages the recipe needs (scripts/system-packages.sh): installed with apt-get as root, else the command that would
[private]
packages +NEEDS:
    @scripts/system-packages.sh {{NEEDS}}
