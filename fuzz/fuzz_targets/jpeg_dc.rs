//! The DC decoder, at 1/8 scale (`imaging::jpeg::dc::decode_dc`) and at 1/2
//! (`decode_half`), under small explicit limits.
//!
//! Oracle (asserted): an image is `ceil(full / 8)` (`ceil(full / 2)`) on each side, RGB8 to the
//! byte, from a frame within the limits; both scales give the same verdict (the whole file is
//! read either way); and when `jpeg-decoder` at 1/8 scale also decodes the file, both agree on
//! those dimensions (they read the same frame header).
//!
//! Differential (reported, not asserted): files `decode_dc` accepts but `jpeg-decoder` refuses,
//! and files both decode to visibly different luma. Some of these differ legitimately
//! (`decode_dc` reads nothing after the scan and keeps DC sums in `i32` where `jpeg-decoder`
//! keeps `i16`; `jpeg-decoder` honours Adobe/`RGB`-id colour hints that `decode_dc` refuses as
//! unsupported or ignores), so each kind is printed once to stderr, and the input is saved under
//! `$JPEG_DC_DISAGREEMENTS` when that is set, for a person to judge.

#![no_main]

use std::collections::BTreeSet;
use std::sync::Mutex;

use image_upload::domain::{ProcessingPolicy, Renditions};
use image_upload::imaging::jpeg::dc::{DcError, ScaledImage, decode_dc, decode_half};
use libfuzzer_sys::fuzz_target;

/// Small limits so that the fuzzer spends its time in the parser, not in filling large planes.
const POLICY: ProcessingPolicy = ProcessingPolicy {
    max_bytes: 1024 * 1024,
    max_width: 1024,
    max_height: 1024,
    max_pixels: 1_000_000,
    renditions: Renditions::thumbnail_only(64),
};

/// Mean luma difference (0..=255) above which two decodes of one file are called different; real
/// photos stay under 1.5 (see `jpeg_dc`'s unit tests).
const LUMA_TOLERANCE: f64 = 2.0;

fuzz_target!(|data: &[u8]| {
    let eighth = decode_dc(data, &POLICY);
    match &eighth {
        Ok(image) => {
            check_image(image, 8);
            compare_with_jpeg_decoder(data, image);
        }
        Err(DcError::Invalid | DcError::Unsupported | DcError::OverLimits) => {}
    }
    let half = decode_half(data, &POLICY);
    if let Ok(image) = &half {
        check_image(image, 2);
    }
    // Within these limits no frame is over the budget at 1/2 scale: the same verdict.
    assert_eq!(
        half.as_ref().map(|_| ()),
        eighth.as_ref().map(|_| ()),
        "the two scales disagree"
    );
});

/// Checks an image decoded at 1/`divisor` scale.
fn check_image(image: &ScaledImage, divisor: u32) {
    assert!(
        POLICY.allows_dimensions(image.full_width, image.full_height),
        "decoded a {}x{} frame over the limits",
        image.full_width,
        image.full_height
    );
    assert!(image.full_width > 0 && image.full_height > 0);
    assert_eq!(image.width, image.full_width.div_ceil(divisor));
    assert_eq!(image.height, image.full_height.div_ceil(divisor));
    let expected_len = (image.width as usize)
        .checked_mul(image.height as usize)
        .and_then(|n| n.checked_mul(3))
        .expect("within the limits, the size fits");
    assert_eq!(image.rgb.len(), expected_len);
}

/// Decodes `data` with `jpeg-decoder` at 1/8 scale, as RGB8.
fn reference(data: &[u8]) -> Result<(u16, u16, Vec<u8>), String> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("no frame")?;
    let (w, h) = decoder
        .scale(info.width.div_ceil(8), info.height.div_ceil(8))
        .map_err(|e| e.to_string())?;
    decoder.set_max_decoding_buffer_size(usize::from(w) * usize::from(h) * 4);
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let format = decoder.info().ok_or("no frame")?.pixel_format;
    let rgb = match format {
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        other => return Err(format!("pixel format {other:?}")),
    };
    Ok((w, h, rgb))
}

fn compare_with_jpeg_decoder(data: &[u8], ours: &ScaledImage) {
    match reference(data) {
        Err(message) => report("decode_dc accepts, jpeg-decoder refuses", &message, data),
        Ok((w, h, rgb)) => {
            assert_eq!(
                (ours.width, ours.height),
                (u32::from(w), u32::from(h)),
                "the two decoders read different frame sizes"
            );
            if rgb.len() != ours.rgb.len() {
                report("both decode, buffer lengths differ", "", data);
                return;
            }
            let difference = mean_luma_difference(&ours.rgb, &rgb);
            if difference > LUMA_TOLERANCE {
                report("both decode, luma differs", "", data);
            }
        }
    }
}

fn mean_luma_difference(a: &[u8], b: &[u8]) -> f64 {
    let luma =
        |p: &[u8]| (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
    let total: u64 = a
        .chunks_exact(3)
        .zip(b.chunks_exact(3))
        .map(|(x, y)| u64::from(luma(x).abs_diff(luma(y))))
        .sum();
    total as f64 / (a.len() / 3).max(1) as f64
}

/// Prints each kind of disagreement once (digits folded, so sizes and offsets do not make new
/// kinds), and keeps the input when `$JPEG_DC_DISAGREEMENTS` names a directory.
fn report(what: &str, detail: &str, data: &[u8]) {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let kind: String = format!("{what}: {detail}")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() >= 64 || !seen.insert(kind.clone()) {
        return;
    }
    eprintln!("jpeg_dc differential: {kind} ({} bytes)", data.len());
    if let Some(dir) = std::env::var_os("JPEG_DC_DISAGREEMENTS") {
        let path = std::path::Path::new(&dir).join(format!("disagreement-{}", seen.len()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(&path, data);
        eprintln!("  saved as {}", path.display());
    }
}
