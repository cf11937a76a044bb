//! Progressive files: the same image as their sequential twins, refused when cut short, their
//! progression checked scan by scan, and their scans' visits bounded.

use super::*;

#[test]
fn progressive_files_decode_like_their_sequential_twins_and_a_general_decoder() {
    for (name, progressive, sequential) in progressive_pairs() {
        // Act
        let ours = decode_dc(progressive, &ProcessingPolicy::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let twin = decode_dc(sequential, &ProcessingPolicy::default()).unwrap();
        // Assert: the same DC coefficients, so exactly the same image.
        assert_eq!(
            (ours.width, ours.height),
            (twin.width, twin.height),
            "{name}"
        );
        assert_eq!(
            ours.rgb, twin.rgb,
            "{name}: differs from the sequential twin"
        );
        // And close to a general decoder's (which rounds and upsamples differently).
        let (w, h, expected) = reference(progressive);
        assert_eq!((ours.width, ours.height), (w, h), "{name}");
        let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
        assert!(luma < 1.5, "{name}: mean luma difference {luma}");
        if !name.starts_with("4:2:0") {
            let difference = mean_abs_difference(&ours.rgb, &expected);
            assert!(difference < 1.5, "{name}: mean difference {difference}");
        }
    }
}

#[test]
fn progressive_files_truncated_at_every_byte_are_invalid() {
    // A progressive file is complete only at its EOI: any cut loses a scan or part of one.
    // Two of the four files (every cut of each is a few thousand decodes in a debug build):
    // one component, and three with restarts.
    for (name, progressive, _) in [&progressive_pairs()[2], &progressive_pairs()[3]] {
        for cut in 0..progressive.len() {
            assert_eq!(
                decode_dc(&progressive[..cut], &ProcessingPolicy::default()).map(|_| ()),
                Err(DcError::Invalid),
                "{name}: cut at {cut}"
            );
        }
    }
}

#[test]
fn crafted_progressive_streams_are_refused_with_the_right_error() {
    use DcError::Invalid;
    let good = progressive_gray_512(&[(1, 63, 0x01), (0, 0, 0x10), (1, 63, 0x10)]);
    let image = decode_dc(&good, &ProcessingPolicy::default()).unwrap();
    assert_eq!(image.rgb, vec![128; 64 * 64 * 3]);
    let colour_dc_only = stream(&[
        &dqt(0, 8),
        &sof(0xC2, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)]),
        &tables(),
        &progressive_sos(&[(1, 0), (2, 0)], 0, 0, 0),
        &[0; 3],
        &EOI,
    ]);
    let cases: Vec<(&str, Vec<u8>, DcError)> = vec![
        (
            "an AC band coded twice",
            progressive_gray_512(&[(1, 5, 0), (5, 9, 0)]),
            Invalid,
        ),
        (
            "the DC coded twice",
            progressive_gray_512(&[(0, 0, 0x01)]),
            Invalid,
        ),
        (
            "a refinement from the wrong bit",
            progressive_gray_512(&[(0, 0, 0x21)]),
            Invalid,
        ),
        (
            "a refinement of two bits",
            progressive_gray_512(&[(1, 63, 0x02), (1, 63, 0x20)]),
            Invalid,
        ),
        (
            "a refinement before the first scan",
            progressive_gray_512(&[(1, 63, 0x10)]),
            Invalid,
        ),
        (
            "a band past coefficient 63",
            progressive_gray_512(&[(1, 64, 0)]),
            Invalid,
        ),
        (
            "a band ending before it starts",
            progressive_gray_512(&[(9, 5, 0)]),
            Invalid,
        ),
        (
            "a DC scan with AC coefficients",
            progressive_gray_512(&[(0, 5, 0x10)]),
            Invalid,
        ),
        (
            "a point transform of 14",
            progressive_gray_512(&[(1, 63, 0x0E)]),
            Invalid,
        ),
        (
            "an AC scan before the DC",
            stream(&[
                &dqt(0, 8),
                &sof(0xC2, 16, 16, &[(1, 0x11, 0)]),
                &tables(),
                &progressive_sos(&[(1, 0)], 1, 63, 0),
                &[0; 4],
                &EOI,
            ]),
            Invalid,
        ),
        (
            "an AC scan of two components",
            stream(&[
                &dqt(0, 8),
                &sof(0xC2, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)]),
                &tables(),
                &progressive_sos(&[(1, 0), (2, 0), (3, 0)], 0, 0, 0),
                &[0; 3],
                &progressive_sos(&[(1, 0), (2, 0)], 1, 63, 0),
                &[0; 3],
                &EOI,
            ]),
            Invalid,
        ),
        (
            "EOI with a component's DC never coded",
            colour_dc_only,
            Invalid,
        ),
        ("no EOI", good[..good.len() - 2].to_vec(), Invalid),
        (
            "EOI without a scan",
            stream(&[&dqt(0, 8), &sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &EOI]),
            Invalid,
        ),
        (
            "a DC scan its bytes cannot hold",
            {
                let mut short = good.clone();
                let scan = short.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
                short.truncate(scan + 10 + 100);
                short.extend(EOI);
                short
            },
            Invalid,
        ),
        (
            "a second frame header between scans",
            good.clone()
                .splice_before(&progressive_sos(&[(1, 0x01)], 1, 63, 0x01), &gray_sof(8, 8)),
            Invalid,
        ),
    ];
    for (name, jpeg, expected) in cases {
        assert_eq!(
            decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
            Err(expected),
            "{name}"
        );
    }
}

#[test]
fn progressive_scans_visit_a_bounded_number_of_blocks() {
    // Root cause (guarded against): an end-of-band run makes an AC scan of every block
    // cost two bytes, and a file may hold as many scans as its bytes allow. Coefficient by
    // coefficient, 63 first scans and 13 refinements of each is 882 scans of 4096 blocks:
    // 3.6 million block visits from 30 KB. The budget is 16 visits per block of the frame
    // and per byte of the file.
    let mut scans = Vec::new();
    for k in 1..=63 {
        scans.push((k, k, 13));
    }
    for high in (1..=13).rev() {
        for k in 1..=63 {
            scans.push((k, k, high << 4 | (high - 1)));
        }
    }
    let jpeg = progressive_gray_512(&scans);
    let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
    assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
    let budget = DC_PASSES * (4096 + jpeg.len() as u64);
    assert!(mcus <= budget, "{mcus} blocks visited, budget {budget}");
    assert!(
        budget - mcus < 4096,
        "refused by the budget, at the scan that overdrew it"
    );
    assert!(mcus < 882 * 4096 / 4, "{mcus} blocks visited");
    // Ten scans, as usual scripts have, are well within it.
    let usual = progressive_gray_512(&scans[..9]);
    assert!(decode_dc(&usual, &ProcessingPolicy::default()).is_ok());
    // A DC scan codes at least a bit a block: 4096 blocks do not fit in 100 bytes, and
    // that is known before any is decoded.
    let mut short = usual.clone();
    let scan = short.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    short.truncate(scan + 10 + 100);
    short.extend(EOI);
    let (result, mcus) = decode_counting(&short, &ProcessingPolicy::default());
    assert_eq!((result.map(|_| ()), mcus), (Err(DcError::Invalid), 0));
}
