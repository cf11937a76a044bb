"""Times Pillow on the peer bench's inputs: libjpeg-turbo shrink-on-load for JPEG, a plain decode otherwise.

Usage: pillow_bench.py INPUT_DIR RUNS. Prints JSON {file: median milliseconds} on stdout: wall-clock
time, or CPU time with BENCH_PEERS_CLOCK=cpu; and under "_decoders", what decoded the HEIC and AVIF.
Each run is what the processor does for an upload: decode (for JPEG, `draft` asks libjpeg-turbo for the
smallest DCT scale still at least the thumbnail's size, 1/8 here), a 256 px thumbnail, a JPEG q80 of it.

HEIC is decoded by libheif (libde265) through pillow-heif's Pillow plugin, AVIF by Pillow's own plugin
(libavif with dav1d; pillow-heif's libheif has no AV1 decoder). Neither shrinks on load: pillow-heif's
`draft` (which `thumbnail` calls) would only swap in an embedded thumbnail item, which is switched off
here (the input has none anyway); Pillow's AVIF plugin has no `draft`. Both decode on one thread, as
sharp does with concurrency 1.
"""

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import pillow_heif
from PIL import AvifImagePlugin, Image, features

THUMBNAIL = (256, 256)

pillow_heif.register_heif_opener(decode_threads=1, thumbnails=False)
AvifImagePlugin.DEFAULT_MAX_THREADS = 1


def decoders() -> dict:
    heif = pillow_heif.libheif_info()
    avif = [c for c in AvifImagePlugin._avif.codec_versions().split(", ") if "[dec]" in c]
    return {
        "heic": f"pillow-heif {pillow_heif.__version__}: libheif {heif['libheif']}, "
        + ", ".join(heif["decoders"].values()),
        "avif": f"Pillow {Image.__version__}: libavif {features.version('avif')}, "
        + ", ".join(avif),
    }


def thumbnail(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", THUMBNAIL)
    image.thumbnail(THUMBNAIL)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def main() -> None:
    directory, runs = Path(sys.argv[1]), int(sys.argv[2])
    listing = json.loads((directory / "inputs.json").read_text())
    clock = time.process_time if os.environ.get("BENCH_PEERS_CLOCK") == "cpu" else time.perf_counter
    results = {}
    for entry in listing:
        data = (directory / entry["file"]).read_bytes()
        thumbnail(data)  # warm-up
        times = []
        for _ in range(runs):
            start = clock()
            thumbnail(data)
            times.append((clock() - start) * 1000)
        results[entry["file"]] = statistics.median(times)
    results["_decoders"] = decoders()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
