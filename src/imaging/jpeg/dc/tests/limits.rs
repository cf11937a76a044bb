//! What a hostile file can make the DC decoder do: nothing sized from a header it cannot back
//! with bytes, no walk past where its data ends, no value beyond its bounds, no restart out of
//! place. Work is counted in MCUs decoded and bytes allocated, never timed.

use super::*;
use crate::test_alloc::bytes_allocated_by;

#[test]
fn maximum_dimensions_are_over_the_default_limits() {
    // 65535 x 65535 is the most a frame header can claim: over every default limit. The
    // check comes before anything is sized from the header.
    let scan = entropy(&[0; 8], 0);
    for (name, frame, scan_header) in [
        ("gray", gray_sof(65535, 65535), sos(&[(1, 0)])),
        (
            "4:2:0",
            colour_sof(65535, 65535),
            sos(&[(1, 0), (2, 0), (3, 0)]),
        ),
        ("wide", gray_sof(65535, 1), sos(&[(1, 0)])),
        ("just over the pixels", gray_sof(7072, 7071), sos(&[(1, 0)])),
    ] {
        let jpeg = stream(&[&dqt(0, 8), &frame, &tables(), &scan_header, &scan, &EOI]);
        let mut result = None;
        let allocated = bytes_allocated_by(|| {
            result = Some(decode_counting(&jpeg, &ProcessingPolicy::default()));
        });
        let (result, mcus) = result.unwrap();
        assert_eq!(result.map(|_| ()), Err(DcError::OverLimits), "{name}");
        assert_eq!(mcus, 0, "{name}");
        assert!(allocated < 16 * 1024, "{name}: {allocated} bytes allocated");
    }
}

#[test]
fn dimensions_its_bytes_cannot_hold_are_refused_before_allocating() {
    // Guards against: planes allocated for the claimed dimensions and a scan walking every
    // claimed MCU over zero padding, which makes a file of a few hundred bytes cost seconds
    // and gigabytes. Every block takes at least 2 bits, so 100 bytes of scan data hold at
    // most 400 blocks: the frame is refused before its planes exist.
    let scan = entropy(&[0; 8], 0);
    let junk = [0u8; 100];
    for (name, frame, scan_header, policy) in [
        (
            "65535 x 65535 gray",
            gray_sof(65535, 65535),
            sos(&[(1, 0)]),
            permissive(),
        ),
        (
            "65535 x 65535 4:2:0",
            colour_sof(65535, 65535),
            sos(&[(1, 0), (2, 0), (3, 0)]),
            permissive(),
        ),
        (
            "16384 x 16384 gray",
            gray_sof(16384, 16384),
            sos(&[(1, 0)]),
            permissive(),
        ),
        (
            "7000 x 7000 gray, within the default limits",
            gray_sof(7000, 7000),
            sos(&[(1, 0)]),
            ProcessingPolicy::default(),
        ),
    ] {
        let jpeg = stream(&[&dqt(0, 8), &frame, &tables(), &scan_header, &scan, &junk]);
        assert!(jpeg.len() < 400, "{name}: a small file");
        let mut result = None;
        let allocated = bytes_allocated_by(|| result = Some(decode_counting(&jpeg, &policy)));
        let (result, mcus) = result.unwrap();
        assert_eq!(result.map(|_| ()), Err(DcError::Invalid), "{name}");
        assert_eq!(mcus, 0, "{name}: no MCU decoded");
        assert!(allocated < 16 * 1024, "{name}: {allocated} bytes allocated");
    }
}

#[test]
fn a_stream_that_runs_out_is_refused_within_one_mcu() {
    // Guards against: a truncation check made once, after the whole scan, which lets the
    // decoder walk every claimed MCU over zero padding. Here 100 blocks of data, an EOI,
    // and 16 KiB after it (so the frame's 65536 blocks pass the bytes bound): the scan
    // must stop at the first MCU that reads past the EOI, not after 65536.
    let blocks: Vec<i32> = (0..100).map(|i| i % 50).collect();
    let trailing = vec![0u8; 16 * 1024];
    for (name, policy) in [
        ("default policy", ProcessingPolicy::default()),
        ("permissive policy", permissive()),
    ] {
        let jpeg = stream(&[
            &dqt(0, 8),
            &gray_sof(2048, 2048),
            &tables(),
            &sos(&[(1, 0)]),
            &entropy(&blocks, 0),
            &EOI,
            &trailing,
        ]);
        let (result, mcus) = decode_counting(&jpeg, &policy);
        assert_eq!(result.map(|_| ()), Err(DcError::Invalid), "{name}");
        assert_eq!(
            mcus, 101,
            "{name}: the 100 blocks there, and the one that ran out"
        );
    }
    // The same with nothing after the data: the end of the file pads the same way.
    let alternating: Vec<i32> = (0..12).map(|i| if i % 2 == 0 { 50 } else { -50 }).collect();
    let cut = stream(&[
        &dqt(0, 8),
        &gray_sof(32, 32),
        &tables(),
        &sos(&[(1, 0)]),
        &entropy(&alternating, 0),
    ]);
    let (result, mcus) = decode_counting(&cut, &ProcessingPolicy::default());
    assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
    assert_eq!(mcus, 13, "the 12 blocks there, and the one that ran out");
}

#[test]
fn extreme_quantizers_and_dc_values_saturate_without_overflow() {
    // The largest 16-bit quantizer times the largest DC values: 2047 x 65535 is far past
    // a sample's range and must clamp, never wrap (as `wrapping_mul` and a colour conversion
    // of unclamped values would).
    let dcs = [2047, 0, -2047, 0, 1, -1, 1000, -1000];
    let jpeg = stream(&[
        &dqt16(0, 65535),
        &gray_sof(64, 8),
        &tables(),
        &sos(&[(1, 0)]),
        &entropy(&dcs, 0),
        &EOI,
    ]);
    let image = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
    assert_eq!(gray_pixels(&image), [255, 128, 0, 128, 255, 0, 255, 0]);
    // And in colour, where the colour conversion sees clamped samples.
    let colour = stream(&[
        &dqt16(0, 65535),
        &colour_sof(16, 16),
        &tables(),
        &sos(&[(1, 0), (2, 0), (3, 0)]),
        &entropy_with(
            &DC_COUNTS,
            &[2047, 2047, 2047, 2047, -2047, 2047],
            &[4, 1, 1],
            0,
        ),
        &EOI,
    ]);
    let image = decode_dc(&colour, &ProcessingPolicy::default()).unwrap();
    // Samples Y = 255, Cb = 0, Cr = 255 (each clamped), then the JFIF conversion.
    assert_eq!(image.rgb, [255, 209, 28].repeat(4));
}

#[test]
fn a_runaway_dc_predictor_is_invalid() {
    // Guards against: differences of category 11 added up with `wrapping_add`, which lets a
    // stream of them make any predictor value at all. Quantized DC values of 8-bit samples
    // stay within 2^11; a predictor beyond that is refused.
    let runaway: Vec<i32> = (1..=1000).map(|i| i * 2047).collect();
    let jpeg = gray_jpeg(8000, 8, &runaway, 0);
    let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
    assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
    assert_eq!(mcus, 1, "refused at the second block");
    // A category 12 difference is not 8-bit JPEG.
    let symbols: Vec<u8> = (0..=12).collect();
    let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    let mut w = BitWriter::default();
    let (code, len) = canonical_codes(&counts)[12];
    w.put(code, len);
    w.put(0xFFF, 12);
    w.put(0, 1);
    w.flush();
    let jpeg = stream(&[
        &dqt(0, 8),
        &gray_sof(8, 8),
        &dht(0x00, &counts, &symbols),
        &dht(0x10, &EOB_COUNTS, &[0]),
        &sos(&[(1, 0)]),
        &w.out,
        &EOI,
    ]);
    assert_eq!(
        decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
        Err(DcError::Invalid)
    );
    // Within the bound, restarts reset the predictor, so large values are fine.
    let jpeg = gray_jpeg(24, 8, &[2047, 2047, 2047], 1);
    assert!(decode_dc(&jpeg, &ProcessingPolicy::default()).is_ok());
}

#[test]
fn restart_markers_must_come_in_order_where_the_interval_says() {
    // 20 blocks, a restart every 2: RST0..RST7, RST0 (the numbers wrap at 8).
    let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
    let good = gray_jpeg(160, 8, &dcs, 2);
    let image = decode_dc(&good, &ProcessingPolicy::default()).unwrap();
    let expected: Vec<u8> = dcs
        .iter()
        .map(|&d| u8::try_from(d + 128).unwrap())
        .collect();
    assert_eq!(gray_pixels(&image), expected);
    assert_eq!(reference(&good).2, image.rgb);

    let rst_positions: Vec<usize> = good
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(rst_positions.len(), 9);
    let first = rst_positions[0];
    let mut wrong_number = good.clone();
    wrong_number[first + 1] = 0xD1;
    let mut missing = good.clone();
    missing.drain(first..first + 2);
    let mut eoi_instead = good.clone();
    eoi_instead[first + 1] = 0xD9;
    let mut junk_before = good.clone();
    junk_before.splice(first..first, [0x12, 0x34, 0xFF, 0x00]);
    let mut fill_before = good.clone();
    fill_before.splice(first..first, [0xFF, 0xFF]);
    // An RST1 one byte into the second interval, before its data ends: the decoder reads
    // padding there.
    let mut extra_in_interval = good.clone();
    extra_in_interval.splice(first + 3..first + 3, [0xFF, 0xD1]);
    let no_dri = stream(&[
        &dqt(0, 8),
        &gray_sof(160, 8),
        &tables(),
        &sos(&[(1, 0)]),
        &entropy(&dcs, 2),
        &EOI,
    ]);
    let dri_without_markers = gray_jpeg(160, 8, &dcs, 0).splice_before(&sos(&[(1, 0)]), &dri(2));
    let mut dnl_in_scan = good.clone();
    dnl_in_scan.splice(first..first, segment(0xDC, &[0, 8]));

    for (name, jpeg, expected) in [
        (
            "RST1 where RST0 is due",
            wrong_number,
            Err(DcError::Invalid),
        ),
        ("an RST marker missing", missing, Err(DcError::Invalid)),
        ("EOI where RST0 is due", eoi_instead, Err(DcError::Invalid)),
        (
            "a DNL where RST0 is due",
            dnl_in_scan,
            Err(DcError::Invalid),
        ),
        (
            "an extra RST inside an interval",
            extra_in_interval,
            Err(DcError::Invalid),
        ),
        (
            "RST markers with no restart interval",
            no_dri,
            Err(DcError::Invalid),
        ),
        (
            "a restart interval with no RST markers",
            dri_without_markers,
            Err(DcError::Invalid),
        ),
        // Bytes before a marker: libjpeg skips them with a warning, and so does this.
        ("junk before RST0", junk_before, Ok(expected.clone())),
        ("fill bytes before RST0", fill_before, Ok(expected.clone())),
    ] {
        let result = decode_dc(&jpeg, &ProcessingPolicy::default());
        assert_eq!(result.map(|image| gray_pixels(&image)), expected, "{name}");
    }
}

#[test]
fn truncated_at_every_byte_is_invalid_never_a_panic() {
    let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
    let inputs = [
        (
            "Pillow 4:2:0",
            include_bytes!("../../../../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
        ),
        (
            "sunset",
            include_bytes!("../../../../../fixtures/images/sunset-64x48.jpg").to_vec(),
        ),
        ("crafted, with restarts", gray_jpeg(160, 8, &dcs, 2)),
    ];
    for (name, jpeg) in inputs {
        assert!(jpeg.ends_with(&EOI), "{name}");
        let whole = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
        // The entropy-coded data ends where EOI starts. Cut anywhere before, the file is
        // refused; cut within the EOI, all the data is there and decodes (as libjpeg does,
        // with a warning).
        let data_end = jpeg.len() - 2;
        for cut in 0..jpeg.len() {
            let result = decode_dc(&jpeg[..cut], &ProcessingPolicy::default());
            if cut < data_end {
                assert_eq!(
                    result.map(|_| ()),
                    Err(DcError::Invalid),
                    "{name}: cut at {cut}"
                );
            } else {
                assert_eq!(result.unwrap().rgb, whole.rgb, "{name}: cut at {cut}");
            }
        }
    }
}

#[test]
fn truncated_or_corrupt_data_is_invalid() {
    let jpeg = include_bytes!("../../../../../fixtures/images/gps-exif-64x48.jpg");
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    for cut in [jpeg.len() / 2, scan + 20, jpeg.len() - 40] {
        assert_eq!(
            decode_dc(&jpeg[..cut], &ProcessingPolicy::default()).unwrap_err(),
            DcError::Invalid,
            "cut at {cut}"
        );
    }
    assert_eq!(
        decode_dc(b"\xFF\xD8\xFF\xD9", &ProcessingPolicy::default()).unwrap_err(),
        DcError::Invalid
    );
    assert_eq!(
        decode_dc(b"GIF89a", &ProcessingPolicy::default()).unwrap_err(),
        DcError::Invalid
    );
}
