#!/usr/bin/env bash
# Deploys the functions `infra/build.sh` built with `sam deploy` (`just deploy`): guided the first
# time (stack, region, stage, origins, saved in samconfig.toml), then with those settings; prints
# the stack's outputs and the commands that create a user and run the smoke test against it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0
sam=$(infra/tools.sh bin sam)
if stack=$("$sam/python" infra/samconfig.py stack_name); then
  echo "deploying stack $stack (settings in samconfig.toml; \`sam deploy --guided\` to change them)"
  # The CDN's signing key (a secret, its public half a parameter), made once.
  infra/cdn-key.sh ensure
  # Nothing changed is a success here: the outputs and next steps follow either way.
  "$sam/sam" deploy --no-fail-on-empty-changeset
else
  echo "first deployment: sam asks for a stack name, a region and the parameters, and saves them in samconfig.toml"
  "$sam/sam" deploy --guided --no-fail-on-empty-changeset
  stack=$("$sam/python" infra/samconfig.py stack_name) || {
    echo "deployed, but the answers were not saved in samconfig.toml: run \`sam deploy --guided\` again and save them (the other recipes read the stack and region there)"
    exit 1
  }
  # The key's secret is named after the stack, known only now: the CDN comes with a second pass.
  echo "adding the CDN: a signing key, then the distribution (CloudFront takes a few minutes)"
  infra/cdn-key.sh ensure
  "$sam/sam" deploy --no-fail-on-empty-changeset
fi
region=$("$sam/python" infra/samconfig.py region)
outputs=$("$sam/sam" list stack-outputs --stack-name "$stack" --region "$region" --output json)
output() {
  "$sam/python" -c 'import json,sys; print(next(o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == sys.argv[1]))' "$1" <<<"$outputs"
}
"$sam/sam" list stack-outputs --stack-name "$stack" --region "$region" --output table
cdn_note="Without a CDN key, images are served with presigned S3 URLs."
if cdn_url=$(output CdnUrl 2>/dev/null); then
  cdn_note="Renditions and originals are served by the CDN, $cdn_url, to the URLs the API signs.
Rotate its signing key with \`just cdn-key rotate\`, then \`just cdn-key retire\` (docs/deployment.md)."
fi
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

$cdn_note
New code only (no CloudFormation round trip): just deploy-code. Everything gone: just destroy.
NEXT
