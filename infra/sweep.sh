#!/usr/bin/env bash
# `just sweep deployed [--repair [--force]] [--grace SECONDS]`: reconciles the deployment's bucket with its
# table (samconfig.toml's stack) from this machine, with your AWS credentials, as the stack's
# sweep function does on its schedule: a dry run unless --repair. Listing and reading need
# s3:ListBucket, s3:GetObject, dynamodb:BatchGetItem, GetItem and Scan; repairing also
# s3:DeleteObject, s3:PutObject (renditions/), dynamodb:UpdateItem and DeleteItem.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh
query() {
  "$aws/aws" cloudformation describe-stacks --region "$region" --stack-name "$stack" --output text --query "$1"
}
bucket=$(query "Stacks[0].Outputs[?OutputKey=='BucketName'].OutputValue")
table=$(query "Stacks[0].Outputs[?OutputKey=='TableName'].OutputValue")
renditions=$(query "Stacks[0].Parameters[?ParameterKey=='Renditions'].ParameterValue")
max_upload_bytes=$(query "Stacks[0].Parameters[?ParameterKey=='MaxUploadBytes'].ParameterValue")
cargo build --quiet --release --bin sweep
echo "sweep: stack $stack in $region" >&2
# Only the AWS endpoints of the real account: no local stack variable may leak in. The renditions
# and the largest upload are the stack's, so that missing renditions are made as its processor
# makes them.
exec env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL_SQS -u AWS_ENDPOINT_URL_DYNAMODB \
  -u AWS_ENDPOINT_URL_SECRETS_MANAGER \
  AWS_REGION="$region" BUCKET_NAME="$bucket" TABLE_NAME="$table" RENDITIONS="$renditions" \
  MAX_UPLOAD_BYTES="$max_upload_bytes" \
  "${CARGO_TARGET_DIR:-target}/release/sweep" "$@"
