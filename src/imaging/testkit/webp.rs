//! WebP files: lossless from `image-webp`'s encoder, RIFF containers and VP8L bitstreams by hand.

use super::smooth;

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

/// Bits written least significant first, as VP8L reads them.
struct LsbBitWriter {
    out: Vec<u8>,
    acc: u64,
    count: u32,
}

impl LsbBitWriter {
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
    let mut bits = LsbBitWriter {
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
