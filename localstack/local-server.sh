#!/usr/bin/env bash
# The plumbing the recipes that run `image-upload-local` against the stack share (smoke-local,
# test-api-description, test-browser), written once.
#
#   local-server.sh free-port
#       print a free 127.0.0.1 port: the first of 50 random ones in 20000-60000 that nothing
#       answers on (another run's server, or another helper's stack, may hold any fixed one)
#   local-server.sh wait URL PID LOG
#       wait up to 10 s until URL answers over HTTP, and print the status it answered with; fail,
#       printing LOG, as soon as process PID (the server) has exited
#
# The caller checks the printed status against what it expects (smoke-local: 401 without a
# token; test-browser: 200 for /config.json), so a server that answers wrongly fails there.
set -euo pipefail

me=$(basename "$0")

case "${1:-}" in
  free-port)
    for candidate in $(shuf -i 20000-60000 -n 50); do
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        echo "$candidate"
        exit 0
      fi
    done
    echo "$me: no free port found" >&2
    exit 1
    ;;
  wait)
    [ $# -eq 4 ] || { echo "usage: $me wait URL PID LOG" >&2; exit 2; }
    url=$2 pid=$3 log=$4
    for _ in $(seq 1 100); do
      status=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
      if [ "$status" != 000 ]; then
        echo "$status"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "$me: the server exited:" >&2
        cat "$log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "$me: the server did not answer on $url within 10 s (log: $log)" >&2
    exit 1
    ;;
  *)
    echo "usage: $me free-port | wait URL PID LOG" >&2
    exit 2
    ;;
esac
