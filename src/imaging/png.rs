//! PNG, decoded row by row and reduced as it goes: memory does not grow with the pixel count.
//!
//! The `png` crate inflates and unfilters one row at a time; with `EXPAND | STRIP_16` each row
//! arrives as 8-bit gray, gray+alpha, RGB or RGBA whatever the file's bit depth and colour type
//! (palettes and `tRNS` expanded, 16-bit samples cut to their high byte). Each row is flattened
//! onto white and added to a [`Reducer`]. Interlaced (Adam7) files stream too: each pass's rows
//! carry every n-th pixel of an image row, and the reducer adds pixels in any order.
//!
//! The limits apply to `IHDR` before anything is allocated for it; the crate itself refuses an
//! APNG frame (`fcTL`) that does not fit inside `IHDR`. Every APNG frame is decoded (row by row,
//! into the crate's row buffer) to verify the file, within
//! [`ProcessingPolicy::max_total_frame_pixels`].

use std::io::Cursor;

use image::metadata::Orientation;
use png::{BitDepth, ColorType, DecodingError, Transformations};

use super::contract::{FramePixelBudget, Reduced, check_dimensions, thumbnail_dimensions};
use super::reduce::{Layout, Reducer, to_rgb};
use crate::domain::{ProcessingPolicy, RejectionReason};

/// What the `png` crate may allocate for itself: its row buffers (one output row is at most
/// 16384 px x 8 bytes, reserved again for each APNG frame) and the metadata chunks it keeps
/// (`eXIf`; text and ICC chunks are skipped unread).
const DECODER_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// The Adam7 passes: first column, column step, first row, row step.
const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 8, 0, 8),
    (4, 8, 0, 8),
    (0, 4, 4, 8),
    (2, 4, 0, 4),
    (0, 2, 2, 4),
    (1, 2, 0, 2),
    (0, 1, 1, 2),
];

/// Where the pixels of one decoded row go: image row, first column, column step, pixel count.
type RowPlace = (u32, u32, u32, u32);

/// The places of the rows the decoder returns, in its order: top to bottom, or pass by pass
/// (passes without pixels skipped, as the `png` crate skips them).
fn row_places(width: u32, height: u32, interlaced: bool) -> Box<dyn Iterator<Item = RowPlace>> {
    if !interlaced {
        return Box::new((0..height).map(move |y| (y, 0, 1, width)));
    }
    Box::new(ADAM7.into_iter().flat_map(move |(x0, dx, y0, dy)| {
        let samples = width.saturating_sub(x0).div_ceil(dx);
        let rows = if samples == 0 { 0..0 } else { y0..height };
        rows.step_by(dy as usize).map(move |y| (y, x0, dx, samples))
    }))
}

fn rejection(err: DecodingError) -> RejectionReason {
    match err {
        DecodingError::LimitsExceeded => RejectionReason::TooManyPixels,
        _ => RejectionReason::Undecodable,
    }
}

/// Decodes a PNG, reduced to at least its thumbnail's size.
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] for an image or frames over the policy's limits;
/// [`RejectionReason::Undecodable`] for anything the `png` crate refuses, and for data that ends
/// before the image does.
pub(super) fn decode(bytes: &[u8], policy: &ProcessingPolicy) -> Result<Reduced, RejectionReason> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: DECODER_LIMIT_BYTES,
        },
    );
    decoder.set_transformations(Transformations::normalize_to_color8());
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let header = decoder.read_header_info().map_err(rejection)?;
    let (width, height) = (header.width, header.height);
    check_dimensions(policy, width, height)?;

    let mut reader = decoder.read_info().map_err(rejection)?;
    let info = reader.info();
    let orientation = info
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let interlaced = info.interlaced;
    // With an `fcTL` before `IDAT`, the image is the animation's first frame; without, the
    // animation's frames all follow it.
    let frames_after = match (&info.animation_control, &info.frame_control) {
        (None, _) => 0,
        (Some(animation), Some(_)) => animation.num_frames.saturating_sub(1),
        (Some(animation), None) => animation.num_frames,
    };
    let layout = match reader.output_color_type() {
        (ColorType::Grayscale, BitDepth::Eight) => Layout::Gray,
        (ColorType::GrayscaleAlpha, BitDepth::Eight) => Layout::GrayAlpha,
        (ColorType::Rgb, BitDepth::Eight) => Layout::Rgb,
        (ColorType::Rgba, BitDepth::Eight) => Layout::Rgba,
        // `EXPAND | STRIP_16` leaves no other output.
        _ => return Err(RejectionReason::Undecodable),
    };

    let mut reducer = Reducer::new(
        width,
        height,
        thumbnail_dimensions(width, height, policy.renditions.largest_side()),
    );
    let mut rgb = vec![0u8; width as usize * 3];
    let mut places = row_places(width, height, interlaced);
    while let Some(row) = reader.next_row().map_err(rejection)? {
        let (y, x0, step, samples) = places.next().ok_or(RejectionReason::Undecodable)?;
        let data = row.data();
        let rgb = &mut rgb[..samples as usize * 3];
        if data.len() != samples as usize * layout.channels() {
            return Err(RejectionReason::Undecodable);
        }
        to_rgb(layout, data, rgb);
        reducer.add_sparse_row(y, x0, step, rgb);
    }
    let pixels = reducer.finish()?;

    let mut frame_pixels = FramePixelBudget::new(policy);
    frame_pixels.add(width, height)?;
    for _ in 0..frames_after {
        let frame = reader.next_frame_info().map_err(rejection)?;
        frame_pixels.add(frame.width, frame.height)?;
        while reader.next_row().map_err(rejection)?.is_some() {}
    }
    Ok(Reduced {
        pixels,
        orientation,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use image::RgbImage;
    use png::{BitDepth as D, ColorType as C};

    use super::super::reduce::over_white;
    use super::super::testkit::png::interlaced_png;
    use super::*;

    /// `file` as the `image` crate decodes it whole (the path this module replaced), flattened
    /// onto white.
    fn reference(file: &[u8]) -> RgbImage {
        let rgba = image::load_from_memory(file).unwrap().to_rgba8();
        RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let p = rgba.get_pixel(x, y);
            image::Rgb([0, 1, 2].map(|c| over_white(p[c], p[3])))
        })
    }

    /// A 37 x 29 PNG of pseudo-random samples, with a full palette for indexed colour and a
    /// `tRNS` chunk if asked for.
    fn sample_png(color: C, depth: D, trns: Option<&[u8]>) -> Vec<u8> {
        let (width, height) = (37u32, 29u32);
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if color == C::Indexed {
            let entries = 1usize << (depth as u8);
            encoder.set_palette(
                (0..entries * 3)
                    .map(|i| (i * 37 % 256) as u8)
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(trns) = trns {
            encoder.set_trns(trns.to_vec());
        }
        let bits = color.samples() * depth as usize;
        let row = (width as usize * bits).div_ceil(8);
        let mut state = 0x1234_5678u32;
        let data: Vec<u8> = (0..row * height as usize)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn every_colour_type_and_depth_decodes_as_the_image_crate_does() {
        let cases: [(C, D, Option<&[u8]>); 18] = [
            (C::Grayscale, D::One, None),
            (C::Grayscale, D::Two, None),
            (C::Grayscale, D::Four, None),
            (C::Grayscale, D::Eight, None),
            (C::Grayscale, D::Sixteen, None),
            (C::Grayscale, D::Eight, Some(&[0, 77])),
            (C::GrayscaleAlpha, D::Eight, None),
            (C::GrayscaleAlpha, D::Sixteen, None),
            (C::Rgb, D::Eight, None),
            (C::Rgb, D::Sixteen, None),
            (C::Rgb, D::Eight, Some(&[0, 10, 0, 20, 0, 30])),
            (C::Rgba, D::Eight, None),
            (C::Rgba, D::Sixteen, None),
            (C::Indexed, D::One, None),
            (C::Indexed, D::Two, None),
            (C::Indexed, D::Four, None),
            (C::Indexed, D::Eight, None),
            (C::Indexed, D::Eight, Some(&[0, 64, 128, 255, 7])),
        ];
        for (color, depth, trns) in cases {
            let file = sample_png(color, depth, trns);
            let ours = decode(&file, &ProcessingPolicy::default()).unwrap();
            let reference = reference(&file);
            assert_eq!(ours.pixels.dimensions(), reference.dimensions());
            // 16-bit samples: `png` keeps the high byte, `image` rounds; alpha rounding spreads.
            let tolerance = if depth == D::Sixteen { 2 } else { 0 };
            for (a, b) in ours.pixels.as_raw().iter().zip(reference.as_raw()) {
                assert!(
                    a.abs_diff(*b) <= tolerance,
                    "{color:?} {depth:?} {trns:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn interlaced_images_decode_as_the_image_crate_does() {
        let pixel = |x: u32, y: u32| {
            [
                (x * 7) as u8,
                (y * 11) as u8,
                (x * y) as u8,
                (x + y * 3) as u8,
            ]
        };
        for (width, height) in [(37, 29), (1, 1), (3, 2), (9, 1), (1, 9)] {
            let file = interlaced_png(width, height, true, pixel);
            let ours = decode(&file, &ProcessingPolicy::default()).unwrap();
            assert!(ours.pixels == reference(&file), "{width}x{height}");
        }
    }

    #[test]
    fn interlaced_rows_come_pass_by_pass_and_skip_empty_passes() {
        // 3 x 2: passes 2, 3 and 5 start past the image's last column or row, so they are empty.
        let places: Vec<_> = row_places(3, 2, true).collect();
        assert_eq!(
            places,
            [(0, 0, 8, 1), (0, 2, 4, 1), (0, 1, 2, 1), (1, 0, 1, 3)]
        );
        let pixels: u32 = places.iter().map(|p| p.3).sum();
        assert_eq!(pixels, 6, "every pixel once");
    }
}
