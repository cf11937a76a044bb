# Sourced (never run) by the scripts that act on the deployed stack (deploy-code, destroy,
# reprocess, web-site), from the repository's root. Sets:
#   $sam, $aws     the SAM CLI's and the AWS CLI's tool folders (run "$sam/sam", "$aws/aws")
#   $stack         the stack's name, from samconfig.toml (or IMAGE_UPLOAD_STACK)
#   $region        its region, from samconfig.toml (or AWS_REGION)
# and stops the script, saying what to do, when there is no deployment to act on.
# shellcheck shell=bash disable=SC2034
export SAM_CLI_TELEMETRY=0
sam=$(infra/tools.sh bin sam)
aws=$(infra/tools.sh bin awscli)
stack=$("$sam/python" infra/samconfig.py stack_name) || {
  echo "no deployment in samconfig.toml (or IMAGE_UPLOAD_STACK): run just deploy first" >&2
  exit 1
}
region=$("$sam/python" infra/samconfig.py region) || {
  echo "no region in samconfig.toml: set AWS_REGION" >&2
  exit 1
}
