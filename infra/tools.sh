#!/usr/bin/env bash
# The infrastructure tools, pinned, each in a venv of its own under the project's tool cache (their
# dependencies conflict: checkov and aws-sam-cli want different boto3 and pydantic). Installed on
# first use; a changed lock file gets a fresh venv, since the venv's name carries the lock's hash.
#
#   infra/tools.sh bin TOOL     install if needed, print the venv's bin directory
#
# TOOL is sam (aws-sam-cli with cfn-lint and samtranslator), checkov, awscli, schemathesis (the
# API description's test, `just test-api-description`; its lock carries hashes, so pip installs it
# in hash-checking mode), lambda (cargo-lambda and ziglang, installed into the shared `tools` venv
# infra/build.sh uses), peers (the Pillow and pillow-heif that `just bench-peers` times), or fixtures (Pillow and pillow-heif
# for fixtures/images/heif/make_fixtures.py).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}"
python="${PYTHON:-python3}"

say() { echo "infra/tools.sh: $*" >&2; }
die() { say "$*"; exit 1; }

venv_of() {
  local tool=$1 lock="$here/requirements-$1.lock"
  [ -f "$lock" ] || die "no lock file for '$tool' ($lock)"
  if [ "$tool" = lambda ]; then
    # Shared with ./just (which installs `just` there) and scripts/fuzz.sh (cargo-fuzz).
    echo "$cache/tools"
  else
    echo "$cache/$tool-$(sha256sum "$lock" | cut -c1-12)"
  fi
}

ensure() {
  local tool=$1 venv lock="$here/requirements-$1.lock" marker
  venv=$(venv_of "$tool")
  marker="$venv/.installed-$tool-$(sha256sum "$lock" | cut -c1-12)"
  [ -f "$marker" ] && return 0
  say "installing $tool into $venv (pinned in infra/requirements-$tool.lock)"
  if [ "$tool" != lambda ]; then
    rm -rf "$venv" # a venv without its marker is a failed install: start over
  fi
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
  if [ "$tool" != lambda ]; then
    "$venv/bin/python" -m pip check >/dev/null || die "pip check failed in $venv"
  fi
  touch "$marker"
}

case "${1:-}" in
  bin)
    [ -n "${2:-}" ] || die "usage: $0 bin sam|checkov|awscli|schemathesis|lambda|peers"
    ensure "$2"
    echo "$(venv_of "$2")/bin"
    ;;
  *)
    die "usage: $0 bin TOOL"
    ;;
esac
