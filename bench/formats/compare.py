"""Bytes and encode time of a display rendition in JPEG, WebP and AVIF at equal quality.

Usage: compare.py [IMAGE ...]. For each photo (by default scikit-image's bundled natural photos
and the photo in jpeg-decoder's benches, when found), resized to at most 1600 px on its longest
side: JPEG at quality 80, 4:2:0 (libjpeg-turbo, optimized Huffman tables: what a web JPEG is);
then the lowest WebP (libwebp, method 4) and AVIF (libavif with aom, speed 6) quality whose SSIM
(scikit-image, against the resized photo) is at least the JPEG's. Prints one markdown table: bytes
and encode milliseconds of each (median of 5, one thread), and the ratios to JPEG.

Run in a venv with pillow==13.0.0, numpy and scikit-image (bench/formats/requirements.txt),
pinned to one core: `taskset -c 1 python bench/formats/compare.py`.
"""

import glob
import io
import statistics
import sys
import time

import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity

SIDE = 1600
RUNS = 5


def photos(paths):
    if paths:
        for path in paths:
            yield path.rsplit("/", 1)[-1], Image.open(path).convert("RGB")
        return
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        yield name, Image.fromarray(getattr(data, name)()).convert("RGB")
    for path in glob.glob("/root/.cargo/registry/src/*/jpeg-decoder-*/benches/large_image.jpg")[:1]:
        yield "jpeg-decoder large_image", Image.open(path).convert("RGB")


def fitted(image):
    scale = SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def encode(image, fmt, quality):
    options = {
        "JPEG": dict(quality=quality, subsampling=2, optimize=True),
        "WEBP": dict(quality=quality, method=4),
        "AVIF": dict(quality=quality, speed=6, max_threads=1),
    }[fmt]
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def ssim(reference, encoded):
    decoded = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    return structural_similarity(np.asarray(reference), decoded, channel_axis=2, data_range=255)


def timed(image, fmt, quality):
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        encode(image, fmt, quality)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def lowest_quality_reaching(image, fmt, target):
    """The lowest quality (0 to 100) whose SSIM reaches `target` (SSIM grows with quality)."""
    low, high = 0, 100
    while low < high:
        middle = (low + high) // 2
        if ssim(image, encode(image, fmt, middle)) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def main(paths):
    print("| photo | size | JPEG q80 | SSIM | WebP (q) | vs JPEG | AVIF (q) | vs JPEG | encode ms JPEG / WebP / AVIF |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals = {"JPEG": 0, "WEBP": 0, "AVIF": 0}
    for name, photo in photos(paths):
        image = fitted(photo)
        jpeg = encode(image, "JPEG", 80)
        target = ssim(image, jpeg)
        row = {"JPEG": (80, len(jpeg))}
        for fmt in ("WEBP", "AVIF"):
            quality = lowest_quality_reaching(image, fmt, target)
            row[fmt] = (quality, len(encode(image, fmt, quality)))
        ms = {fmt: timed(image, fmt, row[fmt][0]) for fmt in row}
        for fmt in totals:
            totals[fmt] += row[fmt][1]
        print(
            f"| {name} | {image.width} x {image.height} | {row['JPEG'][1]:,} B | {target:.4f} "
            f"| {row['WEBP'][1]:,} B ({row['WEBP'][0]}) | {row['WEBP'][1] / row['JPEG'][1]:.2f}x "
            f"| {row['AVIF'][1]:,} B ({row['AVIF'][0]}) | {row['AVIF'][1] / row['JPEG'][1]:.2f}x "
            f"| {ms['JPEG']:.1f} / {ms['WEBP']:.1f} / {ms['AVIF']:.1f} |"
        )
    print(
        f"| all | | {totals['JPEG']:,} B | | {totals['WEBP']:,} B | {totals['WEBP'] / totals['JPEG']:.2f}x "
        f"| {totals['AVIF']:,} B | {totals['AVIF'] / totals['JPEG']:.2f}x | |"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
