#!/usr/bin/env bash
# The page for the deployed stack as static files in DIR (`just web-site DIR`): web/site plus a
# config.json from the stack's outputs (ApiUrl, UserPoolClientId, Region) and its MaxUploadBytes,
# and index.html's Content Security Policy naming the stack's origins (web/tools/site-config.mjs).
# Host DIR anywhere whose origin is in the stack's AllowedOrigins.
#
#   infra/web-site.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
given=$1
dir=$(realpath -m "$given")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v node >/dev/null || { echo "web-site: node not found: install Node.js 20 or newer" >&2; exit 1; }
# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh
described=$("$aws/aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" --output json)
config=$(node web/tools/site-config.mjs <<<"$described")
# index.html with its Content Security Policy naming the stack's API, Cognito, bucket and CDN.
index=$(node web/tools/site-config.mjs --index web/site/index.html <<<"$described")
mkdir -p "$dir"
# The page's own files only (config.example.json stays behind: config.json replaces it).
cp web/site/style.css web/site/*.js "$dir/"
printf '%s\n' "$index" >"$dir/index.html"
printf '%s\n' "$config" >"$dir/config.json"
origins=$("$aws/aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" \
  --query "Stacks[0].Parameters[?ParameterKey=='AllowedOrigins'].ParameterValue" --output text)
echo "web-site: the page for stack $stack is in $given; host it at one of its AllowedOrigins ($origins),"
echo "or add the origin you host it at to AllowedOrigins (sam deploy --guided) first."
