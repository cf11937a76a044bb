#!/usr/bin/env bash
# The CDN's URL-signing keys of the deployment in samconfig.toml (`just cdn-key ACTION`;
# infra/cdn_key.py says what each action does):
#   ensure   key A, if the deployment has no key yet (`just deploy` runs it)
#   rotate   a new key signs, the old one stays trusted; deploys
#   retire   the key that no longer signs leaves the key group; deploys, then deletes its secret
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sam=$(infra/tools.sh bin sam)
keys() { "$sam/python" infra/cdn_key.py "$1"; }
case "${1:-}" in
  ensure) keys ensure ;;
  rotate) keys rotate && infra/deploy.sh ;;
  retire) keys retire && infra/deploy.sh && keys tidy ;;
  *) echo "usage: infra/cdn-key.sh ensure|rotate|retire" >&2; exit 2 ;;
esac
