#!/usr/bin/env bash
# Runs COMMAND against a local server started for it: builds image-upload-local and
# provision-local, starts the local AWS stack (localstack/stack.sh), provisions the bucket, table
# and queue (with --auth also a Cognito user pool, app client and user), starts the server (with
# its local CDN path at /cdn, signing with a key pair made once under the tool cache), waits
# until it serves its page, runs COMMAND, and on exit, whatever happened, stops the servers and
# the stack.
#
#   scripts/with-local-server.sh [--auth] [--with-anonymous] [--spare-origin] [--listen ADDR]
#                                [--logs DIR] [--serve] [--] [COMMAND [ARG...]]
#
#   --auth            the server verifies Cognito ID tokens of the local Cognito (moto), as the
#                     API's authorizer does; without it, every caller is the anonymous owner
#   --with-anonymous  with --auth: also an anonymous server on the same stack, at the same time
#                     (it leaves the uploads to the first one, which processes them)
#   --spare-origin    one more free loopback port, allowed by the API's and the bucket's CORS,
#                     for a page COMMAND serves itself (SPARE_ORIGIN, e.g. the Uppy example)
#   --listen ADDR     the first server's address (default: 127.0.0.1 and a free port)
#   --logs DIR        the servers' logs go to DIR/NAME-server.log, NAME signed-in or anonymous
#                     (default: a temporary directory, removed on exit)
#   --serve           after COMMAND, keep serving until Ctrl-C, the server's log on the terminal
#
# COMMAND's environment: API_URL (the first server), SERVER_LOG (its log, unless --serve),
# LOCAL_BIN (the directory of this run's provision-local, image-upload-local and
# image-upload-smoke), the stack's endpoints and credentials (`localstack/stack.sh env`),
# QUEUE_URL; with --auth also COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID, COGNITO_USERNAME,
# COGNITO_PASSWORD, AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL; with --with-anonymous
# ANON_API_URL and ANON_SERVER_LOG; with --spare-origin SPARE_ORIGIN (http://127.0.0.1:PORT).
# Read from the caller's environment: COGNITO_USERNAME and COGNITO_PASSWORD (the user --auth
# provisions; default: the demo user), ALLOWED_ORIGINS (default: the servers' own origins, so
# the page each serves may upload), the stack's ports (LOCALSTACK_PORT, DYNAMODB_PORT, MOTO_PORT),
# CARGO_TARGET_DIR.
#
# When COMMAND fails, the last lines of each server's log follow. The exit status is COMMAND's.
set -euo pipefail

me=scripts/with-local-server.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack=./localstack/stack.sh

say() { echo "$me: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { die "usage: $me [--auth] [--with-anonymous] [--listen ADDR] [--logs DIR] [--serve] [--] [COMMAND [ARG...]]"; }

auth='' with_anonymous='' spare_origin='' listen='' logs='' serve=''
while [ $# -gt 0 ]; do
  case "$1" in
    --auth) auth=1 ;;
    --with-anonymous) with_anonymous=1 ;;
    --spare-origin) spare_origin=1 ;;
    --listen) [ $# -ge 2 ] || usage; listen=$2; shift ;;
    --logs) [ $# -ge 2 ] || usage; logs=$2; shift ;;
    --serve) serve=1 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
  shift
done
[ -z "$with_anonymous" ] || [ -n "$auth" ] || die "--with-anonymous needs --auth (the first server is anonymous already)"
[ -n "$serve" ] || [ $# -gt 0 ] || die "no COMMAND to run (or --serve)"

# A free 127.0.0.1 port: the first of 50 random ones in 20000-60000 that nothing answers on.
free_port() {
  local candidate
  for candidate in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  die "no free port found"
}

run=$(mktemp -d "${TMPDIR:-/tmp}/with-local-server.XXXXXX")
servers=()
stack_started=''

# A server stops gracefully on SIGINT, as on Ctrl-C; one that has not stopped within 5 s is killed.
stop_server() {
  local pid=$1
  kill -INT "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 25); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

clean_up() {
  local status=$?
  local pid
  for pid in "${servers[@]}"; do stop_server "$pid"; done
  [ -z "$stack_started" ] || "$stack" stop
  rm -rf "$run"
  exit "$status"
}
trap clean_up EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The URL a server answers at (an address on every interface answers on loopback too).
url_of() {
  local address=$1
  address=${address/#0.0.0.0:/127.0.0.1:}
  address=${address/#\[::\]:/[::1]:}
  echo "http://$address"
}
[ -n "$listen" ] || listen="127.0.0.1:$(free_port)"
export API_URL
API_URL=$(url_of "$listen")
if taken=$(curl -s -o /dev/null -w '%{http_code}' "$API_URL/"); then
  die "something already answers on $listen (HTTP $taken): stop it, or choose another address"
fi
origins="$API_URL"
if [ -n "$with_anonymous" ]; then
  anonymous_port=$(free_port)
  while [ "$API_URL" = "http://127.0.0.1:$anonymous_port" ]; do anonymous_port=$(free_port); done
  export ANON_API_URL="http://127.0.0.1:$anonymous_port"
  origins="$origins,$ANON_API_URL"
fi
if [ -n "$spare_origin" ]; then
  spare_port=$(free_port)
  while [[ ",$origins," == *":$spare_port,"* ]]; do spare_port=$(free_port); done
  export SPARE_ORIGIN="http://127.0.0.1:$spare_port"
  origins="$origins,$SPARE_ORIGIN"
fi
# Each loopback origin also as localhost: the page may be opened either way.
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-$(sed -E 's|http://127\.0\.0\.1:([0-9]+)|&,http://localhost:\1|g' <<<"$origins")}"

# This run's binaries, copied: a cargo build during the run cannot swap them under it.
binaries=(image-upload-local provision-local image-upload-smoke)
scripts/build-local.sh
mkdir -p "$run/bin"
for binary in "${binaries[@]}"; do cp "${CARGO_TARGET_DIR:-target}/debug/$binary" "$run/bin/"; done
export LOCAL_BIN="$run/bin"

if [ -n "$logs" ]; then
  mkdir -p "$logs"
  logs=$(cd "$logs" && pwd)
else
  logs=$run
fi
if [ -n "$auth" ]; then first=signed-in; else first=anonymous; fi
[ -n "$serve" ] || export SERVER_LOG="$logs/$first-server.log"
[ -z "$with_anonymous" ] || export ANON_SERVER_LOG="$logs/anonymous-server.log"

stack_started=1
"$stack" start
eval "$("$stack" env)"
# (Captured before eval: `eval "$(provision-local)"` would not stop when provision-local fails.)
if [ -n "$auth" ]; then
  unset ALLOW_ANONYMOUS
  provisioned=$("$LOCAL_BIN/provision-local" --auth)
else
  # Every caller is the anonymous owner, whatever the shell says.
  unset AUTH_ISSUER AUTH_AUDIENCE AUTH_JWKS_URL
  export ALLOW_ANONYMOUS=true
  provisioned=$("$LOCAL_BIN/provision-local")
fi
eval "$provisioned"

# The local CDN path: each server serves renditions and originals at its own /cdn to the URLs it
# signs, with a key pair made once for this machine (the private key stays in the tool cache).
cdn_key="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}/local-cdn/private-key-p256.pem"
if [ ! -s "$cdn_key" ]; then
  command -v openssl >/dev/null || die "openssl not found: it makes the local CDN's key pair (apt install openssl)"
  mkdir -p "$(dirname "$cdn_key")"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cdn_key.new" 2>/dev/null)
  mv "$cdn_key.new" "$cdn_key"
fi

# start_server NAME ADDR LOG [ENV...]: the server in the background, with the environment above
# changed by ENV (env's NAME=VALUE and -u NAME), until it serves its page.
start_server() {
  local name=$1 address=$2 log=$3
  shift 3
  local url status
  url="$(url_of "$address")/config.json"
  local cdn
  cdn="$(url_of "$address")/cdn"
  if [ "$log" = - ]; then
    env "$@" LISTEN_ADDR="$address" CDN_URL="$cdn" CDN_KEY_PAIR_ID=KLOCALCDN \
      CDN_PRIVATE_KEY_FILE="$cdn_key" "$LOCAL_BIN/image-upload-local" &
  else
    env "$@" LISTEN_ADDR="$address" CDN_URL="$cdn" CDN_KEY_PAIR_ID=KLOCALCDN \
      CDN_PRIVATE_KEY_FILE="$cdn_key" "$LOCAL_BIN/image-upload-local" >"$log" 2>&1 &
  fi
  local pid=$!
  servers+=("$pid")
  for _ in $(seq 1 300); do
    status=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
    if [ "$status" = 200 ]; then
      return 0
    elif [ "$status" != 000 ]; then
      start_failed "$name" "$log" "answered $status for $url"
    elif ! kill -0 "$pid" 2>/dev/null; then
      start_failed "$name" "$log" "exited"
    fi
    sleep 0.1
  done
  start_failed "$name" "$log" "did not answer on $url within 30 s"
}

# start_failed NAME LOG WHAT: the end of the server's log, and the failure.
start_failed() {
  if [ "$2" != - ]; then
    say "the $1 server's log ($2):"
    tail -n 30 "$2" >&2
  fi
  die "the $1 server $3"
}

if [ -n "$serve" ]; then first_log=-; else first_log=$SERVER_LOG; fi
start_server "$first" "$listen" "$first_log"
if [ -n "$with_anonymous" ]; then
  # Anonymous, on the same stack; the first server's queue poller is enough for both.
  start_server anonymous "127.0.0.1:$anonymous_port" "$ANON_SERVER_LOG" \
    -u AUTH_ISSUER -u AUTH_AUDIENCE -u AUTH_JWKS_URL -u QUEUE_URL ALLOW_ANONYMOUS=true
fi

status=0
if [ $# -gt 0 ]; then
  "$@" || status=$?
fi
if [ "$status" != 0 ]; then
  for log in "${SERVER_LOG:-}" "${ANON_SERVER_LOG:-}"; do
    if [ -z "$log" ] || [ ! -f "$log" ]; then continue; fi
    say "$1 failed (exit $status); the last lines of $log:"
    tail -n 30 "$log" >&2
  done
  exit "$status"
fi
if [ -n "$serve" ]; then
  # Ctrl-C is how serving ends: a success.
  trap 'exit 0' INT
  wait "${servers[0]}"
fi
