#!/usr/bin/env bash
# Pushes the code `infra/build.sh` built to both functions of the deployed stack with
# `cargo lambda deploy` (`just deploy-code`): no CloudFormation round trip, and the functions'
# configuration (role, memory, timeout, environment) stays as the stack set it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sam=$(infra/tools.sh bin sam)
lambda=$(infra/tools.sh bin lambda)
aws=$(infra/tools.sh bin awscli)
stack=$("$sam/python" infra/samconfig.py stack_name) || { echo "no deployment in samconfig.toml (or IMAGE_UPLOAD_STACK): run just deploy first"; exit 1; }
region=$("$sam/python" infra/samconfig.py region) || { echo "no region in samconfig.toml: set AWS_REGION"; exit 1; }
for function in ApiFunction ProcessorFunction; do
  name=$("$aws/aws" cloudformation describe-stack-resource --region "$region" --stack-name "$stack" \
    --logical-resource-id "$function" --query StackResourceDetail.PhysicalResourceId --output text)
  # With no flags for them, cargo-lambda leaves the configuration as it is.
  PATH="$lambda:$PATH" cargo lambda deploy --region "$region" \
    --binary-path ".aws-sam/build/$function/bootstrap" "$name"
done
echo "both functions run the new code; the stack's configuration is unchanged (just deploy changes that)"
