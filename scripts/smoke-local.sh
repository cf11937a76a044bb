#!/usr/bin/env bash
# The checks of `just smoke-local`, run by `scripts/with-local-server.sh --auth` against a server
# that verifies ID tokens and writes JSON logs with EMF metrics (LOG_FORMAT=json
# EMF_METRICS=true): without a token the service refuses (401); the whole upload flow as the
# provisioned Cognito user, signed in with USER_PASSWORD_AUTH (image-upload-smoke, as `just smoke`
# runs it against AWS); the server's log holds the metric lines.
set -euo pipefail

: "${API_URL:?run by scripts/with-local-server.sh --auth}" "${SERVER_LOG:?}" "${COGNITO_CLIENT_ID:?}" "${LOCAL_BIN:?}"

# Without a token the service must refuse, or the signed-in run below proves nothing.
status=$(curl -s -o /dev/null -w '%{http_code}' "$API_URL/images")
[ "$status" = 401 ] || { echo "smoke-local: GET /images without a token answered $status, not 401" >&2; exit 1; }
echo "smoke-local: without a token: 401"

env -u TOKEN "$LOCAL_BIN/image-upload-smoke" "$API_URL"

for metric in UploadUrlsIssued UploadsReady ThumbnailTime ProcessingTime; do
  grep -q "\"$metric\":" "$SERVER_LOG" || { echo "smoke-local: the server wrote no $metric metric line" >&2; exit 1; }
done
echo "smoke-local: the server wrote its EMF metric lines ($(grep -c '"_aws":' "$SERVER_LOG") of them)"
