"""The peer bench's inputs, made deterministically with the pinned Pillow (infra/requirements-peers.lock).

Usage: make_inputs.py OUT_DIR. Writes 4000 x 3000 (12 MP) images of a photo stand-in (smooth gradients
plus per-pixel noise from a fixed seed, what makes photos expensive to entropy-decode) and a smooth one,
in the formats and JPEG variants the processor meets, and `inputs.json` naming them (file, format, what).
The HEIC and AVIF inputs are the same photo stand-in resized to 4032 x 3024, the size of an iPhone's
12 MP photo: the HEIC an iPhone-like grid of 8 x 6 HEVC tiles of 512 x 512 (x265 through pillow-heif,
the container written by fixtures/images/heif/heif_grid.py), the AVIF one 8-bit 4:2:0 image (aom through Pillow's libavif).
run.sh keeps OUT_DIR while the hash of this script, fixtures/images/heif/heif_grid.py and the lock is unchanged.
"""

import io
import json
import random
import sys
import zlib
import struct
from pathlib import Path

import pillow_heif
from PIL import Image, ImageChops, features

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures" / "images" / "heif"))
from heif_grid import iphone_like_grid  # noqa: E402 (the one HEIF grid writer, shared with the fixtures)

WIDTH, HEIGHT = 4000, 3000
SEED = 0x2545F491
# iPhone-sized HEIF inputs, and their encoders' quality: pillow-heif's default for x265 (about 2 MB
# for this photo, as an iPhone's) and Pillow's default for aom (about as many bytes).
HEIF_SIZE = (4032, 3024)
HEIC_QUALITY = 50
AVIF_QUALITY = 75


def gradients() -> Image.Image:
    """Red across, green down, blue along the diagonal: smooth, like a sky or a wall."""
    across = Image.linear_gradient("L").rotate(90).resize((WIDTH, HEIGHT))
    down = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    diagonal = ImageChops.add(across, down, scale=2.0)
    return Image.merge("RGB", (across, down, diagonal))


def noisy(base: Image.Image) -> Image.Image:
    """`base` plus uniform noise in -12..=11 on every sample (fixed seed)."""
    noise = Image.frombytes(
        "RGB", base.size, random.Random(SEED).randbytes(WIDTH * HEIGHT * 3)
    ).point(lambda v: v * 24 // 256)
    return ImageChops.add(base, noise, scale=1.0, offset=-12)


def png_16_bit(image: Image.Image) -> bytes:
    """A 16-bit RGB PNG of `image` (Pillow writes 16-bit only for grey): each sample v as v * 257."""
    raw = image.tobytes()
    stride = WIDTH * 3
    rows = bytearray()
    for y in range(HEIGHT):
        row = raw[y * stride : (y + 1) * stride]
        wide = bytearray(2 * stride)
        wide[0::2] = row
        wide[1::2] = row
        rows += b"\x00" + wide

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


def saved(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    pillow_heif.register_heif_opener()
    smooth = gradients()
    photo = noisy(smooth)
    # (file, format, description, bytes)
    inputs = [
        ("baseline-420-q90.jpg", "jpeg", "JPEG baseline 4:2:0 q90", saved(photo, "JPEG", quality=90)),
        (
            "progressive-420-q90.jpg",
            "jpeg",
            "JPEG progressive 4:2:0 q90",
            saved(photo, "JPEG", quality=90, progressive=True),
        ),
        ("smooth-420-q85.jpg", "jpeg", "JPEG baseline smooth q85", saved(smooth, "JPEG", quality=85)),
        (
            "baseline-444-q90.jpg",
            "jpeg",
            "JPEG baseline 4:4:4 q90",
            saved(photo, "JPEG", quality=90, subsampling=0),
        ),
        (
            "progressive-444-q90.jpg",
            "jpeg",
            "JPEG progressive 4:4:4 q90",
            saved(photo, "JPEG", quality=90, subsampling=0, progressive=True),
        ),
        (
            "baseline-420-q90-restarts.jpg",
            "jpeg",
            "JPEG baseline 4:2:0 q90, restart every MCU row",
            saved(photo, "JPEG", quality=90, restart_marker_rows=1),
        ),
        ("rgb8.png", "png", "PNG 8-bit RGB", saved(photo, "PNG", compress_level=6)),
        ("rgb16.png", "png", "PNG 16-bit RGB", png_16_bit(photo)),
        (
            "palette.gif",
            "gif",
            "GIF 256 colours",
            saved(photo.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE), "GIF"),
        ),
        ("lossy-q80.webp", "webp", "WebP lossy q80", saved(photo, "WEBP", quality=80, method=4)),
    ]
    assert features.check("avif"), "the pinned Pillow has no AVIF support"
    phone = photo.resize(HEIF_SIZE, Image.Resampling.BICUBIC)
    inputs += [
        (
            "heic-grid-4032x3024.heic",
            "heic",
            f"HEIC 4032 x 3024, grid of 8 x 6 HEVC tiles 512 px, 4:2:0 q{HEIC_QUALITY}",
            iphone_like_grid(phone, HEIC_QUALITY),
        ),
        (
            "avif-4032x3024.avif",
            "avif",
            f"AVIF 4032 x 3024, one AV1 image 8-bit 4:2:0 q{AVIF_QUALITY}",
            saved(phone, "AVIF", quality=AVIF_QUALITY, subsampling="4:2:0", speed=6, max_threads=1),
        ),
    ]
    listing = []
    for name, format, description, data in inputs:
        (out / name).write_bytes(data)
        if format in ("heic", "avif"):  # read back: libheif (libde265) and libavif (dav1d)
            with Image.open(out / name) as image:
                image.load()
                assert image.size == HEIF_SIZE and image.mode == "RGB", (name, image.size, image.mode)
        listing.append({"file": name, "format": format, "what": description, "bytes": len(data)})
        print(f"  {name}: {len(data)} bytes", file=sys.stderr)
    (out / "inputs.json").write_text(json.dumps(listing, indent=1) + "\n")


if __name__ == "__main__":
    main()
