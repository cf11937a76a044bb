#!/bin/sh
# The official image's entrypoint runs LocalStack under a supervisor; one service needs none, so
# exec it: it gets the container's signals directly and stops cleanly on `docker stop`. It logs
# "Ready." when it serves requests, which is what testcontainers waits for.
set -e
exec python -m localstack.runtime.main "$@"
