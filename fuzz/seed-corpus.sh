#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the project's fixtures (idempotent; the corpus is not committed):
# the images under fixtures/images/, the JSON bodies of the API Gateway events under
# fixtures/apigw/ plus a few hand-written edge cases for upload_request, and every input a past
# fuzz run found (fixtures/fuzz/<target>/), so a fixed crash stays in the corpus for good.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus=fuzz/corpus
mkdir -p "$corpus"/{upload_request,sniff,jpeg_dc,inspect,heif_container}

for image in fixtures/images/*.{jpg,png,gif,webp}; do
  cp "$image" "$corpus/sniff/"
  cp "$image" "$corpus/inspect/"
done
cp fixtures/images/*.jpg "$corpus/jpeg_dc/"
for image in fixtures/images/heif/*.{heic,avif} fixtures/images/heif/av1/*.avif; do
  cp "$image" "$corpus/sniff/"
  cp "$image" "$corpus/inspect/"
  cp "$image" "$corpus/heif_container/"
done

# Request bodies as API Gateway delivers them (decoded when the event says base64).
python3 - "$corpus/upload_request" fixtures/apigw/*.json <<'PY'
import base64, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for path in sys.argv[2:]:
    event = json.loads(pathlib.Path(path).read_text())
    body = event.get("body")
    if body is None:
        continue
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    (out / f"apigw-{pathlib.Path(path).stem}.json").write_bytes(raw)
PY
edge_cases=(
  '{"fileName":"cat.JPEG","fileType":"IMAGE/JPEG","fileSize":1}'
  '{"fileName":"  a.webp  ","fileType":"image/webp","fileSize":10485760}'
  '{"fileName":"a.png","fileType":"image/png","fileSize":1e30}'
  '{"fileName":"a.png","fileType":"image/png","fileSize":-5}'
  '{"fileName":"a.png","fileType":"image/png","fileSize":1.5}'
  '{"fileName":"a.gif","fileType":"image/gif","fileSize":18446744073709551616}'
  '{"fileName":".png","fileType":"image/png"}'
  '{"fileName":"tab\u0009.jpg","fileType":"image/jpeg","extra":[1,{"x":null}]}'
)
for i in "${!edge_cases[@]}"; do
  printf '%s' "${edge_cases[$i]}" > "$corpus/upload_request/edge-$i.json"
done

for target in upload_request sniff jpeg_dc inspect heif_container; do
  for found in "fixtures/fuzz/$target"/*; do
    cp "$found" "$corpus/$target/"
  done
done
