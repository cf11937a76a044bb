//! Reducing an image while it is decoded, so its full-size pixels are never held at once.
//!
//! Decoders hand over rows (or, for interlaced formats, every n-th pixel of a row) as they decode
//! them; [`Reducer`] adds each pixel into the cell of a box grid `factor` pixels on a side and
//! keeps only the grid. The factor is the largest integer that leaves the grid at least twice the
//! thumbnail in each direction, so the Lanczos3 resize that follows still has detail to work
//! with. The grid's size depends on the thumbnail, not on the image: memory stays the same
//! whatever the image's pixel count.

use image::RgbImage;

use crate::domain::RejectionReason;

/// The largest box side: with 255 at most per sample, a `u32` sum holds 4096 x 4096 of them.
const MAX_FACTOR: u32 = 4096;

/// How the samples of one decoded pixel are laid out (8 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Self::Gray => 1,
            Self::GrayAlpha => 2,
            Self::Rgb => 3,
            Self::Rgba => 4,
        }
    }
}

/// `value` with opacity `alpha` over white: thumbnails are JPEG, which has no transparency, and
/// transparent pixels should become white rather than whatever colour their invisible RGB holds.
pub fn over_white(value: u8, alpha: u8) -> u8 {
    let (value, alpha) = (u16::from(value), u16::from(alpha));
    ((value * alpha + 255 * (255 - alpha) + 127) / 255) as u8
}

/// Converts one row of `layout` pixels to RGB, alpha flattened onto white, into `rgb`.
pub fn to_rgb(layout: Layout, row: &[u8], rgb: &mut [u8]) {
    let pixels = rgb.chunks_exact_mut(3);
    match layout {
        Layout::Gray => {
            for (out, &l) in pixels.zip(row) {
                out.fill(l);
            }
        }
        Layout::GrayAlpha => {
            for (out, la) in pixels.zip(row.chunks_exact(2)) {
                out.fill(over_white(la[0], la[1]));
            }
        }
        Layout::Rgb => rgb.copy_from_slice(&row[..rgb.len()]),
        Layout::Rgba => {
            for (out, px) in pixels.zip(row.chunks_exact(4)) {
                for c in 0..3 {
                    out[c] = over_white(px[c], px[3]);
                }
            }
        }
    }
}

/// A box-filter reduction of a `width` x `height` RGB image fed pixel by pixel, in any order.
pub struct Reducer {
    width: u32,
    height: u32,
    factor: u32,
    grid_width: u32,
    grid_height: u32,
    /// Per grid cell and channel, the sum of the samples added so far.
    sums: Vec<u32>,
    /// Pixels added so far, to tell a complete image from a short one.
    added: u64,
}

impl Reducer {
    /// A reducer for a `width` x `height` image whose thumbnail will be `thumbnail` (width,
    /// height). Both sides must be at least 1.
    pub fn new(width: u32, height: u32, thumbnail: (u32, u32)) -> Self {
        let (thumb_w, thumb_h) = (thumbnail.0.max(1), thumbnail.1.max(1));
        let factor = (width / (2 * thumb_w))
            .min(height / (2 * thumb_h))
            .clamp(1, MAX_FACTOR);
        let (grid_width, grid_height) = (width.div_ceil(factor), height.div_ceil(factor));
        Self {
            width,
            height,
            factor,
            grid_width,
            grid_height,
            sums: vec![0; grid_width as usize * grid_height as usize * 3],
            added: 0,
        }
    }

    /// How many image pixels make a grid cell's side.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    /// Adds rows `y` and `y + 1` as 2 x 2 blocks: `rgb`'s pixel `i` stands for the pixels at
    /// columns `2i` and `2i + 1` of both rows (those inside the image), as if each had its colour.
    /// A decoder whose chroma is at half resolution (VP8) converts one colour per block this way
    /// instead of four; with a box of at least 2, what the grid loses is the colour variation
    /// within a block, which the thumbnail's resize would have averaged away anyway.
    pub fn add_block_row(&mut self, y: u32, rgb: &[u8]) {
        if y >= self.height {
            return;
        }
        let last = (y + 1).min(self.height - 1);
        if y / self.factor == last / self.factor {
            self.add_blocks(y / self.factor, last - y + 1, rgb);
        } else {
            self.add_blocks(y / self.factor, 1, rgb);
            self.add_blocks(last / self.factor, 1, rgb);
        }
    }

    /// Adds `rgb` (one pixel per two columns) `weight` times to grid row `cell_row`.
    fn add_blocks(&mut self, cell_row: u32, weight: u32, rgb: &[u8]) {
        let width = self.width as usize;
        let columns = (rgb.len() / 3 * 2).min(width);
        let row = &mut self.sums[cell_row as usize * self.grid_width as usize * 3..]
            [..self.grid_width as usize * 3];
        let factor = self.factor as usize;
        let (mut cell, mut left, mut acc) = (0, factor, [0u32; 3]);
        for x in 0..columns {
            let px = &rgb[x / 2 * 3..][..3];
            acc[0] += u32::from(px[0]);
            acc[1] += u32::from(px[1]);
            acc[2] += u32::from(px[2]);
            left -= 1;
            if left == 0 {
                for (sum, a) in row[cell * 3..cell * 3 + 3].iter_mut().zip(acc) {
                    *sum += a * weight;
                }
                (cell, left, acc) = (cell + 1, factor, [0; 3]);
            }
        }
        if left != factor {
            for (sum, a) in row[cell * 3..cell * 3 + 3].iter_mut().zip(acc) {
                *sum += a * weight;
            }
        }
        self.added += columns as u64 * u64::from(weight);
    }

    /// Adds row `y` of the image, `rgb` holding its pixels from column 0.
    pub fn add_row(&mut self, y: u32, rgb: &[u8]) {
        if y >= self.height {
            return;
        }
        let cells = (y / self.factor) as usize * self.grid_width as usize * 3;
        let pixels = rgb.len().min(self.width as usize * 3) / 3;
        let run = self.factor as usize * 3;
        for (cell, block) in rgb[..pixels * 3].chunks(run).enumerate() {
            let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
            for px in block.chunks_exact(3) {
                r += u32::from(px[0]);
                g += u32::from(px[1]);
                b += u32::from(px[2]);
            }
            let at = cells + cell * 3;
            self.sums[at] += r;
            self.sums[at + 1] += g;
            self.sums[at + 2] += b;
        }
        self.added += pixels as u64;
    }

    /// Adds pixels of row `y` at columns `x0`, `x0 + step`, `x0 + 2 * step`, ... (an interlaced
    /// pass), `rgb` holding them in that order.
    pub fn add_sparse_row(&mut self, y: u32, x0: u32, step: u32, rgb: &[u8]) {
        if step == 1 && x0 == 0 {
            return self.add_row(y, rgb);
        }
        if y >= self.height {
            return;
        }
        let cells = (y / self.factor) as usize * self.grid_width as usize;
        let mut x = x0;
        for px in rgb.chunks_exact(3) {
            if x >= self.width {
                break;
            }
            let at = (cells + (x / self.factor) as usize) * 3;
            for (sum, &sample) in self.sums[at..at + 3].iter_mut().zip(px) {
                *sum += u32::from(sample);
            }
            self.added += 1;
            x += step;
        }
    }

    /// The grid as an RGB image: each cell the mean of the pixels in it.
    ///
    /// # Errors
    /// [`RejectionReason::Undecodable`] if fewer pixels were added than the image has (the
    /// decoder stopped short), so a truncated image is never thumbnailed.
    pub fn finish(self) -> Result<RgbImage, RejectionReason> {
        if self.added != u64::from(self.width) * u64::from(self.height) {
            return Err(RejectionReason::Undecodable);
        }
        let side = |cell: u32, length: u32| (length - cell * self.factor).min(self.factor);
        let mut means = Vec::with_capacity(self.sums.len());
        for gy in 0..self.grid_height {
            let rows = side(gy, self.height);
            for gx in 0..self.grid_width {
                let count = rows * side(gx, self.width);
                let at = (gy * self.grid_width + gx) as usize * 3;
                for sum in &self.sums[at..at + 3] {
                    means.push(((sum + count / 2) / count) as u8);
                }
            }
        }
        RgbImage::from_raw(self.grid_width, self.grid_height, means)
            .ok_or(RejectionReason::Undecodable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_at_least_twice_the_thumbnail_and_never_empty() {
        let cases = [
            ((4000, 3000), (256, 192), 7, (572, 429)),
            ((512, 384), (256, 192), 1, (512, 384)),
            ((64, 48), (64, 48), 1, (64, 48)),
            ((16384, 1), (256, 1), 1, (16384, 1)),
            ((1025, 1025), (256, 256), 2, (513, 513)),
        ];
        for ((w, h), thumb, factor, grid) in cases {
            let reducer = Reducer::new(w, h, thumb);
            assert_eq!(reducer.factor, factor, "{w}x{h}");
            assert_eq!((reducer.grid_width, reducer.grid_height), grid, "{w}x{h}");
            assert!(grid.0 >= thumb.0 && grid.1 >= thumb.1);
        }
    }

    #[test]
    fn block_rows_add_up_to_the_same_grid_as_their_pixels_repeated() {
        // Odd sides and boxes of 2, 3 and 5, so blocks straddle cells both ways.
        for (w, h, thumb) in [
            (7u32, 5u32, (1, 1)),
            (13, 11, (2, 2)),
            (21, 17, (2, 1)),
            (1, 3, (1, 1)),
        ] {
            let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
            let block = |bx: u32, by: u32| [(bx * 37 + by * 11) as u8, (bx * by * 5) as u8, 200];
            let mut blocks = Reducer::new(w, h, thumb);
            let mut pixels = Reducer::new(w, h, thumb);
            for by in 0..bh {
                let half: Vec<u8> = (0..bw).flat_map(|bx| block(bx, by)).collect();
                blocks.add_block_row(2 * by, &half);
                let full: Vec<u8> = (0..w).flat_map(|x| block(x / 2, by)).collect();
                pixels.add_row(2 * by, &full);
                pixels.add_row(2 * by + 1, &full);
            }
            assert_eq!(blocks.sums, pixels.sums, "{w}x{h}");
            assert_eq!(
                blocks.finish().unwrap(),
                pixels.finish().unwrap(),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn each_cell_is_the_mean_of_its_pixels_edges_included() {
        // 5 x 4 for a 1 px thumbnail: factor 2, cells of 2 x 2 and, in the last column, 1 x 2.
        let mut reducer = Reducer::new(5, 4, (1, 1));
        for y in 0..4u32 {
            let row: Vec<u8> = (0..5u32)
                .flat_map(|x| [(10 * x + y) as u8, 100, (x * y) as u8])
                .collect();
            reducer.add_row(y, &row);
        }
        let grid = reducer.finish().unwrap();
        assert_eq!(grid.dimensions(), (3, 2));
        // Cell (0, 0): x 0..2, y 0..2: red 0, 10, 1, 11: 5.5, rounded to 6; blue 0, 0, 0, 1.
        assert_eq!(grid.get_pixel(0, 0).0, [6, 100, 0]);
        // Cell (2, 0): x 4, y 0..2: red 40, 41: 40.5, rounded to 41; blue 0, 4: 2.
        assert_eq!(grid.get_pixel(2, 0).0, [41, 100, 2]);
        // Cell (2, 1): x 4, y 2..4: red 42, 43; blue 8, 12.
        assert_eq!(grid.get_pixel(2, 1).0, [43, 100, 10]);
    }

    #[test]
    fn interlaced_passes_add_up_to_the_same_grid_as_rows() {
        let (w, h) = (37, 29);
        let pixel = |x: u32, y: u32| [(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8];
        let mut by_rows = Reducer::new(w, h, (4, 3));
        for y in 0..h {
            let row: Vec<u8> = (0..w).flat_map(|x| pixel(x, y)).collect();
            by_rows.add_row(y, &row);
        }
        let mut by_passes = Reducer::new(w, h, (4, 3));
        for (x0, step) in [(0, 2), (1, 2)] {
            for y in (0..h).rev() {
                let row: Vec<u8> = (x0..w)
                    .step_by(step as usize)
                    .flat_map(|x| pixel(x, y))
                    .collect();
                by_passes.add_sparse_row(y, x0, step, &row);
            }
        }
        assert_eq!(by_rows.finish().unwrap(), by_passes.finish().unwrap());
    }

    #[test]
    fn a_short_image_is_undecodable() {
        let mut reducer = Reducer::new(4, 4, (2, 2));
        reducer.add_row(0, &[0; 12]);
        assert_eq!(reducer.finish(), Err(RejectionReason::Undecodable));
    }

    #[test]
    fn transparent_pixels_become_white() {
        let mut rgb = [0u8; 9];
        to_rgb(
            Layout::Rgba,
            &[10, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128],
            &mut rgb,
        );
        assert_eq!(rgb, [10, 20, 30, 255, 255, 255, 127, 127, 127]);
        to_rgb(Layout::GrayAlpha, &[50, 255, 50, 0, 0, 0], &mut rgb);
        assert_eq!(rgb, [50, 50, 50, 255, 255, 255, 255, 255, 255]);
    }
}
