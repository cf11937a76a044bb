"""Prints the peer bench's markdown table from the inputs' listing and each tool's JSON medians.

Usage: table.py INPUT_DIR ROUNDS_DIR ROUNDS RUNS

ROUNDS_DIR holds ours-R.json, pillow-R.json and sharp-R.json for each round R from 1 to ROUNDS, the
tools having run one after another in each round. A time is the median of the rounds' medians; a
ratio is the median of the rounds' ratios, each between two tools of the same round.

A tool that could not read an input has {"error": message} instead of a median: its cell says so and
the ratio against it is left out; the naive `image` build has no entry for HEIC and AVIF.
"""

import json
import os
import statistics
import sys
from pathlib import Path


def combined(rounds: list):
    """One input's entry over the rounds: the median time, else the first error, else nothing."""
    if all(isinstance(entry, (int, float)) for entry in rounds):
        return statistics.median(rounds)
    return next((entry for entry in rounds if isinstance(entry, dict)), None)


def ratio_of_rounds(ours: list, peer: list) -> str:
    pairs = [(o, p) for o, p in zip(ours, peer) if isinstance(o, (int, float)) and isinstance(p, (int, float))]
    if not pairs or len(pairs) != len(ours):
        return "—"
    return f"{statistics.median(o / p for o, p in pairs):.2f}x"


def cell(tool: str, entry) -> str:
    if entry is None:
        return "—"
    if isinstance(entry, dict):
        message = entry["error"]
        if tool == "sharp" and "has not been built in" in message:
            return "not supported by sharp's prebuilt libvips"
        return f"error: {message}"
    return f"{entry:.1f} ms"


def main() -> None:
    directory, rounds_dir, rounds, runs = sys.argv[1:5]
    listing = json.loads((Path(directory) / "inputs.json").read_text())
    numbers = range(1, int(rounds) + 1)

    def load(tool: str, round_number: int) -> dict:
        return json.loads((Path(rounds_dir) / f"{tool}-{round_number}.json").read_text())

    ours_all = [load("ours", r) for r in numbers]
    pillow = [load("pillow", r) for r in numbers]
    vips = [load("sharp", r) for r in numbers]
    clock = "CPU time" if os.environ.get("BENCH_PEERS_CLOCK") == "cpu" else "wall-clock time"
    over = (
        f"; {rounds} rounds, the tools one after another in each: times are the medians of the "
        "rounds, ratios the medians of each round's ratio"
        if int(rounds) > 1
        else ""
    )
    print(
        f"Medians of {runs} runs ({clock}) on one pinned core{over}, 4000 x 3000 inputs "
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
        o = [r["ours"].get(f) for r in ours_all]
        n = [r["naive"].get(f) for r in ours_all]
        p = [r.get(f) for r in pillow]
        v = [r.get(f) for r in vips]
        print(
            f"| {entry['what']} | {size:.1f} MB | {cell('ours', combined(o))} "
            f"| {cell('sharp', combined(v))} | {cell('pillow', combined(p))} "
            f"| {cell('naive', combined(n))} | {ratio_of_rounds(o, p)} | {ratio_of_rounds(o, v)} |"
        )
    print()
    print(
        "The default rendition set (a 1600 px display rendition and the 256 px thumbnail, JPEG q80 "
        "each): ours (`imaging::inspect` with `RENDITIONS` at its default) beside libvips, the "
        "faster of a pipeline per rendition (each shrinking on load) and one decode to 1600 px "
        "that both are made from."
    )
    print()
    print("| input | ours | libvips (sharp, 1 thread) | ours / libvips |")
    print("|---|---:|---:|---:|")
    for entry in listing:
        f = entry["file"]
        o = [r.get("renditions", {}).get(f) for r in ours_all]
        v = [r.get("_renditions", {}).get(f) for r in vips]
        if all(x is None for x in v):
            v = [r.get(f) if isinstance(r.get(f), dict) else None for r in vips]
        print(
            f"| {entry['what']} | {cell('ours', combined(o))} | {cell('sharp', combined(v))} "
            f"| {ratio_of_rounds(o, v)} |"
        )
    formats = {entry["format"] for entry in listing}
    for name, decoders in (("Pillow", pillow[0].get("_decoders", {})), ("libvips", vips[0].get("_decoders", {}))):
        used = [f"{kind.upper()}: {what}" for kind, what in decoders.items() if kind in formats]
        if used:
            print(f"\n{name} decoders: " + "; ".join(used) + ".", end="")
    print()


if __name__ == "__main__":
    main()
