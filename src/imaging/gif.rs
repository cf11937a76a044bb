//! GIF: the logical screen and every frame checked against the limits, every frame decoded line
//! by line, the first one composed into the thumbnail.
//!
//! A frame must lie inside the logical screen. The `gif` crate leaves that check to the caller
//! (decoders differ: some clip, some grow the screen), and the limits were only ever applied to
//! the screen, so a 68 kB file with a 16 x 16 screen and a 10000 x 10000 frame became a 100 MP
//! image. Here a frame over the limits is [`RejectionReason::TooManyPixels`] and a frame within
//! them but outside the screen is [`RejectionReason::Undecodable`]: refusing keeps one meaning
//! for the image's dimensions (the screen's), where clipping would still decode pixels nobody
//! sees and growing would let a frame choose the dimensions.
//!
//! Only the first frame is shown in the thumbnail (composed onto a transparent screen, so
//! uncovered areas become white); the others are decoded into a small reused buffer only to
//! verify them. Frames add up against [`ProcessingPolicy::max_total_frame_pixels`], so a file of
//! thousands of large frames costs no more than a few large images.

use std::num::NonZeroU64;

use gif::{ColorOutput, DecodeOptions, Decoder, DecodingError, MemoryLimit};
use image::metadata::Orientation;

use super::contract::{FramePixelBudget, Reduced, check_dimensions, thumbnail_dimensions};
use super::reduce::Reducer;
use crate::domain::{ProcessingPolicy, RejectionReason};

/// What the `gif` crate may allocate for one frame or one metadata block (XMP, ICC). Frames are
/// never decoded into a buffer of the crate's, so this only bounds metadata.
const DECODER_LIMIT_BYTES: u64 = 16 * 1024 * 1024;

/// The buffer frames after the first are decoded into, a piece at a time.
const VERIFY_CHUNK_BYTES: usize = 64 * 1024;

/// The rows of an interlaced frame in the order they are stored: every 8th from 0, every 8th
/// from 4, every 4th from 2, every 2nd from 1.
fn interlaced_rows(height: u32) -> impl Iterator<Item = u32> {
    [(0, 8), (4, 8), (2, 4), (1, 2)]
        .into_iter()
        .flat_map(move |(first, step)| (first..height).step_by(step))
}

fn rejection(err: DecodingError) -> RejectionReason {
    match err {
        DecodingError::MemoryLimit => RejectionReason::TooManyPixels,
        _ => RejectionReason::Undecodable,
    }
}

/// The position and size of a frame, widened.
struct Rect {
    left: u32,
    top: u32,
    width: u32,
    height: u32,
}

/// Decodes a GIF's first frame, reduced to at least its thumbnail's size, and verifies the rest.
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] for a screen or frame over the limits or frames adding up
/// to too many pixels; [`RejectionReason::Undecodable`] for a frame outside the screen, a file
/// without frames, and data the `gif` crate refuses or that ends before a frame does.
pub(super) fn decode(bytes: &[u8], policy: &ProcessingPolicy) -> Result<Reduced, RejectionReason> {
    let mut options = DecodeOptions::new();
    options.set_color_output(ColorOutput::Indexed);
    options.set_memory_limit(MemoryLimit::Bytes(
        NonZeroU64::new(DECODER_LIMIT_BYTES).unwrap_or(NonZeroU64::MIN),
    ));
    let mut decoder = options.read_info(bytes).map_err(rejection)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    check_dimensions(policy, width, height)?;

    let mut frame_pixels = FramePixelBudget::new(policy);
    let mut first = None;
    let mut chunk = Vec::new();
    while let Some(frame) = decoder.next_frame_info().map_err(rejection)? {
        let rect = Rect {
            left: u32::from(frame.left),
            top: u32::from(frame.top),
            width: u32::from(frame.width),
            height: u32::from(frame.height),
        };
        if !policy.allows_dimensions(rect.width, rect.height) {
            return Err(RejectionReason::TooManyPixels);
        }
        if rect.left + rect.width > width || rect.top + rect.height > height {
            return Err(RejectionReason::Undecodable);
        }
        frame_pixels.add(rect.width, rect.height)?;
        if first.is_none() {
            first = Some(compose_first_frame(
                &mut decoder,
                &rect,
                (width, height),
                policy,
            )?);
        } else {
            let mut left = rect.width as usize * rect.height as usize;
            if chunk.is_empty() && left > 0 {
                chunk = vec![0u8; VERIFY_CHUNK_BYTES];
            }
            while left > 0 {
                let piece = left.min(chunk.len());
                if !decoder
                    .fill_buffer(&mut chunk[..piece])
                    .map_err(rejection)?
                {
                    return Err(RejectionReason::Undecodable);
                }
                left -= piece;
            }
        }
    }
    Ok(Reduced {
        pixels: first.ok_or(RejectionReason::Undecodable)?,
        orientation: Orientation::NoTransforms,
        width,
        height,
    })
}

/// Decodes the current frame line by line onto a transparent `screen` and reduces it.
fn compose_first_frame(
    decoder: &mut Decoder<&[u8]>,
    rect: &Rect,
    screen: (u32, u32),
    policy: &ProcessingPolicy,
) -> Result<image::RgbImage, RejectionReason> {
    let (width, height) = screen;
    let frame = decoder
        .current_frame_info()
        .ok_or(RejectionReason::Undecodable)?;
    let (transparent, interlaced) = (frame.transparent, frame.interlaced);
    let palette = decoder.palette().map_err(rejection)?.to_vec();
    let mut reducer = Reducer::new(
        width,
        height,
        thumbnail_dimensions(width, height, policy.renditions.largest_side()),
    );
    let mut row = vec![255u8; width as usize * 3];
    for y in (0..rect.top).chain(rect.top + rect.height..height) {
        reducer.add_row(y, &row);
    }
    let mut indices = vec![0u8; rect.width as usize];
    let order: Box<dyn Iterator<Item = u32>> = if interlaced {
        Box::new(interlaced_rows(rect.height))
    } else {
        Box::new(0..rect.height)
    };
    let span = rect.left as usize * 3..(rect.left + rect.width) as usize * 3;
    for line in order {
        if !decoder.fill_buffer(&mut indices).map_err(rejection)? {
            return Err(RejectionReason::Undecodable);
        }
        for (out, &index) in row[span.clone()].chunks_exact_mut(3).zip(&indices) {
            let start = usize::from(index) * 3;
            // The transparent index, and an index past the palette's end, leave the screen's
            // transparency: white.
            match palette.get(start..start + 3) {
                Some(colour) if Some(index) != transparent => out.copy_from_slice(colour),
                _ => out.fill(255),
            }
        }
        reducer.add_row(rect.top + line, &row);
    }
    reducer.finish()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use image::RgbImage;

    use super::super::reduce::over_white;
    use super::*;

    /// A 40 x 30 screen with one 21 x 15 frame at (5, 7): local palette, a transparent index,
    /// stored interlaced or not.
    fn offset_frame_gif(interlaced: bool) -> Vec<u8> {
        let (width, height) = (21u16, 15u16);
        let rows: Vec<Vec<u8>> = (0..height)
            .map(|y| (0..width).map(|x| ((x * 3 + y * 5) % 16) as u8).collect())
            .collect();
        let order: Vec<u32> = if interlaced {
            interlaced_rows(u32::from(height)).collect()
        } else {
            (0..u32::from(height)).collect()
        };
        let buffer: Vec<u8> = order
            .iter()
            .flat_map(|&y| rows[y as usize].clone())
            .collect();
        let frame = gif::Frame {
            left: 5,
            top: 7,
            width,
            height,
            interlaced,
            transparent: Some(3),
            palette: Some((0..48).map(|i| (i * 17 % 256) as u8).collect()),
            buffer: Cow::Owned(buffer),
            ..gif::Frame::default()
        };
        let mut out = Vec::new();
        let mut encoder = gif::Encoder::new(&mut out, 40, 30, &[]).unwrap();
        encoder.write_frame(&frame).unwrap();
        drop(encoder);
        out
    }

    #[test]
    fn the_first_frame_is_composed_as_the_image_crate_composes_it() {
        for interlaced in [false, true] {
            let file = offset_frame_gif(interlaced);
            let ours = decode(&file, &ProcessingPolicy::default()).unwrap();
            let rgba = image::load_from_memory(&file).unwrap().to_rgba8();
            let reference = RgbImage::from_fn(40, 30, |x, y| {
                let p = rgba.get_pixel(x, y);
                image::Rgb([0, 1, 2].map(|c| over_white(p[c], p[3])))
            });
            assert!(ours.pixels == reference, "interlaced: {interlaced}");
            assert_eq!(ours.pixels.get_pixel(0, 0).0, [255; 3], "outside the frame");
        }
    }

    #[test]
    fn interlaced_rows_cover_each_row_once() {
        assert_eq!(
            interlaced_rows(10).collect::<Vec<_>>(),
            [0, 8, 4, 2, 6, 1, 3, 5, 7, 9]
        );
        let mut rows: Vec<_> = interlaced_rows(37).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..37).collect::<Vec<_>>());
    }
}
