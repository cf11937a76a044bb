#!/usr/bin/env bash
# A Docker engine for the e2e tests on containers (CI, and machines like it without Docker).
#
#   engine.sh start    if an engine already answers, say so and do nothing; else start dockerd
#                      (as root) and wait until it answers
#   engine.sh stop     stop the dockerd `start` started, by its recorded pid, and nothing else
#   engine.sh status   say whether an engine answers and whether this script started it
#   engine.sh check    whether an engine answers where testcontainers looks for one (DOCKER_HOST,
#                      else the usual sockets), within 5 s: nothing and exit 0 if it does, else
#                      why not and exit 1 (`just test-e2e-containers` and the e2e harness ask this)
#   engine.sh network  the container network for the e2e tests: bridge where the engine has a
#                      bridge network (any ordinary, rootless or Desktop Docker), else host
#
# The dockerd it starts leaves the host's network alone: no bridge, no iptables or NAT rules, IP
# forwarding untouched. Containers then run on the host network (the e2e harness gives each
# service a free 127.0.0.1 port), so tests and services talk over loopback only.
#
# IMAGE_UPLOAD_DOCKER_ROOT=DIR runs a private engine instead of the default one: socket, data and
# run-time state all under DIR (for trying this script beside an engine already running). Its
# DOCKER_HOST is unix://DIR/docker.sock.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state="$here/.state"
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"

root="${IMAGE_UPLOAD_DOCKER_ROOT:-}"
# dockerd's default; as /proc/mounts names it (/var/run is a link to /run on Debian), so that
# `stop` finds the namespace handles dockerd leaves mounted there.
exec_root=$(realpath -m /var/run/docker)
dockerd_args=(--bridge=none --iptables=false --ip-forward=false --ip-masq=false --pidfile "$pidfile")
if [ -n "$root" ]; then
  root=$(realpath -m "$root")
  export DOCKER_HOST="unix://$root/docker.sock"
  exec_root="$root/exec"
  dockerd_args+=(-H "$DOCKER_HOST" --data-root "$root/data" --exec-root "$exec_root")
fi

say() { echo "engine: $*" >&2; }
die() { say "$*"; exit 1; }

# Where testcontainers looks for the engine: DOCKER_HOST, else the first of these sockets.
engine_host() {
  local candidate
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "$DOCKER_HOST"
    return 0
  fi
  for candidate in /var/run/docker.sock "${XDG_RUNTIME_DIR:-/nonexistent}/.docker/run/docker.sock" \
      "$HOME/.docker/run/docker.sock" "$HOME/.docker/desktop/docker.sock"; do
    if [ -e "$candidate" ]; then
      echo "unix://$candidate"
      return 0
    fi
  done
}

# engine_get PATH: GET PATH of the engine's API, within 5 s.
engine_get() {
  local host
  host=$(engine_host)
  case "$host" in
    unix://*) curl -sf --max-time 5 --unix-socket "${host#unix://}" "http://docker$1" ;;
    *) curl -sf --max-time 5 "http://${host#*://}$1" ;;
  esac
}

# Why no engine answers, or nothing when one does.
problem() {
  local host
  host=$(engine_host)
  case "$host" in
    "") echo "no DOCKER_HOST and no Docker socket (/var/run/docker.sock, ~/.docker/run/docker.sock)" ;;
    unix://*)
      local socket="${host#unix://}"
      if [ ! -S "$socket" ]; then
        echo "no Docker socket at $socket"
      elif [ ! -r "$socket" ] || [ ! -w "$socket" ]; then
        echo "$socket is not readable and writable by $(id -un) (owner $(stat -c %U:%G "$socket" 2>/dev/null || echo '?'))"
      elif ! engine_get /_ping >/dev/null; then
        echo "nothing answers on $socket (is the engine running? localstack/engine.sh start)"
      fi ;;
    *)
      # A TLS endpoint (DOCKER_TLS_VERIFY=1) is taken on trust: curl cannot present its client certificate.
      if [ "${DOCKER_TLS_VERIFY:-}" != 1 ] && ! engine_get /_ping >/dev/null; then
        echo "nothing answers at DOCKER_HOST=$host"
      fi ;;
  esac
}

answers() { [ -z "$(problem)" ]; }

# The pid in our pidfile, only if it is still the dockerd we started with that pidfile (a stale
# file must never make us signal whatever process got the pid since).
our_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--pidfile $pidfile" || return 1
  echo "$pid"
}

start() {
  command -v docker >/dev/null || die "the docker client is missing (Debian: apt-get install docker.io)"
  if answers; then
    local pid
    if pid=$(our_pid); then
      say "engine already running (dockerd pid $pid, started by this script)"
    else
      say "an engine already answers at ${DOCKER_HOST:-the default socket}; not starting another"
    fi
    return 0
  fi
  local why
  why=$(problem)
  case "$why" in
    *"is not readable and writable"*) die "an engine may run, but this user may not use its socket: $why" ;;
  esac
  local missing=()
  command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing+=("dockerd (Debian: apt-get install docker.io)")
  [ "$(id -u)" = 0 ] || missing+=("root (dockerd runs as root; or start Docker yourself)")
  if [ ${#missing[@]} -gt 0 ]; then
    say "no engine answers, and starting one needs:"
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  mkdir -p "$state"
  [ -z "$root" ] || mkdir -p "$root"
  say "starting dockerd (log: $log)"
  # Its own session, so it outlives this script; the recorded pid is what stop signals.
  PATH="$PATH:/usr/sbin:/sbin" setsid dockerd "${dockerd_args[@]}" >"$log" 2>&1 </dev/null &
  local launched=$! deadline=$((SECONDS + 60))
  until answers; do
    if ! kill -0 "$launched" 2>/dev/null; then
      tail -n 20 "$log" >&2
      die "dockerd exited during start (log: $log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      kill -TERM "$launched" 2>/dev/null || true
      die "dockerd did not answer within 60 s (log: $log)"
    fi
    sleep 0.2
  done
  say "engine up: dockerd pid $(our_pid), Docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$pidfile"
    say "no dockerd started by this script is running; nothing to stop"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true # it may have exited since we looked
  # dockerd stops its containers first (up to 15 s each by default), then its containerd.
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      say "dockerd (pid $pid) still running after 60 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  # dockerd leaves its network namespace handles mounted when it exits; they pin its exec root.
  local mount
  awk -v dir="$exec_root/netns/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | while read -r mount; do
    umount "$mount" 2>/dev/null || say "could not unmount $mount"
  done
  say "stopped dockerd (pid $pid)"
}

status() {
  local pid
  if answers; then
    if pid=$(our_pid); then
      echo "engine: running (dockerd pid $pid, started by this script)"
    else
      echo "engine: an engine answers at ${DOCKER_HOST:-the default socket} (not started by this script)"
    fi
    return 0
  fi
  echo "engine: no engine answers"
  return 3
}

check() {
  local why
  why=$(problem)
  [ -n "$why" ] || return 0
  echo "$why"
  return 1
}

network() {
  if engine_get /networks/bridge >/dev/null 2>&1; then echo bridge; else echo host; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  check) check ;;
  network) network ;;
  *) die "usage: $0 start|stop|status|check|network" ;;
esac
