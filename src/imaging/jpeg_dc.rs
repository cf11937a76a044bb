//! A JPEG decoder for one purpose: the image at 1/8 scale, from the DC term of every block.
//!
//! A thumbnail of a photo needs far fewer pixels than 1/8 of the photo, and at 1/8 scale each
//! 8 x 8 block is exactly its DC coefficient (the block's mean). So every block is still
//! entropy-decoded (that is what verifies the file and cannot be skipped), but its 63 AC
//! coefficients are only read past, never stored, dequantized or transformed. General decoders at
//! 1/8 scale still fill and hand over full coefficient buffers; this one does not, which is most
//! of the processor's time on large photos.
//!
//! Only baseline and extended-sequential Huffman JPEGs with 8-bit samples and one scan (what
//! cameras and phones write) are handled; anything else is [`DcError::Unsupported`] and the
//! caller falls back to a general decoder.

use crate::domain::ProcessingPolicy;

/// Why the DC decode did not produce an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcError {
    /// A valid kind of JPEG this decoder does not handle (progressive, arithmetic, CMYK, ...).
    Unsupported,
    /// Not a well-formed JPEG (bad tables, bad Huffman codes, truncated data).
    Invalid,
    /// The frame's dimensions are over the policy's limits (checked before anything is allocated).
    OverLimits,
}

/// The image at 1/8 scale (`ceil(width / 8)` x `ceil(height / 8)`), RGB8, and the full-size
/// dimensions of the frame it was decoded from (the ones the limits were checked against).
#[derive(Debug, Clone)]
pub struct DcImage {
    pub width: u32,
    pub height: u32,
    pub full_width: u32,
    pub full_height: u32,
    pub rgb: Vec<u8>,
}

const LOOKUP_BITS: u32 = 9;

struct Huffman {
    /// For the next `LOOKUP_BITS` bits: (code length, symbol); length 0 means "longer code".
    lookup: Vec<(u8, u8)>,
    /// Canonical decoding for codes longer than `LOOKUP_BITS` (index = code length).
    max_code: [i32; 18],
    val_offset: [i32; 18],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, DcError> {
        let mut lookup = vec![(0u8, 0u8); 1 << LOOKUP_BITS];
        let mut max_code = [-1i32; 18];
        let mut val_offset = [0i32; 18];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let count = usize::from(counts[len as usize - 1]);
            if count > 0 {
                val_offset[len as usize] = k as i32 - code as i32;
                for _ in 0..count {
                    let symbol = *values.get(k).ok_or(DcError::Invalid)?;
                    if len <= LOOKUP_BITS {
                        let shift = LOOKUP_BITS - len;
                        let first = (code << shift) as usize;
                        let entries = lookup
                            .get_mut(first..first + (1 << shift))
                            .ok_or(DcError::Invalid)?;
                        entries.fill((len as u8, symbol));
                    }
                    code += 1;
                    k += 1;
                }
                max_code[len as usize] = code as i32 - 1;
            }
            if code > (1 << len) {
                return Err(DcError::Invalid);
            }
            code <<= 1;
        }
        max_code[17] = i32::MAX;
        Ok(Self {
            lookup,
            max_code,
            val_offset,
            values: values.to_vec(),
        })
    }
}

/// Reads entropy-coded bits, removing stuffed zero bytes and stopping at markers.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    /// Zero bits appended after a marker or the end of data; consuming any means truncation.
    padding: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            at_marker: false,
        }
    }

    #[inline]
    fn fill(&mut self) {
        while self.count <= 56 {
            let mut byte = 0u8;
            if self.at_marker {
                self.padding += 8;
            } else if let Some(&b) = self.data.get(self.pos) {
                if b == 0xFF {
                    if self.data.get(self.pos + 1) == Some(&0x00) {
                        self.pos += 2;
                        byte = 0xFF;
                    } else {
                        self.at_marker = true;
                        self.padding += 8;
                    }
                } else {
                    self.pos += 1;
                    byte = b;
                }
            } else {
                self.at_marker = true;
                self.padding += 8;
            }
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// The next Huffman symbol. Leaves at least 16 bits buffered for the value that follows.
    #[inline]
    fn symbol(&mut self, table: &Huffman) -> Result<u8, DcError> {
        if self.count < 32 {
            self.fill();
        }
        let (len, symbol) = table.lookup[(self.acc >> (64 - LOOKUP_BITS)) as usize];
        if len != 0 {
            self.consume(u32::from(len));
            return Ok(symbol);
        }
        for len in (LOOKUP_BITS + 1)..=16 {
            let code = (self.acc >> (64 - len)) as i32;
            if code <= table.max_code[len as usize] {
                self.consume(len);
                let index = usize::try_from(code + table.val_offset[len as usize])
                    .map_err(|_| DcError::Invalid)?;
                return table.values.get(index).copied().ok_or(DcError::Invalid);
            }
        }
        Err(DcError::Invalid)
    }

    /// `n` (at most 16) raw bits as a signed coefficient (JPEG's EXTEND).
    #[inline]
    fn signed(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let v = (self.acc >> (64 - n)) as i32;
        self.consume(n);
        if v < (1 << (n - 1)) {
            v - (1 << n) + 1
        } else {
            v
        }
    }

    fn truncated(&self) -> bool {
        self.padding > self.count
    }

    /// At a restart interval: drop the byte's leftover bits and step over `RSTn`.
    fn restart(&mut self, expected: u8) -> Result<(), DcError> {
        if self.truncated() {
            return Err(DcError::Invalid);
        }
        if !self.at_marker {
            // Skip to the marker (only fill bits may be left before it).
            while self.data.get(self.pos) != Some(&0xFF)
                || self.data.get(self.pos + 1) == Some(&0x00)
            {
                self.pos += if self.data.get(self.pos) == Some(&0xFF) {
                    2
                } else {
                    1
                };
                if self.pos >= self.data.len() {
                    return Err(DcError::Invalid);
                }
            }
        }
        if self.data.get(self.pos..self.pos + 2) != Some(&[0xFF, 0xD0 + expected]) {
            return Err(DcError::Invalid);
        }
        self.pos += 2;
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        self.at_marker = false;
        Ok(())
    }
}

/// The frame header, and the MCU grid it implies.
struct Frame {
    width: usize,
    height: usize,
    components: Vec<Component>,
    /// The largest sampling factors: an MCU is `8 * h_max` x `8 * v_max` pixels.
    h_max: usize,
    v_max: usize,
    mcus_x: usize,
    mcus_y: usize,
}

#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc: usize,
    ac: usize,
}

/// Decodes `data` at 1/8 scale from the DC coefficients alone, if its frame is within `policy`.
///
/// # Errors
/// [`DcError::Unsupported`] for JPEG kinds left to a general decoder; [`DcError::Invalid`] for
/// malformed data; [`DcError::OverLimits`] for a frame over the policy's dimensions.
pub fn decode_dc(data: &[u8], policy: &ProcessingPolicy) -> Result<DcImage, DcError> {
    if data.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(DcError::Invalid);
    }
    let mut pos = 2;
    let mut quant_dc = [None::<i32>; 4];
    let mut dc_tables: [Option<Huffman>; 4] = Default::default();
    let mut ac_tables: [Option<Huffman>; 4] = Default::default();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0usize;
    let mut adobe_transform = None;
    loop {
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return Err(DcError::Invalid);
        }
        let marker = *data.get(pos + 1).ok_or(DcError::Invalid)?;
        pos += 2;
        if matches!(marker, 0xD0..=0xD9 | 0x01) {
            return Err(DcError::Invalid);
        }
        let len = usize::from(u16::from_be_bytes([
            *data.get(pos).ok_or(DcError::Invalid)?,
            *data.get(pos + 1).ok_or(DcError::Invalid)?,
        ]));
        let segment = data.get(pos + 2..pos + len).ok_or(DcError::Invalid)?;
        pos += len;
        match marker {
            0xC0 | 0xC1 => frame = Some(parse_frame(segment)?),
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(DcError::Unsupported);
            }
            0xC4 => parse_huffman(segment, &mut dc_tables, &mut ac_tables)?,
            0xDB => parse_quant(segment, &mut quant_dc)?,
            0xDD => {
                restart_interval = usize::from(u16::from_be_bytes(
                    segment
                        .get(..2)
                        .ok_or(DcError::Invalid)?
                        .try_into()
                        .unwrap_or([0, 0]),
                ));
            }
            0xEE if segment.starts_with(b"Adobe") => adobe_transform = segment.get(11).copied(),
            0xDA => {
                let mut frame = frame.ok_or(DcError::Invalid)?;
                let (width, height) = (frame.width as u32, frame.height as u32);
                if !policy.allows_dimensions(width, height) {
                    return Err(DcError::OverLimits);
                }
                if frame.components.len() == 3 && adobe_transform == Some(0) {
                    return Err(DcError::Unsupported);
                }
                parse_scan(segment, &mut frame.components)?;
                let quants = frame
                    .components
                    .iter()
                    .map(|c| quant_dc[c.quant].ok_or(DcError::Invalid))
                    .collect::<Result<Vec<_>, _>>()?;
                let tables = frame
                    .components
                    .iter()
                    .map(|c| match (&dc_tables[c.dc], &ac_tables[c.ac]) {
                        (Some(dc), Some(ac)) => Ok((dc, ac)),
                        _ => Err(DcError::Invalid),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let planes = decode_scan(data, pos, &frame, &tables, restart_interval)?;
                return Ok(to_rgb(&frame, &planes, &quants));
            }
            _ => {}
        }
    }
}

fn parse_frame(segment: &[u8]) -> Result<Frame, DcError> {
    let [precision, h1, h0, w1, w0, count, ..] = *segment else {
        return Err(DcError::Invalid);
    };
    if precision != 8 {
        return Err(DcError::Unsupported);
    }
    let height = usize::from(u16::from_be_bytes([h1, h0]));
    let width = usize::from(u16::from_be_bytes([w1, w0]));
    if width == 0 || height == 0 {
        return Err(DcError::Invalid);
    }
    if !matches!(count, 1 | 3) {
        return Err(DcError::Unsupported);
    }
    let mut components = Vec::new();
    for i in 0..usize::from(count) {
        let c = segment.get(6 + 3 * i..9 + 3 * i).ok_or(DcError::Invalid)?;
        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
            return Err(DcError::Invalid);
        }
        components.push(Component {
            id: c[0],
            h,
            v,
            quant: usize::from(c[2]),
            ..Component::default()
        });
    }
    if components.len() == 1 {
        // A single-component scan is not interleaved: its MCU is one block.
        components[0].h = 1;
        components[0].v = 1;
    }
    let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
    Ok(Frame {
        width,
        height,
        components,
        h_max,
        v_max,
        mcus_x: width.div_ceil(8 * h_max),
        mcus_y: height.div_ceil(8 * v_max),
    })
}

fn parse_huffman(
    mut segment: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), DcError> {
    while !segment.is_empty() {
        let class_id = segment[0];
        let counts: [u8; 16] = segment
            .get(1..17)
            .ok_or(DcError::Invalid)?
            .try_into()
            .map_err(|_| DcError::Invalid)?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = segment.get(17..17 + total).ok_or(DcError::Invalid)?;
        let table = Huffman::new(&counts, values)?;
        let id = usize::from(class_id & 15);
        match (class_id >> 4, id) {
            (0, 0..=3) => dc[id] = Some(table),
            (1, 0..=3) => ac[id] = Some(table),
            _ => return Err(DcError::Invalid),
        }
        segment = &segment[17 + total..];
    }
    Ok(())
}

fn parse_quant(mut segment: &[u8], quant_dc: &mut [Option<i32>; 4]) -> Result<(), DcError> {
    while !segment.is_empty() {
        let (precision, id) = (segment[0] >> 4, usize::from(segment[0] & 15));
        if id > 3 {
            return Err(DcError::Invalid);
        }
        let (dc, size) = match precision {
            0 => (i32::from(*segment.get(1).ok_or(DcError::Invalid)?), 65),
            1 => (
                i32::from(u16::from_be_bytes([
                    *segment.get(1).ok_or(DcError::Invalid)?,
                    *segment.get(2).ok_or(DcError::Invalid)?,
                ])),
                129,
            ),
            _ => return Err(DcError::Invalid),
        };
        if segment.len() < size {
            return Err(DcError::Invalid);
        }
        quant_dc[id] = Some(dc);
        segment = &segment[size..];
    }
    Ok(())
}

fn parse_scan(segment: &[u8], components: &mut [Component]) -> Result<(), DcError> {
    let count = usize::from(*segment.first().ok_or(DcError::Invalid)?);
    if count != components.len() {
        // Baseline files may spread components over several scans; leave those to the fallback.
        return Err(DcError::Unsupported);
    }
    for i in 0..count {
        let s = segment.get(1 + 2 * i..3 + 2 * i).ok_or(DcError::Invalid)?;
        let component = components
            .iter_mut()
            .find(|c| c.id == s[0])
            .ok_or(DcError::Invalid)?;
        component.dc = usize::from(s[1] >> 4);
        component.ac = usize::from(s[1] & 15);
        if component.dc > 3 || component.ac > 3 {
            return Err(DcError::Invalid);
        }
    }
    Ok(())
}

/// The DC coefficient of every block, one plane of blocks per component.
/// `tables` are each component's DC and AC Huffman tables.
fn decode_scan(
    data: &[u8],
    start: usize,
    frame: &Frame,
    tables: &[(&Huffman, &Huffman)],
    restart_interval: usize,
) -> Result<Vec<Vec<i32>>, DcError> {
    let (components, mcus_x, mcus_y) = (&frame.components, frame.mcus_x, frame.mcus_y);
    let mut planes: Vec<Vec<i32>> = components
        .iter()
        .map(|c| vec![0; mcus_x * c.h * mcus_y * c.v])
        .collect();
    let mut predictors = vec![0i32; components.len()];
    let mut bits = Bits::new(data, start);
    let mut until_restart = restart_interval;
    let mut next_restart = 0u8;
    for mcu_y in 0..mcus_y {
        for mcu_x in 0..mcus_x {
            if restart_interval > 0 {
                if until_restart == 0 {
                    bits.restart(next_restart)?;
                    next_restart = (next_restart + 1) % 8;
                    predictors.fill(0);
                    until_restart = restart_interval;
                }
                until_restart -= 1;
            }
            for (i, c) in components.iter().enumerate() {
                let stride = mcus_x * c.h;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        let size = u32::from(bits.symbol(tables[i].0)?);
                        if size > 11 {
                            return Err(DcError::Invalid);
                        }
                        // Wrapping: a hostile stream may add up differences without bound.
                        predictors[i] = predictors[i].wrapping_add(bits.signed(size));
                        planes[i][(mcu_y * c.v + by) * stride + mcu_x * c.h + bx] = predictors[i];
                        let mut k = 1;
                        while k < 64 {
                            let rs = bits.symbol(tables[i].1)?;
                            let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
                            if size == 0 {
                                if run != 15 {
                                    break;
                                }
                                k += 16;
                                continue;
                            }
                            k += run + 1;
                            bits.consume(size);
                        }
                        if k > 64 {
                            return Err(DcError::Invalid);
                        }
                    }
                }
            }
        }
    }
    if bits.truncated() {
        return Err(DcError::Invalid);
    }
    Ok(planes)
}

fn to_rgb(frame: &Frame, planes: &[Vec<i32>], quants: &[i32]) -> DcImage {
    let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
    let mcus_x = frame.mcus_x;
    let (out_w, out_h) = (frame.width.div_ceil(8), frame.height.div_ceil(8));
    // A block's mean sample is DC x quant / 8 (the IDCT's DC term), centred on 128.
    let sample = |i: usize, x: usize, y: usize| -> i32 {
        let c = &components[i];
        let (bx, by) = (x * c.h / h_max, y * c.v / v_max);
        let dc = planes[i][by * mcus_x * c.h + bx].wrapping_mul(quants[i]);
        dc.saturating_add(4).div_euclid(8) + 128
    };
    let mut rgb = Vec::with_capacity(out_w * out_h * 3);
    for y in 0..out_h {
        for x in 0..out_w {
            let luma = sample(0, x, y);
            if components.len() == 1 {
                let l = luma.clamp(0, 255) as u8;
                rgb.extend_from_slice(&[l, l, l]);
                continue;
            }
            let (cb, cr) = (sample(1, x, y) - 128, sample(2, x, y) - 128);
            // JFIF YCbCr -> RGB in 16.16 fixed point.
            let r = luma + ((91_881 * cr + 32_768) >> 16);
            let g = luma - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
            let b = luma + ((116_130 * cb + 32_768) >> 16);
            rgb.extend_from_slice(&[r, g, b].map(|v| v.clamp(0, 255) as u8));
        }
    }
    DcImage {
        width: out_w as u32,
        height: out_h as u32,
        full_width: frame.width as u32,
        full_height: frame.height as u32,
        rgb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same image at 1/8 scale from `jpeg-decoder` (a full IDCT at reduced size).
    fn reference(data: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(data);
        decoder.read_info().unwrap();
        let info = decoder.info().unwrap();
        let (w, h) = decoder
            .scale(info.width.div_ceil(8), info.height.div_ceil(8))
            .unwrap();
        let pixels = decoder.decode().unwrap();
        let rgb = match decoder.info().unwrap().pixel_format {
            jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
            _ => pixels,
        };
        (u32::from(w), u32::from(h), rgb)
    }

    fn mean_abs_difference(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let total: u64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum();
        total as f64 / a.len() as f64
    }

    fn gray(rgb: &[u8]) -> Vec<u8> {
        rgb.chunks(3)
            .map(|p| {
                let y = u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114;
                (y / 1000) as u8
            })
            .collect()
    }

    fn encoded(image: &image::DynamicImage, quality: u8) -> Vec<u8> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(image)
            .unwrap();
        jpeg
    }

    #[test]
    fn matches_a_general_decoder_at_one_eighth_scale() {
        let gradient = image::RgbImage::from_fn(803, 601, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
        });
        let inputs = [
            (
                "4:2:0, EXIF (Pillow)",
                include_bytes!("../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
            ),
            (
                "4:2:0 rotated (Pillow)",
                include_bytes!("../../fixtures/images/portrait-exif-rotated.jpg").to_vec(),
            ),
            (
                "sunset",
                include_bytes!("../../fixtures/images/sunset-64x48.jpg").to_vec(),
            ),
            (
                "odd size, image's encoder",
                encoded(&gradient.clone().into(), 90),
            ),
            (
                "grayscale",
                encoded(
                    &image::DynamicImage::ImageRgb8(gradient).into_luma8().into(),
                    80,
                ),
            ),
        ];
        for (name, jpeg) in inputs {
            let ours = decode_dc(&jpeg, &ProcessingPolicy::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let (w, h, expected) = reference(&jpeg);
            assert_eq!((ours.width, ours.height), (w, h), "{name}");
            let difference = mean_abs_difference(&ours.rgb, &expected);
            // Luma is never subsampled: it must match. Subsampled chroma is upsampled by
            // repetition here and by interpolation there, which differs at sharp colour edges of
            // tiny images, so full colour is compared on the smooth large image only.
            let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
            assert!(luma < 1.5, "{name}: mean luma difference {luma}");
            if name.starts_with("odd size") {
                assert!(difference < 2.0, "{name}: mean difference {difference}");
            }
        }
    }

    #[test]
    fn truncated_or_corrupt_data_is_invalid() {
        let jpeg = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg");
        let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for cut in [jpeg.len() / 2, scan + 20, jpeg.len() - 40] {
            assert_eq!(
                decode_dc(&jpeg[..cut], &ProcessingPolicy::default()).unwrap_err(),
                DcError::Invalid,
                "cut at {cut}"
            );
        }
        assert_eq!(
            decode_dc(b"\xFF\xD8\xFF\xD9", &ProcessingPolicy::default()).unwrap_err(),
            DcError::Invalid
        );
        assert_eq!(
            decode_dc(b"GIF89a", &ProcessingPolicy::default()).unwrap_err(),
            DcError::Invalid
        );
    }

    #[test]
    fn progressive_jpegs_are_left_to_the_general_decoder() {
        // SOI, then a progressive frame header (SOF2).
        let progressive = b"\xFF\xD8\xFF\xC2\x00\x0B\x08\x00\x10\x00\x10\x01\x01\x11\x00";
        assert_eq!(
            decode_dc(progressive, &ProcessingPolicy::default()).unwrap_err(),
            DcError::Unsupported
        );
    }

    proptest::proptest! {
        #[test]
        fn corrupted_files_are_refused_or_decoded_never_a_panic(
            edits in proptest::collection::vec((0usize..860, proptest::prelude::any::<u8>()), 1..8)
        ) {
            let mut jpeg = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg").to_vec();
            for (at, byte) in edits {
                let at = at % jpeg.len();
                jpeg[at] = byte;
            }
            if let Ok(image) = decode_dc(&jpeg, &ProcessingPolicy::default()) {
                let expected = image.width as usize * image.height as usize * 3;
                proptest::prop_assert_eq!(image.rgb.len(), expected);
            }
        }
    }
}
