//! Test images made in the tests: with the crates' encoders where they can (PNG, GIF, baseline
//! JPEG, lossless WebP), by hand where they cannot (interlaced PNG, hostile headers and chunks).

use std::borrow::Cow;
use std::io::Write;

/// A smooth RGBA colour at (x, y) of a `w` x `h` image: gradients compress to little, so large
/// test images stay small files.
pub fn smooth(x: u32, y: u32, w: u32, h: u32) -> [u8; 4] {
    [
        (x * 255 / w) as u8,
        (y * 255 / h) as u8,
        ((x + y) * 255 / (w + h)) as u8,
        (255 - y * 255 / h) as u8,
    ]
}

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

/// A 256-colour palette: a ramp, so indices map to distinct colours.
pub fn palette() -> Vec<u8> {
    (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect()
}

/// A GIF with a `screen_w` x `screen_h` logical screen and one frame per rectangle, each filled
/// with runs of colours (which LZW compresses well).
pub fn gif(screen_w: u16, screen_h: u16, frames: &[(u16, u16, u16, u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, screen_w, screen_h, &palette()).unwrap();
    for &(left, top, width, height) in frames {
        let indices: Vec<u8> = (0..u32::from(height))
            .flat_map(|y| (0..u32::from(width)).map(move |x| ((x / 16 + y / 16) % 256) as u8))
            .collect();
        let frame = gif::Frame {
            left,
            top,
            width,
            height,
            buffer: Cow::Owned(indices),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// A GIF whose `count` frames are all the same `width` x `height` frame, LZW-encoded once.
pub fn gif_repeating(screen: (u16, u16), frame: (u16, u16), count: usize) -> Vec<u8> {
    let (width, height) = frame;
    let mut frame = gif::Frame::from_indexed_pixels(
        width,
        height,
        vec![7; usize::from(width) * usize::from(height)],
        None,
    );
    frame.make_lzw_pre_encoded();
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, screen.0, screen.1, &palette()).unwrap();
    for _ in 0..count {
        encoder.write_lzw_pre_encoded_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// The offset of a GIF's first image descriptor (after the header, screen and global palette).
pub fn first_image_descriptor(file: &[u8]) -> usize {
    file.iter()
        .enumerate()
        .skip(13 + 768)
        .find(|&(_, &b)| b == 0x2C)
        .map(|(i, _)| i)
        .unwrap()
}

pub fn webp_lossless(width: u32, height: u32, color: image_webp::ColorType) -> Vec<u8> {
    let channels = match color {
        image_webp::ColorType::Rgb8 => 3,
        _ => 4,
    };
    let mut pixels = Vec::with_capacity(width as usize * height as usize * channels);
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&smooth(x, y, width, height)[..channels]);
        }
    }
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&pixels, width, height, color)
        .unwrap();
    out
}

/// The chunks of a WebP file after `RIFF....WEBP`, as (fourcc, data).
pub fn riff_chunks(file: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at + 8 <= file.len() {
        let kind: [u8; 4] = file[at..at + 4].try_into().unwrap();
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        chunks.push((kind, file[at + 8..at + 8 + len].to_vec()));
        at += 8 + len + (len & 1);
    }
    chunks
}

pub fn riff(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (kind, data) in chunks {
        body.extend_from_slice(kind);
        body.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&body);
    out
}

pub fn vp8x(flags: u8, width: u32, height: u32) -> Vec<u8> {
    let mut data = vec![flags, 0, 0, 0];
    data.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    data.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    data
}

/// A 12 MP photo stand-in: gradients plus per-pixel noise (xorshift, fixed seed), which is what
/// makes real photos expensive to entropy-decode.
pub fn noisy_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x2545_F491;
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as i32 - 12;
        let [r, g, b, _] = smooth(x, y, width, height);
        image::Rgb([r, g, b].map(|c| (i32::from(c) + noise).clamp(0, 255) as u8))
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&pixels)
        .unwrap();
    jpeg
}

/// The offset of the first marker `marker` in a JPEG's header segments.
pub fn jpeg_segment(jpeg: &[u8], marker: u8) -> usize {
    let mut at = 2;
    while jpeg[at + 1] != marker {
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    at
}

/// `jpeg` with the dimensions in its frame header replaced.
pub fn with_frame_size(jpeg: &[u8], sof: u8, width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let at = jpeg_segment(jpeg, sof);
    out[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
    out[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// Bits written least significant first, as VP8L reads them.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.count;
        self.count += bits;
        while self.count >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
    }

    /// A Huffman code: its first bit is the canonical code's most significant.
    fn put_code(&mut self, code: u32, length: u32) {
        for i in (0..length).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// A valid 1 x 1 lossless WebP whose one pixel selects Huffman group `groups - 1`, so the
/// decoder reads `groups` groups of five codes, each a 1024-entry table (lengths 1 to 10).
pub fn vp8l_with_huffman_groups(groups: u32) -> Vec<u8> {
    let mut bits = Bits {
        out: vec![0x2F],
        acc: 0,
        count: 0,
    };
    bits.put(0, 14); // width - 1
    bits.put(0, 14); // height - 1
    bits.put(1, 1); // alpha hint
    bits.put(0, 3); // version
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(1, 1); // meta Huffman codes
    bits.put(0, 3); // entropy image bits: 2, so the entropy image is 1 x 1
    // The entropy image: no colour cache, five single-symbol codes (zero bits a symbol) whose
    // green and red make the group index.
    bits.put(0, 1);
    let index = groups - 1;
    for symbol in [index & 0xFF, index >> 8, 0, 0, 0] {
        bits.put(1, 1); // simple code
        bits.put(0, 1); // one symbol
        bits.put(1, 1); // of 8 bits
        bits.put(symbol, 8);
    }
    // The groups: five normal codes each.
    const ORDER: [u32; 19] = [
        17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ];
    for _ in 0..groups * 5 {
        bits.put(0, 1); // normal code
        bits.put(15, 4); // 19 code length code lengths
        for symbol in ORDER {
            // 0..=14 and 16 at length 4: symbol s has code s (16 has code 15).
            bits.put(if matches!(symbol, 15 | 17 | 18) { 0 } else { 4 }, 3);
        }
        bits.put(1, 1); // max symbol given
        bits.put(1, 3); // in 4 bits
        bits.put(9, 4); // 11 symbols
        for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10] {
            bits.put_code(length, 4);
        }
    }
    // The pixel: symbol 0 (code "0") in green, red, blue and alpha.
    bits.put(0, 4);
    bits.put(0, 16);
    let vp8l = bits.out;
    riff(&[(*b"VP8L", vp8l)])
}
