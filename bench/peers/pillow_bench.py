"""Times Pillow on the peer bench's inputs: libjpeg-turbo shrink-on-load for JPEG, a plain decode otherwise.

Usage: pillow_bench.py INPUT_DIR RUNS. Prints JSON {file: median milliseconds} on stdout: wall-clock
time, or CPU time with BENCH_PEERS_CLOCK=cpu.
Each run is what the processor does for an upload: decode (for JPEG, `draft` asks libjpeg-turbo for the
smallest DCT scale still at least the thumbnail's size, 1/8 here), a 256 px thumbnail, a JPEG q80 of it.
"""

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

THUMBNAIL = (256, 256)


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
    print(json.dumps(results))


if __name__ == "__main__":
    main()
