//! The DC decoder's tests: against reference decoders and its own reference paths
//! ([`reference`]), crafted headers ([`crafted`]), the work a hostile file can cause
//! ([`limits`]), and progressive files ([`progressive`]). Files come from the test kit's JPEG
//! writer ([`crate::imaging::testkit::jpeg`]) and the fixtures.

mod crafted;
mod half;
mod limits;
mod progressive;
mod reference;

use super::*;
use crate::imaging::jpeg::header::{Component, MAX_BLOCKS_IN_MCU};
use crate::imaging::jpeg::survey::DC_PASSES;
use crate::imaging::testkit::jpeg::*;
use crate::imaging::testkit::noisy;

/// The same image at 1/8 scale from `jpeg-decoder` (a full IDCT at reduced size).
fn reference(data: &[u8]) -> (u32, u32, Vec<u8>) {
    reference_at(data, 8)
}

/// The same image at 1/`divisor` scale from `jpeg-decoder` (its reduced IDCT).
fn reference_at(data: &[u8], divisor: u16) -> (u32, u32, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    let (w, h) = decoder
        .scale(info.width.div_ceil(divisor), info.height.div_ceil(divisor))
        .unwrap();
    let pixels = decoder.decode().unwrap();
    let rgb = match decoder.info().unwrap().pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        _ => pixels,
    };
    (u32::from(w), u32::from(h), rgb)
}

fn mean_abs_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    total as f64 / a.len() as f64
}

fn gray(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks(3)
        .map(|p| {
            let y = u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114;
            (y / 1000) as u8
        })
        .collect()
}

fn permissive() -> ProcessingPolicy {
    ProcessingPolicy {
        max_width: u32::from(u16::MAX),
        max_height: u32::from(u16::MAX),
        max_pixels: u64::MAX,
        ..ProcessingPolicy::default()
    }
}

fn gray_pixels(image: &ScaledImage) -> Vec<u8> {
    image.rgb.chunks(3).map(|p| p[0]).collect()
}

/// `data` decoded, and the MCUs the decode read (to their end) before it succeeded or failed.
fn decode_counting(data: &[u8], policy: &ProcessingPolicy) -> (Result<ScaledImage, DcError>, u64) {
    let mut decoder = DcDecoder::new(policy, Paths::Fast, Scale::Eighth);
    let result = decoder.decode(data);
    (result, decoder.mcus_decoded())
}

/// `data` decoded with the fast paths off: bytes read one at a time, every code through
/// `Huffman::decode` (the reference the fast paths are compared against).
fn decode_reference(data: &[u8], policy: &ProcessingPolicy) -> Result<ScaledImage, DcError> {
    DcDecoder::new(policy, Paths::Reference, Scale::Eighth).decode(data)
}

/// As [`decode_reference`], at 1/2 scale.
fn decode_half_reference(data: &[u8], policy: &ProcessingPolicy) -> Result<ScaledImage, DcError> {
    DcDecoder::new(policy, Paths::Reference, Scale::Half).decode(data)
}

/// Files for the fast paths: noisy baseline JPEGs from `image`'s encoder (long and short
/// codes, odd sizes, grayscale) and Pillow's progressive fixtures and their sequential twins
/// (optimized tables, restart markers).
fn fast_path_inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for (width, height, quality, amplitude) in [
        (203, 157, 100, 60),
        (203, 157, 90, 12),
        (64, 8, 75, 30),
        (9, 801, 100, 128),
        (330, 250, 50, 8),
    ] {
        let image = noisy(width, height, width * 7919 + height, amplitude);
        inputs.push((
            format!("{width}x{height} q{quality} noise {amplitude}"),
            encoded(&image.clone().into(), quality),
        ));
        let gray = image::DynamicImage::ImageRgb8(image).into_luma8();
        inputs.push((
            format!("{width}x{height} q{quality} noise {amplitude}, grayscale"),
            encoded(&gray.into(), quality),
        ));
    }
    for (name, progressive, sequential) in progressive_pairs() {
        inputs.push((format!("{name} progressive"), progressive.to_vec()));
        inputs.push((format!("{name} sequential"), sequential.to_vec()));
    }
    inputs
}

/// `jpeg` with its entropy-coded data damaged: each of `count` bytes after the first scan
/// header xor-ed with a pseudo-random value (seeded by `seed`).
fn damaged(jpeg: &[u8], seed: u32, count: usize) -> Vec<u8> {
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap_or(0) + 16;
    let mut out = jpeg.to_vec();
    let mut state = seed | 1;
    for _ in 0..count {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let span = out.len().saturating_sub(scan).max(1);
        let at = scan + state as usize % span;
        if let Some(byte) = out.get_mut(at) {
            *byte ^= (state >> 24) as u8 | 1;
        }
    }
    out
}

/// Progressive fixtures, each with its sequential twin: the same quantized coefficients
/// (see `fixtures/images/progressive/make_progressive.py`).
fn progressive_pairs() -> [(&'static str, &'static [u8], &'static [u8]); 4] {
    [
        (
            "4:2:0",
            include_bytes!("../../../../../fixtures/images/progressive/420-progressive.jpg"),
            include_bytes!("../../../../../fixtures/images/progressive/420-sequential.jpg"),
        ),
        (
            "4:4:4",
            include_bytes!("../../../../../fixtures/images/progressive/444-progressive.jpg"),
            include_bytes!("../../../../../fixtures/images/progressive/444-sequential.jpg"),
        ),
        (
            "grayscale",
            include_bytes!("../../../../../fixtures/images/progressive/gray-progressive.jpg"),
            include_bytes!("../../../../../fixtures/images/progressive/gray-sequential.jpg"),
        ),
        (
            "4:2:0, optimized tables, restarts",
            include_bytes!(
                "../../../../../fixtures/images/progressive/420-optimized-restarts-progressive.jpg"
            ),
            include_bytes!(
                "../../../../../fixtures/images/progressive/420-optimized-restarts-sequential.jpg"
            ),
        ),
    ]
}

/// A 512 x 512 grayscale progressive file (4096 blocks) whose DC first scan (point
/// transform 1) codes every difference as 0 (2 bits each) and whose AC table 1 has one
/// code, `0`, for a run of 4096 blocks (EOBRUN 12); `scans` follow, each as (Ss, Se,
/// Ah << 4 | Al), coding nothing but that run.
fn progressive_gray_512(scans: &[(u8, u8, u8)]) -> Vec<u8> {
    let mut parts = vec![
        dqt(0, 8),
        sof(0xC2, 512, 512, &[(1, 0x11, 0)]),
        tables(),
        dht(0x11, &EOB_COUNTS, &[0xC0]),
        progressive_sos(&[(1, 0x00)], 0, 0, 0x01),
        vec![0; 1024],
    ];
    for &(start, end, approximation) in scans {
        parts.push(progressive_sos(&[(1, 0x01)], start, end, approximation));
        if start == 0 {
            // A DC refinement: a bit a block.
            parts.push(vec![0; 512]);
        } else {
            // The code `0` and 12 zero bits of run length, then padding: 4096 blocks.
            parts.push(vec![0x00, 0x07]);
        }
    }
    parts.push(EOI.to_vec());
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    stream(&parts)
}

/// Every sampling the decoder accepts: one component (always read as 1 x 1), and three with
/// factors 1 to 4 and at most `MAX_BLOCKS_IN_MCU` blocks an MCU.
pub(super) fn every_sampling() -> Vec<Vec<(usize, usize)>> {
    let mut samplings: Vec<Vec<(usize, usize)>> = vec![vec![(1, 1)]];
    let factors: Vec<(usize, usize)> = (1..=4).flat_map(|h| (1..=4).map(move |v| (h, v))).collect();
    for &y in &factors {
        for &b in &factors {
            for &r in &factors {
                if y.0 * y.1 + b.0 * b.1 + r.0 * r.1 <= MAX_BLOCKS_IN_MCU {
                    samplings.push(vec![y, b, r]);
                }
            }
        }
    }
    samplings
}

/// A baseline frame of `width` x `height` whose components are sampled as `factors`, each with
/// a quantization table of its own.
pub(super) fn frame_sampled(width: u16, height: u16, factors: &[(usize, usize)]) -> Frame {
    let components: Vec<Component> = factors
        .iter()
        .enumerate()
        .map(|(i, &(h, v))| Component {
            id: i as u8,
            h,
            v,
            quant: i,
        })
        .collect();
    Frame::new(0, 8, width, height, components)
}

/// A pseudo-random number below its argument, from `seed` on (xorshift).
pub(super) fn numbers(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |below| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    }
}

/// `jpeg` named `name`, then copies of it damaged 24 ways, then cut at 7 points through its
/// scans: the cases the fast paths are compared with the reference paths on.
fn intact_damaged_and_cut(name: &str, jpeg: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = vec![(name.to_owned(), jpeg.to_vec())];
    for seed in 1..=24 {
        let edits = 1 + seed as usize % 3;
        cases.push((
            format!("{name}, {edits} bytes damaged (seed {seed})"),
            damaged(jpeg, seed, edits),
        ));
    }
    for eighth in 1..8 {
        let cut = jpeg.len() * eighth / 8;
        cases.push((format!("{name}, cut at {cut}"), jpeg[..cut].to_vec()));
    }
    cases
}
