#!/usr/bin/env bash
# The CDN's URL-signing keys of the deployment in samconfig.toml (`just cdn-key ACTION`;
# infra/cdn_key.py says what each step does):
#   rotate   a new key is added and deployed; once CloudFront has it at every edge, it signs
#            (a second deployment); the old key stays trusted
#   retire   the key that no longer signs leaves the key group (a deployment), then its secret
#            is deleted (after a failed deployment: `just deploy`, then this again)
#   ensure, add, wait, switch, tidy, forget: the single steps
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sam=$(infra/tools.sh bin sam)
keys() { "$sam/python" infra/cdn_key.py "$1"; }
case "${1:-}" in
  rotate) keys add && infra/deploy.sh && keys wait && keys switch && infra/deploy.sh ;;
  retire) keys retire && infra/deploy.sh && keys tidy ;;
  ensure | add | wait | switch | tidy | forget) keys "$1" ;;
  *) echo "usage: infra/cdn-key.sh rotate|retire (or a single step: ensure|add|wait|switch|tidy|forget)" >&2; exit 2 ;;
esac
