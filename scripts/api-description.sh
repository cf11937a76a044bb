#!/usr/bin/env bash
# The checks of `just test-api-description`, with schemathesis and the Python pinned with hashes
# in infra/requirements-schemathesis.lock.
#
#   scripts/api-description.sh postman
#       docs/postman_collection.json against the Postman v2.1 schema and openapi.yaml (no stack)
#   scripts/api-description.sh schemathesis
#       openapi.yaml against the running local servers, run by
#       `scripts/with-local-server.sh --auth --with-anonymous`: auth off (ANON_API_URL, every
#       caller the anonymous owner); auth on with the provisioned user's ID token (API_URL); auth
#       on without a token, where tests/api-description/hooks.py requires a 401 for every request.
#       Prints one summary line per run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

me=test-api-description
st=$(infra/tools.sh bin schemathesis)

postman() {
  local schema
  schema=$(tests/api-description/postman-schema.sh)
  "$st/python" tests/api-description/check_postman.py docs/postman_collection.json openapi.yaml "$schema"
}

summary=()
# run_schemathesis MODE URL [ARG...]: one run; its summary line goes to the report at the end.
run_schemathesis() {
  local mode=$1 url=$2 started=$SECONDS output
  shift 2
  echo "$me: schemathesis, $mode"
  output=$(mktemp "${TMPDIR:-/tmp}/api-description-run.XXXXXX")
  if ! SCHEMATHESIS_HOOKS=tests/api-description/hooks.py "$st/schemathesis" \
      --config-file tests/api-description/schemathesis.toml run openapi.yaml --url "$url" "$@" \
      2>&1 | tee "$output"; then
    echo "$me: schemathesis found problems ($mode)" >&2
    rm -f "$output"
    exit 1
  fi
  summary+=("$mode: $(grep -E '[0-9]+ generated' "$output" | sed 's/^ *//') in $((SECONDS - started)) s")
  rm -f "$output"
}

schemathesis() {
  : "${API_URL:?run by scripts/with-local-server.sh --auth --with-anonymous}" "${ANON_API_URL:?}" "${LOCAL_BIN:?}"
  # 1. Authentication off, as `just dev`: everyone is the anonymous owner.
  run_schemathesis "auth off (anonymous)" "$ANON_API_URL"
  # 2. Authentication on, as `just dev-auth`: the server verifies ID tokens of the local Cognito.
  local token
  token=$(env -u TOKEN "$LOCAL_BIN/image-upload-smoke" --print-id-token)
  run_schemathesis "auth on, with an ID token" "$API_URL" -H "Authorization: Bearer $token"
  EXPECT_UNAUTHENTICATED=1 run_schemathesis "auth on, without a token (every answer 401)" "$API_URL"
  echo
  local line
  for line in "${summary[@]}"; do echo "$me: $line"; done
}

case "${1:-}" in
  postman) postman ;;
  schemathesis) schemathesis ;;
  *) echo "usage: $0 postman|schemathesis" >&2; exit 2 ;;
esac
