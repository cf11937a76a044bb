#!/usr/bin/env bash
# `just redrive deployed [--limit N]`: moves the deployment's dead letters (samconfig.toml's stack)
# back to its upload queue, once the fault that parked them is fixed, with your AWS credentials:
# they need sqs:ReceiveMessage and sqs:DeleteMessage on the dead-letter queue and sqs:SendMessage
# on the upload queue.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh
query() {
  "$aws/aws" cloudformation describe-stacks --region "$region" --stack-name "$stack" --output text --query "$1"
}
queue=$(query "Stacks[0].Outputs[?OutputKey=='QueueUrl'].OutputValue")
dead_letters=$(query "Stacks[0].Outputs[?OutputKey=='DeadLetterQueueUrl'].OutputValue")
cargo build --quiet --release --bin redrive
echo "redrive: stack $stack in $region" >&2
# Only the AWS endpoints of the real account: no local stack variable may leak in.
exec env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL_SQS -u AWS_ENDPOINT_URL_DYNAMODB \
  -u AWS_ENDPOINT_URL_SECRETS_MANAGER \
  AWS_REGION="$region" QUEUE_URL="$queue" DEAD_LETTER_QUEUE_URL="$dead_letters" \
  "${CARGO_TARGET_DIR:-target}/release/redrive" "$@"
