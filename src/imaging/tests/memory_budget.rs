//! The memory budget, measured: the most heap memory live at once while [`inspect`] runs, per
//! format, for large valid images and for hostile files, against
//! [`ProcessingPolicy::memory_budget`] of the image's pixels.
//!
//! Each test runs alone in a process of its own ([`in_own_process`]) so that the count covers
//! every thread (`jpeg-decoder` starts threads of its own) and nothing else. Inputs are made in
//! the test (PNG, GIF, baseline JPEG and lossless WebP with the crates' encoders; PNG chunks and
//! hostile headers by hand) or are the committed fixtures no Rust encoder here can make
//! (progressive JPEG, lossy and animated WebP: `fixtures/images/make_fixtures.py large`).
//!
//! Every test prints a `memory | format | case | pixels | budget | peak |` line; run
//! `cargo test --lib memory_budget -- --nocapture | grep '^memory |'` for the table.

use crate::domain::{ImageType, ProcessingPolicy, RejectionReason};
use crate::imaging::inspect;
use crate::imaging::jpeg::marker::{Marker, Segments};
use crate::imaging::testkit::gif::*;
use crate::imaging::testkit::jpeg::noisy_jpeg;
use crate::imaging::testkit::png::*;
use crate::imaging::testkit::smooth;
use crate::imaging::testkit::webp::*;
use crate::test_alloc::{in_own_process, peak_live_bytes_during};

const MIB: usize = 1024 * 1024;

/// The chunks of a WebP file after `RIFF....WEBP`, as (fourcc, data), read by the decoder's own
/// RIFF parser, to edit.
fn editable_chunks(file: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    crate::imaging::webp::riff::riff_chunks(file)
        .unwrap()
        .map(|chunk| {
            let (fourcc, payload) = chunk.unwrap();
            (fourcc, payload.to_vec())
        })
        .collect()
}

/// The offset of the first segment of a JPEG whose marker is `FF marker`, found by the decoder's
/// own marker walker.
fn jpeg_segment(jpeg: &[u8], marker: u8) -> usize {
    let marker = Marker::from_byte(marker).unwrap();
    let mut segments = Segments::after_soi(jpeg).unwrap();
    loop {
        let segment = segments.next().unwrap().unwrap();
        if segment.marker == marker {
            // The marker and the length, then the payload.
            return segments.position() - segment.payload.len() - 4;
        }
    }
}

/// `jpeg` with the dimensions in its frame header (marker `FF sof`) replaced.
fn with_frame_size(jpeg: &[u8], sof: u8, width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let at = jpeg_segment(jpeg, sof);
    out[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
    out[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// What decoding row by row holds besides the grid and the renditions, whatever the image's
/// size: decoder state, a row or two.
const STREAMING_PEAK: usize = 16 * MIB;

/// What decoding a `width` x `height` image row by row may hold at its peak under the default
/// renditions: [`STREAMING_PEAK`], the reducer's grid for the largest rendition (a function of
/// that rendition, not of the image: at most 3 bytes a pixel, and 1600 x 1200 cells of 6 bytes
/// for a 1600 px rendition of a larger image), and the largest rendition as the resize makes it.
fn streaming_peak(width: u32, height: u32) -> usize {
    let largest = ProcessingPolicy::default().renditions.largest_side();
    let target = crate::imaging::thumbnail_dimensions(width, height, largest);
    let grid = crate::imaging::reduce::Reducer::grid_bytes(width, height, target);
    let factor = crate::imaging::reduce::Reducer::new_factor(width, height, target);
    let rendition = u64::from(target.0) * u64::from(target.1 + height.div_ceil(factor)) * 3;
    STREAMING_PEAK + (grid + rendition) as usize
}

const PROGRESSIVE_420: &[u8] =
    include_bytes!("../../../fixtures/images/progressive-420-4000x3000.jpg");
const PROGRESSIVE_444: &[u8] =
    include_bytes!("../../../fixtures/images/progressive-444-4000x3000.jpg");
const LOSSY: &[u8] = include_bytes!("../../../fixtures/images/lossy-4000x3000.webp");
const LOSSY_ALPHA: &[u8] = include_bytes!("../../../fixtures/images/lossy-alpha-4000x3000.webp");
const ANIMATED: &[u8] = include_bytes!("../../../fixtures/images/animated-lossy-2000x1500.webp");
const SMALL_JPEG: &[u8] = include_bytes!("../../../fixtures/images/sunset-64x48.jpg");

/// Runs the enclosing test alone in a process of its own; returns from it in the outer process.
macro_rules! alone {
    ($name:ident) => {
        if !in_own_process(concat!(
            "imaging::tests::memory_budget::",
            stringify!($name)
        )) {
            return;
        }
    };
}

/// What one measurement found.
struct Measured {
    /// The verdict, with the accepted image's upright dimensions.
    verdict: Result<(u32, u32), RejectionReason>,
    peak: usize,
}

/// Inspects `bytes` under the default policy, prints the report line and asserts the budget of
/// an image of `pixels` pixels (for a refused file: the pixels of the header it was judged by).
fn measure(format: &str, case: &str, pixels: u64, bytes: &[u8], declared: ImageType) -> Measured {
    let policy = ProcessingPolicy::default();
    let (verdict, peak) = peak_live_bytes_during(|| inspect(bytes, declared, &policy));
    let budget = ProcessingPolicy::memory_budget(pixels);
    let mib = |b: f64| b / MIB as f64;
    println!(
        "memory | {format} | {case} | {pixels} | {:.1} MiB | {:.1} MiB | {} |",
        mib(budget as f64),
        mib(peak as f64),
        match &verdict {
            Ok(_) => "READY".to_owned(),
            Err(reason) => reason.code().to_owned(),
        }
    );
    assert!(
        peak as u64 <= budget,
        "{format} {case}: peak {peak} bytes over the budget of {budget}"
    );
    Measured {
        verdict: verdict.map(|i| (i.width, i.height)),
        peak,
    }
}

// ---------------------------------------------------------------------------------------------
// JPEG

#[test]
fn jpeg_baseline_12_mp() {
    alone!(jpeg_baseline_12_mp);
    let jpeg = noisy_jpeg(4000, 3000);
    let m = measure(
        "JPEG",
        "baseline 4:2:0, 12 MP",
        12_000_000,
        &jpeg,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn jpeg_progressive_420_12_mp() {
    alone!(jpeg_progressive_420_12_mp);
    let m = measure(
        "JPEG",
        "progressive 4:2:0, 12 MP",
        12_000_000,
        PROGRESSIVE_420,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn jpeg_progressive_444_12_mp() {
    alone!(jpeg_progressive_444_12_mp);
    let m = measure(
        "JPEG",
        "progressive 4:4:4, 12 MP",
        12_000_000,
        PROGRESSIVE_444,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn jpeg_progressive_444_over_its_budget_is_refused_from_the_header() {
    alone!(jpeg_progressive_444_over_its_budget_is_refused_from_the_header);
    // 5000 x 4000 at 4:4:4, arithmetic-coded: only the general decoder would take it, and a
    // decoder that keeps every coefficient needs 6 B/px for them alone.
    let mut jpeg = with_frame_size(PROGRESSIVE_444, 0xC2, 5000, 4000);
    let sof = jpeg_segment(&jpeg, 0xC2);
    jpeg[sof + 1] = 0xCA;
    let m = measure(
        "JPEG",
        "arithmetic progressive 4:4:4 header, 20 MP",
        20_000_000,
        &jpeg,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn huffman_progressive_444_is_left_to_the_dc_decoder_at_any_size() {
    alone!(huffman_progressive_444_is_left_to_the_dc_decoder_at_any_size);
    // The same header, Huffman-coded: the DC decoder keeps no AC coefficient, so it is not
    // refused for what the general decoder would need; these bytes cannot hold 20 MP, and that
    // is found before anything large is allocated.
    let jpeg = with_frame_size(PROGRESSIVE_444, 0xC2, 5000, 4000);
    let m = measure(
        "JPEG",
        "progressive 4:4:4 header, 20 MP",
        20_000_000,
        &jpeg,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn jpeg_with_two_frame_headers_is_refused() {
    alone!(jpeg_with_two_frame_headers_is_refused);
    // A second SOF0 claiming 16000 x 3000 right after the real one.
    let sof = jpeg_segment(SMALL_JPEG, 0xC0);
    let len = usize::from(u16::from_be_bytes([
        SMALL_JPEG[sof + 2],
        SMALL_JPEG[sof + 3],
    ]));
    let mut second = SMALL_JPEG[sof..sof + 2 + len].to_vec();
    second[5..7].copy_from_slice(&3000u16.to_be_bytes());
    second[7..9].copy_from_slice(&16000u16.to_be_bytes());
    let mut jpeg = SMALL_JPEG[..sof + 2 + len].to_vec();
    jpeg.extend_from_slice(&second);
    jpeg.extend_from_slice(&SMALL_JPEG[sof + 2 + len..]);
    let m = measure("JPEG", "two frame headers", 64 * 48, &jpeg, ImageType::Jpeg);
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "{}", m.peak);
}

#[test]
fn truncated_progressive_jpeg_is_refused_cheaply() {
    alone!(truncated_progressive_jpeg_is_refused_cheaply);
    let cut = &PROGRESSIVE_420[..PROGRESSIVE_420.len() / 3];
    let m = measure(
        "JPEG",
        "progressive cut to 1/3",
        12_000_000,
        cut,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
}

#[test]
fn a_jpeg_whose_scan_is_too_short_for_its_frame_is_refused_cheaply() {
    alone!(a_jpeg_whose_scan_is_too_short_for_its_frame_is_refused_cheaply);
    // The small JPEG's tables and 1.4 kB of scan data under a 16000 x 3000 frame header, then
    // EOI: a decoder that pads missing data with zeros would walk 750,000 blocks.
    let jpeg = with_frame_size(SMALL_JPEG, 0xC0, 16000, 3000);
    let m = measure(
        "JPEG",
        "baseline 48 MP header, 1 kB scan",
        48_000_000,
        &jpeg,
        ImageType::Jpeg,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "{}", m.peak);
}

// ---------------------------------------------------------------------------------------------
// PNG

#[test]
fn png_8_bit_rgb_25_mp() {
    alone!(png_8_bit_rgb_25_mp);
    let file = png(5000, 5000, png::ColorType::Rgb, png::BitDepth::Eight);
    let m = measure("PNG", "8-bit RGB, 25 MP", 25_000_000, &file, ImageType::Png);
    assert_eq!(m.verdict, Ok((5000, 5000)));
    assert!(
        m.peak < streaming_peak(5000, 5000),
        "rows are reduced as they are decoded: {}",
        m.peak
    );
}

#[test]
fn png_16_bit_rgba_25_mp_is_ready_within_the_budget() {
    alone!(png_16_bit_rgba_25_mp_is_ready_within_the_budget);
    let file = png(5000, 5000, png::ColorType::Rgba, png::BitDepth::Sixteen);
    let m = measure(
        "PNG",
        "16-bit RGBA, 25 MP",
        25_000_000,
        &file,
        ImageType::Png,
    );
    assert_eq!(m.verdict, Ok((5000, 5000)));
    assert!(
        m.peak < streaming_peak(5000, 5000),
        "rows are reduced as they are decoded: {}",
        m.peak
    );
}

#[test]
fn png_interlaced_25_mp() {
    alone!(png_interlaced_25_mp);
    let file = interlaced_png(5000, 5000, false, |x, y| smooth(x, y, 5000, 5000));
    let m = measure(
        "PNG",
        "Adam7 8-bit RGB, 25 MP",
        25_000_000,
        &file,
        ImageType::Png,
    );
    assert_eq!(m.verdict, Ok((5000, 5000)));
    assert!(
        m.peak < streaming_peak(5000, 5000),
        "rows are reduced as they are decoded: {}",
        m.peak
    );
}

#[test]
fn png_with_an_apng_frame_larger_than_the_image_is_refused() {
    alone!(png_with_an_apng_frame_larger_than_the_image_is_refused);
    let base = png(1000, 1000, png::ColorType::Rgb, png::BitDepth::Eight);
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in png_chunks(&base) {
        match &kind {
            b"IHDR" => {
                png_chunk(&mut file, &kind, &data);
                png_chunk(&mut file, b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]);
                png_chunk(&mut file, b"fcTL", &fctl(0, 1000, 1000));
            }
            b"IEND" => {
                png_chunk(&mut file, b"fcTL", &fctl(1, 20000, 20000));
                let mut fdat = 2u32.to_be_bytes().to_vec();
                fdat.extend_from_slice(&zlib_stored(&[0; 64]));
                png_chunk(&mut file, b"fdAT", &fdat);
                png_chunk(&mut file, &kind, &data);
            }
            _ => png_chunk(&mut file, &kind, &data),
        }
    }
    let m = measure(
        "PNG",
        "APNG frame 20000x20000",
        1_000_000,
        &file,
        ImageType::Png,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
}

#[test]
fn png_in_a_hundred_thousand_idat_chunks() {
    alone!(png_in_a_hundred_thousand_idat_chunks);
    let base = png(2000, 2000, png::ColorType::Rgb, png::BitDepth::Eight);
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut idat = Vec::new();
    for (kind, data) in png_chunks(&base) {
        match &kind {
            b"IDAT" => idat.extend_from_slice(&data),
            b"IEND" => {
                let per_chunk = idat.len().div_ceil(100_000).max(1);
                for piece in idat.chunks(per_chunk) {
                    png_chunk(&mut file, b"IDAT", piece);
                }
                png_chunk(&mut file, &kind, &data);
            }
            _ => png_chunk(&mut file, &kind, &data),
        }
    }
    let m = measure(
        "PNG",
        "4 MP in ~100k IDAT chunks",
        4_000_000,
        &file,
        ImageType::Png,
    );
    assert_eq!(m.verdict, Ok((2000, 2000)));
}

#[test]
fn truncated_png_claiming_48_mp_is_refused_cheaply() {
    alone!(truncated_png_claiming_48_mp_is_refused_cheaply);
    // IHDR for 16000 x 3000 RGBA, 16 bits (384 MB decoded), one row of data, then IEND.
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut file, b"IHDR", &ihdr(16000, 3000, 16, 6, 0));
    png_chunk(&mut file, b"IDAT", &zlib_stored(&vec![0; 1 + 16000 * 8]));
    png_chunk(&mut file, b"IEND", &[]);
    let m = measure(
        "PNG",
        "48 MP header, one row",
        48_000_000,
        &file,
        ImageType::Png,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < 4 * MIB, "{}", m.peak);
}

// ---------------------------------------------------------------------------------------------
// GIF

#[test]
fn gif_12_mp() {
    alone!(gif_12_mp);
    let file = gif(4000, 3000, &[(0, 0, 4000, 3000)]);
    let m = measure("GIF", "one frame, 12 MP", 12_000_000, &file, ImageType::Gif);
    assert_eq!(m.verdict, Ok((4000, 3000)));
    assert!(
        m.peak < streaming_peak(4000, 3000),
        "rows are reduced as they are decoded: {}",
        m.peak
    );
}

#[test]
fn gif_with_three_thousand_small_frames() {
    alone!(gif_with_three_thousand_small_frames);
    let frames: Vec<_> = (0..3000u16)
        .map(|i| ((i % 4) * 64, (i / 4 % 4) * 64, 64, 64))
        .collect();
    let file = gif(256, 256, &frames);
    let m = measure(
        "GIF",
        "3000 frames of 64x64",
        256 * 256,
        &file,
        ImageType::Gif,
    );
    assert_eq!(m.verdict, Ok((256, 256)));
}

#[test]
fn gif_with_a_100_mp_frame_on_a_tiny_screen_is_refused() {
    alone!(gif_with_a_100_mp_frame_on_a_tiny_screen_is_refused);
    // The case: a small file whose one frame is far larger than its logical screen.
    let file = gif_repeating((16, 16), (10_000, 10_000), 1);
    println!("the file is {} bytes", file.len());
    let m = measure(
        "GIF",
        "16x16 screen, 100 MP frame",
        256,
        &file,
        ImageType::Gif,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "{}", m.peak);
}

#[test]
fn gif_whose_frames_add_up_to_too_much_work_is_refused() {
    alone!(gif_whose_frames_add_up_to_too_much_work_is_refused);
    // 1000 frames of 1000 x 1000: a billion pixels to decode for a 1 MP image.
    let file = gif_repeating((1000, 1000), (1000, 1000), 1000);
    let m = measure(
        "GIF",
        "1000 frames of 1 MP",
        1_000_000,
        &file,
        ImageType::Gif,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
}

#[test]
fn truncated_gif_claiming_48_mp_is_refused_cheaply() {
    alone!(truncated_gif_claiming_48_mp_is_refused_cheaply);
    // A 100 x 100 GIF with its screen and frame descriptors rewritten to 16000 x 3000.
    let mut file = gif(100, 100, &[(0, 0, 100, 100)]);
    for at in [6, first_image_descriptor(&file) + 5] {
        file[at..at + 2].copy_from_slice(&16000u16.to_le_bytes());
        file[at + 2..at + 4].copy_from_slice(&3000u16.to_le_bytes());
    }
    let m = measure(
        "GIF",
        "48 MP header, 100x100 data",
        48_000_000,
        &file,
        ImageType::Gif,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < 4 * MIB, "{}", m.peak);
}

// ---------------------------------------------------------------------------------------------
// WebP

#[test]
fn webp_lossy_12_mp() {
    alone!(webp_lossy_12_mp);
    let m = measure("WebP", "lossy, 12 MP", 12_000_000, LOSSY, ImageType::Webp);
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn webp_lossy_with_alpha_12_mp() {
    alone!(webp_lossy_with_alpha_12_mp);
    let m = measure(
        "WebP",
        "lossy + alpha, 12 MP",
        12_000_000,
        LOSSY_ALPHA,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn webp_lossless_rgba_12_mp() {
    alone!(webp_lossless_rgba_12_mp);
    let file = webp_lossless(4000, 3000, image_webp::ColorType::Rgba8);
    let m = measure(
        "WebP",
        "lossless RGBA, 12 MP",
        12_000_000,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn webp_lossless_rgb_12_mp() {
    alone!(webp_lossless_rgb_12_mp);
    let file = webp_lossless(4000, 3000, image_webp::ColorType::Rgb8);
    let m = measure(
        "WebP",
        "lossless RGB, 12 MP",
        12_000_000,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

#[test]
fn webp_animated_3_mp() {
    alone!(webp_animated_3_mp);
    let m = measure(
        "WebP",
        "animated lossy, 3 frames of 3 MP",
        3_000_000,
        ANIMATED,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Ok((2000, 1500)));
}

#[test]
fn webp_whose_vp8_header_disagrees_with_vp8x_is_refused() {
    alone!(webp_whose_vp8_header_disagrees_with_vp8x_is_refused);
    // A 64 x 48 canvas holding VP8 data whose own header says 16383 x 16383.
    let (_, mut vp8) = editable_chunks(LOSSY).remove(0);
    vp8[6..8].copy_from_slice(&16383u16.to_le_bytes());
    vp8[8..10].copy_from_slice(&16383u16.to_le_bytes());
    let file = riff(&[(*b"VP8X", vp8x(0, 64, 48)), (*b"VP8 ", vp8)]);
    let m = measure(
        "WebP",
        "VP8X 64x48, VP8 16383x16383",
        64 * 48,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "{}", m.peak);
}

#[test]
fn webp_frame_outside_its_canvas_is_refused() {
    alone!(webp_frame_outside_its_canvas_is_refused);
    let mut chunks = editable_chunks(ANIMATED);
    chunks[0].1 = vp8x(0b0001_0010, 1000, 1000);
    let file = riff(&chunks);
    let m = measure(
        "WebP",
        "1000x1000 canvas, 3 MP frames",
        1_000_000,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "{}", m.peak);
}

#[test]
fn webp_whose_frames_add_up_to_too_much_work_is_refused() {
    alone!(webp_whose_frames_add_up_to_too_much_work_is_refused);
    // The animation's first 3 MP frame a hundred times: 300 MP to decode for a 3 MP image.
    let chunks = editable_chunks(ANIMATED);
    let mut many = chunks[..2].to_vec();
    many.extend(std::iter::repeat_n(chunks[2].clone(), 100));
    let file = riff(&many);
    let m = measure(
        "WebP",
        "100 frames of 3 MP",
        3_000_000,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
}

#[test]
fn truncated_webp_is_refused_cheaply() {
    alone!(truncated_webp_is_refused_cheaply);
    let cut = &LOSSY[..LOSSY.len() / 3];
    let m = measure(
        "WebP",
        "lossy 12 MP cut to 1/3",
        12_000_000,
        cut,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "{}", m.peak);
}

#[test]
fn webp_lossless_with_thousands_of_huffman_groups_is_refused() {
    alone!(webp_lossless_with_thousands_of_huffman_groups_is_refused);
    // image-webp reads every group up to the largest index in the entropy image: one pixel
    // naming group 8191 costs 8192 groups of five 4 kB tables (163 MiB before this check).
    let file = vp8l_with_huffman_groups(8192);
    println!("the file is {} bytes", file.len());
    let m = measure(
        "WebP",
        "1x1 lossless, 8192 Huffman groups",
        1,
        &file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn webp_lossless_from_libwebp_12_mp() {
    alone!(webp_lossless_from_libwebp_12_mp);
    let file = include_bytes!("../../../fixtures/images/lossless-shapes-4000x3000.webp");
    let m = measure(
        "WebP",
        "lossless (libwebp), 12 MP",
        12_000_000,
        file,
        ImageType::Webp,
    );
    assert_eq!(m.verdict, Ok((4000, 3000)));
}

// ---------------------------------------------------------------------------------------------
// HEIC and AVIF (fixtures by libheif/x265 and libavif/aom: fixtures/images/heif/make_fixtures.py)
//
// A HEIF file is refused from its headers when the peak its decode is estimated to need is over
// the budget, so each accepted file's measured peak is also held to that estimate.

/// Measures `bytes` and checks the measured peak against the decoder's own estimate.
fn measure_heif(case: &str, pixels: u64, bytes: &[u8], declared: ImageType) -> Measured {
    let format = if declared == ImageType::Avif {
        "AVIF"
    } else {
        "HEIC"
    };
    let m = measure(format, case, pixels, bytes, declared);
    let estimate = crate::imaging::heif::estimated_peak(bytes, &ProcessingPolicy::default());
    assert!(
        m.peak as u64 <= estimate,
        "{case}: peak {} over the estimate of {estimate} it was admitted by",
        m.peak
    );
    m
}

const HEIC_GRID: &[u8] =
    include_bytes!("../../../fixtures/images/heif/iphone-grid-4032x3024-irot90.heic");
const HEIC_LARGE: &[u8] = include_bytes!("../../../fixtures/images/heif/large-4032x3024.heic");
const AVIF_LARGE: &[u8] = include_bytes!("../../../fixtures/images/heif/large-4032x3024.avif");

#[test]
fn heic_grid_of_48_tiles_12_mp() {
    alone!(heic_grid_of_48_tiles_12_mp);
    let m = measure_heif(
        "iPhone-like grid, 48 tiles of 512 x 512, 12 MP",
        4032 * 3024,
        HEIC_GRID,
        ImageType::Heic,
    );
    assert_eq!(m.verdict, Ok((3024, 4032)));
    // A row of tiles, not the photo: the strip (4032 x 512 x 3) and one tile's decoder, beside
    // the grid and the display rendition.
    assert!(m.peak < 8 * MIB + streaming_peak(4032, 3024), "{}", m.peak);
}

#[test]
fn heic_single_image_12_mp() {
    alone!(heic_single_image_12_mp);
    let m = measure_heif(
        "one coded image, 4:2:0, 12 MP",
        4032 * 3024,
        HEIC_LARGE,
        ImageType::Heic,
    );
    assert_eq!(m.verdict, Ok((4032, 3024)));
}

#[test]
fn avif_single_image_12_mp() {
    alone!(avif_single_image_12_mp);
    let m = measure_heif(
        "one coded image, 8-bit 4:2:0, 12 MP",
        4032 * 3024,
        AVIF_LARGE,
        ImageType::Avif,
    );
    assert_eq!(m.verdict, Ok((4032, 3024)));
}

#[test]
fn heic_declaring_60000_x_60000_in_a_few_kb_is_refused_from_its_header() {
    alone!(heic_declaring_60000_x_60000_in_a_few_kb_is_refused_from_its_header);
    let mut huge = HEIC_LARGE.to_vec();
    let ispe = huge.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    huge[ispe..ispe + 4].copy_from_slice(&60_000u32.to_be_bytes());
    huge[ispe + 4..ispe + 8].copy_from_slice(&60_000u32.to_be_bytes());
    let m = measure(
        "HEIC",
        "ispe of 60000 x 60000 in 17 kB",
        3_600_000_000,
        &huge,
        ImageType::Heic,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn avif_truncated_is_refused_cheaply() {
    alone!(avif_truncated_is_refused_cheaply);
    // The coded data cut short: the mdat box now runs past the end of the file.
    let cut = &AVIF_LARGE[..AVIF_LARGE.len() * 2 / 3];
    let m = measure(
        "AVIF",
        "12 MP header, data cut to two thirds",
        4032 * 3024,
        cut,
        ImageType::Avif,
    );
    assert_eq!(m.verdict, Err(RejectionReason::Undecodable));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn heic_single_image_claiming_24_mp_is_over_its_budget_from_the_header() {
    alone!(heic_single_image_claiming_24_mp_is_over_its_budget_from_the_header);
    // heifer-hevc-dec holds a picture coded as one image whole, at 7 bytes a pixel with its
    // state in 4:2:0: over 4 B/px + 64 MiB from about 21 MP, refused before decoding.
    let mut big = HEIC_LARGE.to_vec();
    let ispe = big.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    big[ispe..ispe + 4].copy_from_slice(&6000u32.to_be_bytes());
    big[ispe + 4..ispe + 8].copy_from_slice(&4000u32.to_be_bytes());
    let m = measure(
        "HEIC",
        "one coded image's ispe claiming 6000 x 4000",
        24_000_000,
        &big,
        ImageType::Heic,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}

#[test]
fn heic_with_alpha() {
    alone!(heic_with_alpha);
    let alpha = include_bytes!("../../../fixtures/images/heif/alpha-640x480.heic");
    let m = measure_heif("alpha plane, 640 x 480", 640 * 480, alpha, ImageType::Heic);
    assert_eq!(m.verdict, Ok((640, 480)));
}

#[test]
fn avif_ten_bit() {
    alone!(avif_ten_bit);
    let ten = include_bytes!("../../../fixtures/images/heif/ten-bit-640x480.avif");
    let m = measure_heif("10-bit 4:2:0, 640 x 480", 640 * 480, ten, ImageType::Avif);
    assert_eq!(m.verdict, Ok((640, 480)));
}

#[test]
fn avif_grid_of_4_tiles() {
    alone!(avif_grid_of_4_tiles);
    let grid = include_bytes!("../../../fixtures/images/heif/grid-2x2-avif-1024x768.avif");
    let m = measure_heif(
        "grid of 2 x 2 tiles, 1024 x 768",
        1024 * 768,
        grid,
        ImageType::Avif,
    );
    assert_eq!(m.verdict, Ok((1024, 768)));
}

#[test]
fn heif_grid_declaring_65536_tiles_is_refused_cheaply() {
    alone!(heif_grid_declaring_65536_tiles_is_refused_cheaply);
    use crate::imaging::testkit::heif::{Heif, Item, grid_data, ispe};
    let mut tiles = Heif::new(b"heic", 1);
    let size = tiles.property(ispe(4096, 4096));
    tiles.items.push(Item::new(
        1,
        b"grid",
        grid_data(256, 256, 4096, 4096),
        vec![size],
    ));
    let m = measure(
        "HEIF",
        "grid declaring 256 x 256 tiles",
        4096 * 4096,
        &tiles.build(),
        ImageType::Heic,
    );
    assert_eq!(m.verdict, Err(RejectionReason::TooManyPixels));
    assert!(m.peak < MIB, "refused before decoding: {}", m.peak);
}
