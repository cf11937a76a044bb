#!/usr/bin/env bash
# Deletes every object of a bucket, every version and every delete marker included (a bucket
# must be empty before CloudFormation can delete it, and the template's bucket may have had
# versioning turned on by hand): infra/empty-bucket.sh BUCKET REGION, with the pinned aws CLI.
set -euo pipefail
bucket=$1
region=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin=$("$here/tools.sh" bin awscli)
aws=("$bin/aws" --region "$region")

deleted=0
while :; do
  # One page (up to 1000, what DeleteObjects takes) of versions and delete markers, as the
  # DeleteObjects payload. An unversioned bucket lists its objects with VersionId "null".
  page=$("${aws[@]}" s3api list-object-versions --bucket "$bucket" --max-keys 1000 \
    --max-items 1000 --output json)
  payload=$("$bin/python" -c '
import json, sys
page = json.load(sys.stdin) or {}
objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
           for o in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])]
print(json.dumps({"Objects": objects, "Quiet": True}) if objects else "")
' <<<"$page")
  [ -n "$payload" ] || break
  # DeleteObjects answers 200 even when some keys could not be deleted (access denied, Object
  # Lock): stop on any, or the same page would be listed again forever.
  answer=$("${aws[@]}" s3api delete-objects --bucket "$bucket" --delete "$payload" --output json)
  if ! "$bin/python" -c '
import json, sys
errors = (json.loads(sys.stdin.read() or "{}") or {}).get("Errors") or []
for e in errors[:10]:
    print("  %s (%s): %s %s" % (e.get("Key"), e.get("VersionId"), e.get("Code"), e.get("Message")), file=sys.stderr)
sys.exit(1 if errors else 0)
' <<<"$answer"; then
    echo "could not empty s3://$bucket: S3 refused to delete the objects above" >&2
    exit 1
  fi
  deleted=$((deleted + $("$bin/python" -c 'import json,sys; print(len(json.loads(sys.argv[1])["Objects"]))' "$payload")))
done
echo "emptied s3://$bucket ($deleted objects and versions deleted)"
