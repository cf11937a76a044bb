//! What the pipeline makes of a reduced image: resized to its thumbnail (Lanczos3), turned
//! upright (EXIF orientation), and encoded as a fresh JPEG that carries no metadata.

use fast_image_resize::images::Image as ResizeImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use crate::domain::RejectionReason;

/// JPEG quality of thumbnails: small files, no visible blocking at 256 px.
const THUMBNAIL_QUALITY: u8 = 80;

/// A JPEG thumbnail: upright (EXIF orientation applied), no metadata of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// `pixels` resized to `width` x `height` with a Lanczos3 filter (unchanged if already that size).
///
/// # Errors
/// [`RejectionReason::Undecodable`] if the resizer refuses the sizes (an empty side).
pub(in crate::imaging) fn resize(
    pixels: RgbImage,
    width: u32,
    height: u32,
) -> Result<RgbImage, RejectionReason> {
    if pixels.dimensions() == (width, height) {
        return Ok(pixels);
    }
    let (src_w, src_h) = pixels.dimensions();
    let src = ResizeImage::from_vec_u8(src_w, src_h, pixels.into_raw(), PixelType::U8x3)
        .map_err(|_| RejectionReason::Undecodable)?;
    let mut dst = ResizeImage::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|_| RejectionReason::Undecodable)?;
    RgbImage::from_raw(width, height, dst.into_vec()).ok_or(RejectionReason::Undecodable)
}

/// `image` turned as `orientation` says, so that it stands upright.
pub(in crate::imaging) fn orient(image: RgbImage, orientation: Orientation) -> RgbImage {
    let mut upright = DynamicImage::ImageRgb8(image);
    upright.apply_orientation(orientation);
    upright.into_rgb8()
}

/// The upright dimensions of a `width` x `height` image stored with `orientation`.
pub(in crate::imaging) fn upright_dimensions(
    width: u32,
    height: u32,
    orientation: Orientation,
) -> (u32, u32) {
    let swaps_sides = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    if swaps_sides {
        (height, width)
    } else {
        (width, height)
    }
}

/// `image` encoded as the thumbnail's JPEG.
///
/// # Errors
/// [`RejectionReason::Undecodable`] if the encoder refuses it (an empty image).
pub(in crate::imaging) fn encode(image: &RgbImage) -> Result<Thumbnail, RejectionReason> {
    let mut jpeg = Vec::with_capacity(16 * 1024);
    // A fresh encoder writes pixels and the JFIF header only: no EXIF, no GPS, no ICC, no comments.
    JpegEncoder::new_with_quality(&mut jpeg, THUMBNAIL_QUALITY)
        .encode_image(image)
        .map_err(|_| RejectionReason::Undecodable)?;
    Ok(Thumbnail {
        jpeg,
        width: image.width(),
        height: image.height(),
    })
}
