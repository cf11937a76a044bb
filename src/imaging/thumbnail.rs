use fast_image_resize::images::Image as ResizeImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::{gif_decode, jpeg_decode, png_decode, sniff, webp_decode};
use crate::domain::{ImageType, ProcessingPolicy, RejectionReason};

/// JPEG quality of thumbnails: small files, no visible blocking at 256 px.
const THUMBNAIL_QUALITY: u8 = 80;

/// A verified image: its upright dimensions and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Thumbnail,
}

/// A JPEG thumbnail: upright (EXIF orientation applied), no metadata of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Verifies that `bytes` are an image of the `declared` type within the `policy`'s limits, and
/// makes its thumbnail.
///
/// Dimensions are read from the headers and checked before anything is decoded, so a small file
/// that declares a huge image is refused without allocating for it; every header a decoder would
/// honour (each frame of an animation, each frame header of a JPEG) is checked, not just the
/// first. Processing holds [`ProcessingPolicy::memory_budget`] of the image's pixels: PNG, GIF and
/// WebP are reduced while they are decoded (see [`super::shrink`]), JPEGs are decoded at a reduced
/// scale in the DCT domain, and a JPEG whose fallback decoder would need more than the budget is
/// refused from its header.
///
/// # Errors
/// The [`RejectionReason`] for bytes that are not a valid image of the declared type within limits:
/// [`RejectionReason::TooManyPixels`] for dimensions, frames or memory over the limits,
/// [`RejectionReason::Undecodable`] for broken, truncated or inconsistent data.
pub fn inspect(
    bytes: &[u8],
    declared: ImageType,
    policy: &ProcessingPolicy,
) -> Result<Inspected, RejectionReason> {
    if sniff(bytes) != Some(declared) {
        return Err(RejectionReason::TypeMismatch);
    }
    let Decoded {
        pixels,
        orientation,
        width,
        height,
    } = match declared {
        ImageType::Jpeg => jpeg_decode::decode(bytes, policy)?,
        ImageType::Png => png_decode::decode(bytes, policy)?,
        ImageType::Gif => gif_decode::decode(bytes, policy)?,
        ImageType::Webp => webp_decode::decode(bytes, policy)?,
    };
    let (thumb_w, thumb_h) = thumbnail_dimensions(width, height, policy.thumbnail_size);
    let small = resize(pixels, thumb_w, thumb_h)?;
    let mut upright = DynamicImage::ImageRgb8(small);
    upright.apply_orientation(orientation);
    let (width, height) = if swaps_sides(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Inspected {
        width,
        height,
        thumbnail: encode(upright.as_rgb8().ok_or(RejectionReason::Undecodable)?)?,
    })
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

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// What a format's decoder hands to [`inspect`]: the image reduced to at least the thumbnail's
/// size (RGB8, transparency already flattened onto white), its EXIF orientation, and its full
/// dimensions as stored.
pub(super) struct Decoded {
    pub pixels: RgbImage,
    pub orientation: Orientation,
    pub width: u32,
    pub height: u32,
}

/// Checks a header's `width` x `height` against the `policy`.
///
/// # Errors
/// [`RejectionReason::Undecodable`] for an empty side, [`RejectionReason::TooManyPixels`] for
/// dimensions over the limits.
pub(super) fn check_dimensions(
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
/// need `estimated_bytes` of memory at its peak stays within the image's budget.
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] if it would not.
pub(super) fn check_budget(
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

/// Counts the pixels of the frames of an animation as they are met, against the policy's
/// [`ProcessingPolicy::max_total_frame_pixels`].
pub(super) struct FrameWork {
    pixels: u64,
    max: u64,
}

impl FrameWork {
    pub fn new(policy: &ProcessingPolicy) -> Self {
        Self {
            pixels: 0,
            max: policy.max_total_frame_pixels(),
        }
    }

    /// Adds a `width` x `height` frame.
    ///
    /// # Errors
    /// [`RejectionReason::TooManyPixels`] once the frames add up to more than the policy allows.
    pub fn add(&mut self, width: u32, height: u32) -> Result<(), RejectionReason> {
        self.pixels = self
            .pixels
            .saturating_add(u64::from(width) * u64::from(height));
        if self.pixels > self.max {
            return Err(RejectionReason::TooManyPixels);
        }
        Ok(())
    }
}

fn resize(pixels: RgbImage, width: u32, height: u32) -> Result<RgbImage, RejectionReason> {
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

fn encode(image: &RgbImage) -> Result<Thumbnail, RejectionReason> {
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

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::*;
    use crate::test_alloc::bytes_allocated_by;

    const JPEG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
    const PNG: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.png");
    const GIF: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.gif");
    const WEBP: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.webp");
    const ROTATED: &[u8] = include_bytes!("../../fixtures/images/portrait-exif-rotated.jpg");
    const GPS: &[u8] = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg");
    const BOMB: &[u8] = include_bytes!("../../fixtures/images/bomb-100000x100000.png");
    const TRANSPARENT: &[u8] = include_bytes!("../../fixtures/images/half-transparent-40x30.png");

    fn policy() -> ProcessingPolicy {
        ProcessingPolicy::default()
    }

    fn decode_thumbnail(thumb: &Thumbnail) -> RgbImage {
        image::load_from_memory_with_format(&thumb.jpeg, ImageFormat::Jpeg)
            .expect("thumbnails are JPEG")
            .into_rgb8()
    }

    /// The marker of every segment before the image data: what a JPEG carries besides pixels.
    fn segment_markers(jpeg: &[u8]) -> Vec<u8> {
        let mut markers = Vec::new();
        let mut at = 2;
        while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
            let marker = jpeg[at + 1];
            markers.push(marker);
            if marker == 0xDA {
                break;
            }
            at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        }
        markers
    }

    #[test]
    fn every_accepted_type_is_verified_and_thumbnailed() {
        for (bytes, image_type) in [
            (JPEG, ImageType::Jpeg),
            (PNG, ImageType::Png),
            (GIF, ImageType::Gif),
            (WEBP, ImageType::Webp),
        ] {
            let inspected = inspect(bytes, image_type, &policy())
                .unwrap_or_else(|e| panic!("{image_type}: {e}"));
            assert_eq!(
                (inspected.width, inspected.height),
                (64, 48),
                "{image_type}"
            );
            let thumb = decode_thumbnail(&inspected.thumbnail);
            assert_eq!(
                thumb.dimensions(),
                (64, 48),
                "small images are not enlarged"
            );
        }
    }

    #[test]
    fn bytes_of_another_type_are_a_type_mismatch() {
        let cases: [(&[u8], ImageType); 4] = [
            (PNG, ImageType::Jpeg),
            (JPEG, ImageType::Png),
            (b"<html><body>cat.png</body></html>", ImageType::Png),
            (
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                ImageType::Webp,
            ),
        ];
        for (bytes, declared) in cases {
            assert_eq!(
                inspect(bytes, declared, &policy()),
                Err(RejectionReason::TypeMismatch),
                "{declared}"
            );
        }
    }

    #[test]
    fn truncated_images_are_undecodable() {
        for (bytes, image_type) in [
            (JPEG, ImageType::Jpeg),
            (PNG, ImageType::Png),
            (GIF, ImageType::Gif),
            (WEBP, ImageType::Webp),
        ] {
            let cut = &bytes[..bytes.len() / 3];
            assert_eq!(
                inspect(cut, image_type, &policy()),
                Err(RejectionReason::Undecodable),
                "{image_type}"
            );
        }
    }

    #[test]
    fn the_png_bomb_is_refused_from_its_header_without_allocating_for_it() {
        let mut result = None;
        let allocated = bytes_allocated_by(|| {
            result = Some(inspect(BOMB, ImageType::Png, &policy()));
        });
        assert_eq!(result, Some(Err(RejectionReason::TooManyPixels)));
        assert!(
            allocated < 1024 * 1024,
            "allocated {allocated} bytes for a {} byte file",
            BOMB.len()
        );
    }

    #[test]
    fn each_dimension_limit_applies_to_jpeg_and_the_others() {
        let narrow = ProcessingPolicy {
            max_width: 63,
            ..policy()
        };
        let short = ProcessingPolicy {
            max_height: 47,
            ..policy()
        };
        let few = ProcessingPolicy {
            max_pixels: 64 * 48 - 1,
            ..policy()
        };
        for limits in [narrow, short, few] {
            for (bytes, image_type) in [(JPEG, ImageType::Jpeg), (PNG, ImageType::Png)] {
                assert_eq!(
                    inspect(bytes, image_type, &limits),
                    Err(RejectionReason::TooManyPixels),
                    "{image_type} {limits:?}"
                );
            }
        }
    }

    #[test]
    fn an_exif_rotated_photo_comes_out_upright() {
        let stored = image::load_from_memory(ROTATED).unwrap();
        assert_eq!(
            (stored.width(), stored.height()),
            (64, 48),
            "the fixture is stored sideways"
        );

        let inspected = inspect(ROTATED, ImageType::Jpeg, &policy()).unwrap();

        assert_eq!((inspected.width, inspected.height), (48, 64));
        let thumb = decode_thumbnail(&inspected.thumbnail);
        assert_eq!(thumb.dimensions(), (48, 64));
        let top = thumb.get_pixel(24, 4);
        let bottom = thumb.get_pixel(24, 60);
        assert!(top[0] > 150 && top[2] < 100, "top should be red: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "bottom should be blue: {bottom:?}"
        );
    }

    #[test]
    fn no_metadata_survives_into_the_thumbnail() {
        let gps_ifd_tag = [0x88, 0x25];
        assert!(segment_markers(GPS).contains(&0xE1), "the fixture has EXIF");
        assert!(
            GPS.windows(2)
                .any(|w| w == gps_ifd_tag || w == [0x25, 0x88])
        );
        assert!(GPS.windows(10).any(|w| w == b"FixtureCam"));

        let thumb = inspect(GPS, ImageType::Jpeg, &policy()).unwrap().thumbnail;

        let markers = segment_markers(&thumb.jpeg);
        assert!(
            markers
                .iter()
                .all(|m| matches!(m, 0xE0 | 0xDB | 0xC0 | 0xC4 | 0xDA)),
            "only JFIF, tables, frame and scan headers: {markers:x?}"
        );
        assert!(!thumb.jpeg.windows(4).any(|w| w == b"Exif"));
        assert!(!thumb.jpeg.windows(10).any(|w| w == b"FixtureCam"));
    }

    #[test]
    fn transparency_becomes_white_not_black() {
        let inspected = inspect(TRANSPARENT, ImageType::Png, &policy()).unwrap();
        let thumb = decode_thumbnail(&inspected.thumbnail);
        let opaque = thumb.get_pixel(5, 15);
        let clear = thumb.get_pixel(35, 15);
        assert!(opaque[1] > 120 && opaque[0] < 60, "green: {opaque:?}");
        assert!(clear.0.iter().all(|&c| c > 240), "white: {clear:?}");
    }

    #[test]
    fn a_large_jpeg_is_scaled_down_to_the_configured_side() {
        let big = RgbImage::from_fn(1200, 900, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode_image(&big)
            .unwrap();
        for (side, expected) in [(256, (256, 192)), (100, (100, 75))] {
            let limits = ProcessingPolicy {
                thumbnail_size: side,
                ..policy()
            };
            let inspected = inspect(&jpeg, ImageType::Jpeg, &limits).unwrap();
            assert_eq!((inspected.width, inspected.height), (1200, 900));
            assert_eq!(
                decode_thumbnail(&inspected.thumbnail).dimensions(),
                expected
            );
        }
    }

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
