#!/usr/bin/env bash
# template.yaml, offline (`just lint-infra`): sam validate --lint, cfn-lint, checkov on the
# template and on its expansion to plain CloudFormation (what `sam deploy` really submits), then
# the template test against the code's own declarations (tests/template/). No AWS call.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0
# Nothing here calls AWS; SAM writes the region into the ARNs it generates, so one is needed.
export AWS_REGION="${AWS_REGION:-us-east-1}"
sam=$(infra/tools.sh bin sam)
checkov=$(infra/tools.sh bin checkov)
"$sam/sam" validate --lint --region "$AWS_REGION" --template-file template.yaml
"$sam/cfn-lint" template.yaml
# SAM expanded to plain CloudFormation (samtranslator).
"$sam/python" infra/expand.py template.yaml target/infra/expanded.json
"$sam/cfn-lint" target/infra/expanded.json
"$checkov/python" infra/checkov.py template.yaml target/infra/expanded.json
# tests/template/ is left out of plain `cargo test`: it reads the expansion above.
IMAGE_UPLOAD_EXPANDED_TEMPLATE="$PWD/target/infra/expanded.json" cargo test --test template
