#!/usr/bin/env bash
# `just reprocess deployed [ARGS]`: brings the deployment's READY images (samconfig.toml's stack)
# to its Renditions parameter, through its upload queue, with your AWS credentials: they need
# dynamodb:Scan and dynamodb:BatchGetItem on the table and sqs:SendMessage on the queue.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh
query() {
  "$aws/aws" cloudformation describe-stacks --region "$region" --stack-name "$stack" --output text --query "$1"
}
table=$(query "Stacks[0].Outputs[?OutputKey=='TableName'].OutputValue")
queue=$(query "Stacks[0].Outputs[?OutputKey=='QueueUrl'].OutputValue")
renditions=$(query "Stacks[0].Parameters[?ParameterKey=='Renditions'].ParameterValue")
cargo build --quiet --release --bin reprocess
echo "reprocess: stack $stack in $region: table $table, Renditions $renditions" >&2
# Only the AWS endpoints of the real account: no local stack variable may leak in.
exec env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL_SQS -u AWS_ENDPOINT_URL_DYNAMODB \
  -u AWS_ENDPOINT_URL_SECRETS_MANAGER \
  AWS_REGION="$region" TABLE_NAME="$table" QUEUE_URL="$queue" RENDITIONS="$renditions" \
  "${CARGO_TARGET_DIR:-target}/release/reprocess" "$@"
