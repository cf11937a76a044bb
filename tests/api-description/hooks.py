"""schemathesis hooks for `just test-api-description` (loaded through SCHEMATHESIS_HOOKS).

`every_request_needs_a_token`: with EXPECT_UNAUTHENTICATED=1 (the server verifies tokens and the
run sends none), every request must be refused with 401 and a `WWW-Authenticate: Bearer` challenge
without an error code (RFC 6750 3.1: no token came). The documented-status checks alone would pass a
server that served anonymous callers; this one would not.
"""

import os

import schemathesis

CHALLENGE = 'Bearer realm="image-upload"'


@schemathesis.check
def every_request_needs_a_token(ctx, response, case):
    if os.environ.get("EXPECT_UNAUTHENTICATED") != "1":
        return None
    # CORS preflights are answered before routing and carry no credentials (browsers send none).
    if response.request.method == "OPTIONS":
        return None
    # A method the path does not take is routed (405) before any handler asks who calls.
    if response.status_code == 405:
        return None
    # A path that names no route (an empty id) is 404 before any handler runs.
    if response.status_code == 404 and _error_code(response) == "NOT_FOUND":
        return None
    if response.status_code != 401:
        raise AssertionError(f"expected 401 without a token, got {response.status_code}")
    challenge = response.headers.get("www-authenticate")
    if isinstance(challenge, list):
        challenge = ", ".join(challenge)
    if challenge != CHALLENGE:
        raise AssertionError(f"expected `WWW-Authenticate: {CHALLENGE}`, got {challenge!r}")
    return True


def _error_code(response):
    try:
        return response.json()["error"]["code"]
    except Exception:  # noqa: BLE001 - any other body is simply not that error
        return None
