//! The 1/8-scale image from the DC planes: each block's mean sample (its DC coefficient
//! dequantized, as the IDCT's DC term), upsampled by repetition where a component is sampled
//! at a lower rate, then JFIF YCbCr to RGB.

use super::plane::Dc;
use crate::imaging::jpeg::header::Frame;

/// The scales this decoder decodes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 1/8: each block's DC coefficient.
    Eighth,
    /// 1/2: each block's 4 x 4 lowest frequencies.
    Half,
}

impl Scale {
    /// The size of `frame`'s image at this scale (rounded up, as libjpeg's scaled output).
    pub(super) fn size(self, frame: &Frame) -> (u16, u16) {
        match self {
            Self::Eighth => frame.eighth_size(),
            Self::Half => (frame.width.div_ceil(2), frame.height.div_ceil(2)),
        }
    }
}

/// The image at a reduced scale (1/8: `ceil(width / 8)` x `ceil(height / 8)`; 1/2:
/// `ceil(width / 2)` x `ceil(height / 2)`), RGB8, and the full-size dimensions of the frame it was
/// decoded from (the ones the limits were checked against).
#[derive(Debug, Clone)]
pub struct ScaledImage {
    pub width: u32,
    pub height: u32,
    pub full_width: u32,
    pub full_height: u32,
    pub rgb: Vec<u8>,
}

impl ScaledImage {
    /// `rgb`, the image of `frame` at `scale`, with the sizes of both.
    pub(super) fn of_frame(frame: &Frame, scale: Scale, rgb: Vec<u8>) -> Self {
        let (width, height) = scale.size(frame);
        Self {
            width: u32::from(width),
            height: u32::from(height),
            full_width: u32::from(frame.width),
            full_height: u32::from(frame.height),
            rgb,
        }
    }
}

/// `v` clamped into a byte, as a decoder's output stage does.
#[inline]
fn to_byte(v: i32) -> u8 {
    // Within 0..=255 once clamped: exact in u8.
    v.clamp(0, 255) as u8
}

/// A block's mean sample: DC x quant / 8 (the IDCT's DC term), centred on 128, and clamped to a
/// sample's range before colour conversion, as a full decoder's IDCT output.
#[inline]
fn mean_sample(dc: Dc, quant: u16) -> u8 {
    // |dc| <= DC_LIMIT = 2^11 and quant < 2^16: |product| < 2^27, exact in i32; `>> 3` is the
    // division by 8 rounded down (`div_euclid`).
    to_byte(((i32::from(dc) * i32::from(quant) + 4) >> 3) + 128)
}

/// One component's samples along an output row: its blocks' mean samples, repeated as its
/// sampling factor says. Kept from row to row while the rows fall on the same row of blocks.
struct SampleRow {
    samples: Vec<u8>,
    /// For each output column, the block along the row; `None` when it is the column itself
    /// (the component is sampled at the frame's highest rate across).
    columns: Option<Vec<u16>>,
    block_row: Option<usize>,
}

impl SampleRow {
    /// For a component sampled `h` times across where the frame's highest is `h_max`, and
    /// `width` output columns.
    fn new(h: usize, h_max: usize, width: usize) -> Self {
        // x < ceil(frame width / 8) <= mcus_x * h_max, so x * h / h_max < mcus_x * h <= 2^15.
        let columns = (h != h_max).then(|| {
            (0..width)
                .map(|x| u16::try_from(x * h / h_max).unwrap_or(u16::MAX))
                .collect()
        });
        Self {
            samples: vec![0; width],
            columns,
            block_row: None,
        }
    }

    /// Loads the samples of `blocks`, the row of blocks output row falls on (`block_row`).
    fn load(&mut self, block_row: usize, blocks: &[Dc], quant: u16) {
        if self.block_row == Some(block_row) {
            return;
        }
        self.block_row = Some(block_row);
        match &self.columns {
            None => {
                for (sample, &dc) in self.samples.iter_mut().zip(blocks) {
                    *sample = mean_sample(dc, quant);
                }
                // The row holds at least `width` blocks (see `new`); were it short, the rest
                // would read as DC 0, as with `columns`.
                if let Some(rest) = self.samples.get_mut(blocks.len()..) {
                    rest.fill(mean_sample(0, quant));
                }
            }
            Some(columns) => {
                for (sample, &column) in self.samples.iter_mut().zip(columns) {
                    let dc = blocks.get(usize::from(column)).copied().unwrap_or(0);
                    *sample = mean_sample(dc, quant);
                }
            }
        }
    }
}

/// JFIF YCbCr -> RGB in 16.16 fixed point, a row at a time.
pub(super) fn ycbcr_row(out: &mut [u8], luma: &[u8], blue: &[u8], red: &[u8]) {
    for (((pixel, &l), &cb), &cr) in out.chunks_exact_mut(3).zip(luma).zip(blue).zip(red) {
        // Each within -128..=127, so every product below is under 2^24.
        let (l, cb, cr) = (i32::from(l), i32::from(cb) - 128, i32::from(cr) - 128);
        let r = l + ((91_881 * cr + 32_768) >> 16);
        let g = l - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
        let b = l + ((116_130 * cb + 32_768) >> 16);
        pixel.copy_from_slice(&[to_byte(r), to_byte(g), to_byte(b)]);
    }
}

/// The image of the blocks' mean samples (each block one pixel), in RGB: what a decoder at 1/8
/// scale outputs, up to its rounding. The components were checked to be one or three.
pub(super) fn to_rgb(frame: &Frame, planes: &[Vec<Dc>], quants: &[u16]) -> ScaledImage {
    let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
    let (out_w, out_h) = frame.eighth_size();
    let (width, height) = (usize::from(out_w), usize::from(out_h));
    let mut rgb = vec![0u8; width * height * 3];
    let mut rows: Vec<SampleRow> = components
        .iter()
        .map(|c| SampleRow::new(c.h, h_max, width))
        .collect();
    for (y, out) in rgb.chunks_exact_mut((width * 3).max(1)).enumerate() {
        for (i, (row, c)) in rows.iter_mut().zip(components).enumerate() {
            // Output row y falls on the component's block row y * c.v / v_max: below the
            // plane's rows (y < ceil(height / 8) <= mcus_y * v_max), so the slice is within it.
            let stride = frame.mcus_x * c.h;
            let block_row = y * c.v / v_max;
            let start = block_row * stride;
            let blocks = planes[i].get(start..start + stride).unwrap_or(&[]);
            row.load(block_row, blocks, quants.get(i).copied().unwrap_or(1));
        }
        match rows.as_slice() {
            [luma] => {
                for (pixel, &l) in out.chunks_exact_mut(3).zip(&luma.samples) {
                    pixel.fill(l);
                }
            }
            [luma, blue, red, ..] => ycbcr_row(out, &luma.samples, &blue.samples, &red.samples),
            _ => {}
        }
    }
    ScaledImage::of_frame(frame, Scale::Eighth, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::jpeg::dc::plane::DC_LIMIT;
    use crate::imaging::jpeg::dc::tests::{every_sampling, frame_sampled, numbers};

    /// The reference of [`to_rgb`]: each output pixel computed on its own, with divisions.
    fn reference_rgb(frame: &Frame, planes: &[Vec<Dc>], quants: &[u16]) -> ScaledImage {
        let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
        let (out_w, out_h) = frame.eighth_size();
        let (width, height) = (usize::from(out_w), usize::from(out_h));
        // A block's mean sample is DC x quant / 8 (the IDCT's DC term), centred on 128, and
        // clamped to a sample's range before colour conversion, as a full decoder's IDCT output.
        // |dc| <= DC_LIMIT = 2^11 and quant < 2^16: |product| < 2^27, exact in i32.
        let mean = |dc: Dc, quant: u16| {
            ((i32::from(dc) * i32::from(quant) + 4).div_euclid(8) + 128).clamp(0, 255)
        };
        let mut rgb = vec![0u8; width * height * 3];
        // Row `y` of component `c`'s samples at output scale: its blocks' row
        // `y * c.v / v_max`, and along it block `x * c.h / h_max` for output pixel `x`, stepped
        // without dividing.
        // x < ceil(width / 8) <= mcus_x * h_max, so x * c.h / h_max < mcus_x * c.h, the plane's
        // stride; likewise for y and the plane's rows: every index is within the plane.
        let row = |i: usize, y: usize| -> &[Dc] {
            let c = &components[i];
            let stride = frame.mcus_x * c.h;
            let start = y * c.v / v_max * stride;
            planes[i].get(start..start + stride).unwrap_or(&[])
        };
        let columns = |i: usize| {
            // block = x * step / h_max, carried along: step <= h_max, so the remainder passes
            // h_max at most once a pixel.
            let step = components[i].h;
            (0..width).scan((0usize, 0usize), move |(block, remainder), _| {
                let this = *block;
                *remainder += step;
                if *remainder >= h_max {
                    *remainder -= h_max;
                    *block += 1;
                }
                Some(this)
            })
        };
        let sample = |plane: &[Dc], x: usize, i: usize| {
            mean(
                plane.get(x).copied().unwrap_or(0),
                quants.get(i).copied().unwrap_or(1),
            )
        };
        for (y, out) in rgb.chunks_exact_mut((width * 3).max(1)).enumerate() {
            if let [_] = components.as_slice() {
                let luma = row(0, y);
                for (x, pixel) in out.chunks_exact_mut(3).enumerate() {
                    pixel.fill(to_byte(sample(luma, x, 0)));
                }
                continue;
            }
            let (luma, blue, red) = (row(0, y), row(1, y), row(2, y));
            let columns = columns(0).zip(columns(1)).zip(columns(2));
            for (pixel, ((lx, bx), rx)) in out.chunks_exact_mut(3).zip(columns) {
                let l = sample(luma, lx, 0);
                // Each within -128..=127, so every product below is under 2^24.
                let (cb, cr) = (sample(blue, bx, 1) - 128, sample(red, rx, 2) - 128);
                // JFIF YCbCr -> RGB in 16.16 fixed point.
                let r = l + ((91_881 * cr + 32_768) >> 16);
                let g = l - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
                let b = l + ((116_130 * cb + 32_768) >> 16);
                pixel.copy_from_slice(&[r, g, b].map(to_byte));
            }
        }
        ScaledImage::of_frame(frame, Scale::Eighth, rgb)
    }

    #[test]
    fn the_row_by_row_colour_conversion_matches_the_pixel_by_pixel_reference() {
        let mut next = numbers(0x2545_F491_4F6C_DD1Du64);
        // Every sampling the decoder accepts, on odd sizes.
        let samplings = every_sampling();
        for factors in &samplings {
            for _ in 0..3 {
                let (width, height) = (1 + next(300) as u16, 1 + next(200) as u16);
                let frame = frame_sampled(width, height, factors);
                let planes: Vec<Vec<Dc>> = frame
                    .components
                    .iter()
                    .map(|c| {
                        (0..frame.stored_blocks(c))
                            .map(|_| next(2 * DC_LIMIT as u64 + 1) as Dc - DC_LIMIT as Dc)
                            .collect()
                    })
                    .collect();
                let quants: Vec<u16> = factors
                    .iter()
                    .map(|_| {
                        // Small quantizers as in photos, and large ones that saturate.
                        let largest = if next(2) == 0 { 255 } else { 65_535 };
                        1 + next(largest) as u16
                    })
                    .collect();
                let fast = to_rgb(&frame, &planes, &quants);
                let reference = reference_rgb(&frame, &planes, &quants);
                assert_eq!(
                    (fast.width, fast.height),
                    (reference.width, reference.height)
                );
                assert!(
                    fast.rgb == reference.rgb,
                    "{factors:?}, {width} x {height}: the pixels differ"
                );
            }
        }
    }
}
