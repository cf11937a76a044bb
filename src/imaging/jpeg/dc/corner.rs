//! The image at 1/2 scale from each block's 16 lowest-frequency coefficients (the 4 x 4 corner
//! of its 8 x 8): dequantized, through a 4-point IDCT on each axis (what libjpeg's and
//! `jpeg-decoder`'s 4 x 4 reduced IDCTs compute), then upsampled where a component is sampled at
//! a lower rate (by 2 across or down, as 4:2:0 and 4:2:2 chroma, with libjpeg's triangle filter;
//! other ratios by repetition), and
//! JFIF YCbCr to RGB as at 1/8 scale.
//!
//! The scans keep only the corner of each block ([`Corner`], 32 bytes), so a block's other 48
//! coefficients are read past as at 1/8 scale.

use super::colour::{Scale, ScaledImage, ycbcr_row};
use super::plane::Dc;
use crate::imaging::jpeg::header::Frame;

/// A block's 16 lowest-frequency coefficients, quantized, row by row: index `4 * v + u` holds the
/// coefficient of vertical frequency `v` and horizontal frequency `u` (the DC at 0).
pub(super) type Corner = [i16; 16];

/// Bytes a plane of corners needs for each block.
pub(super) const CORNER_BYTES_PER_BLOCK: u64 = 32;

/// Bytes each block's samples at 1/2 scale take (4 x 4, one byte each) before colour conversion.
pub(super) const HALF_SAMPLES_PER_BLOCK: u64 = 16;

/// The zigzag order (A.3.6): the row-major position in the 8 x 8 block of each coded coefficient.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// [`CORNER_OF_ZIGZAG`]'s mark of a coefficient outside the corner.
pub(super) const NOT_IN_CORNER: u8 = 16;

/// For each coefficient in zigzag order, its index in a [`Corner`], or [`NOT_IN_CORNER`].
pub(super) const CORNER_OF_ZIGZAG: [u8; 64] = corner_of_zigzag();

/// The last coefficient, in zigzag order, that lies in the corner (row 3, column 3): every one
/// after it is read past.
pub(super) const LAST_IN_CORNER: u32 = 24;

const fn corner_of_zigzag() -> [u8; 64] {
    let mut table = [NOT_IN_CORNER; 64];
    let mut k = 0;
    while k < 64 {
        let (row, column) = (ZIGZAG[k] / 8, ZIGZAG[k] % 8);
        if row < 4 && column < 4 {
            table[k] = row * 4 + column;
        }
        k += 1;
    }
    table
}

/// The corner's 16 quantizers of a table given in zigzag order, row by row as in a [`Corner`].
pub(super) fn corner_quantizers(zigzag: &[u16; 64]) -> [u16; 16] {
    let mut corner = [0; 16];
    for (&index, &quantizer) in CORNER_OF_ZIGZAG.iter().zip(zigzag) {
        if let Some(slot) = corner.get_mut(usize::from(index)) {
            *slot = quantizer;
        }
    }
    corner
}

/// The 4-point IDCT at half scale, `BASIS[u][x] = C(u) / 2 * cos((2x + 1) u pi / 8)` with
/// `C(0) = 1 / sqrt(2)`: on both axes, a DC-only block gives DC / 8, its mean sample, as the
/// 8 x 8 IDCT does; the AC terms are libjpeg's `jpeg_idct_4x4`'s.
const BASIS: [[f32; 4]; 4] = [
    [0.353_553_4, 0.353_553_4, 0.353_553_4, 0.353_553_4],
    [0.461_939_77, 0.191_341_72, -0.191_341_72, -0.461_939_77],
    [0.353_553_4, -0.353_553_4, -0.353_553_4, 0.353_553_4],
    [0.191_341_72, -0.461_939_77, 0.461_939_77, -0.191_341_72],
];

/// One block's 4 x 4 samples from its corner, dequantized by `quant` (as f32), into `out` (rows
/// `stride` apart).
#[inline]
fn idct_4x4(corner: &Corner, quant: &[f32; 16], out: &mut [u8], stride: usize) {
    let mut f = [0f32; 16];
    for ((f, &c), &q) in f.iter_mut().zip(corner).zip(quant) {
        *f = f32::from(c) * q;
    }
    // Each row v of coefficients across: tmp[v][x] = sum over u of f[v][u] * BASIS[u][x].
    let mut tmp = [[0f32; 4]; 4];
    for (row, coefficients) in tmp.iter_mut().zip(f.chunks_exact(4)) {
        for (&c, basis) in coefficients.iter().zip(&BASIS) {
            for (t, &b) in row.iter_mut().zip(basis) {
                *t += c * b;
            }
        }
    }
    // Then down: sample[y][x] = sum over v of BASIS[v][y] * tmp[v][x], centred on 128 and
    // rounded (+ 0.5, then truncated once clamped to 0..=255).
    for y in 0..4 {
        let mut sample = [128.5f32; 4];
        for (row, basis) in tmp.iter().zip(&BASIS) {
            for (s, &t) in sample.iter_mut().zip(row) {
                *s += basis[y] * t;
            }
        }
        let line = &mut out[y * stride..y * stride + 4];
        for (o, s) in line.iter_mut().zip(sample) {
            // Clamped to 0..=255.5 first: within a byte once truncated.
            *o = s.clamp(0.0, 255.0) as i32 as u8;
        }
    }
}

/// A block's samples when its 15 AC coefficients in the corner are zero: its mean, everywhere.
#[inline]
fn flat_4x4(dc: Dc, quant: f32, out: &mut [u8], stride: usize) {
    let value = (f32::from(dc) * quant * 0.125 + 128.5).clamp(0.0, 255.0) as u8;
    for y in 0..4 {
        out[y * stride..y * stride + 4].fill(value);
    }
}

/// One component's samples at 1/2 scale: 4 x 4 a block over its whole MCUs, `width` across.
struct SamplePlane {
    samples: Vec<u8>,
    width: usize,
}

impl SamplePlane {
    /// The samples of `corners`, a component's blocks `blocks_across` to a row, dequantized by
    /// `quant`.
    fn new(corners: &[Corner], blocks_across: usize, quant: &[u16; 16]) -> Self {
        let width = blocks_across * 4;
        let rows = corners.len().checked_div(blocks_across).unwrap_or(0);
        let mut samples = vec![0u8; width * rows * 4];
        let quant = quant.map(f32::from);
        if width > 0 {
            for (block_row, out) in samples.chunks_exact_mut(width * 4).enumerate() {
                let start = block_row * blocks_across;
                for (bx, corner) in corners[start..start + blocks_across].iter().enumerate() {
                    let out = &mut out[bx * 4..];
                    if corner[1..].iter().all(|&c| c == 0) {
                        flat_4x4(corner[0], quant[0], out, width);
                    } else {
                        idct_4x4(corner, &quant, out, width);
                    }
                }
            }
        }
        Self { samples, width }
    }

    /// Row `y` (within the plane).
    fn row(&self, y: usize) -> &[u8] {
        self.samples
            .get(y * self.width..(y + 1) * self.width)
            .unwrap_or(&[])
    }
}

/// Output row `y` of a component sampled at half the frame's rate across (`h2`), down (`v2`) or
/// both, from its `across` x `down` samples in `plane` (at least one each way), into `out` (`across`
/// long, twice that if `h2`): libjpeg's "fancy" upsampling, a triangle filter (3/4 of the nearer
/// sample, 1/4 of the farther) on each doubled axis, the edges' samples repeated, with
/// `jpeg-decoder`'s rounding.
fn upsample_triangle(plane: &SamplePlane, y: usize, sampling: Triangle, out: &mut [u8]) {
    let Triangle {
        across,
        down,
        h2,
        v2,
    } = sampling;
    let (near_row, far_row) = if v2 {
        let near = (y / 2).min(down - 1);
        let far = if y.is_multiple_of(2) {
            near.saturating_sub(1)
        } else {
            (near + 1).min(down - 1)
        };
        (near, far)
    } else {
        (y.min(down - 1), y.min(down - 1))
    };
    let (Some(near), Some(far)) = (
        plane.row(near_row).get(..across),
        plane.row(far_row).get(..across),
    ) else {
        return;
    };
    // Each within 0..=255 after its shift: exact in u8.
    match (h2, v2) {
        (true, true) => {
            // Column sums of 3 x near + far: at most 4 x 255.
            let sum = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
            let mut t1 = sum(0);
            out[0] = ((t1 + 2) >> 2) as u8;
            for i in 1..across {
                let t0 = t1;
                t1 = sum(i);
                out[i * 2 - 1] = ((3 * t0 + t1 + 8) >> 4) as u8;
                out[i * 2] = ((3 * t1 + t0 + 8) >> 4) as u8;
            }
            out[across * 2 - 1] = ((t1 + 2) >> 2) as u8;
        }
        (true, false) => {
            let at = |i: usize| u32::from(near[i]);
            out[0] = near[0];
            out[across * 2 - 1] = near[across - 1];
            if across > 1 {
                out[1] = ((3 * at(0) + at(1) + 2) >> 2) as u8;
                for i in 1..across - 1 {
                    out[i * 2] = ((3 * at(i) + at(i - 1) + 2) >> 2) as u8;
                    out[i * 2 + 1] = ((3 * at(i) + at(i + 1) + 2) >> 2) as u8;
                }
                out[across * 2 - 2] = ((3 * at(across - 1) + at(across - 2) + 2) >> 2) as u8;
            } else {
                out[1] = near[0];
            }
        }
        (false, _) => {
            for ((o, &n), &f) in out.iter_mut().zip(near).zip(far) {
                *o = ((3 * u32::from(n) + u32::from(f) + 2) >> 2) as u8;
            }
        }
    }
}

/// A component sampled at half the frame's rate across, down or both: see [`upsample_triangle`].
#[derive(Clone, Copy)]
struct Triangle {
    across: usize,
    down: usize,
    h2: bool,
    v2: bool,
}

/// How a component's samples become an output row.
enum Upsampling {
    /// Sampled at the frame's highest rate: its own rows.
    None,
    /// At half the rate across, down or both (4:2:2, 4:4:0, 4:2:0 chroma).
    Triangle(Triangle),
    /// Any other ratio: the sample under each output column, repeated.
    Repeat(Vec<usize>),
}

/// The image at 1/2 scale (`ceil(width / 2)` x `ceil(height / 2)`), RGB8, from every block's
/// corner; `quants` are each component's corner quantizers. The components were checked to be
/// one or three.
pub(super) fn corners_to_rgb(
    frame: &Frame,
    planes: Vec<Vec<Corner>>,
    quants: &[[u16; 16]],
) -> ScaledImage {
    let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
    let (out_w, out_h) = Scale::Half.size(frame);
    let (width, height) = (usize::from(out_w), usize::from(out_h));
    // Each component's corners are dropped once its samples are made, before the output is
    // allocated.
    let samples: Vec<SamplePlane> = components
        .iter()
        .zip(planes)
        .zip(quants)
        .map(|((c, corners), quant)| SamplePlane::new(&corners, frame.mcus_x * c.h, quant))
        .collect();
    let upsampling: Vec<Upsampling> = components
        .iter()
        .map(|c| {
            let (h1, v1) = (c.h == h_max, c.v == v_max);
            let (h2, v2) = (c.h * 2 == h_max, c.v * 2 == v_max);
            if h1 && v1 {
                Upsampling::None
            } else if (h1 || h2) && (v1 || v2) {
                // The component's samples that the output covers: at least one each way, and
                // within its plane (the plane holds whole MCUs).
                let covered =
                    |side: usize, half: bool| if half { side.div_ceil(2) } else { side }.max(1);
                Upsampling::Triangle(Triangle {
                    across: covered(width, h2),
                    down: covered(height, v2),
                    h2,
                    v2,
                })
            } else {
                // x < ceil(width / 2) <= mcus_x * h_max * 4, so x * h / h_max < mcus_x * h * 4,
                // the plane's width.
                Upsampling::Repeat((0..width).map(|x| x * c.h / h_max).collect())
            }
        })
        .collect();
    // Wide enough for a triangle-upsampled row, which may pass the output by a sample.
    let mut upsampled: Vec<Vec<u8>> = vec![vec![0; width + 1]; components.len()];
    let mut rgb = vec![0u8; width * height * 3];
    for (y, out) in rgb.chunks_exact_mut((width * 3).max(1)).enumerate() {
        let mut rows: [&[u8]; 3] = [&[]; 3];
        for (i, ((c, plane), buffer)) in components
            .iter()
            .zip(&samples)
            .zip(upsampled.iter_mut())
            .enumerate()
            .take(3)
        {
            // y < ceil(height / 2) <= mcus_y * v_max * 4: within the plane's rows.
            rows[i] = match &upsampling[i] {
                Upsampling::None => {
                    let row = plane.row(y);
                    row.get(..width).unwrap_or(row)
                }
                &Upsampling::Triangle(triangle) => {
                    upsample_triangle(plane, y, triangle, buffer);
                    &buffer[..width]
                }
                Upsampling::Repeat(columns) => {
                    let row = plane.row(y * c.v / v_max);
                    for (sample, &x) in buffer.iter_mut().zip(columns) {
                        *sample = row.get(x).copied().unwrap_or(128);
                    }
                    &buffer[..width]
                }
            };
        }
        match components.len() {
            1 => {
                for (pixel, &l) in out.chunks_exact_mut(3).zip(rows[0]) {
                    pixel.fill(l);
                }
            }
            _ => ycbcr_row(out, rows[0], rows[1], rows[2]),
        }
    }
    ScaledImage::of_frame(frame, Scale::Half, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::jpeg::dc::tests::{every_sampling, frame_sampled, numbers};

    #[test]
    fn every_sampling_converts_like_a_pixel_by_pixel_reference() {
        let mut next = numbers(0x9E37_79B9_7F4A_7C15u64);
        // Every sampling the decoder accepts, on odd sizes.
        let samplings = every_sampling();
        for factors in &samplings {
            let (width, height) = (1 + next(150) as u16, 1 + next(100) as u16);
            let frame = frame_sampled(width, height, factors);
            let planes: Vec<Vec<Corner>> = frame
                .components
                .iter()
                .map(|c| {
                    (0..frame.stored_blocks(c))
                        .map(|_| core::array::from_fn(|i| next(64) as i16 - 32 + i16::from(i == 0)))
                        .collect()
                })
                .collect();
            let quants: Vec<[u16; 16]> = factors.iter().map(|_| [4; 16]).collect();
            // Act
            let image = corners_to_rgb(&frame, planes.clone(), &quants);
            // Assert: the size, and where no component is upsampled by the triangle filter
            // (whose reference is `jpeg-decoder`, in the decoder's tests), every pixel.
            let (w, h) = (
                usize::from(width.div_ceil(2)),
                usize::from(height.div_ceil(2)),
            );
            assert_eq!((image.width as usize, image.height as usize), (w, h));
            assert_eq!(image.rgb.len(), w * h * 3);
            let (h_max, v_max) = (frame.h_max, frame.v_max);
            let halves = frame.components.iter().any(|c| {
                let half = |f: usize, max: usize| f * 2 == max;
                (c.h != h_max || c.v != v_max)
                    && (c.h == h_max || half(c.h, h_max))
                    && (c.v == v_max || half(c.v, v_max))
            });
            if halves {
                continue;
            }
            // Component i's sample at its own (x, y): its block's IDCT, alone.
            let sample = |i: usize, x: usize, y: usize| {
                let c = &frame.components[i];
                let stride = frame.mcus_x * c.h;
                let mut out = [0u8; 16];
                let corner = &planes[i][(y / 4) * stride + x / 4];
                idct_4x4(corner, &quants[i].map(f32::from), &mut out, 4);
                if corner[1..].iter().all(|&v| v == 0) {
                    flat_4x4(corner[0], f32::from(quants[i][0]), &mut out, 4);
                }
                out[(y % 4) * 4 + x % 4]
            };
            for y in 0..h {
                for x in 0..w {
                    let values: Vec<u8> = frame
                        .components
                        .iter()
                        .enumerate()
                        .map(|(i, c)| sample(i, x * c.h / h_max, y * c.v / v_max))
                        .collect();
                    let mut expected = [values[0]; 3];
                    if let [l, cb, cr] = values[..] {
                        ycbcr_row(&mut expected, &[l], &[cb], &[cr]);
                    }
                    let at = (y * w + x) * 3;
                    assert_eq!(
                        image.rgb[at..at + 3],
                        expected,
                        "{factors:?} {width}x{height} at ({x}, {y})"
                    );
                }
            }
        }
    }

    #[test]
    fn the_corner_is_the_sixteen_lowest_frequencies_in_zigzag_order() {
        // Zigzag positions of rows 0..4, columns 0..4, row by row (A.3.6, figure A.6).
        let expected = [0, 1, 5, 6, 2, 4, 7, 13, 3, 8, 12, 17, 9, 11, 18, 24];
        for (index, &k) in expected.iter().enumerate() {
            assert_eq!(usize::from(CORNER_OF_ZIGZAG[k]), index, "zigzag {k}");
        }
        let in_corner = CORNER_OF_ZIGZAG
            .iter()
            .filter(|&&i| i != NOT_IN_CORNER)
            .count();
        assert_eq!(in_corner, 16);
        assert_eq!(
            CORNER_OF_ZIGZAG
                .iter()
                .rposition(|&i| i != NOT_IN_CORNER)
                .map(|k| k as u32),
            Some(LAST_IN_CORNER)
        );
    }

    #[test]
    fn the_idct_matches_its_definition_in_f64() {
        // Arrange: corners with every coefficient in turn, and a dense one.
        let quant = [1f32; 16];
        let mut corners: Vec<Corner> = (0..16)
            .map(|i| {
                let mut c = [0i16; 16];
                c[i] = 40;
                c
            })
            .collect();
        corners.push(core::array::from_fn(|i| (i as i16 * 7) - 50));
        for corner in corners {
            // Act
            let mut out = [0u8; 16];
            idct_4x4(&corner, &quant, &mut out, 4);
            // Assert: the 2-D sum with the cosines computed here.
            for y in 0..4 {
                for x in 0..4 {
                    let mut sum = 128.0f64;
                    for v in 0..4 {
                        for u in 0..4 {
                            let c = |f: usize, p: usize| {
                                let scale = if f == 0 { 0.5f64.sqrt() } else { 1.0 };
                                scale / 2.0
                                    * ((2 * p + 1) as f64 * f as f64 * std::f64::consts::PI / 8.0)
                                        .cos()
                            };
                            sum += f64::from(corner[v * 4 + u]) * c(v, y) * c(u, x);
                        }
                    }
                    let expected = sum.round().clamp(0.0, 255.0);
                    let got = f64::from(out[y * 4 + x]);
                    assert!((got - expected).abs() <= 1.0, "{corner:?} at ({x}, {y})");
                }
            }
        }
    }
}
