"""The peer bench's HEIC input: a grid of HEVC tiles in a HEIF container, laid out as an iPhone
writes its 12 MP photos (make_inputs.py calls `iphone_like_grid`).

pillow-heif (pinned in infra/requirements-peers.lock: libheif 1.23 with x265) writes no grids, so
each 512 x 512 tile is encoded on its own by x265 and the container is written here. Copied and
trimmed from fixtures/images/heif/make_fixtures.py (`encode_hevc`, `pad_to`, `iphone_grid` and the
box reader they need); unlike that fixture, this one is upright (no `irot`) and has no thumbnail
or Exif item, so every reader decodes the same 48 tiles and nothing else.
"""

import io
import struct

import pillow_heif
from PIL import Image

TILE = 512
COLUMNS, ROWS = 8, 6


def box(kind: str, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def fullbox(kind: str, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def children(data: bytes, start: int, end: int):
    """[(kind, payload_start, box_start, box_end)] of the boxes in data[start:end]."""
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        out.append((kind.decode("latin1"), pos + header, pos, pos + size))
        pos += size
    return out


def uint(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big") if size else 0


def primary_item(data: bytes):
    """What libheif wrote for one plain image: {property kind: box bytes} of the primary item,
    and the item's coded data (its iloc extents, file offsets)."""
    top = {k: (p, e) for k, p, _, e in children(data, 0, len(data))}
    p, e = top["meta"]
    primary, iloc, props, assoc = None, {}, [], {}
    for kind, q, _, end in children(data, p + 4, e):
        if kind == "pitm":
            primary = uint(data, q + 4, 2 if data[q] == 0 else 4)
        elif kind == "iloc":
            version = data[q]
            offset_size, length_size = data[q + 4] >> 4, data[q + 4] & 15
            base_size = data[q + 5] >> 4
            index_size = data[q + 5] & 15 if version in (1, 2) else 0
            count_size = 2 if version < 2 else 4
            count, pos = uint(data, q + 6, count_size), q + 6 + count_size
            for _ in range(count):
                item_id = uint(data, pos, count_size)
                pos += count_size
                method = 0
                if version in (1, 2):
                    method = uint(data, pos, 2) & 15
                    pos += 2
                pos += 2  # data_reference_index
                base = uint(data, pos, base_size)
                pos += base_size
                extents, n = [], uint(data, pos, 2)
                pos += 2
                for _ in range(n):
                    pos += index_size
                    off = uint(data, pos, offset_size)
                    length = uint(data, pos + offset_size, length_size)
                    pos += offset_size + length_size
                    extents.append((base + off, length))
                iloc[item_id] = (method, extents)
        elif kind == "iprp":
            for k2, r, _, be in children(data, q, end):
                if k2 == "ipco":
                    props = [(k3, data[s3:e3]) for k3, _, s3, e3 in children(data, r, be)]
                elif k2 == "ipma":
                    version, flags = data[r], uint(data, r + 1, 3)
                    count, pos = uint(data, r + 4, 4), r + 8
                    for _ in range(count):
                        item_id = uint(data, pos, 2 if version == 0 else 4)
                        pos += 2 if version == 0 else 4
                        n, pos = data[pos], pos + 1
                        indices = []
                        for _ in range(n):
                            if flags & 1:
                                indices.append(uint(data, pos, 2) & 0x7FFF)
                                pos += 2
                            else:
                                indices.append(data[pos] & 0x7F)
                                pos += 1
                        assoc[item_id] = indices
    method, extents = iloc[primary]
    assert method == 0, "only file-offset items are read here"
    coded = b"".join(data[o : o + n] for o, n in extents)
    return {props[i - 1][0]: props[i - 1][1] for i in assoc[primary] if i}, coded


def encode_hevc(img: Image.Image, quality: int):
    """One picture through x265 (pillow-heif's libheif): (hvcC box, colr box, coded data)."""
    buf = io.BytesIO()
    pillow_heif.from_pillow(img).save(
        buf, quality=quality, chroma="420", tile_size=0, save_nclx_profile=True
    )
    props, coded = primary_item(buf.getvalue())
    assert sorted(props) == ["colr", "hvcC", "ispe", "pixi"], sorted(props)  # no clap: aligned
    return props["hvcC"], props["colr"], coded


def pad_to(img: Image.Image, width: int, height: int) -> Image.Image:
    """Extends img to width x height by repeating its last column and row, as encoders do."""
    out = Image.new(img.mode, (width, height))
    out.paste(img, (0, 0))
    w, h = img.size
    out.paste(img.crop((w - 1, 0, w, h)).resize((width - w, h)), (w, 0))
    out.paste(out.crop((0, h - 1, width, h)).resize((width, height - h)), (0, h))
    return out


def iphone_like_grid(img: Image.Image, quality: int) -> bytes:
    """`img` (4032 x 3024) as a HEIC laid out like an iPhone photo: an 8 x 6 grid of 512 x 512 HEVC
    tiles (items 1-48, hidden, dimg in raster order; 4096 x 3072 coded, cropped by the grid's
    4032 x 3024 output size), the grid (item 49) primary; one shared hvcC and colr nclx."""
    width, height = img.size
    assert (width, height) == (4032, 3024), img.size
    coded = pad_to(img, COLUMNS * TILE, ROWS * TILE)
    tiles = []
    for row in range(ROWS):
        for col in range(COLUMNS):
            x, y = col * TILE, row * TILE
            tiles.append(encode_hevc(coded.crop((x, y, x + TILE, y + TILE)), quality))
    hvcc, colr = tiles[0][0], tiles[0][1]
    assert all(t[0] == hvcc and t[1] == colr for t in tiles), "tiles' hvcC or colr differ"

    count = ROWS * COLUMNS
    grid_id = count + 1
    grid_payload = struct.pack(">BBBBHH", 0, 0, ROWS - 1, COLUMNS - 1, width, height)
    payloads = [(i + 1, t[2]) for i, t in enumerate(tiles)] + [(grid_id, grid_payload)]
    props = [
        hvcc,  # 1
        fullbox("ispe", 0, 0, struct.pack(">II", TILE, TILE)),  # 2
        colr,  # 3
        fullbox("pixi", 0, 0, bytes([3, 8, 8, 8])),  # 4
        fullbox("ispe", 0, 0, struct.pack(">II", width, height)),  # 5
    ]
    # (item, [(essential, property index)])
    assoc = [(i, [(1, 1), (0, 2), (0, 3), (0, 4)]) for i in range(1, count + 1)]
    assoc += [(grid_id, [(0, 5), (0, 3), (0, 4)])]
    infe = [
        fullbox("infe", 2, 1, struct.pack(">HH4s", i, 0, b"hvc1") + b"\0") for i in range(1, count + 1)
    ]
    infe.append(fullbox("infe", 2, 0, struct.pack(">HH4s", grid_id, 0, b"grid") + b"\0"))
    dimg = box(
        "dimg",
        struct.pack(">HH", grid_id, count) + b"".join(struct.pack(">H", t) for t in range(1, count + 1)),
    )

    def meta(mdat_data_start: int) -> bytes:
        offsets, pos = {}, mdat_data_start
        for item, data in payloads:
            offsets[item] = (pos, len(data))
            pos += len(data)
        iloc = struct.pack(">BBH", 0x44, 0x00, len(offsets))  # 4-byte offsets/lengths, no base
        for item in sorted(offsets):
            off, length = offsets[item]
            iloc += struct.pack(">HHHHII", item, 0, 0, 1, off, length)  # method 0, 1 extent
        ipma = struct.pack(">I", len(assoc))
        for item, lst in assoc:
            ipma += struct.pack(">HB", item, len(lst)) + bytes((e << 7) | i for e, i in lst)
        return fullbox(
            "meta",
            0,
            0,
            fullbox("hdlr", 0, 0, struct.pack(">I4s12x", 0, b"pict") + b"\0")
            + fullbox("pitm", 0, 0, struct.pack(">H", grid_id))
            + fullbox("iloc", 1, 0, iloc)
            + fullbox("iinf", 0, 0, struct.pack(">H", len(infe)) + b"".join(infe))
            + fullbox("iref", 0, 0, dimg)
            + box("iprp", box("ipco", b"".join(props)) + fullbox("ipma", 0, 0, ipma)),
        )

    ftyp = box("ftyp", b"heic" + struct.pack(">I", 0) + b"mif1heicmiaf")
    start = len(ftyp) + len(meta(0)) + 8  # offsets have fixed widths: meta's size doesn't change
    mdat = box("mdat", b"".join(data for _, data in payloads))
    return ftyp + meta(start) + mdat
