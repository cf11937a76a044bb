//! PNG files: from the `png` encoder, and chunk by chunk by hand.

use std::io::Write;

use super::smooth;

/// A PNG of smooth content, encoded row by row so the raw image is never held whole.
pub fn png(width: u32, height: u32, color: png::ColorType, depth: png::BitDepth) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let channels = color.samples();
    let sample_bytes = if depth == png::BitDepth::Sixteen {
        2
    } else {
        1
    };
    let mut row = vec![0u8; width as usize * channels * sample_bytes];
    for y in 0..height {
        for (x, pixel) in row.chunks_exact_mut(channels * sample_bytes).enumerate() {
            let rgba = smooth(x as u32, y, width, height);
            for (c, sample) in pixel.chunks_exact_mut(sample_bytes).enumerate() {
                sample.fill(rgba[c]);
            }
        }
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

pub fn crc32(bytes: &[&[u8]]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    let mut crc = !0u32;
    for &byte in bytes.iter().flat_map(|b| b.iter()) {
        crc = table[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

pub fn ihdr(width: u32, height: u32, depth: u8, color: u8, interlace: u8) -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(&width.to_be_bytes());
    data.extend_from_slice(&height.to_be_bytes());
    data.extend_from_slice(&[depth, color, 0, 0, interlace]);
    data
}

/// A zlib stream of stored (uncompressed) deflate blocks: no compressor needed.
pub fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// An Adam7-interlaced 8-bit PNG, RGB (`alpha` false) or RGBA, of `pixel(x, y)`, with its data
/// stored uncompressed (the `png` encoder does not interlace).
pub fn interlaced_png(
    width: u32,
    height: u32,
    alpha: bool,
    pixel: impl Fn(u32, u32) -> [u8; 4],
) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 8, 0, 8),
        (4, 8, 0, 8),
        (0, 4, 4, 8),
        (2, 4, 0, 4),
        (0, 2, 2, 4),
        (1, 2, 0, 2),
        (0, 1, 1, 2),
    ];
    let channels = if alpha { 4 } else { 3 };
    let mut raw = Vec::new();
    for (x0, dx, y0, dy) in PASSES {
        if x0 >= width {
            continue;
        }
        for y in (y0..height).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..width).step_by(dx as usize) {
                raw.extend_from_slice(&pixel(x, y)[..channels]);
            }
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let color = if alpha { 6 } else { 2 };
    png_chunk(&mut out, b"IHDR", &ihdr(width, height, 8, color, 1));
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// The chunks of a PNG file after its signature, as (kind, data).
pub fn png_chunks(file: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 12 <= file.len() {
        let len = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = file[at + 4..at + 8].try_into().unwrap();
        chunks.push((kind, file[at + 8..at + 8 + len].to_vec()));
        at += 12 + len;
    }
    chunks
}

pub fn fctl(sequence: u32, width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for v in [sequence, width, height, 0, 0] {
        data.extend_from_slice(&v.to_be_bytes());
    }
    data.extend_from_slice(&[0, 1, 0, 1, 0, 0]);
    data
}
