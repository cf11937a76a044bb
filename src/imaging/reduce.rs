//! Reducing an image while it is decoded, so its full-size pixels are never held at once.
//!
//! Decoders hand over rows (or, for interlaced formats, every n-th pixel of a row) as they decode
//! them; [`Reducer`] adds each pixel into the cell of a box grid `factor` pixels on a side and
//! keeps only the grid. For a thumbnail-sized target the factor is the largest integer that leaves
//! the grid at least twice the target in each direction, so the Lanczos3 resize that follows
//! still has detail to work with; for a larger target (a display rendition) at least once, as
//! libvips' shrink-on-load does. The grid's size depends on the target, not on the image, and never
//! exceeds 3 bytes per pixel of the image; its rows are allocated as the decoder reaches them, so
//! a file that claims a large image and stops short costs only what it reached.

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

/// The longest target side up to which the grid keeps twice the target's cells in each direction;
/// above it (a display rendition rather than a thumbnail), once, as libvips' shrink-on-load does.
const TWICE_UP_TO: u32 = 512;

/// The largest box side whose sums fit a `u16`: 16 x 16 x 255 = 65,280.
const NARROW_MAX_FACTOR: u32 = 16;

/// A sum of samples in one grid cell and channel.
trait Cell: Copy + Default {
    /// Adds a sample, or a sum of samples (saturating: a decoder that added a pixel twice must
    /// not wrap a cell, and the pixel count in [`Reducer::finish`] refuses its image anyway).
    fn add(&mut self, value: u32);
    fn get(self) -> u32;
}

impl Cell for u8 {
    fn add(&mut self, value: u32) {
        *self = u8::try_from(u32::from(*self) + value).unwrap_or(u8::MAX);
    }
    fn get(self) -> u32 {
        u32::from(self)
    }
}

impl Cell for u16 {
    fn add(&mut self, value: u32) {
        *self = u16::try_from(u32::from(*self) + value).unwrap_or(u16::MAX);
    }
    fn get(self) -> u32 {
        u32::from(self)
    }
}

impl Cell for u32 {
    fn add(&mut self, value: u32) {
        *self = self.saturating_add(value);
    }
    fn get(self) -> u32 {
        self
    }
}

/// The grid's rows of cells, each allocated when a pixel first lands in it, so that a file that
/// claims a large image and stops short costs only the rows it reached. A cell is the sample
/// itself for a box of 1, a `u16` sum up to a box of [`NARROW_MAX_FACTOR`], else a `u32` sum:
/// never more than 3 bytes per pixel of the image.
enum Cells {
    Exact(Vec<Vec<u8>>),
    Narrow(Vec<Vec<u16>>),
    Wide(Vec<Vec<u32>>),
}

/// The row of cells `row` of `rows`, allocated (`width` cells of 3 channels) if new.
fn cell_row<T: Cell>(rows: &mut [Vec<T>], row: u32, width: u32) -> &mut [T] {
    let cells = &mut rows[row as usize];
    if cells.is_empty() {
        *cells = vec![T::default(); width as usize * 3];
    }
    cells
}

/// A box-filter reduction of a `width` x `height` RGB image fed pixel by pixel, in any order.
pub struct Reducer {
    width: u32,
    height: u32,
    factor: u32,
    grid_width: u32,
    grid_height: u32,
    cells: Cells,
    /// Pixels added so far, to tell a complete image from a short one.
    added: u64,
}

/// Runs `$body` with `$rows` bound to the grid's rows, whatever their cell type.
macro_rules! with_rows {
    ($cells:expr, $rows:ident => $body:expr) => {
        match $cells {
            Cells::Exact($rows) => $body,
            Cells::Narrow($rows) => $body,
            Cells::Wide($rows) => $body,
        }
    };
}

impl Reducer {
    /// A reducer for a `width` x `height` image whose largest rendition will be `target` (width,
    /// height). Both sides must be at least 1.
    pub fn new(width: u32, height: u32, target: (u32, u32)) -> Self {
        let (factor, grid_width, grid_height) = Self::grid(width, height, target);
        let rows = grid_height as usize;
        let cells = if factor == 1 {
            Cells::Exact(vec![Vec::new(); rows])
        } else if factor <= NARROW_MAX_FACTOR {
            Cells::Narrow(vec![Vec::new(); rows])
        } else {
            Cells::Wide(vec![Vec::new(); rows])
        };
        Self {
            width,
            height,
            factor,
            grid_width,
            grid_height,
            cells,
            added: 0,
        }
    }

    /// The most bytes the grid of a reducer for a `width` x `height` image and a `target` of
    /// (width, height) holds once every row is reached.
    pub fn grid_bytes(width: u32, height: u32, target: (u32, u32)) -> u64 {
        let (factor, grid_width, grid_height) = Self::grid(width, height, target);
        let cell = match factor {
            1 => 3,
            2..=NARROW_MAX_FACTOR => 6,
            _ => 12,
        };
        u64::from(grid_width) * u64::from(grid_height) * cell
    }

    /// The box side [`Reducer::new`] picks for a `width` x `height` image.
    pub fn new_factor(width: u32, height: u32, target: (u32, u32)) -> u32 {
        Self::grid(width, height, target).0
    }

    /// The box side and the grid's width and height for a `width` x `height` image: the largest
    /// box that leaves the grid at least twice the target in each direction (a thumbnail), or once
    /// for a target over [`TWICE_UP_TO`].
    fn grid(width: u32, height: u32, target: (u32, u32)) -> (u32, u32, u32) {
        let (target_w, target_h) = (target.0.max(1), target.1.max(1));
        let times = if target_w.max(target_h) > TWICE_UP_TO {
            1
        } else {
            2
        };
        let factor = (width / (times * target_w))
            .min(height / (times * target_h))
            .clamp(1, MAX_FACTOR);
        (factor, width.div_ceil(factor), height.div_ceil(factor))
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
    fn add_blocks(&mut self, row: u32, weight: u32, rgb: &[u8]) {
        let columns = (rgb.len() / 3 * 2).min(self.width as usize);
        let (factor, grid_width) = (self.factor as usize, self.grid_width);
        with_rows!(&mut self.cells, rows => {
            let cells = cell_row(rows, row, grid_width);
            let (mut cell, mut left, mut acc) = (0, factor, [0u32; 3]);
            for x in 0..columns {
                let px = &rgb[x / 2 * 3..][..3];
                acc[0] += u32::from(px[0]);
                acc[1] += u32::from(px[1]);
                acc[2] += u32::from(px[2]);
                left -= 1;
                if left == 0 {
                    for (sum, a) in cells[cell * 3..cell * 3 + 3].iter_mut().zip(acc) {
                        sum.add(a * weight);
                    }
                    (cell, left, acc) = (cell + 1, factor, [0; 3]);
                }
            }
            if left != factor {
                for (sum, a) in cells[cell * 3..cell * 3 + 3].iter_mut().zip(acc) {
                    sum.add(a * weight);
                }
            }
        });
        self.added += columns as u64 * u64::from(weight);
    }

    /// Adds row `y` of the image, `rgb` holding its pixels from column 0.
    pub fn add_row(&mut self, y: u32, rgb: &[u8]) {
        if y >= self.height {
            return;
        }
        let pixels = rgb.len().min(self.width as usize * 3) / 3;
        let (row, grid_width) = (y / self.factor, self.grid_width);
        let run = self.factor as usize * 3;
        with_rows!(&mut self.cells, rows => {
            let cells = cell_row(rows, row, grid_width);
            for (cell, block) in rgb[..pixels * 3].chunks(run).enumerate() {
                let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
                for px in block.chunks_exact(3) {
                    r += u32::from(px[0]);
                    g += u32::from(px[1]);
                    b += u32::from(px[2]);
                }
                let at = cell * 3;
                cells[at].add(r);
                cells[at + 1].add(g);
                cells[at + 2].add(b);
            }
        });
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
        let (row, grid_width, factor, width) =
            (y / self.factor, self.grid_width, self.factor, self.width);
        let mut added = 0;
        with_rows!(&mut self.cells, rows => {
            let cells = cell_row(rows, row, grid_width);
            let mut x = x0;
            for px in rgb.chunks_exact(3) {
                if x >= width {
                    break;
                }
                let at = (x / factor) as usize * 3;
                for (sum, &sample) in cells[at..at + 3].iter_mut().zip(px) {
                    sum.add(u32::from(sample));
                }
                added += 1;
                x += step;
            }
        });
        self.added += added;
    }

    /// The grid as an RGB image: each cell the mean of the pixels in it. Each row of cells is
    /// freed as soon as it is read, so the grid and the image are not both held whole.
    ///
    /// # Errors
    /// [`RejectionReason::Undecodable`] if fewer pixels were added than the image has (the
    /// decoder stopped short), so a truncated image is never thumbnailed.
    pub fn finish(self) -> Result<RgbImage, RejectionReason> {
        if self.added != u64::from(self.width) * u64::from(self.height) {
            return Err(RejectionReason::Undecodable);
        }
        let (factor, width, height, grid_width) =
            (self.factor, self.width, self.height, self.grid_width);
        let side = |cell: u32, length: u32| (length - cell * factor).min(factor);
        let mut means = Vec::with_capacity(grid_width as usize * self.grid_height as usize * 3);
        with_rows!(self.cells, rows => {
            for (gy, cells) in (0u32..).zip(rows) {
                let row_count = side(gy, height);
                // A row no pixel reached: the count above was made up by pixels added twice.
                if cells.is_empty() {
                    return Err(RejectionReason::Undecodable);
                }
                for gx in 0..grid_width {
                    let count = row_count * side(gx, width);
                    let at = gx as usize * 3;
                    for sum in &cells[at..at + 3] {
                        means.push(((sum.get() + count / 2) / count) as u8);
                    }
                }
            }
        });
        RgbImage::from_raw(grid_width, self.grid_height, means).ok_or(RejectionReason::Undecodable)
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
    fn a_display_target_keeps_a_grid_at_least_its_size_in_at_most_3_bytes_a_pixel() {
        let cases = [
            // (image, target, factor, grid, bytes per cell)
            ((4032, 3024), (1600, 1200), 2, (2016, 1512), 6),
            ((3000, 2000), (1600, 1067), 1, (3000, 2000), 3),
            ((16384, 16384), (1600, 1600), 10, (1639, 1639), 6),
            ((65535, 2000), (1600, 49), 40, (1639, 50), 12),
        ];
        for ((w, h), target, factor, grid, cell) in cases {
            let reducer = Reducer::new(w, h, target);
            assert_eq!(reducer.factor, factor, "{w}x{h}");
            assert_eq!((reducer.grid_width, reducer.grid_height), grid, "{w}x{h}");
            assert!(grid.0 >= target.0 && grid.1 >= target.1);
            let bytes = Reducer::grid_bytes(w, h, target);
            assert_eq!(bytes, u64::from(grid.0) * u64::from(grid.1) * cell);
            assert!(bytes <= 3 * u64::from(w) * u64::from(h), "{w}x{h}");
        }
    }

    #[test]
    fn rows_are_allocated_only_as_pixels_reach_them() {
        let (w, h) = (8000, 6000);
        let mut reducer = Reducer::new(w, h, (1600, 1200));
        let row = vec![7u8; w as usize * 3];
        let allocated = crate::test_alloc::bytes_allocated_by(|| reducer.add_row(0, &row));
        // One row of 1600 cells of 3 u16 sums, not the grid's 1600 x 1200.
        assert_eq!(allocated, 1600 * 3 * 2);
        assert_eq!(reducer.finish(), Err(RejectionReason::Undecodable));
    }

    #[test]
    fn every_kind_of_cell_makes_the_same_means() {
        // Boxes of 1 (the pixels), 2 and 16 (u16 sums) and 17 (u32 sums), edges included.
        let pixel = |x: u32, y: u32| [(x * 3 + y) as u8, 255 - (x + y) as u8, 200];
        for ((w, h), target, factor) in [
            ((68, 35), (68, 35), 1),
            ((69, 35), (17, 8), 2),
            ((64, 33), (2, 1), 16),
            ((70, 34), (2, 1), 17),
        ] {
            let mut reducer = Reducer::new(w, h, target);
            assert_eq!(reducer.factor, factor);
            for y in 0..h {
                let row: Vec<u8> = (0..w).flat_map(|x| pixel(x, y)).collect();
                reducer.add_row(y, &row);
            }
            let grid = reducer.finish().unwrap();
            for (gx, gy, mean) in grid.enumerate_pixels() {
                let (x0, y0) = (gx * factor, gy * factor);
                let cells: Vec<[u8; 3]> = (y0..(y0 + factor).min(h))
                    .flat_map(|y| (x0..(x0 + factor).min(w)).map(move |x| pixel(x, y)))
                    .collect();
                for c in 0..3 {
                    let sum: u32 = cells.iter().map(|p| u32::from(p[c])).sum();
                    let n = cells.len() as u32;
                    assert_eq!(
                        u32::from(mean[c]),
                        (sum + n / 2) / n,
                        "box {factor} ({gx}, {gy})"
                    );
                }
            }
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
