#!/usr/bin/env bash
# Deletes the deployment (`just destroy`): refuses while the table has deletion protection; asks
# for the stack's name (or takes CONFIRM_DESTROY); stops the processor taking messages, empties
# the bucket (every version), deletes the stack (emptying the bucket again and retrying once if
# that fails), then the log groups a late invocation may have recreated. Safe to run again after
# a partial failure. Deletes the CDN key secrets. Keeps API Gateway's account-wide CloudWatch role.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh

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
# The CDN's log bucket, when CdnAccessLogs made one: the stack retains it (it may hold logs when
# the parameter is turned off), so it is emptied and deleted here, after the stack.
log_bucket=$(resource CdnLogBucket)
empty_bucket() {
  local bucket
  bucket=$(resource ImageBucket)
  if [ -n "$bucket" ]; then infra/empty-bucket.sh "$bucket" "$region"; fi
  if [ -n "$log_bucket" ]; then infra/empty-bucket.sh "$log_bucket" "$region"; fi
}
empty_bucket
if ! "$sam/sam" delete --stack-name "$stack" --region "$region" --no-prompts; then
  # A message already in flight may have written an object after the bucket was emptied.
  echo "deleting the stack failed; emptying the bucket again and retrying once"
  empty_bucket
  "$sam/sam" delete --stack-name "$stack" --region "$region" --no-prompts
fi
# The stack deletes its log groups, but a function invoked while the stack went may have written
# again and recreated one: remove exactly the stack's own (never another stack's whose name merely
# starts with this one's).
for group in "/aws/lambda/$stack-api" "/aws/lambda/$stack-processor" "/aws/apigateway/$stack-access"; do
  found=$("$aws/aws" logs describe-log-groups --region "$region" --log-group-name-prefix "$group" \
    --query "logGroups[?logGroupName=='$group'].logGroupName" --output text)
  if [ "$found" = "$group" ]; then
    "$aws/aws" logs delete-log-group --region "$region" --log-group-name "$group"
    echo "deleted log group $group"
  fi
done
if [ -n "$log_bucket" ]; then
  "$aws/aws" s3api delete-bucket --region "$region" --bucket "$log_bucket"
  echo "deleted the CDN's log bucket $log_bucket"
fi
# The CDN's signing keys: secrets made by infra/cdn_key.py, outside the stack; and their public
# halves in samconfig.toml, so that a new deployment of the same name makes a new key.
for slot in A B; do
  secret="$stack/cdn/private-key-$slot"
  if out=$("$aws/aws" secretsmanager delete-secret --region "$region" --secret-id "$secret" \
      --force-delete-without-recovery 2>&1); then
    echo "deleted the secret $secret"
  elif ! grep -q ResourceNotFoundException <<<"$out"; then
    echo "could not delete the secret $secret: $out" >&2
    exit 1
  fi
done
if [ -f samconfig.toml ]; then "$sam/python" infra/cdn_key.py forget; fi
echo "stack $stack is gone. Kept on purpose: API Gateway's account-wide CloudWatch role (other APIs may log with it)."
