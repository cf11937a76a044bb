//! The DC decoder against a general decoder (`jpeg-decoder` at 1/8 scale), and its fast paths
//! against its reference paths, on files intact, damaged and corrupted at random.

use super::*;

#[test]
fn the_fast_paths_decode_exactly_like_the_reference_paths() {
    let policy = ProcessingPolicy::default();
    for (name, jpeg) in fast_path_inputs() {
        // Arrange: the file, damaged copies, and cuts through its scans.
        for (case, data) in intact_damaged_and_cut(&name, &jpeg) {
            // Act
            let fast = decode_dc(&data, &policy).map(|image| image.rgb);
            let reference = decode_reference(&data, &policy).map(|image| image.rgb);
            // Assert: the same pixels, or the same refusal.
            assert!(
                fast == reference,
                "{case}: fast {:?} vs reference {:?}",
                fast.as_ref().map(Vec::len),
                reference.as_ref().map(Vec::len)
            );
        }
    }
}

#[test]
fn noisy_files_decode_like_a_general_decoder() {
    for (name, jpeg) in fast_path_inputs() {
        let ours = decode_dc(&jpeg, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (w, h, expected) = reference(&jpeg);
        assert_eq!((ours.width, ours.height), (w, h), "{name}");
        let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
        assert!(luma < 1.5, "{name}: mean luma difference {luma}");
    }
}

#[test]
fn the_test_encoder_makes_files_a_general_decoder_reads_alike() {
    // Arrange: DC values across the whole range, negative and positive differences.
    let dcs: Vec<i32> = (0..40).map(|i| (i * 37 % 255) - 127).collect();
    let jpeg = gray_jpeg(80, 32, &dcs, 0);
    // Act
    let ours = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
    // Assert
    let expected: Vec<u8> = dcs
        .iter()
        .map(|&d| u8::try_from(d + 128).unwrap())
        .collect();
    assert_eq!(gray_pixels(&ours), expected);
    assert_eq!(reference(&jpeg).2, ours.rgb);
}

#[test]
fn matches_a_general_decoder_at_one_eighth_scale() {
    let gradient = image::RgbImage::from_fn(803, 601, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    let inputs = [
        (
            "4:2:0, EXIF (Pillow)",
            include_bytes!("../../../../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
        ),
        (
            "4:2:0 rotated (Pillow)",
            include_bytes!("../../../../../fixtures/images/portrait-exif-rotated.jpg").to_vec(),
        ),
        (
            "sunset",
            include_bytes!("../../../../../fixtures/images/sunset-64x48.jpg").to_vec(),
        ),
        (
            "odd size, image's encoder",
            encoded(&gradient.clone().into(), 90),
        ),
        (
            "grayscale",
            encoded(
                &image::DynamicImage::ImageRgb8(gradient).into_luma8().into(),
                80,
            ),
        ),
    ];
    for (name, jpeg) in inputs {
        let ours = decode_dc(&jpeg, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let (w, h, expected) = reference(&jpeg);
        assert_eq!((ours.width, ours.height), (w, h), "{name}");
        let difference = mean_abs_difference(&ours.rgb, &expected);
        // Luma is never subsampled: it must match. Subsampled chroma is upsampled by
        // repetition here and by interpolation there, which differs at sharp colour edges of
        // tiny images, so full colour is compared on the smooth large image only.
        let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
        assert!(luma < 1.5, "{name}: mean luma difference {luma}");
        if name.starts_with("odd size") {
            assert!(difference < 2.0, "{name}: mean difference {difference}");
        }
    }
}

#[test]
fn long_huffman_codes_decode_like_a_general_decoder() {
    // Category 11 gets a 12-bit code here: past the lookup table, through `max_code`.
    let dcs = [0, 2047, 0, -2047, 0, 1, -1, 1000];
    let jpeg = stream(&[
        &dqt(0, 1),
        &gray_sof(64, 8),
        &dht(0x00, &LONG_DC_COUNTS, &DC_SYMBOLS),
        &dht(0x10, &EOB_COUNTS, &[0]),
        &sos(&[(1, 0x00)]),
        &entropy_with(&LONG_DC_COUNTS, &dcs, &[1], 0),
        &EOI,
    ]);
    let ours = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
    // Quantizer 1: a block's sample is 128 + round(dc / 8), clamped.
    assert_eq!(gray_pixels(&ours), [128, 255, 128, 0, 128, 128, 128, 253]);
    // `jpeg-decoder` truncates (dc x q + 1024) / 8 where libjpeg (and this) rounds, so a
    // DC of -1 is 127 there: one step at most.
    let (_, _, expected) = reference(&jpeg);
    for (ours, theirs) in ours.rgb.iter().zip(&expected) {
        assert!(ours.abs_diff(*theirs) <= 1, "{ours} vs {theirs}");
    }
}

/// One edit of a file, for the corruption property.
#[derive(Debug, Clone)]
enum Edit {
    Overwrite(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    /// Two bytes `FF xx`: a marker, or a stuffed zero, somewhere.
    InsertMarker(usize, u8),
}

fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Overwrite(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::InsertMarker(at, b)),
    ]
}

fn corrupt(mut jpeg: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = jpeg.len().max(1);
        match *edit {
            Edit::Overwrite(at, byte) => {
                if let Some(b) = jpeg.get_mut(at % len) {
                    *b = byte;
                }
            }
            Edit::Insert(at, byte) => jpeg.insert(at % (jpeg.len() + 1), byte),
            Edit::Delete(at) => {
                if !jpeg.is_empty() {
                    jpeg.remove(at % len);
                }
            }
            Edit::InsertMarker(at, byte) => {
                let at = at % (jpeg.len() + 1);
                jpeg.splice(at..at, [0xFF, byte]);
            }
        }
    }
    jpeg
}

proptest::proptest! {
    #[test]
    fn corrupted_files_are_refused_or_decoded_never_a_panic(
        which in 0usize..5,
        edits in proptest::collection::vec(edit(), 1..8)
    ) {
        let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
        let original = match which {
            0 => include_bytes!("../../../../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
            1 => include_bytes!("../../../../../fixtures/images/sunset-64x48.jpg").to_vec(),
            2 => include_bytes!("../../../../../fixtures/images/progressive/420-progressive.jpg")
                .to_vec(),
            3 => include_bytes!(
                "../../../../../fixtures/images/progressive/420-optimized-restarts-progressive.jpg"
            )
            .to_vec(),
            _ => gray_jpeg(160, 8, &dcs, 2),
        };
        let jpeg = corrupt(original, &edits);
        let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
        if let Ok(image) = result {
            let expected = image.width as usize * image.height as usize * 3;
            proptest::prop_assert_eq!(image.rgb.len(), expected);
        }
        // Work stays proportional to the bytes, whatever the header claims: a sequential
        // scan decodes at most 4 blocks a byte; progressive scans visit at most DC_PASSES
        // blocks per block (at most 8 a byte: their DC scans) and per byte.
        proptest::prop_assert!(mcus <= DC_PASSES * 9 * jpeg.len() as u64);
    }
}
