"""Prints the size of each file and of the zip Lambda receives for it (deflated, as `sam deploy`
and `cargo lambda deploy` upload a `bootstrap`): infra/zip_size.py FILE..."""

import io
import os
import sys
import zipfile

for path in sys.argv[1:]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16  # executable, as Lambda needs it
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            archive.writestr(info, f.read())
    print(f"{path}: {os.path.getsize(path):,} bytes, zipped {len(buffer.getvalue()):,} bytes")
