//! Crafted headers: each broken in one way, each refused with its exact error.

use super::*;

/// A crafted file, named, and the error it must be refused with.
type Case = (&'static str, Vec<u8>, DcError);

/// The segments the cases are cut from: a valid 16 x 16 grayscale file and a valid 4:2:0 one.
#[derive(Clone)]
struct Parts {
    q: Vec<u8>,
    gray: Vec<u8>,
    t: Vec<u8>,
    gray_scan: Vec<u8>,
    data: Vec<u8>,
    colour: Vec<u8>,
    colour_scan: Vec<u8>,
    colour_data: Vec<u8>,
}

impl Parts {
    fn new() -> Self {
        Self {
            q: dqt(0, 8),
            gray: gray_sof(16, 16),
            t: tables(),
            gray_scan: sos(&[(1, 0x00)]),
            data: entropy(&[0; 4], 0),
            colour: colour_sof(16, 16),
            colour_scan: sos(&[(1, 0x00), (2, 0x00), (3, 0x00)]),
            colour_data: entropy(&[0; 6], 0),
        }
    }

    /// A valid file with `frame` and `scan` in place of the grayscale ones.
    fn with(&self, frame: &[u8], scan: &[u8]) -> Vec<u8> {
        stream(&[&self.q, frame, &self.t, scan, &self.data, &EOI])
    }
}

#[test]
fn crafted_headers_are_refused_with_the_right_error() {
    let parts = Parts::new();
    let cases = [
        structure_cases(&parts),
        frame_header_counts_cases(&parts),
        misplaced_markers_cases(&parts),
        segment_lengths_cases(&parts),
        huffman_tables_cases(&parts),
        quantization_tables_cases(&parts),
        restart_interval_cases(&parts),
        frame_headers_cases(&parts),
        limits_cases(&parts),
        scan_headers_cases(&parts),
    ]
    .concat();
    for (name, jpeg, expected) in cases {
        // Act and Assert: never a panic (debug build, overflow checks on), the exact error.
        assert_eq!(
            decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
            Err(expected),
            "{name}"
        );
    }
    // The valid stream these cases were cut from decodes.
    let Parts {
        q,
        gray,
        t,
        gray_scan,
        colour,
        colour_scan,
        colour_data,
        ..
    } = &parts;
    assert!(decode_dc(&parts.with(gray, gray_scan), &ProcessingPolicy::default()).is_ok());
    assert!(
        decode_dc(
            &stream(&[q, colour, t, colour_scan, colour_data, &EOI]),
            &ProcessingPolicy::default()
        )
        .is_ok()
    );
}

/// Missing or misplaced structure.
fn structure_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts {
        q,
        gray,
        t,
        gray_scan,
        data,
        ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        ("no SOI", [&q[..], &gray].concat(), Invalid),
        (
            "nothing after SOI: ran out before a scan",
            stream(&[]),
            Invalid,
        ),
        (
            "EOI before any scan",
            stream(&[&q, &gray, &t, &EOI]),
            Invalid,
        ),
        (
            "a scan before the frame header",
            stream(&[&q, &t, &gray_scan, &data, &gray, &EOI]),
            Invalid,
        ),
        (
            "no quantization table for the frame's component",
            stream(&[&gray, &t, &gray_scan, &data, &EOI]),
            Invalid,
        ),
        (
            "no Huffman tables",
            stream(&[&q, &gray, &gray_scan, &data, &EOI]),
            Invalid,
        ),
        (
            "the scan names a DC table never defined",
            with(&gray, &sos(&[(1, 0x10)])),
            Invalid,
        ),
    ]
}

/// Several frame headers: the second is how limits were stepped around.
fn frame_header_counts_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts {
        q,
        gray,
        t,
        gray_scan,
        data,
        ..
    } = parts.clone();
    vec![
        (
            "the same frame header twice",
            stream(&[&q, &gray, &gray, &t, &gray_scan, &data, &EOI]),
            Invalid,
        ),
        (
            "a second, larger frame header",
            stream(&[&q, &gray, &gray_sof(4096, 4096), &t, &gray_scan, &data]),
            Invalid,
        ),
        (
            "a second frame header over the limits",
            stream(&[&q, &gray, &gray_sof(65535, 65535), &t, &gray_scan, &data]),
            Invalid,
        ),
        (
            "a baseline frame header, then a progressive one",
            stream(&[&q, &gray, &sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &t]),
            Invalid,
        ),
    ]
}

/// Markers in odd places.
fn misplaced_markers_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts { q, gray, .. } = parts.clone();
    vec![
        ("SOI among the headers", stream(&[&q, &SOI, &gray]), Invalid),
        (
            "RST0 among the headers",
            stream(&[&q, &[0xFF, 0xD0], &gray]),
            Invalid,
        ),
        (
            "TEM among the headers",
            stream(&[&q, &[0xFF, 0x01], &gray]),
            Invalid,
        ),
        (
            "a reserved marker",
            stream(&[&q, &segment(0x02, &[]), &gray]),
            Invalid,
        ),
        (
            "DNL before any scan",
            stream(&[&q, &segment(0xDC, &[0, 16]), &gray]),
            Invalid,
        ),
        (
            "fill bytes then EOI",
            stream(&[&q, &[0xFF, 0xFF, 0xFF, 0xD9]]),
            Invalid,
        ),
        (
            "fill bytes to the end",
            stream(&[&q, &[0xFF, 0xFF, 0xFF]]),
            Invalid,
        ),
    ]
}

/// Segment lengths.
fn segment_lengths_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts { q, gray, .. } = parts.clone();
    vec![
        (
            "segment length 0",
            stream(&[&q, &[0xFF, 0xFE, 0, 0], &gray]),
            Invalid,
        ),
        (
            "segment length 1",
            stream(&[&q, &[0xFF, 0xFE, 0, 1], &gray]),
            Invalid,
        ),
        (
            "segment length past the end",
            stream(&[&q, &[0xFF, 0xFE, 0xFF, 0xFF, 1, 2, 3]]),
            Invalid,
        ),
        (
            "a marker without its length",
            stream(&[&q, &[0xFF, 0xFE, 0]]),
            Invalid,
        ),
    ]
}

/// Huffman tables.
fn huffman_tables_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts {
        gray, t, gray_scan, ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        (
            "DHT class 2",
            with(&gray, &gray_scan).splice_before(&t, &dht(0x20, &EOB_COUNTS, &[0])),
            Invalid,
        ),
        (
            "DHT id 4",
            with(&gray, &gray_scan).splice_before(&t, &dht(0x04, &EOB_COUNTS, &[0])),
            Invalid,
        ),
        (
            "DHT with no codes",
            with(&gray, &gray_scan).splice_before(&t, &dht(0, &[0; 16], &[])),
            Invalid,
        ),
        (
            "DHT with three codes of one bit",
            with(&gray, &gray_scan).splice_before(
                &t,
                &dht(
                    0,
                    &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    &[0, 1, 2],
                ),
            ),
            Invalid,
        ),
        (
            "DHT over-full after the one-bit codes",
            with(&gray, &gray_scan).splice_before(
                &t,
                &dht(
                    0,
                    &[2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    &[0, 1, 2],
                ),
            ),
            Invalid,
        ),
        (
            "DHT naming more symbols than it holds",
            with(&gray, &gray_scan).splice_before(
                &t,
                &segment(0xC4, &[&[0][..], &DC_COUNTS, &[0, 1, 2]].concat()),
            ),
            Invalid,
        ),
        (
            "DHT with 257 symbols",
            with(&gray, &gray_scan).splice_before(
                &t,
                &dht(
                    0x10,
                    &[0, 0, 0, 0, 0, 0, 0, 0, 2, 255, 0, 0, 0, 0, 0, 0],
                    &[0; 257],
                ),
            ),
            Invalid,
        ),
    ]
}

/// Quantization tables.
fn quantization_tables_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts {
        q, gray, gray_scan, ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        (
            "DQT id 4",
            with(&gray, &gray_scan).splice_before(&q, &dqt(4, 8)),
            Invalid,
        ),
        (
            "DQT precision 2",
            with(&gray, &gray_scan).splice_before(&q, &dqt(0x20, 8)),
            Invalid,
        ),
        (
            "DQT with a zero quantizer",
            with(&gray, &gray_scan).splice_before(&q, &dqt(0, 0)),
            Invalid,
        ),
        (
            "DQT of 63 entries",
            with(&gray, &gray_scan).splice_before(&q, &segment(0xDB, &[0; 64])),
            Invalid,
        ),
        (
            "16-bit DQT of 64 bytes",
            with(&gray, &gray_scan)
                .splice_before(&q, &segment(0xDB, &[&[0x10][..], &[1; 64]].concat())),
            Invalid,
        ),
    ]
}

/// The restart interval's definition.
fn restart_interval_cases(parts: &Parts) -> Vec<Case> {
    use DcError::Invalid;
    let Parts {
        q, gray, gray_scan, ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![(
        "DRI of three bytes",
        with(&gray, &gray_scan).splice_before(&q, &segment(0xDD, &[0, 1, 0])),
        Invalid,
    )]
}

/// Frame headers.
fn frame_headers_cases(parts: &Parts) -> Vec<Case> {
    use DcError::{Invalid, Unsupported};
    let Parts {
        q,
        gray,
        t,
        gray_scan,
        colour,
        colour_scan,
        colour_data,
        ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        (
            "frame header one byte short",
            with(
                &gray[..gray.len() - 1].to_vec().with_length_fixed(),
                &gray_scan,
            ),
            Invalid,
        ),
        (
            "frame header one byte long",
            with(&[&gray[..], &[0]].concat().with_length_fixed(), &gray_scan),
            Invalid,
        ),
        (
            "frame header of 5 bytes",
            with(&segment(0xC0, &[8, 0, 16, 0, 16]), &gray_scan),
            Invalid,
        ),
        (
            "zero components",
            with(&sof(0xC0, 16, 16, &[]), &gray_scan),
            Invalid,
        ),
        ("width 0", with(&gray_sof(0, 16), &gray_scan), Invalid),
        (
            "height 0, set by a DNL after the scan",
            with(&gray_sof(16, 0), &gray_scan),
            Unsupported,
        ),
        (
            "sampling factor 0",
            with(&sof(0xC0, 16, 16, &[(1, 0x01, 0)]), &gray_scan),
            Invalid,
        ),
        (
            "sampling factor 5",
            with(&sof(0xC0, 16, 16, &[(1, 0x51, 0)]), &gray_scan),
            Invalid,
        ),
        (
            "quantization table 4",
            with(&sof(0xC0, 16, 16, &[(1, 0x11, 4)]), &gray_scan),
            Invalid,
        ),
        (
            "two components with the same id",
            with(
                &sof(0xC0, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (2, 0x11, 0)]),
                &colour_scan,
            ),
            Invalid,
        ),
        (
            "11 blocks an MCU",
            with(
                &sof(0xC0, 16, 16, &[(1, 0x42, 0), (2, 0x21, 0), (3, 0x11, 0)]),
                &colour_scan,
            ),
            Invalid,
        ),
        (
            "12-bit samples",
            with(
                &segment(0xC1, &[12, 0, 16, 0, 16, 1, 1, 0x11, 0]),
                &gray_scan,
            ),
            Unsupported,
        ),
        (
            "two components",
            with(
                &sof(0xC0, 16, 16, &[(1, 0x11, 0), (2, 0x11, 0)]),
                &gray_scan,
            ),
            Unsupported,
        ),
        (
            "four components (CMYK)",
            with(
                &sof(
                    0xC0,
                    16,
                    16,
                    &[(1, 0x11, 0), (2, 0x11, 0), (3, 0x11, 0), (4, 0x11, 0)],
                ),
                &gray_scan,
            ),
            Unsupported,
        ),
        (
            "a progressive frame with a sequential scan",
            with(&sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
            Invalid,
        ),
        (
            "lossless",
            with(&sof(0xC3, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
            Unsupported,
        ),
        (
            "arithmetic",
            with(&sof(0xC9, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
            Unsupported,
        ),
        (
            "DAC",
            stream(&[&q, &segment(0xCC, &[0, 0]), &gray]),
            Unsupported,
        ),
        (
            "hierarchical (DHP)",
            stream(&[&q, &segment(0xDE, &[8, 0, 16, 0, 16, 0])]),
            Unsupported,
        ),
        (
            "a JPEG extension marker (JPEG-LS)",
            stream(&[&q, &segment(0xF7, &[8])]),
            Unsupported,
        ),
        (
            "Adobe RGB",
            stream(&[
                &segment(0xEE, b"Adobe\0\x64\0\0\0\0\0"),
                &q,
                &colour,
                &t,
                &colour_scan,
                &colour_data,
            ]),
            Unsupported,
        ),
    ]
}

/// Limits, whatever the kind of frame.
fn limits_cases(parts: &Parts) -> Vec<Case> {
    use DcError::OverLimits;
    let Parts { gray_scan, .. } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        (
            "a baseline frame over the limits",
            with(&gray_sof(16_385, 8), &gray_scan),
            OverLimits,
        ),
        (
            "a progressive frame over the limits",
            with(&sof(0xC2, 8, 16_385, &[(1, 0x11, 0)]), &gray_scan),
            OverLimits,
        ),
        (
            "an arithmetic frame over the limits",
            with(&sof(0xC9, 10_000, 10_000, &[(1, 0x11, 0)]), &gray_scan),
            OverLimits,
        ),
    ]
}

/// Scan headers.
fn scan_headers_cases(parts: &Parts) -> Vec<Case> {
    use DcError::{Invalid, Unsupported};
    let Parts {
        q,
        gray,
        t,
        colour,
        colour_data,
        ..
    } = parts.clone();
    let with = |frame: &[u8], scan: &[u8]| parts.with(frame, scan);
    vec![
        (
            "a scan naming a component not in the frame",
            with(&gray, &sos(&[(2, 0x00)])),
            Invalid,
        ),
        (
            "a scan listing a component twice",
            stream(&[
                &q,
                &colour,
                &t,
                &sos(&[(1, 0), (1, 0), (3, 0)]),
                &colour_data,
            ]),
            Invalid,
        ),
        (
            "a scan out of the frame's order",
            stream(&[
                &q,
                &colour,
                &t,
                &sos(&[(1, 0), (3, 0), (2, 0)]),
                &colour_data,
            ]),
            Invalid,
        ),
        (
            "a scan of one of three components",
            stream(&[&q, &colour, &t, &sos(&[(1, 0)]), &colour_data]),
            Unsupported,
        ),
        (
            "a scan with DC table 4",
            with(&gray, &sos(&[(1, 0x40)])),
            Invalid,
        ),
        (
            "a scan with no components",
            with(&gray, &segment(0xDA, &[0, 0, 63, 0])),
            Invalid,
        ),
        (
            "a scan header one byte short",
            with(&gray, &segment(0xDA, &[1, 1, 0, 0, 63])),
            Invalid,
        ),
        (
            "a scan from coefficient 1",
            with(&gray, &segment(0xDA, &[1, 1, 0, 1, 63, 0])),
            Invalid,
        ),
        (
            "a scan to coefficient 5",
            with(&gray, &segment(0xDA, &[1, 1, 0, 0, 5, 0])),
            Invalid,
        ),
        (
            "successive approximation",
            with(&gray, &segment(0xDA, &[1, 1, 0, 0, 63, 0x01])),
            Invalid,
        ),
    ]
}

#[test]
fn arithmetic_lossless_and_hierarchical_jpegs_are_left_to_the_general_decoder() {
    // SOI, then a frame header of each kind: SOF3 lossless, SOF5 differential sequential,
    // SOF9 arithmetic sequential, SOF10 arithmetic progressive.
    for marker in [0xC3, 0xC5, 0xC9, 0xCA] {
        let jpeg = stream(&[&sof(marker, 16, 16, &[(1, 0x11, 0)])]);
        assert_eq!(
            decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
            Err(DcError::Unsupported),
            "SOF{}",
            marker - 0xC0
        );
    }
}

#[test]
fn stray_bytes_between_segments_are_skipped_as_libjpeg_does() {
    // Bytes between marker segments are not JPEG, but libjpeg and `jpeg-decoder` read past them
    // (some cameras write them), and so does the marker walker, for the survey and the DC
    // decoder alike: the file is read as if they were not there.
    let Parts {
        q,
        gray,
        t,
        gray_scan,
        data,
        ..
    } = &Parts::new();
    let policy = ProcessingPolicy::default();
    let clean = stream(&[q, gray, t, gray_scan, data, &EOI]);
    let expected = decode_dc(&clean, &policy).unwrap().rgb;
    for (name, jpeg) in [
        (
            "a junk byte between segments",
            stream(&[q, &[0x00], gray, t, gray_scan, data, &EOI]),
        ),
        (
            "FF 00 between segments",
            stream(&[q, &[0xFF, 0x00], gray, t, gray_scan, data, &EOI]),
        ),
        (
            "junk right after SOI",
            stream(&[&[0x12, 0x34, 0x56], q, gray, t, gray_scan, data, &EOI]),
        ),
        (
            "junk and fill bytes before the scan header",
            stream(&[
                q,
                gray,
                t,
                &[0x12, 0xFF, 0x00, 0xFF, 0xFF],
                gray_scan,
                data,
                &EOI,
            ]),
        ),
    ] {
        assert_eq!(
            decode_dc(&jpeg, &policy).map(|image| image.rgb),
            Ok(expected.clone()),
            "{name}"
        );
        assert_eq!(
            reference(&jpeg).2,
            expected,
            "{name}: jpeg-decoder reads past them too"
        );
        assert!(
            crate::imaging::jpeg::survey::survey(&jpeg, &policy).is_ok(),
            "{name}: the survey reads past them too"
        );
    }
}
