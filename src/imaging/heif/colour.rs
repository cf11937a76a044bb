//! Decoded samples to 8-bit RGB: the matrix (ITU-T H.273 `matrix_coefficients`: BT.601, BT.709,
//! BT.2020, identity), full or limited range, any bit depth from 8 to 12, chroma upsampled by
//! nearest neighbour (the thumbnail's box reduction averages far more than a chroma sample), or
//! 4:2:0 converted one colour per 2 x 2 block ([`Converter::block_row`]).
//!
//! Fixed point, 14 fractional bits: the largest product, a 12-bit chroma difference by its
//! coefficient, stays far inside `i32`.

use super::error::HeifError;
use super::picture::{PictureRef, Plane, Samples};

const FRACTION: u32 = 14;
const ONE: f64 = (1 << FRACTION) as f64;

/// How one picture's samples become RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Converter {
    identity: bool,
    y_offset: i32,
    y_scale: i32,
    c_offset: i32,
    /// Chroma difference to R, B and G, each already scaled to 8 bits.
    r_cr: i32,
    b_cb: i32,
    g_cb: i32,
    g_cr: i32,
}

impl Converter {
    /// A converter for `matrix` (H.273 code point) at `bit_depth`, full or limited range.
    ///
    /// # Errors
    /// [`HeifError::Unsupported`] for a matrix that is not one of those above (YCgCo, ICtCp, ...).
    pub(in crate::imaging) fn new(
        matrix: u16,
        full_range: bool,
        bit_depth: u8,
    ) -> Result<Self, HeifError> {
        let (kr, kb) = match matrix {
            0 => (0.0, 0.0),
            1 => (0.2126, 0.0722),
            // Unspecified is read as BT.601, as libheif and libavif read it.
            2 | 5 | 6 => (0.299, 0.114),
            4 => (0.30, 0.11),
            7 => (0.212, 0.087),
            9 | 10 => (0.2627, 0.0593),
            _ => return Err(HeifError::Unsupported("a colour matrix")),
        };
        Ok(Self::with_coefficients(
            kr,
            kb,
            matrix == 0,
            full_range,
            bit_depth,
        ))
    }

    /// A converter of luma alone (an alpha plane's), at `bit_depth`, full or limited range.
    pub(in crate::imaging) fn luma_only(full_range: bool, bit_depth: u8) -> Self {
        Self::with_coefficients(0.0, 0.0, false, full_range, bit_depth)
    }

    fn with_coefficients(
        kr: f64,
        kb: f64,
        identity: bool,
        full_range: bool,
        bit_depth: u8,
    ) -> Self {
        let extra = u32::from(bit_depth.saturating_sub(8));
        let max = f64::from((1u32 << bit_depth) - 1);
        let (y_offset, y_range, c_range) = if full_range {
            (0, max, max)
        } else {
            (
                16 << extra,
                f64::from(219u32 << extra),
                f64::from(224u32 << extra),
            )
        };
        let c_scale = 255.0 / c_range;
        let kg = 1.0 - kr - kb;
        let fixed = |v: f64| (v * ONE).round() as i32;
        Self {
            identity,
            y_offset,
            y_scale: fixed(255.0 / y_range),
            c_offset: 1 << (bit_depth - 1),
            r_cr: fixed(2.0 * (1.0 - kr) * c_scale),
            b_cb: fixed(2.0 * (1.0 - kb) * c_scale),
            g_cb: if kg > 0.0 {
                fixed(2.0 * kb * (1.0 - kb) / kg * c_scale)
            } else {
                0
            },
            g_cr: if kg > 0.0 {
                fixed(2.0 * kr * (1.0 - kr) / kg * c_scale)
            } else {
                0
            },
        }
    }

    /// Converts row `y` of `picture`, columns `x0..x0 + rgb.len() / 3`, into `rgb`.
    pub(in crate::imaging) fn row(
        &self,
        picture: &PictureRef<'_>,
        y: u32,
        x0: u32,
        rgb: &mut [u8],
    ) {
        let luma = row_of(&picture.luma, y);
        let Some([cb, cr]) = picture.chroma_planes else {
            for (out, x) in rgb.chunks_exact_mut(3).zip(x0..) {
                out.fill(self.luma(luma.get(x)));
            }
            return;
        };
        let (sx, sy) = picture.chroma.shifts();
        let (cb, cr) = (row_of(&cb, y >> sy), row_of(&cr, y >> sy));
        for (out, x) in rgb.chunks_exact_mut(3).zip(x0..) {
            let cx = x >> sx;
            self.pixel(luma.get(x), cb.get(cx), cr.get(cx), out);
        }
    }

    /// Converts the 2 x 2 blocks of a 4:2:0 `picture`'s rows `y` (even) and `bottom` (`y + 1`, or
    /// `y` at the last row), columns `x0` (even) to `x_end` (exclusive), into `rgb`, one colour a
    /// block: the mean of its luma samples with its own chroma sample (a quarter of the
    /// conversions, and no upsampling; see [`Reducer::add_block_row`]). A block cut by `x_end`
    /// repeats its last column, so its mean is that of the samples it has. `y` and `x0` are even,
    /// and the rows and columns lie inside the picture.
    ///
    /// [`Reducer::add_block_row`]: crate::imaging::reduce::Reducer::add_block_row
    pub(in crate::imaging) fn block_row(
        &self,
        picture: &PictureRef<'_>,
        (y, bottom): (u32, u32),
        (x0, x_end): (u32, u32),
        rgb: &mut [u8],
    ) {
        let Some([cb, cr]) = picture.chroma_planes else {
            return;
        };
        let columns = (x0 as usize, x_end as usize);
        match (
            row_of(&picture.luma, y),
            row_of(&picture.luma, bottom),
            row_of(&cb, y >> 1),
            row_of(&cr, y >> 1),
        ) {
            (Row::Eight(t), Row::Eight(b), Row::Eight(u), Row::Eight(v)) => {
                self.blocks(t, b, (u, v), columns, rgb);
            }
            (Row::Deep(t), Row::Deep(b), Row::Deep(u), Row::Deep(v)) => {
                self.blocks(t, b, (u, v), columns, rgb);
            }
            _ => debug_assert!(false, "the planes of a picture have one sample size"),
        }
    }

    /// [`Self::block_row`] on rows of samples of one type.
    fn blocks<T: Copy + Into<i32>>(
        &self,
        top: &[T],
        bottom: &[T],
        (cb, cr): (&[T], &[T]),
        (x0, x_end): (usize, usize),
        rgb: &mut [u8],
    ) {
        let (Some(top), Some(bottom), Some(cb), Some(cr)) = (
            top.get(x0..x_end),
            bottom.get(x0..x_end),
            cb.get(x0 / 2..),
            cr.get(x0 / 2..),
        ) else {
            debug_assert!(false, "a block row inside its picture");
            return;
        };
        let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        let mut out = rgb.chunks_exact_mut(3);
        // `out` last in the zip, so that it is not advanced past the last pair.
        for (((t, b), (&u, &v)), px) in pairs.zip(cb.iter().zip(cr)).zip(&mut out) {
            let sum = t[0].into() + t[1].into() + b[0].into() + b[1].into();
            self.block(sum, u.into(), v.into(), px);
        }
        if top.len() % 2 == 1 {
            let last = top.len() - 1;
            let (Some(px), Some(&u), Some(&v)) = (out.next(), cb.get(last / 2), cr.get(last / 2))
            else {
                return;
            };
            self.block(
                2 * (top[last].into() + bottom[last].into()),
                u.into(),
                v.into(),
                px,
            );
        }
    }

    /// Converts row `y` of `picture`'s luma (an alpha plane's), columns `x0..x0 + out.len()`, to
    /// 8 bits.
    pub(in crate::imaging) fn luma_row(
        &self,
        picture: &PictureRef<'_>,
        y: u32,
        x0: u32,
        out: &mut [u8],
    ) {
        let luma = row_of(&picture.luma, y);
        for (a, x) in out.iter_mut().zip(x0..) {
            *a = self.luma(luma.get(x));
        }
    }

    fn luma(&self, y: i32) -> u8 {
        clamp((y - self.y_offset) * self.y_scale)
    }

    /// [`Self::pixel`] for a block whose four luma samples add up to `luma4`: the mean is kept
    /// with two more fractional bits than a sample has.
    fn block(&self, luma4: i32, cb: i32, cr: i32, out: &mut [u8]) {
        let y = ((luma4 - 4 * self.y_offset) * self.y_scale + 2) >> 2;
        if self.identity {
            out[0] = self.luma(cr);
            out[1] = clamp(y);
            out[2] = self.luma(cb);
            return;
        }
        let (cb, cr) = (cb - self.c_offset, cr - self.c_offset);
        out[0] = clamp(y + cr * self.r_cr);
        out[1] = clamp(y - cb * self.g_cb - cr * self.g_cr);
        out[2] = clamp(y + cb * self.b_cb);
    }

    fn pixel(&self, y: i32, cb: i32, cr: i32, out: &mut [u8]) {
        if self.identity {
            // GBR: luma carries green, Cb blue and Cr red, all scaled as luma.
            out[0] = self.luma(cr);
            out[1] = self.luma(y);
            out[2] = self.luma(cb);
            return;
        }
        let y = (y - self.y_offset) * self.y_scale;
        let (cb, cr) = (cb - self.c_offset, cr - self.c_offset);
        out[0] = clamp(y + cr * self.r_cr);
        out[1] = clamp(y - cb * self.g_cb - cr * self.g_cr);
        out[2] = clamp(y + cb * self.b_cb);
    }
}

/// A fixed-point value rounded to 8 bits.
fn clamp(v: i32) -> u8 {
    ((v + (1 << (FRACTION - 1))) >> FRACTION).clamp(0, 255) as u8
}

/// The samples of one row of a plane.
#[derive(Clone, Copy)]
pub(in crate::imaging) enum Row<'a> {
    Eight(&'a [u8]),
    Deep(&'a [u16]),
}

impl Row<'_> {
    /// Sample `x`, or the row's last one past its end (a picture's planes are at least as wide as
    /// the picture; this only guards a chroma column rounded up).
    fn get(self, x: u32) -> i32 {
        let x = x as usize;
        match self {
            Self::Eight(r) => i32::from(r.get(x).or(r.last()).copied().unwrap_or(0)),
            Self::Deep(r) => i32::from(r.get(x).or(r.last()).copied().unwrap_or(0)),
        }
    }
}

/// Row `y` of `plane` (its last row past its end).
pub(in crate::imaging) fn row_of<'a>(plane: &Plane<'a>, y: u32) -> Row<'a> {
    let y = y.min(plane.height.saturating_sub(1)) as usize;
    let (start, width) = (y * plane.stride, plane.width as usize);
    match plane.samples {
        Samples::Eight(s) => Row::Eight(s.get(start..start + width).unwrap_or(&[])),
        Samples::Deep(s) => Row::Deep(s.get(start..start + width).unwrap_or(&[])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::heif::picture::{Chroma, StreamColour};

    fn one_pixel(converter: &Converter, bit_depth: u8, ycc: [u16; 3]) -> [u8; 3] {
        let plane = |s: &'static [u16]| Plane {
            samples: Samples::Deep(s),
            stride: 1,
            width: 1,
            height: 1,
        };
        let leak = |v: u16| -> &'static [u16] { Box::leak(Box::new([v])) };
        let picture = PictureRef {
            width: 1,
            height: 1,
            bit_depth,
            chroma: Chroma::Yuv444,
            luma: plane(leak(ycc[0])),
            chroma_planes: Some([plane(leak(ycc[1])), plane(leak(ycc[2]))]),
            colour: StreamColour {
                matrix: 1,
                full_range: true,
            },
        };
        let mut rgb = [0; 3];
        converter.row(&picture, 0, 0, &mut rgb);
        rgb
    }

    #[test]
    fn primaries_convert_as_the_standards_say() {
        // BT.601 full range (JPEG's): pure red is Y 76, Cb 85, Cr 255.
        let bt601 = Converter::new(6, true, 8).unwrap();
        assert_eq!(one_pixel(&bt601, 8, [76, 85, 255]), [254, 0, 0]);
        // BT.709 limited range, 10 bits: white is Y 940, grey chroma 512.
        let bt709 = Converter::new(1, false, 10).unwrap();
        assert_eq!(one_pixel(&bt709, 10, [940, 512, 512]), [255, 255, 255]);
        assert_eq!(one_pixel(&bt709, 10, [64, 512, 512]), [0, 0, 0]);
        // BT.2020 full range, 12 bits: mid grey.
        let bt2020 = Converter::new(9, true, 12).unwrap();
        assert_eq!(one_pixel(&bt2020, 12, [2048, 2048, 2048]), [128, 128, 128]);
        // Identity: G, B, R planes.
        let gbr = Converter::new(0, true, 8).unwrap();
        assert_eq!(one_pixel(&gbr, 8, [10, 20, 30]), [30, 10, 20]);
    }

    #[test]
    fn matrices_nobody_uses_for_stills_are_refused() {
        for matrix in [8, 11, 12, 13, 14, 15, 255] {
            assert!(Converter::new(matrix, true, 8).is_err(), "{matrix}");
        }
    }

    #[test]
    fn a_block_is_the_mean_of_its_pixels_converted_one_by_one() {
        // 5 x 3, 4:2:0 (chroma 3 x 2), 10 bits, limited range: odd sides, so the last column and
        // the last row are blocks of fewer pixels, which repeat what they have. Colours inside
        // the RGB cube, where no pixel is clamped (a clamped pixel's mean is not the block's).
        let (width, height) = (5u32, 3u32);
        let luma: Vec<u16> = (0..width * height)
            .map(|i| 380 + (i * 53 % 250) as u16)
            .collect();
        let cb: Vec<u16> = [430, 512, 590, 470, 560, 520].to_vec();
        let cr: Vec<u16> = [520, 450, 580, 500, 440, 600].to_vec();
        let plane = |samples: &[u16], w: u32, h: u32| Plane {
            samples: Samples::Deep(Box::leak(samples.to_vec().into_boxed_slice())),
            stride: w as usize,
            width: w,
            height: h,
        };
        let picture = PictureRef {
            width,
            height,
            bit_depth: 10,
            chroma: Chroma::Yuv420,
            luma: plane(&luma, width, height),
            chroma_planes: Some([plane(&cb, 3, 2), plane(&cr, 3, 2)]),
            colour: StreamColour {
                matrix: 1,
                full_range: false,
            },
        };
        let converter = Converter::new(1, false, 10).unwrap();
        let mut pixels = vec![0u8; (width * height * 3) as usize];
        for y in 0..height {
            let row = &mut pixels[(y * width * 3) as usize..((y + 1) * width * 3) as usize];
            converter.row(&picture, y, 0, row);
        }
        for y in (0..height).step_by(2) {
            let bottom = (y + 1).min(height - 1);
            let mut blocks = [0u8; 9];
            converter.block_row(&picture, (y, bottom), (0, width), &mut blocks);
            for (bx, block) in blocks.chunks_exact(3).enumerate() {
                let bx = bx as u32;
                let members: Vec<(u32, u32)> = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .into_iter()
                    .map(|(dx, dy)| (2 * bx + dx, y + dy))
                    .filter(|&(x, y)| x < width && y < height)
                    .collect();
                for c in 0..3 {
                    let sum: u32 = members
                        .iter()
                        .map(|&(x, y)| u32::from(pixels[((y * width + x) * 3) as usize + c]))
                        .sum();
                    let mean = f64::from(sum) / members.len() as f64;
                    assert!(
                        (f64::from(block[c]) - mean).abs() <= 1.0,
                        "block ({bx}, {y}) channel {c}: {} against a mean of {mean}",
                        block[c]
                    );
                }
            }
        }
    }
}
