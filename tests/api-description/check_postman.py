"""docs/postman_collection.json against the Postman v2.1 schema and openapi.yaml.

    python check_postman.py COLLECTION OPENAPI POSTMAN_SCHEMA

Runs in the schemathesis venv (infra/tools.sh bin schemathesis), which has the two libraries it
needs: jsonschema_rs (the validator schemathesis uses) and PyYAML. Checks that:
- the collection is valid against the Postman Collection v2.1.0 JSON schema;
- it has the variables `baseUrl` and `token`, and bearer auth from `{{token}}`;
- every request to `{{baseUrl}}` is an operation of openapi.yaml (method and path template), with
  only query parameters that operation declares, and a JSON body valid against its request schema;
- every other request is a PUT to `{{uploadUrl}}` or `{{partUrl}}` (S3, set by a test script from POST /upload or a part's signing),
  the GET of `{{displayUrl}}` (a rendition's URL from GET /images/{imageId}: the CDN's, or S3's)
  or the sign-in POST to `{{cognitoEndpoint}}`, none sending the API's bearer token (bodies in
  the "Errors" folder are invalid on purpose and only need to target an operation);
- every operation of openapi.yaml is used at least once (the whole flow).
Prints one line per problem and exits 1 if there is any.
"""

import json
import re
import sys

import jsonschema_rs
import yaml

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
VARIABLE = re.compile(r"^\{\{[A-Za-z][A-Za-z0-9_]*\}\}$")


def main(collection_path, openapi_path, schema_path):
    with open(collection_path, encoding="utf-8") as f:
        collection = json.load(f)
    with open(openapi_path, encoding="utf-8") as f:
        openapi = yaml.safe_load(f)
    with open(schema_path, encoding="utf-8") as f:
        postman_schema = json.load(f)

    problems = []
    validator = jsonschema_rs.validator_for(postman_schema)
    for error in validator.iter_errors(collection):
        path = "/".join(str(p) for p in error.instance_path)
        problems.append(f"not a valid Postman v2.1 collection at /{path}: {error.message}")

    info_schema = collection.get("info", {}).get("schema", "")
    if not isinstance(info_schema, str) or "/v2.1.0/" not in info_schema:
        problems.append(f"info.schema is {info_schema!r}, not the v2.1.0 collection schema")

    variables = {v.get("key") for v in collection.get("variable", [])}
    for name in ("baseUrl", "token"):
        if name not in variables:
            problems.append(f"no collection variable `{name}`")
    auth = collection.get("auth", {})
    bearer = {e.get("key"): e.get("value") for e in auth.get("bearer", [])}
    if auth.get("type") != "bearer" or bearer.get("token") != "{{token}}":
        problems.append("the collection's auth is not bearer with {{token}}")

    operations = operations_of(openapi)
    used = set()
    for name, request in requests_of(collection.get("item", [])):
        problems.extend(check_request(name, request, operations, openapi, used))

    for key in sorted(set(operations) - used):
        problems.append(f"openapi.yaml's {key[0].upper()} {key[1]} has no request in the collection")

    for problem in problems:
        print(f"postman collection: {problem}")
    if problems:
        return 1
    print(
        f"postman collection: valid against the v2.1.0 schema; its {len(list(requests_of(collection['item'])))} "
        f"requests match openapi.yaml and use all {len(operations)} operations"
    )
    return 0


def operations_of(openapi):
    """(method, path template) -> the operation, with the path item's parameters merged in."""
    operations = {}
    for path, item in openapi["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in METHODS:
                operations[(method, path)] = {**operation, "parameters": shared + operation.get("parameters", [])}
    return operations


def requests_of(items, prefix=""):
    for item in items:
        name = f"{prefix}{item.get('name', '?')}"
        if "item" in item:
            yield from requests_of(item["item"], prefix=f"{name} / ")
        else:
            yield name, item["request"]


def check_request(name, request, operations, openapi, used):
    method = request.get("method", "GET").lower()
    url = request.get("url", {})
    raw = url if isinstance(url, str) else url.get("raw", "")
    base, _, query_string = raw.partition("?")
    no_auth = request.get("auth", {}).get("type") == "noauth"

    if base in ("{{uploadUrl}}", "{{partUrl}}"):
        if method != "put":
            return [f"{name}: {base} is a presigned PUT, not {method.upper()}"]
        if not no_auth:
            return [f"{name}: the PUT to S3 must not send the API's bearer token (auth: noauth)"]
        return []
    if base == "{{displayUrl}}":
        if method != "get":
            return [f"{name}: {{{{displayUrl}}}} is a signed or presigned GET, not {method.upper()}"]
        if not no_auth:
            return [f"{name}: the GET of a rendition must not send the API's bearer token (auth: noauth)"]
        return []
    if base == "{{cognitoEndpoint}}":
        if method != "post" or not no_auth:
            return [f"{name}: sign-in is a POST to Cognito without the API's token"]
        return []
    if not base.startswith("{{baseUrl}}/"):
        return [f"{name}: {raw} is neither the API ({{{{baseUrl}}}}), an upload URL nor Cognito"]

    segments = base[len("{{baseUrl}}") :].split("/")[1:]
    matches = [key for key in operations if key[0] == method and template_matches(key[1], segments)]
    if not matches:
        return [f"{name}: {method.upper()} /{'/'.join(segments)} is not an operation of openapi.yaml"]
    key = matches[0]
    used.add(key)
    operation = operations[key]
    problems = []

    declared = {p["name"] for p in operation["parameters"] if p.get("in") == "query"}
    for pair in filter(None, query_string.split("&")):
        param = pair.split("=", 1)[0]
        if param not in declared:
            problems.append(f"{name}: query parameter `{param}` is not one {key[0].upper()} {key[1]} declares")
    listed = {q.get("key") for q in (url.get("query") or [])} if isinstance(url, dict) else set()
    in_raw = {pair.split("=", 1)[0] for pair in filter(None, query_string.split("&"))}
    if isinstance(url, dict) and listed != in_raw:
        problems.append(f"{name}: url.query {sorted(listed)} disagrees with url.raw {sorted(in_raw)}")

    body = request.get("body")
    # The "Errors" folder shows refusals: its bodies are invalid on purpose.
    on_purpose = name.startswith("Errors / ")
    schema = (operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
    if schema is not None:
        if not body or body.get("mode") != "raw":
            problems.append(f"{name}: {key[0].upper()} {key[1]} takes a JSON body; the request has none")
        elif not on_purpose:
            instance = json.loads(body["raw"])
            resource = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": openapi["components"]}
            for error in jsonschema_rs.validator_for(resource).iter_errors(instance):
                problems.append(f"{name}: the body is not valid for {key[0].upper()} {key[1]}: {error.message}")
    elif body:
        problems.append(f"{name}: {key[0].upper()} {key[1]} takes no body")
    return problems


def template_matches(template, segments):
    parts = template.split("/")[1:]
    if len(parts) != len(segments):
        return False
    for part, segment in zip(parts, segments):
        if part.startswith("{") and part.endswith("}"):
            # A path parameter is filled from a variable a test script sets, or a literal value.
            if not segment or (segment.startswith("{{") and not VARIABLE.match(segment)):
                return False
        elif part != segment:
            return False
    return True


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
