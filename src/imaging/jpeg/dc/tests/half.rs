//! The decoder at 1/2 scale: against `jpeg-decoder` at 1/2 scale (its 4 x 4 reduced IDCT), its
//! progressive path against the sequential twins of the same coefficients, and its fast paths
//! against its reference paths on files intact, damaged and cut.

use super::*;

/// Largest mean difference per channel value from `jpeg-decoder` at 1/2 scale (on 0..=255): the
/// IDCTs round differently (f32 here, fixed point there), and so do the colour conversions.
/// Measured: 0.01 on grayscale files, 0.33 to 0.39 on colour ones.
const MEAN_TOLERANCE: f64 = 0.6;

/// Largest mean difference of the pixels' luma. Measured: 0.001 to 0.66.
const LUMA_TOLERANCE: f64 = 0.8;

/// Largest difference of any channel value anywhere. Measured: 3.
const MAX_DIFFERENCE: u8 = 4;

/// Asserts that `ours` is `expected` within the tolerances above.
fn assert_close(name: &str, ours: &ScaledImage, (w, h, expected): (u32, u32, Vec<u8>)) {
    assert_eq!((ours.width, ours.height), (w, h), "{name}");
    let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
    let all = mean_abs_difference(&ours.rgb, &expected);
    assert!(luma < LUMA_TOLERANCE, "{name}: mean luma difference {luma}");
    assert!(all < MEAN_TOLERANCE, "{name}: mean difference {all}");
    let max = ours
        .rgb
        .iter()
        .zip(&expected)
        .map(|(a, b)| a.abs_diff(*b))
        .max();
    assert!(
        max <= Some(MAX_DIFFERENCE),
        "{name}: largest difference {max:?}"
    );
}

#[test]
fn half_scale_matches_a_general_decoder_at_half_scale() {
    let gradient = image::RgbImage::from_fn(803, 601, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    let mut inputs = fast_path_inputs();
    inputs.extend([
        (
            "sunset".to_string(),
            include_bytes!("../../../../../fixtures/images/sunset-64x48.jpg").to_vec(),
        ),
        (
            "odd size, image's encoder".to_string(),
            encoded(&gradient.into(), 90),
        ),
    ]);
    for (name, jpeg) in inputs {
        // Act
        let ours = decode_half(&jpeg, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // Assert
        assert_close(&name, &ours, reference_at(&jpeg, 2));
    }
}

#[test]
fn progressive_files_decode_like_their_sequential_twins_at_half_scale() {
    for (name, progressive, sequential) in progressive_pairs() {
        // Act
        let progressive = decode_half(progressive, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name} progressive: {e:?}"));
        let sequential = decode_half(sequential, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name} sequential: {e:?}"));
        // Assert: the same coefficients, so the same pixels.
        assert_eq!(
            (progressive.width, progressive.height),
            (sequential.width, sequential.height),
            "{name}"
        );
        assert!(progressive.rgb == sequential.rgb, "{name}: pixels differ");
    }
}

#[test]
fn the_fast_paths_decode_at_half_scale_exactly_like_the_reference_paths() {
    let policy = ProcessingPolicy::default();
    for (name, jpeg) in fast_path_inputs() {
        // Arrange: the file, damaged copies, and cuts through its scans.
        for (case, data) in intact_damaged_and_cut(&name, &jpeg) {
            // Act
            let fast = decode_half(&data, &policy).map(|image| image.rgb);
            let reference = decode_half_reference(&data, &policy).map(|image| image.rgb);
            // Assert: the same pixels, or the same refusal.
            assert!(
                fast == reference,
                "{case}: fast {:?} vs reference {:?}",
                fast.as_ref().map(Vec::len),
                reference.as_ref().map(Vec::len)
            );
            // And the same verdict as at 1/8 scale: the whole file is read either way.
            assert_eq!(
                fast.is_ok(),
                decode_dc(&data, &policy).is_ok(),
                "{case}: verdicts differ between scales"
            );
        }
    }
}

#[test]
fn every_chroma_sampling_matches_a_general_decoder_at_half_scale() {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    // Arrange: a colour image of odd size in each sampling `jpeg-encoder` writes: chroma at the
    // full rate; halved across, down or both (libjpeg's triangle filter here and there); and
    // quartered (the pixel-by-pixel reference in `corner`'s tests covers its repetition).
    let (width, height) = (203u16, 157u16);
    let rgb: Vec<u8> = (0..u32::from(height))
        .flat_map(|y| {
            (0..u32::from(width)).flat_map(move |x| {
                [
                    (x * 255 / 203) as u8,
                    (y * 255 / 157) as u8,
                    ((x + y) % 256) as u8,
                ]
            })
        })
        .collect();
    let samplings = [
        ("4:4:4", SamplingFactor::F_1_1, false),
        ("4:2:2", SamplingFactor::F_2_1, false),
        ("4:4:0", SamplingFactor::F_1_2, false),
        ("4:2:0", SamplingFactor::F_2_2, false),
        ("4:1:1", SamplingFactor::F_4_1, true),
        ("4:2:1", SamplingFactor::F_2_4, true),
    ];
    for (name, sampling, quartered) in samplings {
        let mut jpeg = Vec::new();
        let mut encoder = Encoder::new(&mut jpeg, 90);
        encoder.set_sampling_factor(sampling);
        encoder.encode(&rgb, width, height, ColorType::Rgb).unwrap();
        // Act
        let ours = decode_half(&jpeg, &ProcessingPolicy::default());
        // `jpeg-encoder` writes chroma quartered in scans of its own, which this decoder leaves
        // to `jpeg-decoder` at either scale.
        if quartered {
            assert_eq!(ours.map(|_| ()), Err(DcError::Unsupported), "{name}");
            assert_eq!(
                decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
                Err(DcError::Unsupported),
                "{name}"
            );
            continue;
        }
        let ours = ours.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // Assert
        assert_close(name, &ours, reference_at(&jpeg, 2));
    }
}
