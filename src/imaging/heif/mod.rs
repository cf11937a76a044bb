//! HEIF images: HEIC (HEVC-coded, `hvc1`) and AVIF (AV1-coded, `av01`), the photos phones take.
//!
//! - `boxes`: ISO BMFF box headers and a bounded field reader; nothing recurses.
//! - `meta`: the `meta` box (items, locations, references, properties), every count, offset and
//!   length bounded and checked.
//! - `image`: what the items mean: the primary image, one coded image or a `grid` of tiles, its
//!   `auxl` alpha plane and its transforms; every rule that needs no decoding is checked there.
//! - `hevc` and `av1`: one coded image decoded and lent as a [`picture::PictureRef`].
//! - `colour`: samples to RGB; `transform`: `irot`/`imir`/`clap` as one crop and one orientation.
//! - `error`: why a file is refused, one variant per rule.
//!
//! The type is decided by the primary item's coding, not by the file's brands: HEVC is
//! `image/heic` or `image/heif`, AV1 is `image/avif`. Dimensions, tiles and the memory the decode
//! will need are checked before any pixel is decoded; a grid is decoded a tile at a time into a
//! strip one row of tiles high, so memory grows with a row of tiles, not with the photo. For a
//! thumbnail whose box grid averages 4 x 4 pixels or more, the codecs skip their in-loop filters;
//! with a box of 2 or more, 4:2:0 goes into the grid as 2 x 2 blocks (decision 0020). EXIF
//! orientation is never read: the file's transforms already say how to show it.

mod av1;
mod boxes;
mod colour;
mod error;
mod hevc;
mod image;
mod meta;
mod picture;
mod transform;

use std::borrow::Cow;

use self::colour::Converter;
pub(in crate::imaging) use self::error::HeifError;
use self::image::{Coded, Coding, Config, Primary, Tiled};
use self::meta::Meta;
use self::picture::{Chroma, LoopFilters, PictureRef};
use self::transform::Rect;
use super::contract::{Reduced, check_budget, check_dimensions, thumbnail_dimensions};
use super::reduce::{Reducer, over_white};
use crate::domain::{ImageType, ProcessingPolicy, RejectionReason};

/// Bytes per decoded pixel the decoders allocate besides the picture itself (block maps, filter
/// state, rav1d's per-block data): about 0.6 measured by the memory-budget tests, rounded up.
const DECODER_BYTES_PER_PIXEL: u64 = 1;
/// What the pipeline holds besides pictures, the grid and the renditions: row buffers, tables.
const FIXED_BYTES: u64 = 4 << 20;

/// Verifies a HEIC/HEIF/AVIF file and hands over its reduced primary image.
pub(super) fn decode(
    bytes: &[u8],
    declared: ImageType,
    policy: &ProcessingPolicy,
) -> Result<Reduced, RejectionReason> {
    decode_heif(bytes, declared, policy).map_err(RejectionReason::from)
}

/// [`decode`], refusing with the exact rule a file breaks.
fn decode_heif(
    bytes: &[u8],
    declared: ImageType,
    policy: &ProcessingPolicy,
) -> Result<Reduced, HeifError> {
    let meta = Meta::parse(bytes)?;
    let primary = Primary::resolve(&meta)?;
    let accepted = match primary.colour.coding() {
        Coding::Hevc => matches!(declared, ImageType::Heic | ImageType::Heif),
        Coding::Av1 => declared == ImageType::Avif,
    };
    if !accepted {
        return Err(HeifError::TypeMismatch);
    }
    let colour = &primary.colour;
    check_dimensions(policy, colour.width, colour.height)?;
    check_dimensions(policy, colour.tile_width, colour.tile_height)?;
    if let Some(alpha) = &primary.alpha {
        check_dimensions(policy, alpha.tile_width, alpha.tile_height)?;
    }
    let (crop, orientation) = transform::resolve(&primary.transforms, colour.width, colour.height)?;
    let thumbnail = thumbnail_dimensions(crop.width, crop.height, policy.renditions.largest_side());
    check_budget(
        colour.width,
        colour.height,
        peak_bytes(&primary, crop, thumbnail, bytes.len()),
    )?;
    let mut reducer = Reducer::new(crop.width, crop.height, thumbnail);
    let filters = LoopFilters::for_box(reducer.factor());
    let alpha = match &primary.alpha {
        Some(alpha) => Some(decode_alpha(&meta, alpha, crop, filters)?),
        None => None,
    };
    let conversion = Conversion::for_image(colour, crop, alpha.is_some(), reducer.factor());
    decode_colour(
        &meta,
        colour,
        crop,
        alpha.as_deref(),
        (filters, conversion),
        &mut reducer,
    )?;
    Ok(Reduced {
        pixels: reducer.finish()?,
        orientation,
        width: crop.width,
        height: crop.height,
    })
}

/// The primary image's layout as the container parser and item rules read it, without decoding:
/// what the `heif_container` fuzz target checks its invariants on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_ids: Vec<u32>,
    /// The alpha plane's size, if the image has one.
    pub alpha: Option<(u32, u32)>,
    /// Where each tile's data lies in the file (start, end), for a tile stored in the file.
    pub tile_data: Vec<Option<(usize, usize)>>,
}

/// Reads the container and resolves the primary image (everything [`decode`] checks before it
/// decodes, but the limits).
///
/// # Errors
/// The rule the file breaks, as text.
pub fn layout(bytes: &[u8]) -> Result<Layout, String> {
    let meta = Meta::parse(bytes).map_err(|e| e.to_string())?;
    let primary = Primary::resolve(&meta).map_err(|e| e.to_string())?;
    let colour = primary.colour;
    let mut tile_data = Vec::new();
    for tile in &colour.tiles {
        let data = meta.data(tile.id).map_err(|e| e.to_string())?;
        tile_data.push(match data {
            Cow::Borrowed(slice) => {
                let start = slice.as_ptr() as usize - bytes.as_ptr() as usize;
                (start <= bytes.len()).then_some((start, start + slice.len()))
            }
            Cow::Owned(_) => None,
        });
    }
    Ok(Layout {
        width: colour.width,
        height: colour.height,
        tile_width: colour.tile_width,
        tile_height: colour.tile_height,
        columns: colour.columns,
        rows: colour.rows,
        tile_ids: colour.tiles.iter().map(|t| t.id).collect(),
        alpha: primary.alpha.map(|a| (a.width, a.height)),
        tile_data,
    })
}

/// The peak [`decode`] estimates for `bytes` from their headers, for the memory-budget tests to
/// hold it to what they measure.
#[cfg(test)]
pub(in crate::imaging) fn estimated_peak(bytes: &[u8], policy: &ProcessingPolicy) -> u64 {
    let meta = Meta::parse(bytes).expect("a valid file");
    let primary = Primary::resolve(&meta).expect("a valid file");
    let (crop, _) = transform::resolve(
        &primary.transforms,
        primary.colour.width,
        primary.colour.height,
    )
    .expect("valid transforms");
    let largest = policy.renditions.largest_side();
    let thumbnail = thumbnail_dimensions(crop.width, crop.height, largest);
    peak_bytes(&primary, crop, thumbnail, bytes.len())
}

/// The memory decoding `primary` needs at its peak, from its headers: one tile's picture (as
/// its decoder stores it) and decoder state, the data of one tile (and a copy of it), the strip a
/// row of tiles is converted into, and the alpha plane, while the decoders fill the reducer's grid
/// for the largest rendition (`thumbnail`); then, the pictures gone, that rendition as the resize
/// makes it beside the grid (its pass through the grid's height, and the rendition itself).
fn peak_bytes(primary: &Primary<'_>, crop: Rect, thumbnail: (u32, u32), file_len: usize) -> u64 {
    let tile_bytes = |tiled: &Tiled<'_>| -> u64 {
        let (chroma, depth) = tiled.format();
        let pixels = u64::from(tiled.tile_width) * u64::from(tiled.tile_height);
        let (sx, sy) = chroma.shifts();
        let chroma_samples = match chroma {
            Chroma::Monochrome => 0,
            _ => {
                2 * u64::from(tiled.tile_width.div_ceil(1 << sx))
                    * u64::from(tiled.tile_height.div_ceil(1 << sy))
            }
        };
        // heifer-hevc-dec stores every sample in a u16 and copies the picture once to crop it;
        // rav1d keeps 8-bit samples in bytes, deeper ones in u16.
        let sample_bytes = match (tiled.coding(), depth) {
            (Coding::Hevc, _) => 4,
            (Coding::Av1, 8) => 1,
            (Coding::Av1, _) => 2,
        };
        (pixels + chroma_samples) * sample_bytes + pixels * DECODER_BYTES_PER_PIXEL
    };
    let colour = &primary.colour;
    let strip = if colour.columns > 1 {
        u64::from(crop.width) * u64::from(colour.tile_height) * 3
    } else {
        0
    };
    let mut peak = tile_bytes(colour) + strip;
    if let Some(alpha) = &primary.alpha {
        let plane = u64::from(crop.width) * u64::from(crop.height);
        peak = peak.max(tile_bytes(alpha)) + plane;
    }
    let grid = Reducer::grid_bytes(crop.width, crop.height, thumbnail);
    let factor = Reducer::new_factor(crop.width, crop.height, thumbnail);
    let rendition = u64::from(thumbnail.0)
        * (u64::from(thumbnail.1) + u64::from(crop.height.div_ceil(factor)))
        * 3;
    peak.max(rendition) + grid + 2 * file_len as u64 + FIXED_BYTES
}

/// Decodes every tile of `tiled` in raster order, lending each with its position in the image.
fn each_tile(
    meta: &Meta<'_>,
    tiled: &Tiled<'_>,
    filters: LoopFilters,
    mut use_tile: impl FnMut(u32, u32, &PictureRef<'_>),
) -> Result<(), HeifError> {
    let size = (tiled.tile_width, tiled.tile_height);
    for (i, tile) in tiled.tiles.iter().enumerate() {
        let i = i as u32;
        let (x0, y0) = (
            i % tiled.columns * tiled.tile_width,
            i / tiled.columns * tiled.tile_height,
        );
        let data = meta.data(tile.id)?;
        decode_coded(tile, &data, size, filters, |picture| {
            use_tile(x0, y0, &picture);
        })?;
    }
    Ok(())
}

/// Decodes one coded image of `size` and lends it to `use_picture`.
fn decode_coded<R>(
    coded: &Coded<'_>,
    data: &[u8],
    size: (u32, u32),
    filters: LoopFilters,
    use_picture: impl FnOnce(PictureRef<'_>) -> R,
) -> Result<R, HeifError> {
    match &coded.config {
        Config::Hevc(config) => hevc::decode(config, data, size, filters, use_picture),
        Config::Av1(av1c) => {
            let limits = av1::Av1Limits {
                max_width: size.0,
                max_height: size.1,
            };
            av1::decode(av1c.config_obus, data, &limits, filters, |picture| {
                let found = (
                    picture.width,
                    picture.height,
                    picture.chroma,
                    picture.bit_depth,
                );
                if found != (size.0, size.1, av1c.chroma, av1c.bit_depth) {
                    return Err(HeifError::CodedSizeMismatch);
                }
                Ok(use_picture(picture))
            })
            .map_err(|_| HeifError::Codec)?
        }
    }
}

/// The alpha plane of `crop`, 8 bits per pixel.
fn decode_alpha(
    meta: &Meta<'_>,
    alpha: &Tiled<'_>,
    crop: Rect,
    filters: LoopFilters,
) -> Result<Vec<u8>, HeifError> {
    let mut plane = vec![0u8; crop.width as usize * crop.height as usize];
    let full_range = alpha.colour.map(|c| c.full_range);
    each_tile(meta, alpha, filters, |x0, y0, picture| {
        let full = full_range.unwrap_or(picture.colour.full_range);
        let converter = Converter::luma_only(full, picture.bit_depth);
        for_each_row_in_crop(x0, y0, picture, crop, 1, |y, x_from, x_to| {
            let at = (y - crop.y) as usize * crop.width as usize;
            let out = &mut plane[at + (x_from - crop.x) as usize..at + (x_to - crop.x) as usize];
            converter.luma_row(picture, y - y0, x_from - x0, out);
        });
    })?;
    Ok(plane)
}

/// Calls `row(y, x_from, x_to)` for each `step`-th row of the tile at (`x0`, `y0`) inside `crop`,
/// from its first, with the columns of the tile inside it.
fn for_each_row_in_crop(
    x0: u32,
    y0: u32,
    picture: &PictureRef<'_>,
    crop: Rect,
    step: u32,
    mut row: impl FnMut(u32, u32, u32),
) {
    let x_from = x0.max(crop.x);
    let x_to = (x0 + picture.width).min(crop.x + crop.width);
    if x_from >= x_to {
        return;
    }
    let y_from = y0.max(crop.y);
    let y_to = (y0 + picture.height).min(crop.y + crop.height);
    for y in (y_from..y_to).step_by(step as usize) {
        row(y, x_from, x_to);
    }
}

/// How a picture's samples go into the reducer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// Every pixel converted to RGB.
    Pixels,
    /// One colour per 2 x 2 block ([`Converter::block_row`], [`Reducer::add_block_row`]).
    Blocks,
}

impl Conversion {
    /// Blocks for a 4:2:0 image without alpha reduced by a box of 2 or more whose blocks lie
    /// whole in one tile: the crop's origin even, and every tile's sides even (or one tile).
    /// A crop with odd sides still goes by blocks: its last column or row are blocks of fewer
    /// pixels. Pixels otherwise.
    fn for_image(colour: &Tiled<'_>, crop: Rect, alpha: bool, factor: u32) -> Self {
        let even = |v: u32| v.is_multiple_of(2);
        let blocks = !alpha
            && colour.format().0 == Chroma::Yuv420
            && factor >= 2
            && even(crop.x)
            && even(crop.y)
            && (colour.tiles.len() == 1 || (even(colour.tile_width) && even(colour.tile_height)));
        if blocks { Self::Blocks } else { Self::Pixels }
    }
}

/// Decodes the colour image's tiles into `reducer`, a row of tiles at a time, flattening `alpha`
/// onto white (which only [`Conversion::Pixels`] can do).
fn decode_colour(
    meta: &Meta<'_>,
    colour: &Tiled<'_>,
    crop: Rect,
    alpha: Option<&[u8]>,
    (filters, conversion): (LoopFilters, Conversion),
    reducer: &mut Reducer,
) -> Result<(), HeifError> {
    let blocks = conversion == Conversion::Blocks;
    debug_assert!(!blocks || alpha.is_none());
    // Rows of the image (or of blocks) per line, and one line's bytes.
    let step = if blocks { 2 } else { 1 };
    let line_len = crop.width.div_ceil(step) as usize * 3;
    let strip_lines = if colour.columns > 1 {
        colour.tile_height.min(crop.height).div_ceil(step) as usize
    } else {
        1
    };
    let mut strip = vec![0u8; line_len * strip_lines];
    let add = |reducer: &mut Reducer, y: u32, line: &[u8]| {
        if blocks {
            reducer.add_block_row(y, line);
        } else {
            reducer.add_row(y, line);
        }
    };
    let mut failure = None;
    each_tile(meta, colour, filters, |x0, y0, picture| {
        let (matrix, full_range) = match colour.colour {
            Some(nclx) => (nclx.matrix, nclx.full_range),
            None => (u16::from(picture.colour.matrix), picture.colour.full_range),
        };
        let converter = match Converter::new(matrix, full_range, picture.bit_depth) {
            Ok(c) => c,
            Err(e) => {
                failure.get_or_insert(e);
                return;
            }
        };
        let y_first = y0.max(crop.y);
        let y_last = (y0 + picture.height).min(crop.y + crop.height) - 1;
        for_each_row_in_crop(x0, y0, picture, crop, step, |y, x_from, x_to| {
            let line = if colour.columns > 1 {
                ((y - y_first) / step) as usize
            } else {
                0
            };
            let line = &mut strip[line * line_len..(line + 1) * line_len];
            let (from, to) = (x_from - crop.x, x_to - crop.x);
            if blocks {
                let out = &mut line[(from / 2) as usize * 3..to.div_ceil(2) as usize * 3];
                let rows = (y - y0, (y + 1).min(y_last) - y0);
                converter.block_row(picture, rows, (x_from - x0, x_to - x0), out);
            } else {
                let out = &mut line[from as usize * 3..to as usize * 3];
                converter.row(picture, y - y0, x_from - x0, out);
                if let Some(alpha) = alpha {
                    let at = (y - crop.y) as usize * crop.width as usize + from as usize;
                    for (px, &a) in out.chunks_exact_mut(3).zip(&alpha[at..]) {
                        for c in px {
                            *c = over_white(*c, a);
                        }
                    }
                }
            }
            if colour.columns == 1 {
                add(reducer, y - crop.y, line);
            }
        });
        let last_column = x0 + colour.tile_width >= colour.width;
        if colour.columns > 1 && last_column && y_first <= y_last {
            let lines = strip.chunks_exact(line_len);
            for (y, line) in (y_first..=y_last).step_by(step as usize).zip(lines) {
                add(reducer, y - crop.y, line);
            }
        }
    })?;
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;
