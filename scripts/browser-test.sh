#!/usr/bin/env bash
# The upload page in a real browser (`just test-browser`): web/tests/browser.test.mjs drives
# Debian's chromium (or CHROMIUM) through playwright-core.
#
#   scripts/browser-test.sh prepare
#       playwright-core exactly as web/package-lock.json pins it, and Uppy 6 as
#       docs/uppy/package-lock.json pins it, built (each reinstalled when its lock changes), and an
#       empty target/browser-artifacts
#   scripts/browser-test.sh run
#       run by `scripts/with-local-server.sh --auth --with-anonymous --spare-origin --logs ...`:
#       provisions two users of fresh names (a stack left running keeps its users and their
#       images), then runs the test, signed in as each on API_URL and anonymously on ANON_API_URL;
#       screenshots in target/browser-artifacts
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

artifacts="$PWD/target/browser-artifacts"
chromium="${CHROMIUM:-/usr/bin/chromium}"

prepare() {
  local dir
  for dir in web docs/uppy; do
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-from-lock"; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      cp "$dir/package-lock.json" "$dir/node_modules/.installed-from-lock"
    fi
  done
  (cd docs/uppy && npm run --silent build)
  rm -rf "$artifacts" && mkdir -p "$artifacts"
}

run() {
  : "${API_URL:?run by scripts/with-local-server.sh --auth --with-anonymous}" "${ANON_API_URL:?}" "${LOCAL_BIN:?}"
  local users password='Browser-test-2026' n
  users="browser-$(date +%s)-$$"
  for n in 1 2; do
    COGNITO_USERNAME="$users-$n@example.com" COGNITO_PASSWORD="$password" "$LOCAL_BIN/provision-local" --auth >/dev/null
  done
  if ! (cd web && PAGE_URL="$API_URL" ANON_PAGE_URL="$ANON_API_URL" \
      USER1="$users-1@example.com" PASSWORD1="$password" USER2="$users-2@example.com" PASSWORD2="$password" \
      FIXTURES="$PWD/../fixtures/images" UPPY="$PWD/../docs/uppy" UPPY_ORIGIN="${SPARE_ORIGIN:-}" ARTIFACTS="$artifacts" CHROMIUM="$chromium" \
      node --test --test-concurrency=1 --test-reporter=spec tests/*.test.mjs); then
    echo "test-browser: FAILED; screenshots and server logs in $artifacts" >&2
    exit 1
  fi
  echo "test-browser: screenshots in $artifacts"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
