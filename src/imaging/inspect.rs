//! The pipeline: what the processor calls to verify an upload and make its renditions.
//!
//! Sniff the type from the first bytes ([`sniff`]), dispatch to the format's decoder (each
//! meets [`super::contract`] and hands over a [`Reduced`] image, reduced to at least the largest
//! rendition), then resize, turn upright and encode each rendition ([`super::output`]), largest
//! first, each smaller one resized from the one before. Only this module imports the decoders.

use super::contract::{Reduced, thumbnail_dimensions};
use super::output::{self, Rendition};
use super::sniff::sniff;
use super::{gif, heif, jpeg, png, webp};
use crate::domain::{ImageType, ProcessingPolicy, RejectionReason, RenditionName};

/// A verified image: its upright dimensions and its renditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub width: u32,
    pub height: u32,
    /// One per configured rendition, largest first.
    pub renditions: Vec<Rendition>,
}

impl Inspected {
    /// The `thumbnail` rendition (every configured set has one).
    pub fn thumbnail(&self) -> &Rendition {
        self.renditions
            .iter()
            .find(|r| r.name.as_str() == RenditionName::THUMBNAIL)
            .unwrap_or(&self.renditions[self.renditions.len() - 1])
    }
}

/// Verifies that `bytes` are an image of the `declared` type within the `policy`'s limits, and
/// makes its renditions (`policy.renditions`).
///
/// Dimensions are read from the headers and checked before anything is decoded, so a small file
/// that declares a huge image is refused without allocating for it; every header a decoder would
/// honour (each frame of an animation, each frame header of a JPEG) is checked, not just the
/// first. Processing holds [`ProcessingPolicy::memory_budget`] of the image's pixels: PNG, GIF and
/// WebP are reduced while they are decoded (see `super::reduce`), JPEGs are decoded at a reduced
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
    let sniffed = sniff(bytes);
    // A HEIF file's type is the coding of its primary image, which its decoder reads.
    let same_family = sniffed.is_some_and(|t| t.is_heif()) && declared.is_heif();
    if sniffed != Some(declared) && !same_family {
        return Err(RejectionReason::TypeMismatch);
    }
    let Reduced {
        pixels,
        orientation,
        width,
        height,
    } = match declared {
        ImageType::Jpeg => jpeg::decode(bytes, policy)?,
        ImageType::Png => png::decode(bytes, policy)?,
        ImageType::Gif => gif::decode(bytes, policy)?,
        ImageType::Webp => webp::decode(bytes, policy)?,
        ImageType::Heic | ImageType::Heif | ImageType::Avif => {
            heif::decode(bytes, declared, policy)?
        }
    };
    let (upright_w, upright_h) = output::upright_dimensions(width, height, orientation);
    // A decoder reduces to at least the largest rendition, except where memory did not allow it
    // (a JPEG decoded at 1/8 scale): no rendition is made larger than what was decoded.
    let decoded_side = pixels.width().max(pixels.height());
    let mut renditions = Vec::new();
    let mut previous: Option<image::RgbImage> = None;
    for spec in policy.renditions.iter() {
        let side = spec.max_side.min(decoded_side);
        // `thumbnail_dimensions` is symmetric in its sides, so sizes in the stored orientation
        // and upright agree.
        let image = match &previous {
            None => {
                let (w, h) = thumbnail_dimensions(width, height, side);
                output::orient(output::resize(&pixels, w, h)?, orientation)
            }
            Some(larger) => {
                let (w, h) = thumbnail_dimensions(upright_w, upright_h, side);
                output::resize(larger, w, h)?
            }
        };
        renditions.push(output::encode(spec, &image)?);
        previous = Some(image);
    }
    Ok(Inspected {
        width: upright_w,
        height: upright_h,
        renditions,
    })
}

#[cfg(test)]
mod tests {
    use image::{ImageFormat, RgbImage};

    use super::*;
    use crate::domain::Renditions;
    use crate::imaging::jpeg::marker::{Marker, Segments};
    use crate::imaging::testkit::jpeg::encoded;
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

    fn decode_thumbnail(thumb: &Rendition) -> RgbImage {
        image::load_from_memory_with_format(&thumb.bytes, ImageFormat::Jpeg)
            .expect("thumbnails are JPEG")
            .into_rgb8()
    }

    /// The marker of every segment before the image data, read by the JPEG decoder's own marker
    /// walker: what a JPEG carries besides pixels.
    fn segment_markers(jpeg: &[u8]) -> Vec<Marker> {
        let mut markers = Vec::new();
        for segment in Segments::after_soi(jpeg).expect("a JPEG") {
            let marker = segment.expect("well-formed segments").marker;
            markers.push(marker);
            if marker == Marker::Sos {
                break;
            }
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
            let thumb = decode_thumbnail(inspected.thumbnail());
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
        let thumb = decode_thumbnail(inspected.thumbnail());
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
        assert!(
            segment_markers(GPS).contains(&Marker::App(1)),
            "the fixture has EXIF"
        );
        assert!(
            GPS.windows(2)
                .any(|w| w == gps_ifd_tag || w == [0x25, 0x88])
        );
        assert!(GPS.windows(10).any(|w| w == b"FixtureCam"));

        let inspected = inspect(GPS, ImageType::Jpeg, &policy()).unwrap();
        let thumb = inspected.thumbnail();

        let markers = segment_markers(&thumb.bytes);
        assert!(
            markers.iter().all(|m| matches!(
                m,
                Marker::App(0) | Marker::Dqt | Marker::Sof(0) | Marker::Dht | Marker::Sos
            )),
            "only JFIF, tables, frame and scan headers: {markers:x?}"
        );
        assert!(!thumb.bytes.windows(4).any(|w| w == b"Exif"));
        assert!(!thumb.bytes.windows(10).any(|w| w == b"FixtureCam"));
    }

    #[test]
    fn transparency_becomes_white_not_black() {
        let inspected = inspect(TRANSPARENT, ImageType::Png, &policy()).unwrap();
        let thumb = decode_thumbnail(inspected.thumbnail());
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
        let jpeg = encoded(&big.into(), 85);
        for (side, expected) in [(256, (256, 192)), (100, (100, 75))] {
            let limits = ProcessingPolicy {
                renditions: Renditions::thumbnail_only(side),
                ..policy()
            };
            let inspected = inspect(&jpeg, ImageType::Jpeg, &limits).unwrap();
            assert_eq!((inspected.width, inspected.height), (1200, 900));
            assert_eq!(
                decode_thumbnail(inspected.thumbnail()).dimensions(),
                expected
            );
        }
    }

    #[test]
    fn a_polyglot_is_judged_by_its_first_bytes() {
        // A GIF header followed by script: the signature says GIF, and decoding must decide.
        let polyglot = b"GIF89a/*\x01\x00\x01\x00*/=1;alert(document.domain);";
        assert_eq!(sniff(polyglot), Some(ImageType::Gif));
        let err = inspect(polyglot, ImageType::Gif, &policy()).unwrap_err();
        assert_eq!(err, RejectionReason::Undecodable);
    }
}
