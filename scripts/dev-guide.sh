#!/usr/bin/env bash
# Prints how to use the local server that `just dev` or `just dev-auth` started: where the API
# and the page are, and the commands that upload a fixture image and list it. Run by
# scripts/with-local-server.sh, whose environment it reads (API_URL; with authentication on,
# AUTH_ISSUER and the COGNITO_* variables).
set -euo pipefail

: "${API_URL:?run by scripts/with-local-server.sh}"

if [ -z "${AUTH_ISSUER:-}" ]; then
  cat <<GUIDE

The API is at $API_URL, and uploads are verified and thumbnailed as they arrive.
The upload page is at $API_URL/ (its API description at /openapi.yaml).
Ask for an upload URL, PUT a fixture image to it, then list your images:
  up=\$(curl -s -X POST $API_URL/upload -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}')
  curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Type: image/jpeg' -H 'If-None-Match: *' --data-binary @fixtures/images/sunset-64x48.jpg "\$(echo "\$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uploadUrl"])')"
  curl -s '$API_URL/images?limit=5'

GUIDE
else
  cat <<GUIDE

The API is at $API_URL and every request needs a Cognito ID token.
The demo user is $COGNITO_USERNAME / $COGNITO_PASSWORD (pool $COGNITO_USER_POOL_ID, app client $COGNITO_CLIENT_ID).
The upload page is at $API_URL/: sign in there as the demo user.
Sign in against the local Cognito (USER_PASSWORD_AUTH) and keep the ID token:
  token=\$(AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=$AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER COGNITO_CLIENT_ID=$COGNITO_CLIENT_ID \\
    COGNITO_USERNAME='$COGNITO_USERNAME' COGNITO_PASSWORD='$COGNITO_PASSWORD' cargo run --quiet --bin image-upload-smoke -- --print-id-token)
Then call the API with it (without it: 401):
  curl -s -X POST $API_URL/upload -H "Authorization: Bearer \$token" -H 'Content-Type: application/json' -d '{"fileName":"sunset.jpg","fileType":"image/jpeg"}'
  curl -s '$API_URL/images?limit=5' -H "Authorization: Bearer \$token"

GUIDE
fi
