#!/usr/bin/env bash
# `just bench-formats [IMAGE ...]`: a display rendition's bytes and encode time in JPEG, WebP and
# AVIF at equal SSIM (bench/formats/compare.py), on one pinned core. Installs its venv once per
# requirements file into the tool cache.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="${IMAGE_UPLOAD_STACK_HOME:-$HOME/.cache/image-upload-stack}"
venv="$cache/formats-$(sha256sum "$root/bench/formats/requirements.txt" | cut -c1-12)"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
  echo "bench-formats: installing Pillow, numpy and scikit-image into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/bench/formats/requirements.txt"
  touch "$venv/.installed"
fi
exec taskset -c "$(($(nproc) - 1))" "$venv/bin/python" "$root/bench/formats/compare.py" "$@"
