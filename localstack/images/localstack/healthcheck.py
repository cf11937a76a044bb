#!/usr/bin/env python3
"""Healthy when S3 and SQS answer LocalStack's health route, on whatever GATEWAY_LISTEN says.

GATEWAY_LISTEN may list several addresses (`0.0.0.0:4566,127.0.0.1:4567`) or only a port; the
first one is enough. A wildcard address is reached on loopback.
"""
import json
import os
import sys
import urllib.request

listen = os.environ.get("GATEWAY_LISTEN", "0.0.0.0:4566").split(",")[0].strip()
host, _, port = listen.rpartition(":")
if host in ("", "0.0.0.0", "::", "[::]"):
    host = "127.0.0.1"
try:
    with urllib.request.urlopen(f"http://{host}:{port or 4566}/_localstack/health", timeout=4) as answer:
        services = json.load(answer).get("services", {})
except Exception as error:  # noqa: BLE001 - any failure means "not healthy yet"
    print(error, file=sys.stderr)
    sys.exit(1)
wanted = [s.strip() for s in os.environ.get("SERVICES", "s3,sqs,secretsmanager,cloudformation").split(",") if s.strip()]
sys.exit(0 if all(services.get(s) in ("available", "running") for s in wanted) else 1)
