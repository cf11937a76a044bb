#!/usr/bin/env bash
# Pushes the code `infra/build.sh` built to the functions of the deployed stack with
# `cargo lambda deploy` (`just deploy-code`): no CloudFormation round trip, and the functions'
# configuration (role, memory, timeout, environment) stays as the stack set it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=infra/stack-env.sh
. infra/stack-env.sh
lambda=$(infra/tools.sh bin lambda)
# The sweep runs the processor's binary (its own build of it, the same bytes).
for function in ApiFunction ProcessorFunction SweepFunction; do
  name=$("$aws/aws" cloudformation describe-stack-resource --region "$region" --stack-name "$stack" \
    --logical-resource-id "$function" --query StackResourceDetail.PhysicalResourceId --output text)
  # With no flags for them, cargo-lambda leaves the configuration as it is.
  PATH="$lambda:$PATH" cargo lambda deploy --region "$region" \
    --binary-path ".aws-sam/build/$function/bootstrap" "$name"
done
echo "the API, processor and sweep functions run the new code; the stack's configuration is unchanged (just deploy changes that)"
