//! JPEG: one frame header, scans long enough for the frame they claim to cover, and a decoder
//! whose memory fits the budget.
//!
//! Before any decoder runs, [`survey`] walks the file's marker segments once (time in proportion
//! to its bytes):
//!
//! - There must be exactly one frame header (SOF). `jpeg-decoder`'s `read_info` stops at the
//!   first and its `decode` refuses a second; the DC decoder keeps the last one before its scan.
//!   Without this check the dimensions checked and the pixels decoded could come from different
//!   headers.
//! - Each scan's entropy-coded data must be at least as long as the least its blocks can take
//!   (two bits a block in a sequential scan, one in a progressive DC scan, one per 32767 blocks
//!   in a progressive AC scan, which end-of-band runs allow). Both decoders pad data that stops
//!   early at a marker with zero bits, so a few bytes under a large frame header would otherwise
//!   have them walk every block the header claims.
//! - All scans together may visit each block [`MAX_SCAN_PASSES`] times: a progressive file may
//!   repeat scans, each a walk over the image.
//!
//! Baseline files go to the DC decoder ([`super::jpeg_dc`]), which needs little memory. What it
//! leaves (progressive, lossless, CMYK, ..., and images too small to decode at 1/8 scale) goes to
//! `jpeg-decoder` at a reduced DCT scale. For progressive files that decoder keeps every
//! coefficient of the image (2 bytes each: 3 bytes a pixel at 4:2:0, 6 at 4:4:4) and may queue
//! a copy of one component's coefficients for its worker thread, so its peak is estimated from
//! the frame header ([`general_decoder_peak_bytes`]) and a file whose estimate is over
//! [`ProcessingPolicy::memory_budget`] is refused before decoding.

use std::io::Cursor;

use image::RgbImage;
use image::metadata::Orientation;

use super::jpeg_dc::{self, DcError};
use super::thumbnail::{Decoded, check_budget, check_dimensions, thumbnail_dimensions};
use crate::domain::{ProcessingPolicy, RejectionReason};

/// How many times, on average, the scans of one file may visit each block.
///
/// libjpeg's default progressive script visits luma blocks 6 times and chroma blocks 4 times;
/// 32 leaves room for any encoder's script while bounding the walks a file can ask for.
pub const MAX_SCAN_PASSES: u64 = 32;

/// The largest block count one progressive AC code can cover (an EOB run of 2^15 - 1).
const MAX_EOB_RUN: u64 = 32_767;

/// A component of the frame: its sampling factors.
#[derive(Debug, Clone, Copy)]
struct Component {
    id: u8,
    h: u64,
    v: u64,
}

/// The frame header: its coding process (the SOF marker), sample precision and geometry.
#[derive(Debug, Clone)]
struct Frame {
    marker: u8,
    precision: u8,
    width: u32,
    height: u32,
    components: Vec<Component>,
}

impl Frame {
    fn parse(marker: u8, segment: &[u8]) -> Result<Self, RejectionReason> {
        let [precision, h1, h0, w1, w0, count, ref rest @ ..] = *segment else {
            return Err(RejectionReason::Undecodable);
        };
        let count = usize::from(count);
        if count == 0 || rest.len() < 3 * count {
            return Err(RejectionReason::Undecodable);
        }
        let components = rest[..3 * count]
            .chunks_exact(3)
            .map(|c| {
                let (h, v) = (c[1] >> 4, c[1] & 0x0F);
                if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                    return Err(RejectionReason::Undecodable);
                }
                Ok(Component {
                    id: c[0],
                    h: u64::from(h),
                    v: u64::from(v),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            marker,
            precision,
            width: u32::from(u16::from_be_bytes([w1, w0])),
            height: u32::from(u16::from_be_bytes([h1, h0])),
            components,
        })
    }

    fn is_progressive(&self) -> bool {
        matches!(self.marker, 0xC2 | 0xC6 | 0xCA | 0xCE)
    }

    fn is_lossless(&self) -> bool {
        matches!(self.marker, 0xC3 | 0xC7 | 0xCB | 0xCF)
    }

    fn is_arithmetic(&self) -> bool {
        self.marker >= 0xC9
    }

    /// Whether only the general decoder can take this frame, whatever else the file holds. The DC
    /// decoder takes baseline, extended and progressive Huffman frames of 8-bit samples with one
    /// or three components, using little memory at any size, so those are not refused from the
    /// header; what falls back to the general decoder anyway (a sequential file spread over
    /// several scans, an image too small for 1/8 scale) has its budget checked in [`decode`]
    /// before it is decoded.
    fn needs_general_decoder(&self) -> bool {
        !matches!(self.marker, 0xC0..=0xC2) || self.precision != 8 || self.components.len() == 4
    }

    fn max_sampling(&self) -> (u64, u64) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (h, v)
    }

    /// MCUs across and down.
    fn mcus(&self) -> (u64, u64) {
        let (h, v) = self.max_sampling();
        (
            u64::from(self.width).div_ceil(8 * h),
            u64::from(self.height).div_ceil(8 * v),
        )
    }

    /// Blocks of `c` as decoders store them: whole MCUs.
    fn stored_blocks(&self, c: &Component) -> u64 {
        let (mcu_x, mcu_y) = self.mcus();
        mcu_x * c.h * mcu_y * c.v
    }

    /// Samples of `c` across and down.
    fn samples(&self, c: &Component) -> (u64, u64) {
        let (h, v) = self.max_sampling();
        (
            (u64::from(self.width) * c.h).div_ceil(h),
            (u64::from(self.height) * c.v).div_ceil(v),
        )
    }

    /// The units (blocks; samples for lossless) a scan of `components` codes.
    fn scan_units(&self, components: &[Component]) -> u64 {
        if self.is_lossless() {
            return components
                .iter()
                .map(|c| {
                    let (x, y) = self.samples(c);
                    x * y
                })
                .sum();
        }
        match components {
            // A scan of one component codes just the blocks covering its samples.
            [c] => {
                let (x, y) = self.samples(c);
                x.div_ceil(8) * y.div_ceil(8)
            }
            _ => components.iter().map(|c| self.stored_blocks(c)).sum(),
        }
    }

    /// The units of the whole frame, each component once.
    fn units(&self) -> u64 {
        self.components
            .iter()
            .map(|c| self.scan_units(std::slice::from_ref(c)))
            .sum()
    }
}

/// The DCT scale (in eighths) `jpeg-decoder` picks for a thumbnail of `thumbnail` (its
/// `choose_idct_size`: the smallest that reaches the thumbnail on either side).
fn general_decoder_scale(frame: &Frame, thumbnail: (u32, u32)) -> u64 {
    let scaled = |side: u32, scale: u64| (u64::from(side) * scale).div_ceil(8);
    [1, 2, 4]
        .into_iter()
        .find(|&s| {
            scaled(frame.width, s) >= u64::from(thumbnail.0)
                || scaled(frame.height, s) >= u64::from(thumbnail.1)
        })
        .unwrap_or(8)
}

/// An upper bound of what `jpeg-decoder` holds at its peak decoding `frame` at `scale` eighths,
/// with the RGB copy made of its output.
///
/// - progressive: every coefficient (2 bytes, whole MCUs), plus one component's coefficients
///   again, copied row by row into the channel to its worker thread faster than it may take them;
/// - every component's samples at the reduced scale, then the interleaved output and its RGB copy;
/// - lossless (never scaled): samples as `u16` and their differences while decoding, the
///   interleaved `u16` image and its 8-bit copy: 8 bytes a sample, and the RGB copy.
fn general_decoder_peak_bytes(frame: &Frame, scale: u64) -> u64 {
    let channels = frame.components.len() as u64;
    if frame.is_lossless() {
        let pixels = u64::from(frame.width) * u64::from(frame.height);
        return pixels * (channels * 8 + 3);
    }
    let blocks: Vec<u64> = frame
        .components
        .iter()
        .map(|c| frame.stored_blocks(c))
        .collect();
    let coefficients = if frame.is_progressive() {
        let all: u64 = blocks.iter().sum();
        (all + blocks.iter().max().copied().unwrap_or(0)) * 128
    } else {
        0
    };
    let planes: u64 = blocks.iter().map(|b| b * scale * scale).sum();
    let scaled = |side: u32| (u64::from(side) * scale).div_ceil(8);
    let output = scaled(frame.width) * scaled(frame.height) * (channels + 3);
    coefficients + planes + output
}

/// The frame, once the whole file's structure has been checked (see the module's notes).
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] for a frame over the limits, over the budget of the general
/// decoder it needs, or scans visiting its blocks too often; [`RejectionReason::Undecodable`]
/// for a missing or second frame header, truncated segments, and scans shorter than they can be.
fn survey(data: &[u8], policy: &ProcessingPolicy) -> Result<Frame, RejectionReason> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(RejectionReason::Undecodable);
    }
    let mut frame: Option<Frame> = None;
    let mut visits = 0u64;
    let mut pos = 2;
    // Like `jpeg-decoder`, skip stray bytes before a marker, and fill bytes.
    while let Some(skip) = data[pos..].iter().position(|&b| b == 0xFF) {
        pos += skip;
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            break;
        };
        pos += 1;
        match marker {
            0xD9 => break,
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(RejectionReason::Undecodable),
            _ => {}
        }
        let length = data
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .filter(|&length| length >= 2)
            .ok_or(RejectionReason::Undecodable)?;
        let segment = data
            .get(pos + 2..pos + length)
            .ok_or(RejectionReason::Undecodable)?;
        pos += length;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame.is_some() {
                    return Err(RejectionReason::Undecodable);
                }
                let parsed = Frame::parse(marker, segment)?;
                check_dimensions(policy, parsed.width, parsed.height)?;
                if parsed.needs_general_decoder() {
                    let thumbnail =
                        thumbnail_dimensions(parsed.width, parsed.height, policy.thumbnail_size);
                    let scale = general_decoder_scale(&parsed, thumbnail);
                    check_budget(
                        parsed.width,
                        parsed.height,
                        general_decoder_peak_bytes(&parsed, scale),
                    )?;
                }
                frame = Some(parsed);
            }
            0xDA => {
                let frame = frame.as_ref().ok_or(RejectionReason::Undecodable)?;
                let (units, min_bits) = scan_demand(frame, segment)?;
                let end = entropy_coded_end(data, pos);
                let bytes = (end - pos) as u64;
                if bytes.saturating_mul(8) < min_bits {
                    return Err(RejectionReason::Undecodable);
                }
                visits += units;
                if visits > frame.units().saturating_mul(MAX_SCAN_PASSES) {
                    return Err(RejectionReason::TooManyPixels);
                }
                pos = end;
            }
            _ => {}
        }
    }
    frame.ok_or(RejectionReason::Undecodable)
}

/// The units (blocks or samples) a scan codes and the fewest bits it can code them in.
fn scan_demand(frame: &Frame, header: &[u8]) -> Result<(u64, u64), RejectionReason> {
    let count = usize::from(*header.first().ok_or(RejectionReason::Undecodable)?);
    let selectors = header
        .get(1..1 + 2 * count)
        .ok_or(RejectionReason::Undecodable)?;
    let [spectral_start, _, _] = *header
        .get(1 + 2 * count..4 + 2 * count)
        .ok_or(RejectionReason::Undecodable)?
    else {
        return Err(RejectionReason::Undecodable);
    };
    let components = selectors
        .chunks_exact(2)
        .map(|s| {
            frame
                .components
                .iter()
                .find(|c| c.id == s[0])
                .copied()
                .ok_or(RejectionReason::Undecodable)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if components.is_empty() {
        return Err(RejectionReason::Undecodable);
    }
    let units = frame.scan_units(&components);
    let min_bits = if frame.is_arithmetic() {
        // Arithmetic coding can spend less than a bit on a block (neither decoder supports it).
        0
    } else if frame.is_lossless() || (frame.is_progressive() && spectral_start == 0) {
        units
    } else if frame.is_progressive() {
        units.div_ceil(MAX_EOB_RUN)
    } else {
        2 * units
    };
    Ok((units, min_bits))
}

/// Where the entropy-coded data starting at `start` ends: at the first marker other than a
/// stuffed zero or a restart marker, or at the end of the file.
fn entropy_coded_end(data: &[u8], start: usize) -> usize {
    let mut pos = start;
    while let Some(offset) = find_ff(&data[pos..]) {
        let at = pos + offset;
        match data.get(at + 1) {
            Some(0x00 | 0xD0..=0xD7) => pos = at + 2,
            _ => return at,
        }
    }
    data.len()
}

/// The first 0xFF byte of `data`, looked for eight bytes at a time: entropy-coded data is most of
/// a JPEG's bytes, and 0xFF is rare in it.
fn find_ff(data: &[u8]) -> Option<usize> {
    let mut chunks = data.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = !u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8]));
        // A zero byte of `word` (a 0xFF of the data) sets its high bit here (and only bytes
        // above a zero byte may be set falsely, so the lowest set bit is exact).
        let zeros = word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == 0xFF)
        .map(|at| offset + at)
}

/// Decodes a JPEG at a reduced scale.
///
/// # Errors
/// As [`survey`]; then [`RejectionReason::Undecodable`] for data a decoder refuses, and
/// [`RejectionReason::TooManyPixels`] for a frame the general decoder cannot decode within the
/// budget.
pub(super) fn decode(bytes: &[u8], policy: &ProcessingPolicy) -> Result<Decoded, RejectionReason> {
    let frame = survey(bytes, policy)?;
    let (width, height) = (frame.width, frame.height);
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder
        .read_info()
        .map_err(|_| RejectionReason::Undecodable)?;
    let info = decoder.info().ok_or(RejectionReason::Undecodable)?;
    if (u32::from(info.width), u32::from(info.height)) != (width, height) {
        return Err(RejectionReason::Undecodable);
    }
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let thumbnail = thumbnail_dimensions(width, height, policy.thumbnail_size);
    if width.div_ceil(8) >= thumbnail.0 && height.div_ceil(8) >= thumbnail.1 {
        match jpeg_dc::decode_dc(bytes, policy) {
            Ok(dc) if (dc.full_width, dc.full_height) == (width, height) => {
                let pixels = RgbImage::from_raw(dc.width, dc.height, dc.rgb)
                    .ok_or(RejectionReason::Undecodable)?;
                return Ok(Decoded {
                    pixels,
                    orientation,
                    width,
                    height,
                });
            }
            Ok(_) | Err(DcError::Invalid) => return Err(RejectionReason::Undecodable),
            Err(DcError::OverLimits) => return Err(RejectionReason::TooManyPixels),
            Err(DcError::Unsupported) => {}
        }
    }
    let scale = general_decoder_scale(&frame, thumbnail);
    check_budget(width, height, general_decoder_peak_bytes(&frame, scale))?;
    let as_u16 = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let (scaled_w, scaled_h) = decoder
        .scale(as_u16(thumbnail.0), as_u16(thumbnail.1))
        .map_err(|_| RejectionReason::Undecodable)?;
    // Four bytes a pixel covers every output format (CMYK is the widest).
    decoder.set_max_decoding_buffer_size(usize::from(scaled_w) * usize::from(scaled_h) * 4);
    let raw = decoder.decode().map_err(|_| RejectionReason::Undecodable)?;
    let (w, h) = (u32::from(scaled_w), u32::from(scaled_h));
    let format = decoder
        .info()
        .ok_or(RejectionReason::Undecodable)?
        .pixel_format;
    let rgb: Vec<u8> = match format {
        jpeg_decoder::PixelFormat::RGB24 => raw,
        jpeg_decoder::PixelFormat::L8 => raw.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::L16 => raw
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => raw
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                [0, 1, 2].map(|i| (u16::from(p[i]) * k / 255) as u8)
            })
            .collect(),
    };
    let pixels = RgbImage::from_raw(w, h, rgb).ok_or(RejectionReason::Undecodable)?;
    Ok(Decoded {
        pixels,
        orientation,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(marker: u8, width: u32, height: u32, sampling: &[(u64, u64)]) -> Frame {
        Frame {
            marker,
            precision: 8,
            width,
            height,
            components: sampling
                .iter()
                .enumerate()
                .map(|(i, &(h, v))| Component {
                    id: i as u8 + 1,
                    h,
                    v,
                })
                .collect(),
        }
    }

    #[test]
    fn blocks_are_counted_as_the_decoders_store_and_scan_them() {
        // 4:2:0, 100 x 50: MCUs of 16 x 16, 7 x 4 of them.
        let f = frame(0xC2, 100, 50, &[(2, 2), (1, 1), (1, 1)]);
        assert_eq!(f.mcus(), (7, 4));
        assert_eq!(f.stored_blocks(&f.components[0]), 14 * 8);
        assert_eq!(f.stored_blocks(&f.components[1]), 7 * 4);
        // Alone in a scan, luma codes only the blocks covering 100 x 50: 13 x 7.
        assert_eq!(f.scan_units(&f.components[..1]), 13 * 7);
        assert_eq!(f.scan_units(&f.components), 14 * 8 + 2 * 7 * 4);
    }

    #[test]
    fn the_general_decoder_estimate_grows_with_chroma_resolution() {
        let scale = 1;
        let p420 = frame(0xC2, 4000, 3000, &[(2, 2), (1, 1), (1, 1)]);
        let p444 = frame(0xC2, 4000, 3000, &[(1, 1), (1, 1), (1, 1)]);
        let baseline = frame(0xC0, 4000, 3000, &[(1, 1), (1, 1), (1, 1)]);
        let pixels = 12_000_000;
        let per_pixel = |f: &Frame| general_decoder_peak_bytes(f, scale) as f64 / pixels as f64;
        assert!(
            (5.0..5.2).contains(&per_pixel(&p420)),
            "{}",
            per_pixel(&p420)
        );
        assert!(
            (8.0..8.2).contains(&per_pixel(&p444)),
            "{}",
            per_pixel(&p444)
        );
        assert!(per_pixel(&baseline) < 0.2, "{}", per_pixel(&baseline));
    }

    #[test]
    fn the_scale_is_the_one_jpeg_decoder_picks() {
        let f = frame(0xC2, 4000, 3000, &[(1, 1)]);
        assert_eq!(general_decoder_scale(&f, (256, 192)), 1);
        assert_eq!(general_decoder_scale(&f, (600, 450)), 2);
        let small = frame(0xC2, 1200, 900, &[(1, 1)]);
        assert_eq!(general_decoder_scale(&small, (256, 192)), 2);
        assert_eq!(general_decoder_scale(&small, (1200, 900)), 8);
    }

    #[test]
    fn the_survey_refuses_what_no_decoder_should_walk() {
        const PROGRESSIVE: &[u8] =
            include_bytes!("../../fixtures/images/progressive-420-4000x3000.jpg");
        const SMALL: &[u8] = include_bytes!("../../fixtures/images/sunset-64x48.jpg");
        let policy = ProcessingPolicy::default();
        assert!(survey(PROGRESSIVE, &policy).is_ok());
        assert!(survey(SMALL, &policy).is_ok());

        // The last scan (luma, all coefficients) 60 times more: 60 more walks of 187,500 blocks.
        let eoi = PROGRESSIVE.len() - 2;
        let last_scan = PROGRESSIVE
            .windows(2)
            .rposition(|w| w == [0xFF, 0xDA])
            .unwrap();
        let mut repeated = PROGRESSIVE[..eoi].to_vec();
        for _ in 0..60 {
            repeated.extend_from_slice(&PROGRESSIVE[last_scan..eoi]);
        }
        repeated.extend_from_slice(&[0xFF, 0xD9]);

        let mut short_segment = SMALL.to_vec();
        short_segment[4..6].copy_from_slice(&[0, 1]);

        let cases: [(&[u8], RejectionReason, &str); 4] = [
            (
                &repeated,
                RejectionReason::TooManyPixels,
                "scans walking the image 60 more times",
            ),
            (
                &short_segment,
                RejectionReason::Undecodable,
                "a segment length under 2",
            ),
            (
                &SMALL[..24],
                RejectionReason::Undecodable,
                "a segment cut short",
            ),
            (
                b"\xFF\xD8\xFF\xD9",
                RejectionReason::Undecodable,
                "no frame at all",
            ),
        ];
        for (data, reason, case) in cases {
            assert_eq!(survey(data, &policy).err(), Some(reason), "{case}");
        }
    }

    #[test]
    fn find_ff_finds_the_first_0xff_like_a_byte_by_byte_search() {
        // Every position of a first 0xFF in buffers of 0 to 24 bytes, with 0xFE and 0x00 around
        // it (the neighbours a word-at-a-time search could confuse) and a second 0xFF after it.
        for len in 0..24 {
            for fill in [0x00, 0xFE, 0x7F] {
                for first in 0..=len {
                    let mut data = vec![fill; len];
                    if let Some(byte) = data.get_mut(first) {
                        *byte = 0xFF;
                    }
                    if let Some(byte) = data.get_mut(first + 3) {
                        *byte = 0xFF;
                    }
                    let expected = data.iter().position(|&b| b == 0xFF);
                    assert_eq!(
                        find_ff(&data),
                        expected,
                        "{len} bytes of {fill:#x}, 0xFF at {first}"
                    );
                }
            }
        }
    }

    #[test]
    fn entropy_coded_data_runs_past_stuffing_and_restarts_to_the_next_marker() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0xD9];
        assert_eq!(entropy_coded_end(&data, 0), 7);
        assert_eq!(entropy_coded_end(&data[..6], 0), 6);
    }
}
