//! HEVC coded images (`hvc1`): the `hvcC` configuration record (ISO/IEC 14496-15 §8.3.3), the
//! item's length-prefixed NAL units turned into an Annex B stream, and that stream decoded by
//! `heifer-hevc-dec` (pure Rust, no `unsafe`; decision 0019).

use heifer_hevc_dec::decoder::{DecodeOptions, decode_picture};

use super::boxes::Reader;
use super::error::HeifError;
use super::picture::{Chroma, LoopFilters, PictureRef, Plane, Samples, StreamColour};

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// What the configuration record says: the parameter-set NAL units and how long the length
/// prefix of each NAL unit in the item's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct HevcConfig<'a> {
    pub nal_units: Vec<&'a [u8]>,
    pub length_size: usize,
    pub chroma: Chroma,
    pub bit_depth: u8,
}

impl<'a> HevcConfig<'a> {
    pub(in crate::imaging) fn parse(record: &'a [u8]) -> Result<Self, HeifError> {
        let mut r = Reader::new(record);
        if r.u8()? != 1 {
            return Err(HeifError::Malformed("hvcC version"));
        }
        // Profile, tier, level, segmentation and parallelism: what the decoder reads from the SPS.
        r.skip(15)?;
        let chroma = match r.u8()? & 3 {
            0 => Chroma::Monochrome,
            1 => Chroma::Yuv420,
            2 => Chroma::Yuv422,
            _ => Chroma::Yuv444,
        };
        let luma_depth = (r.u8()? & 7) + 8;
        let chroma_depth = (r.u8()? & 7) + 8;
        if luma_depth != chroma_depth || luma_depth > 12 {
            return Err(HeifError::Unsupported("a bit depth"));
        }
        r.skip(2)?;
        let length_size = usize::from(r.u8()? & 3) + 1;
        if length_size == 3 {
            return Err(HeifError::Malformed("hvcC length size"));
        }
        let arrays = r.u8()?;
        let mut nal_units = Vec::new();
        for _ in 0..arrays {
            r.u8()?;
            let count = r.u16()?;
            for _ in 0..count {
                let length = usize::from(r.u16()?);
                nal_units.push(r.bytes(length)?);
            }
        }
        Ok(Self {
            nal_units,
            length_size,
            chroma,
            bit_depth: luma_depth,
        })
    }

    /// The parameter sets and the item's NAL units as one Annex B stream.
    fn annex_b(&self, data: &[u8]) -> Result<Vec<u8>, HeifError> {
        let mut stream = Vec::with_capacity(
            data.len() + self.nal_units.iter().map(|n| n.len() + 4).sum::<usize>(),
        );
        for nal in &self.nal_units {
            stream.extend_from_slice(&START_CODE);
            stream.extend_from_slice(nal);
        }
        let mut r = Reader::new(data);
        while r.remaining() > 0 {
            let mut length = 0usize;
            for _ in 0..self.length_size {
                length = length << 8 | usize::from(r.u8()?);
            }
            if length == 0 {
                return Err(HeifError::Malformed("an empty NAL unit"));
            }
            stream.extend_from_slice(&START_CODE);
            stream.extend_from_slice(r.bytes(length)?);
        }
        Ok(stream)
    }
}

/// Decodes one HEVC coded image of `width` x `height` (its `ispe`), its in-loop filters run or
/// skipped as `filters` says, and lends it to `use_picture`.
/// A stream that codes any other size is refused, and the decoder is told the size before it
/// allocates anything: the size rounded up to whole 64-pixel blocks, as a stream codes a picture
/// whose sides are not multiples of its block size and crops it (its conformance window).
pub(in crate::imaging) fn decode<R>(
    config: &HevcConfig<'_>,
    data: &[u8],
    (width, height): (u32, u32),
    filters: LoopFilters,
    use_picture: impl FnOnce(PictureRef<'_>) -> R,
) -> Result<R, HeifError> {
    let stream = config.annex_b(data)?;
    let options = DecodeOptions {
        max_pixels: u64::from(width.next_multiple_of(64)) * u64::from(height.next_multiple_of(64)),
        skip_loop_filters: filters == LoopFilters::Skip,
        ..DecodeOptions::default()
    };
    let frame = decode_picture(&stream, options).map_err(|_| HeifError::Codec)?;
    drop(stream);
    if (frame.widths[0], frame.heights[0]) != (width, height) {
        return Err(HeifError::CodedSizeMismatch);
    }
    let chroma = match frame.chroma_format {
        0 => Chroma::Monochrome,
        1 => Chroma::Yuv420,
        2 => Chroma::Yuv422,
        _ => Chroma::Yuv444,
    };
    if chroma != config.chroma
        || frame.bit_depth[0] != frame.bit_depth[1]
        || frame.bit_depth[0] != config.bit_depth
    {
        return Err(HeifError::Codec);
    }
    let plane = |i: usize| Plane {
        samples: Samples::Deep(&frame.planes[i]),
        stride: frame.widths[i] as usize,
        width: frame.widths[i],
        height: frame.heights[i],
    };
    let chroma_planes = (chroma != Chroma::Monochrome).then(|| [plane(1), plane(2)]);
    Ok(use_picture(PictureRef {
        width,
        height,
        bit_depth: frame.bit_depth[0],
        chroma,
        luma: plane(0),
        chroma_planes,
        colour: StreamColour {
            matrix: frame.matrix_coeffs,
            full_range: frame.full_range,
        },
    }))
}
