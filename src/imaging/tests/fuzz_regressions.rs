//! Inputs the fuzz targets (`fuzz/`) found, each pinned to the verdict the code must give. The
//! files are the minimised inputs under `fixtures/fuzz/<target>/`; they also seed every later
//! fuzz run.

use crate::domain::ProcessingPolicy;
use crate::imaging::jpeg::dc::decode_dc;

/// Found by the `jpeg_dc` target; `inspect` reaches it whenever a thumbnail takes the DC path.
///
/// Root cause: `to_rgb` converts Y/Cb/Cr block means to RGB in 16.16 fixed point without first
/// bringing them into the 0..=255 sample range. This file's chroma quantiser has a DC step of
/// 251, so its chroma DC terms dequantise far outside that range and `91_881 * cr` overflows
/// `i32`: a panic with overflow checks on, silently wrapped colours in a release build. The scan
/// itself is well-formed (a 64 x 48 frame, 4:2:0), so the verdict is an 8 x 6 image. Fixed by
/// clamping each block mean to a sample's range before the conversion, as a full decoder's IDCT
/// output is (`mean_sample`, in `jpeg/dc/colour.rs`).
#[test]
fn chroma_dc_far_out_of_range_decodes_without_overflow() {
    let jpeg = include_bytes!("../../../fixtures/fuzz/jpeg_dc/chroma-dc-out-of-range.jpg");

    let image = decode_dc(jpeg, &ProcessingPolicy::default());

    let image = image.expect("the scan decodes");
    assert_eq!(
        (
            image.width,
            image.height,
            image.full_width,
            image.full_height
        ),
        (8, 6, 64, 48)
    );
    assert_eq!(image.rgb.len(), 8 * 6 * 3);
}

/// Found by the `inspect` target with a 64 px rendition: a JPEG whose frame is much wider than
/// tall, which the DC decoder leaves to `jpeg-decoder`.
///
/// Root cause: `jpeg-decoder` picks the smallest DCT scale that reaches the requested size on
/// *either* side, and a side of a few pixels reaches any request at 1/8; the image came back
/// narrower than the rendition, which was then made smaller than its stated size. Fixed by asking
/// `jpeg-decoder` on the side that needs the larger scale alone (`fallback::scale`), so the image
/// reaches the rendition on both sides.
#[test]
fn a_wide_jpeg_is_decoded_at_the_scale_its_width_needs() {
    use crate::domain::{ImageType, RenditionName, RenditionSpec, Renditions};
    use crate::imaging::{inspect, thumbnail_dimensions};

    let jpeg = include_bytes!("../../../fixtures/fuzz/inspect/jpeg-strip-scaled-on-one-side.jpg");
    let spec = |name: &str, max_side| RenditionSpec {
        name: RenditionName::parse(name).unwrap(),
        max_side,
    };
    let policy = ProcessingPolicy {
        max_bytes: 1024 * 1024,
        max_width: 1024,
        max_height: 1024,
        max_pixels: 1_000_000,
        renditions: Renditions::from_specs(&[spec("thumbnail", 8), spec("display", 64)]).unwrap(),
    };

    let inspected = inspect(jpeg, ImageType::Jpeg, &policy).expect("a valid JPEG");

    for (rendition, side) in inspected.renditions.iter().zip([64, 8]) {
        assert_eq!(
            (rendition.width, rendition.height),
            thumbnail_dimensions(inspected.width, inspected.height, side),
            "{}",
            rendition.name
        );
    }
}
