//! The general decoder, `jpeg-decoder`, at a reduced DCT scale: for what the DC decoder leaves
//! (lossless, arithmetic, 12-bit, CMYK, sequential files over several scans, images too small
//! to decode at 1/8 scale), and for reading the EXIF orientation of every JPEG.
//!
//! For progressive files it keeps every coefficient of the image (2 bytes each: 3 bytes a pixel
//! at 4:2:0, 6 at 4:4:4) and may queue a copy of one component's coefficients for its worker
//! thread, so its peak is estimated from the frame header ([`peak_bytes`]) and a file whose
//! estimate is over [`crate::domain::ProcessingPolicy::memory_budget`] is refused before it is
//! decoded.

use std::io::Cursor;

use image::RgbImage;
use image::metadata::Orientation;

use super::header::Frame;
use crate::domain::RejectionReason;

/// The DCT scale (in eighths) a target of `target` is decoded at: the smallest that reaches it on
/// both sides ([`GeneralDecoder::decode`] asks `jpeg-decoder` for exactly that one).
pub(in crate::imaging::jpeg) fn scale(frame: &Frame, target: (u32, u32)) -> u64 {
    side_scale(frame.width, target.0).max(side_scale(frame.height, target.1))
}

/// The smallest DCT scale (in eighths) at which a `side` of the frame reaches `wanted`.
fn side_scale(side: u16, wanted: u32) -> u64 {
    [1, 2, 4]
        .into_iter()
        .find(|&s| (u64::from(side) * s).div_ceil(8) >= u64::from(wanted))
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
pub(in crate::imaging::jpeg) fn peak_bytes(frame: &Frame, scale: u64) -> u64 {
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
    let scaled = |side: u16| (u64::from(side) * scale).div_ceil(8);
    let output = scaled(frame.width) * scaled(frame.height) * (channels + 3);
    coefficients + planes + output
}

/// `jpeg-decoder` with the file's headers read (up to its frame header).
pub(in crate::imaging::jpeg) struct GeneralDecoder<'a> {
    decoder: jpeg_decoder::Decoder<Cursor<&'a [u8]>>,
}

impl<'a> GeneralDecoder<'a> {
    /// Reads the headers of `bytes`, whose frame the survey found to be `frame`.
    ///
    /// # Errors
    /// [`RejectionReason::Undecodable`] for headers `jpeg-decoder` refuses, or a frame other
    /// than `frame`.
    pub(in crate::imaging::jpeg) fn new(
        bytes: &'a [u8],
        frame: &Frame,
    ) -> Result<Self, RejectionReason> {
        let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        decoder
            .read_info()
            .map_err(|_| RejectionReason::Undecodable)?;
        let info = decoder.info().ok_or(RejectionReason::Undecodable)?;
        if (info.width, info.height) != (frame.width, frame.height) {
            return Err(RejectionReason::Undecodable);
        }
        Ok(Self { decoder })
    }

    /// The EXIF orientation, if the file has one (before its frame header).
    pub(in crate::imaging::jpeg) fn orientation(&self) -> Orientation {
        self.decoder
            .exif_data()
            .and_then(Orientation::from_exif_chunk)
            .unwrap_or(Orientation::NoTransforms)
    }

    /// Decodes the image at the smallest scale that reaches `target` on both sides
    /// ([`scale`]), as RGB.
    ///
    /// # Errors
    /// [`RejectionReason::Undecodable`] for data `jpeg-decoder` refuses.
    pub(in crate::imaging::jpeg) fn decode(
        mut self,
        frame: &Frame,
        target: (u32, u32),
    ) -> Result<RgbImage, RejectionReason> {
        let decoder = &mut self.decoder;
        let as_u16 = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        // `jpeg-decoder` picks the smallest scale that reaches the request on *either* side: ask
        // on the side that needs the larger scale alone (the other side out of reach), so its
        // pick is the one that reaches both. A 320 x 1 frame for 64 x 1 needed 1/4, not 1/8.
        let request = if side_scale(frame.width, target.0) >= side_scale(frame.height, target.1) {
            (as_u16(target.0), u16::MAX)
        } else {
            (u16::MAX, as_u16(target.1))
        };
        let (scaled_w, scaled_h) = decoder
            .scale(request.0, request.1)
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
        RgbImage::from_raw(w, h, rgb).ok_or(RejectionReason::Undecodable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::jpeg::header::tests::frame;

    #[test]
    fn the_general_decoder_estimate_grows_with_chroma_resolution() {
        let scale = 1;
        let p420 = frame(2, 4000, 3000, &[(2, 2), (1, 1), (1, 1)]);
        let p444 = frame(2, 4000, 3000, &[(1, 1), (1, 1), (1, 1)]);
        let baseline = frame(0, 4000, 3000, &[(1, 1), (1, 1), (1, 1)]);
        let pixels = 12_000_000;
        let per_pixel = |f: &Frame| peak_bytes(f, scale) as f64 / pixels as f64;
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
    fn the_scale_reaches_the_target_on_both_sides() {
        let f = frame(2, 4000, 3000, &[(1, 1)]);
        assert_eq!(scale(&f, (256, 192)), 1);
        assert_eq!(scale(&f, (600, 450)), 2);
        assert_eq!(scale(&f, (1600, 1200)), 4);
        let small = frame(2, 1200, 900, &[(1, 1)]);
        assert_eq!(scale(&small, (256, 192)), 2);
        assert_eq!(scale(&small, (1200, 900)), 8);
        // One side of a pixel reaches any target at 1/8: the other side decides.
        let strip = frame(2, 320, 1, &[(1, 1)]);
        assert_eq!(scale(&strip, (64, 1)), 2);
        let column = frame(2, 1, 320, &[(1, 1)]);
        assert_eq!(scale(&column, (1, 64)), 2);
    }
}
