"""Prints the peer bench's markdown table from the inputs' listing and each tool's JSON medians.

Usage: table.py INPUT_DIR OURS_JSON PILLOW_JSON SHARP_JSON RUNS

A tool that could not read an input has {"error": message} instead of a median: its cell says so and
the ratio against it is left out; the naive `image` build has no entry for HEIC and AVIF.
"""

import json
import os
import sys
from pathlib import Path


def cell(tool: str, entry) -> str:
    if entry is None:
        return "—"
    if isinstance(entry, dict):
        message = entry["error"]
        if tool == "sharp" and "has not been built in" in message:
            return "not supported by sharp's prebuilt libvips"
        return f"error: {message}"
    return f"{entry:.1f} ms"


def ratio(ours, peer) -> str:
    if isinstance(ours, (int, float)) and isinstance(peer, (int, float)):
        return f"{ours / peer:.2f}x"
    return "—"


def main() -> None:
    directory, ours_file, pillow_file, sharp_file, runs = sys.argv[1:6]
    listing = json.loads((Path(directory) / "inputs.json").read_text())
    ours_all = json.loads(Path(ours_file).read_text())
    ours, naive = ours_all["ours"], ours_all["naive"]
    pillow = json.loads(Path(pillow_file).read_text())
    vips = json.loads(Path(sharp_file).read_text())
    clock = "CPU time" if os.environ.get("BENCH_PEERS_CLOCK") == "cpu" else "wall-clock time"
    print(
        f"Medians of {runs} runs ({clock}) on one pinned core, 4000 x 3000 inputs "
        "(HEIC and AVIF 4032 x 3024), 256 px JPEG thumbnail each."
    )
    print(
        "Pillow: libjpeg-turbo shrink-on-load (`draft`) for JPEG, its plain decoders otherwise; "
        "HEIC through pillow-heif."
    )
    print()
    print(
        "| input | size | ours (`imaging::inspect`) | libvips (sharp, 1 thread) "
        "| Pillow (libjpeg-turbo `draft`) | naive `image` | ours / Pillow | ours / libvips |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for entry in listing:
        f = entry["file"]
        size = entry["bytes"] / 1e6
        o, v, p = ours.get(f), vips.get(f), pillow.get(f)
        print(
            f"| {entry['what']} | {size:.1f} MB | {cell('ours', o)} | {cell('sharp', v)} "
            f"| {cell('pillow', p)} | {cell('naive', naive.get(f))} "
            f"| {ratio(o, p)} | {ratio(o, v)} |"
        )
    formats = {entry["format"] for entry in listing}
    for name, decoders in (("Pillow", pillow.get("_decoders", {})), ("libvips", vips.get("_decoders", {}))):
        used = [f"{kind.upper()}: {what}" for kind, what in decoders.items() if kind in formats]
        if used:
            print(f"\n{name} decoders: " + "; ".join(used) + ".", end="")
    print()


if __name__ == "__main__":
    main()
