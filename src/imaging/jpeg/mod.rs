//! JPEG: the file surveyed once for its limits (`survey`), then decoded at a reduced scale by
//! the DC decoder ([`dc`]) where it can, else by the general decoder (`fallback`).
//!
//! The parts, each importing only those before it: `marker` walks the file's segments, with one
//! policy for what lies between them; `header` parses each kind of header in one place;
//! `fallback` is `jpeg-decoder`, with its memory estimated from the header; `survey` checks the
//! frame, the scans and the passes over them before anything is decoded; [`dc`] is the decoder
//! of the image at 1/8 scale, which needs little memory at any size, and at 1/2.

pub mod dc;
mod fallback;
mod header;
// Visible to the rest of `imaging` for the tests that read JPEG files' segments.
pub(in crate::imaging) mod marker;
mod survey;

use self::dc::{DcError, ScaledImage};
use self::fallback::GeneralDecoder;
use crate::domain::{ProcessingPolicy, RejectionReason};
use crate::imaging::contract::{Reduced, check_budget, thumbnail_dimensions};

/// Decodes a JPEG, reduced to at least its largest rendition's size where memory allows.
///
/// Baseline, extended and progressive files go to the DC decoder when their 1/8-scale image
/// still reaches the largest rendition, or at 1/2 scale when that is the scale the largest
/// rendition needs (and its buffers at 1/2 scale are within the budget). What it leaves goes to
/// the general decoder, after its peak
/// memory has been estimated from the frame header and checked against the budget; a file the
/// general decoder cannot decode within the budget at the scale the rendition needs (a large
/// progressive 4:4:4 file keeps every coefficient) goes to the DC decoder too, and its renditions
/// are made from its 1/8-scale image, no larger than that.
///
/// # Errors
/// As [`survey::survey`]; then [`RejectionReason::Undecodable`] for data a decoder refuses, and
/// [`RejectionReason::TooManyPixels`] for a frame neither decoder can decode within the budget.
pub(in crate::imaging) fn decode(
    bytes: &[u8],
    policy: &ProcessingPolicy,
) -> Result<Reduced, RejectionReason> {
    let frame = survey::survey(bytes, policy)?;
    let (width, height) = (u32::from(frame.width), u32::from(frame.height));
    let general = GeneralDecoder::new(bytes, &frame)?;
    let orientation = general.orientation();
    let target = thumbnail_dimensions(width, height, policy.renditions.largest_side());
    let general_fits = check_budget(
        width,
        height,
        fallback::peak_bytes(&frame, fallback::scale(&frame, target)),
    );
    let reaches = |eighths: u32| {
        (width * eighths).div_ceil(8) >= target.0 && (height * eighths).div_ceil(8) >= target.1
    };
    // What the DC decoder's result settles: the image, a refusal, or nothing (`None`) when it
    // leaves the file to the next way.
    let settle = |result: Result<ScaledImage, DcError>| match result {
        Ok(image) if (image.full_width, image.full_height) == (width, height) => Some(
            image::RgbImage::from_raw(image.width, image.height, image.rgb)
                .ok_or(RejectionReason::Undecodable)
                .map(|pixels| Reduced {
                    pixels,
                    orientation,
                    width,
                    height,
                }),
        ),
        Ok(_) | Err(DcError::Invalid) => Some(Err(RejectionReason::Undecodable)),
        Err(DcError::OverLimits) => Some(Err(RejectionReason::TooManyPixels)),
        // Left to the general decoder, or (at 1/2 scale) over the budget there.
        Err(DcError::Unsupported) => None,
    };
    if !reaches(1)
        && !reaches(2)
        && reaches(4)
        && let Some(settled) = settle(dc::decode_half(bytes, policy))
    {
        return settled;
    }
    if (reaches(1) || general_fits.is_err())
        && let Some(settled) = settle(dc::decode_dc(bytes, policy))
    {
        return settled;
    }
    general_fits?;
    Ok(Reduced {
        pixels: general.decode(&frame, target)?,
        orientation,
        width,
        height,
    })
}
