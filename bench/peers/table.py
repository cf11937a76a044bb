"""Prints the peer bench's markdown table from the inputs' listing and each tool's JSON medians.

Usage: table.py INPUT_DIR OURS_JSON PILLOW_JSON SHARP_JSON RUNS
"""

import json
import os
import sys
from pathlib import Path


def main() -> None:
    directory, ours_file, pillow_file, sharp_file, runs = sys.argv[1:6]
    listing = json.loads((Path(directory) / "inputs.json").read_text())
    ours_all = json.loads(Path(ours_file).read_text())
    ours, naive = ours_all["ours"], ours_all["naive"]
    pillow = json.loads(Path(pillow_file).read_text())
    vips = json.loads(Path(sharp_file).read_text())
    clock = "CPU time" if os.environ.get("BENCH_PEERS_CLOCK") == "cpu" else "wall-clock time"
    print(f"Medians of {runs} runs ({clock}) on one pinned core, 4000 x 3000 inputs, 256 px JPEG thumbnail each.")
    print("Pillow: libjpeg-turbo shrink-on-load (`draft`) for JPEG, its plain decoders otherwise.")
    print()
    print(
        "| input | size | ours (`imaging::inspect`) | libvips (sharp, 1 thread) "
        "| Pillow (libjpeg-turbo `draft`) | naive `image` | ours / Pillow | ours / libvips |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for entry in listing:
        f = entry["file"]
        size = entry["bytes"] / 1e6
        print(
            f"| {entry['what']} | {size:.1f} MB | {ours[f]:.1f} ms | {vips[f]:.1f} ms "
            f"| {pillow[f]:.1f} ms | {naive[f]:.1f} ms "
            f"| {ours[f] / pillow[f]:.2f}x | {ours[f] / vips[f]:.2f}x |"
        )


if __name__ == "__main__":
    main()
