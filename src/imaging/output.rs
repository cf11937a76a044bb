//! What the pipeline makes of a reduced image: each rendition resized (Lanczos3), turned upright
//! (EXIF orientation), and encoded as a fresh JPEG that carries no metadata.

use fast_image_resize::images::{Image as ResizeImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use crate::domain::{RejectionReason, RenditionFormat, RenditionName, RenditionSpec};

/// JPEG quality of renditions: sharp's and libvips' default, no visible blocking at any size.
const JPEG_QUALITY: u8 = 80;

/// One rendition of an image: upright (EXIF orientation applied), no metadata of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub name: RenditionName,
    /// The side it was made for.
    pub max_side: u32,
    pub format: RenditionFormat,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// `pixels` resized to `width` x `height` with a Lanczos3 filter (a copy if already that size).
///
/// # Errors
/// [`RejectionReason::Undecodable`] if the resizer refuses the sizes (an empty side).
pub(in crate::imaging) fn resize(
    pixels: &RgbImage,
    width: u32,
    height: u32,
) -> Result<RgbImage, RejectionReason> {
    if pixels.dimensions() == (width, height) {
        return Ok(pixels.clone());
    }
    let (src_w, src_h) = pixels.dimensions();
    let src = ImageRef::new(src_w, src_h, pixels.as_raw(), PixelType::U8x3)
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

/// The longest side up to which a rendition keeps its chroma at full resolution: at thumbnail
/// sizes, halving it visibly bleeds the colour of edges; a display-sized rendition halves it, as
/// libjpeg's and libvips' defaults do, for smaller files and a faster encode.
const FULL_CHROMA_UP_TO: u32 = 512;

/// `image` encoded as rendition `spec`'s JPEG (`JPEG_QUALITY`; 4:4:4 up to
/// [`FULL_CHROMA_UP_TO`], 4:2:0 above).
///
/// # Errors
/// [`RejectionReason::Undecodable`] if the encoder refuses it (an empty image, a side over
/// 65,535).
pub(in crate::imaging) fn encode(
    spec: &RenditionSpec,
    image: &RgbImage,
) -> Result<Rendition, RejectionReason> {
    let (width, height) = image.dimensions();
    let sides = (u16::try_from(width), u16::try_from(height));
    let (Ok(w), Ok(h)) = sides else {
        return Err(RejectionReason::Undecodable);
    };
    let mut jpeg = Vec::with_capacity(16 * 1024);
    // A fresh encoder writes pixels and the JFIF header only: no EXIF, no GPS, no ICC, no comments.
    let mut encoder = Encoder::new(&mut jpeg, JPEG_QUALITY);
    encoder.set_sampling_factor(if width.max(height) <= FULL_CHROMA_UP_TO {
        SamplingFactor::F_1_1
    } else {
        SamplingFactor::F_2_2
    });
    encoder
        .encode(image.as_raw(), w, h, ColorType::Rgb)
        .map_err(|_| RejectionReason::Undecodable)?;
    Ok(Rendition {
        name: spec.name,
        max_side: spec.max_side,
        format: RenditionFormat::Jpeg,
        bytes: jpeg,
        width,
        height,
    })
}
