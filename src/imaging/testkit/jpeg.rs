//! The one JPEG writer of the tests: files from `image`'s encoder, and streams built segment by
//! segment, with entropy-coded data from a small DC-only encoder (every block's AC terms are a
//! lone end-of-block), for the crafted inputs the decoders must refuse or read.

use super::smooth;

/// A photo stand-in of `width` x `height`: gradients plus per-pixel noise (xorshift, fixed
/// seed), which is what makes real photos expensive to entropy-decode.
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

/// `image` as a baseline JPEG of `quality`, from `image`'s encoder.
pub fn encoded(image: &image::DynamicImage, quality: u8) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode_image(image)
        .unwrap();
    jpeg
}

pub const SOI: [u8; 2] = [0xFF, 0xD8];
pub const EOI: [u8; 2] = [0xFF, 0xD9];

/// The standard luminance DC table (K.3): categories 0..=11, codes of 2 to 9 bits.
pub const DC_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
pub const DC_SYMBOLS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/// One code per length 1..=12 for categories 0..=11: the longest take the slow path.
pub const LONG_DC_COUNTS: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
/// An AC table with a single code, `0`, for end-of-block.
pub const EOB_COUNTS: [u8; 16] = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// SOI, then `parts`.
pub fn stream(parts: &[&[u8]]) -> Vec<u8> {
    [&SOI[..]]
        .iter()
        .chain(parts)
        .copied()
        .collect::<Vec<_>>()
        .concat()
}

/// A marker segment: the marker, the length (payload + 2) and the payload.
pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).unwrap();
    [&[0xFF, marker][..], &length.to_be_bytes(), payload].concat()
}

/// A frame header of kind `marker` with components (id, sampling HV, quantization table).
pub fn sof(marker: u8, width: u16, height: u16, components: &[(u8, u8, u8)]) -> Vec<u8> {
    let mut payload = vec![8];
    payload.extend(height.to_be_bytes());
    payload.extend(width.to_be_bytes());
    payload.push(u8::try_from(components.len()).unwrap());
    for &(id, sampling, quant) in components {
        payload.extend([id, sampling, quant]);
    }
    segment(marker, &payload)
}

pub fn gray_sof(width: u16, height: u16) -> Vec<u8> {
    sof(0xC0, width, height, &[(1, 0x11, 0)])
}

/// 4:2:0 colour: luma 2x2, both chroma 1x1, all on quantization table 0.
pub fn colour_sof(width: u16, height: u16) -> Vec<u8> {
    sof(
        0xC0,
        width,
        height,
        &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)],
    )
}

/// An 8-bit quantization table `id` with DC quantizer `dc` (AC quantizers 1).
pub fn dqt(id: u8, dc: u8) -> Vec<u8> {
    let mut payload = vec![id, dc];
    payload.extend([1; 63]);
    segment(0xDB, &payload)
}

/// A 16-bit quantization table `id` with DC quantizer `dc`.
pub fn dqt16(id: u8, dc: u16) -> Vec<u8> {
    let mut payload = vec![0x10 | id];
    payload.extend(dc.to_be_bytes());
    payload.extend([0, 1].repeat(63));
    segment(0xDB, &payload)
}

/// A DHT segment of one table: class << 4 | id, counts per length, symbols.
pub fn dht(class_id: u8, counts: &[u8; 16], symbols: &[u8]) -> Vec<u8> {
    segment(0xC4, &[&[class_id][..], counts, symbols].concat())
}

/// DC table 0 (standard) and AC table 0 (end-of-block only).
pub fn tables() -> Vec<u8> {
    [
        dht(0x00, &DC_COUNTS, &DC_SYMBOLS),
        dht(0x10, &EOB_COUNTS, &[0]),
    ]
    .concat()
}

/// A sequential scan header over components (id, DC table << 4 | AC table).
pub fn sos(components: &[(u8, u8)]) -> Vec<u8> {
    let mut payload = vec![u8::try_from(components.len()).unwrap()];
    for &(id, ids) in components {
        payload.extend([id, ids]);
    }
    payload.extend([0, 63, 0]);
    segment(0xDA, &payload)
}

/// A DRI segment.
pub fn dri(interval: u16) -> Vec<u8> {
    segment(0xDD, &interval.to_be_bytes())
}

/// Writes bits most significant first, stuffing a zero after every 0xFF.
#[derive(Default)]
pub struct BitWriter {
    pub out: Vec<u8>,
    byte: u8,
    filled: u32,
}

impl BitWriter {
    pub fn put(&mut self, bits: u32, len: u32) {
        for i in (0..len).rev() {
            self.byte = self.byte << 1 | u8::from(bits >> i & 1 == 1);
            self.filled += 1;
            if self.filled == 8 {
                self.out.push(self.byte);
                if self.byte == 0xFF {
                    self.out.push(0);
                }
                (self.byte, self.filled) = (0, 0);
            }
        }
    }

    /// Pads the last byte with one bits, as encoders do before a marker.
    pub fn flush(&mut self) {
        while self.filled != 0 {
            self.put(1, 1);
        }
    }
}

/// (code, length) of each symbol, in the order the table lists them.
pub fn canonical_codes(counts: &[u8; 16]) -> Vec<(u32, u32)> {
    let mut codes = Vec::new();
    let mut code = 0;
    for len in 1..=16 {
        for _ in 0..counts[len as usize - 1] {
            codes.push((code, len));
            code += 1;
        }
        code <<= 1;
    }
    codes
}

/// Scan data for blocks with these quantized DC values, in scan order, and no AC terms,
/// coded with `dc_counts` over symbols 0..=11 and `EOB_COUNTS`. An MCU holds
/// `blocks_per_mcu[i]` blocks of component `i`; `RSTn` comes after every
/// `restart_interval` MCUs (0: never).
pub fn entropy_with(
    dc_counts: &[u8; 16],
    dcs: &[i32],
    blocks_per_mcu: &[usize],
    restart_interval: usize,
) -> Vec<u8> {
    let codes = canonical_codes(dc_counts);
    let mcu: Vec<usize> = blocks_per_mcu
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(i, n))
        .collect();
    let mut w = BitWriter::default();
    let mut predictors = vec![0; blocks_per_mcu.len()];
    for (i, &dc) in dcs.iter().enumerate() {
        let (mcu_index, component) = (i / mcu.len(), mcu[i % mcu.len()]);
        if restart_interval > 0
            && i % mcu.len() == 0
            && mcu_index > 0
            && mcu_index % restart_interval == 0
        {
            w.flush();
            let n = u8::try_from((mcu_index / restart_interval - 1) % 8).unwrap();
            w.out.extend([0xFF, 0xD0 + n]);
            predictors.fill(0);
        }
        let difference: i32 = dc - predictors[component];
        predictors[component] = dc;
        let category = 32 - difference.unsigned_abs().leading_zeros();
        let (code, len) = codes[category as usize];
        w.put(code, len);
        // Negative differences are sent as difference - 1 in `category` bits (F.1.2.1).
        let raw = if difference < 0 {
            difference - 1
        } else {
            difference
        };
        w.put(raw as u32 & ((1 << category) - 1), category);
        w.put(0, 1);
    }
    w.flush();
    w.out
}

/// [`entropy_with`] one component and the standard DC table.
pub fn entropy(dcs: &[i32], restart_interval: usize) -> Vec<u8> {
    entropy_with(&DC_COUNTS, dcs, &[1], restart_interval)
}

/// A grayscale baseline JPEG whose blocks (raster order) have these quantized DC values,
/// with DC quantizer 8, so that a block's pixel is 128 + its DC value.
pub fn gray_jpeg(width: u16, height: u16, dcs: &[i32], restart_interval: u16) -> Vec<u8> {
    stream(&[
        &dqt(0, 8),
        &gray_sof(width, height),
        &tables(),
        &dri(restart_interval),
        &sos(&[(1, 0x00)]),
        &entropy(dcs, usize::from(restart_interval)),
        &EOI,
    ])
}

/// A progressive scan header: components (id, tables), spectral selection, Ah << 4 | Al.
pub fn progressive_sos(components: &[(u8, u8)], start: u8, end: u8, approximation: u8) -> Vec<u8> {
    let mut payload = vec![u8::try_from(components.len()).unwrap()];
    for &(id, ids) in components {
        payload.extend([id, ids]);
    }
    payload.extend([start, end, approximation]);
    segment(0xDA, &payload)
}

/// Edits on crafted streams.
pub trait Craft {
    /// The stream with `extra` inserted before the first occurrence of `part`.
    fn splice_before(self, part: &[u8], extra: &[u8]) -> Vec<u8>;
    /// A segment whose bytes were edited, with its length field made to match again.
    fn with_length_fixed(self) -> Vec<u8>;
}

impl Craft for Vec<u8> {
    fn splice_before(mut self, part: &[u8], extra: &[u8]) -> Vec<u8> {
        let at = self.windows(part.len()).position(|w| w == part).unwrap();
        self.splice(at..at, extra.iter().copied());
        self
    }

    fn with_length_fixed(mut self) -> Vec<u8> {
        let length = u16::try_from(self.len() - 2).unwrap();
        self[2..4].copy_from_slice(&length.to_be_bytes());
        self
    }
}
