//! The contract every format decoder meets, and the limits it checks by.
//!
//! A decoder (`png`, `gif`, `webp`, `jpeg`) takes the uploaded bytes and the
//! [`ProcessingPolicy`], and either refuses them with a [`RejectionReason`] or hands over a
//! [`Reduced`] image. Before it allocates anything sized from a header it checks that header's
//! dimensions ([`check_dimensions`]), every one it honours (each frame of an animation, each
//! frame header of a JPEG), and the peak memory its way of decoding needs ([`check_budget`]);
//! the frames of an animation are counted against [`FramePixelBudget`]. This module imports
//! nothing else of `imaging`: the decoders import it, and only the pipeline
//! ([`super::inspect`]) imports the decoders.

use image::RgbImage;
use image::metadata::Orientation;

use crate::domain::{ProcessingPolicy, RejectionReason};

/// What a format's decoder hands to the pipeline: the image reduced to at least the size of its
/// thumbnail ([`thumbnail_dimensions`]), RGB8 with transparency flattened onto white, its EXIF
/// orientation, and its full dimensions as stored (the ones the limits were checked against).
pub(in crate::imaging) struct Reduced {
    pub pixels: RgbImage,
    pub orientation: Orientation,
    pub width: u32,
    pub height: u32,
}

/// The size of the thumbnail of a `width` x `height` image: the longest side `max_side`, the other
/// in proportion (at least 1 px). Images already smaller are not enlarged.
pub fn thumbnail_dimensions(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(max_side) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    (scale(width), scale(height))
}

/// Checks a header's `width` x `height` against the `policy`.
///
/// # Errors
/// [`RejectionReason::Undecodable`] for an empty side, [`RejectionReason::TooManyPixels`] for
/// dimensions over the limits.
pub(in crate::imaging) fn check_dimensions(
    policy: &ProcessingPolicy,
    width: u32,
    height: u32,
) -> Result<(), RejectionReason> {
    if width == 0 || height == 0 {
        return Err(RejectionReason::Undecodable);
    }
    if !policy.allows_dimensions(width, height) {
        return Err(RejectionReason::TooManyPixels);
    }
    Ok(())
}

/// Checks that decoding an image of `width` x `height` in a way estimated (from its headers) to
/// need `estimated_bytes` of memory at its peak stays within the image's budget
/// ([`ProcessingPolicy::memory_budget`]).
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] if it would not.
pub(in crate::imaging) fn check_budget(
    width: u32,
    height: u32,
    estimated_bytes: u64,
) -> Result<(), RejectionReason> {
    let pixels = u64::from(width) * u64::from(height);
    if estimated_bytes > ProcessingPolicy::memory_budget(pixels) {
        return Err(RejectionReason::TooManyPixels);
    }
    Ok(())
}

/// The pixels the frames of one animation may have between them
/// ([`ProcessingPolicy::max_total_frame_pixels`]), counted as the frames are met: every frame is
/// decoded to verify the file, so this bounds the work a file of many large frames asks for.
pub(in crate::imaging) struct FramePixelBudget {
    pixels: u64,
    max: u64,
}

impl FramePixelBudget {
    pub(in crate::imaging) fn new(policy: &ProcessingPolicy) -> Self {
        Self {
            pixels: 0,
            max: policy.max_total_frame_pixels(),
        }
    }

    /// Counts a `width` x `height` frame.
    ///
    /// # Errors
    /// [`RejectionReason::TooManyPixels`] once the frames add up to more than the policy allows.
    pub(in crate::imaging) fn add(
        &mut self,
        width: u32,
        height: u32,
    ) -> Result<(), RejectionReason> {
        self.pixels = self
            .pixels
            .saturating_add(u64::from(width) * u64::from(height));
        if self.pixels > self.max {
            return Err(RejectionReason::TooManyPixels);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_sides_keep_the_aspect_ratio() {
        let cases = [
            ((4000, 3000), (256, 192)),
            ((3000, 4000), (192, 256)),
            ((64, 48), (64, 48)),
            ((256, 256), (256, 256)),
            ((257, 100), (256, 100)),
            ((100_000, 1), (256, 1)),
        ];
        for ((w, h), expected) in cases {
            assert_eq!(thumbnail_dimensions(w, h, 256), expected, "{w}x{h}");
        }
    }
}
