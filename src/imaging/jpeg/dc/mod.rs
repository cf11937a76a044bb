//! A JPEG decoder for one purpose: the image at a reduced scale, from a few coefficients of
//! every block.
//!
//! A thumbnail of a photo needs far fewer pixels than 1/8 of the photo, and at 1/8 scale each
//! 8 x 8 block is exactly its DC coefficient (the block's mean). So every block is still
//! entropy-decoded (that is what verifies the file and cannot be skipped), but its 63 AC
//! coefficients are only read past, never stored, dequantized or transformed. General decoders at
//! 1/8 scale still fill and hand over full coefficient buffers; this one does not, which is most
//! of the processor's time on large photos.
//!
//! A display rendition needs more: at 1/2 scale ([`Scale::Half`], `corner`) each block keeps
//! the 16 coefficients of its 4 x 4 lowest frequencies, the others read past as at 1/8, and a
//! 4-point IDCT on each axis makes its 4 x 4 samples: what libjpeg's reduced IDCT does, without
//! a buffer of all 64 coefficients a block.
//!
//! Handled: Huffman-coded JPEGs with 8-bit samples, one or three components, either sequential
//! in one scan (`sequential`: what cameras and phones write) or progressive (`progressive`:
//! what web tools write, decoded without storing any AC coefficient outside the corner kept at
//! 1/2 scale). Anything else (arithmetic
//! coding, 12-bit, lossless, hierarchical, CMYK, sequential over several scans) is
//! [`DcError::Unsupported`] and the caller falls back to a general decoder.
//!
//! The parts: `bits` reads entropy-coded data,
//! `huffman` decodes codes from it, `tables` holds the tables a file defines, `plane` the
//! DC coefficients, `sequential` and `progressive` decode scans into planes, and `colour`
//! makes the image at 1/8 scale, `corner` at 1/2. This module walks the file's segments (`crate::imaging::jpeg::marker`),
//! with their headers parsed by `crate::imaging::jpeg::header`, and calls on them.
//!
//! # Hostile input
//!
//! Every number in a header is attacker input, and so is every decoded value.
//! - One frame header is honoured; a second is [`DcError::Invalid`] (a second frame header that
//!   differs from the first is how limits were stepped around). The policy is checked against
//!   every well-formed frame header with a height, the unsupported kinds included, before
//!   anything is sized from it, and the buffers actually allocated (DC planes, output) are charged against
//!   [`ProcessingPolicy::memory_budget`].
//! - Refusing a file costs time in proportion to its bytes, never to the dimensions it claims.
//!   Every block costs at least two bits of entropy-coded data in a sequential scan, and one in a
//!   progressive DC scan, so a frame with more blocks than the bytes left in the file can code
//!   (four a byte, or eight) is refused before its planes are allocated. The bit reader
//!   pads with zero bits at a marker or at the end of the data, and the scan checks after every
//!   MCU (at most `MAX_BLOCKS_IN_MCU` blocks) whether it consumed any padding, so a stream that
//!   runs out is refused within one MCU of where it ran out.
//! - Progressive scans are charged their blocks before they are decoded, against the DC
//!   decoder's `crate::imaging::jpeg::survey::PassBudget`.
//! - Arithmetic is either checked or bounded by a proof in a comment next to it; the tests run
//!   as debug builds, with overflow checks on, over crafted streams.

mod bits;
mod colour;
mod corner;
mod error;
mod huffman;
mod plane;
mod progressive;
mod sequential;
mod tables;

#[cfg(test)]
mod tests;

use bits::{Bits, Paths, fits_in};
use colour::to_rgb;
pub use colour::{Scale, ScaledImage};
use corner::{CORNER_BYTES_PER_BLOCK, HALF_SAMPLES_PER_BLOCK, corners_to_rgb};
pub use error::DcError;
use plane::PLANE_BYTES_PER_BLOCK;
use progressive::{PROGRESSIVE_BYTES_PER_BLOCK, Progression, ScanContext};
use sequential::ComponentTables;
use tables::Tables;

use super::header::{self, Frame, MAX_BLOCKS_IN_MCU, ScanHeader};
use super::marker::{Marker, Segments};
use crate::domain::ProcessingPolicy;
use crate::imaging::contract::check_budget;

/// Every block costs at least this many bits of entropy-coded data: a DC and an AC Huffman code
/// of at least one bit each.
const MIN_BITS_PER_BLOCK: u64 = 2;

/// Decodes `data` at 1/8 scale from the DC coefficients alone, if its frame is within `policy`.
///
/// # Errors
/// [`DcError::Unsupported`] for JPEG kinds left to a general decoder; [`DcError::Invalid`] for
/// malformed data; [`DcError::OverLimits`] for a frame over the policy's dimensions.
pub fn decode_dc(data: &[u8], policy: &ProcessingPolicy) -> Result<ScaledImage, DcError> {
    DcDecoder::new(policy, Paths::Fast, Scale::Eighth).decode(data)
}

/// Decodes `data` at 1/2 scale from each block's 16 lowest frequencies, if its frame is within
/// `policy`.
///
/// # Errors
/// As [`decode_dc`]; and [`DcError::Unsupported`] for a frame whose buffers at this scale are
/// over its memory budget (left to the caller to decode another way).
pub fn decode_half(data: &[u8], policy: &ProcessingPolicy) -> Result<ScaledImage, DcError> {
    DcDecoder::new(policy, Paths::Fast, Scale::Half).decode(data)
}

/// How a frame's scans code it, for what the decoder keeps of each block.
#[derive(Clone, Copy)]
enum Coding {
    /// One scan of every component.
    Sequential,
    /// Scans over bands of coefficients, refined a bit at a time.
    Progressive,
}

/// The DC decoder with its limits, reading paths and scale, and the work its decodes did.
struct DcDecoder<'p> {
    policy: &'p ProcessingPolicy,
    paths: Paths,
    scale: Scale,
    /// MCUs entropy-decoded to their end, over all scans and decodes.
    mcus: u64,
}

impl<'p> DcDecoder<'p> {
    /// A decoder at `scale` for frames within `policy`, reading as `paths` says.
    fn new(policy: &'p ProcessingPolicy, paths: Paths, scale: Scale) -> Self {
        Self {
            policy,
            paths,
            scale,
            mcus: 0,
        }
    }

    /// MCUs entropy-decoded to their end so far, the one a decode was refused in included if
    /// it was read to its end: what refusing a file cost, which is in proportion to the file's
    /// bytes whatever its headers claim.
    #[cfg(test)]
    fn mcus_decoded(&self) -> u64 {
        self.mcus
    }

    /// `data`'s image at the decoder's scale, segment by segment until the scan (sequential) or the EOI
    /// after the last scan (progressive).
    ///
    /// # Errors
    /// As [`decode_dc`].
    fn decode(&mut self, data: &[u8]) -> Result<ScaledImage, DcError> {
        let mut segments = Segments::after_soi(data).ok_or(DcError::Invalid)?;
        let mut tables = Tables::new(self.paths);
        let mut frame: Option<Frame> = None;
        let mut restart_interval = 0u16;
        let mut adobe_transform = None;
        let mut progression: Option<Progression> = None;
        let mut after_scan = false;
        loop {
            // The data ended before a scan (or before a progressive image's EOI).
            let segment = segments
                .next()
                .ok_or(DcError::Invalid)?
                .map_err(|_| DcError::Invalid)?;
            match segment.marker {
                // The end of a progressive image, after all its scans.
                Marker::Eoi if progression.is_some() => {
                    return match (&frame, &mut progression) {
                        (Some(frame), Some(progression)) => progression.image(frame),
                        _ => Err(DcError::Invalid),
                    };
                }
                // Some encoders write an RSTn after a scan's last MCU; libjpeg and `jpeg-decoder`
                // step over it.
                Marker::Rst(_) if after_scan => {
                    after_scan = false;
                    continue;
                }
                _ => after_scan = false,
            }
            match segment.marker {
                Marker::Dht => tables.define_huffman(segment.payload)?,
                Marker::Dqt => tables.define_quantizers(segment.payload)?,
                Marker::Dri => {
                    restart_interval =
                        header::restart_interval(segment.payload).map_err(|_| DcError::Invalid)?;
                }
                Marker::App(14) => {
                    if let Some(adobe) = header::adobe(segment.payload) {
                        adobe_transform = adobe.transform;
                    }
                }
                // Metadata this decoder does not need.
                Marker::App(_) | Marker::Com => {}
                // JPEG extensions, arithmetic conditioning, hierarchical coding.
                Marker::Jpg | Marker::Extension(_) | Marker::Dac | Marker::Dhp | Marker::Exp => {
                    return Err(DcError::Unsupported);
                }
                Marker::Sof(sof) => {
                    if frame.is_some() {
                        return Err(DcError::Invalid);
                    }
                    frame = Some(self.accept_frame(sof, segment.payload)?);
                }
                Marker::Sos => {
                    // A scan before any frame header.
                    let frame = frame.as_ref().ok_or(DcError::Invalid)?;
                    if frame.components.len() == 3 && adobe_transform == Some(0) {
                        return Err(DcError::Unsupported);
                    }
                    let scan =
                        ScanHeader::parse(segment.payload, frame).map_err(|_| DcError::Invalid)?;
                    let start = segments.position();
                    if !frame.is_progressive() {
                        return self.decode_sequential(
                            data,
                            start,
                            frame,
                            &tables,
                            restart_interval,
                            &scan,
                        );
                    }
                    let progression = match progression.as_mut() {
                        Some(progression) => progression,
                        None => {
                            self.charge_memory(frame, Coding::Progressive)?;
                            progression.insert(Progression::new(frame, data.len(), self.scale))
                        }
                    };
                    let mut bits = Bits::new(data, start, self.paths);
                    let context = ScanContext {
                        frame,
                        tables: &tables,
                        restart_interval,
                    };
                    let decoded = progression.decode_scan(&mut bits, &context, &scan);
                    self.mcus += bits.mcus();
                    decoded?;
                    segments.resume_at(bits.pos);
                    after_scan = true;
                }
                // TEM, reserved markers, RSTn, SOI, EOI and DNL have no place here.
                Marker::Tem
                | Marker::Reserved(_)
                | Marker::Rst(_)
                | Marker::Soi
                | Marker::Eoi
                | Marker::Dnl => return Err(DcError::Invalid),
            }
        }
    }

    /// The frame of a `SOFn` segment, if this decoder takes it: checked whole, then against the
    /// policy whatever its kind, then for what this decoder handles. The frame is returned as
    /// its scans code it ([`Frame::into_coded`]).
    fn accept_frame(&self, sof: u8, payload: &[u8]) -> Result<Frame, DcError> {
        let frame = Frame::parse(sof, payload).map_err(|_| DcError::Invalid)?;
        if frame.height == 0 {
            // The height comes from a DNL segment after the first scan (B.2.5): left to others.
            return Err(DcError::Unsupported);
        }
        if frame.width == 0 {
            return Err(DcError::Invalid);
        }
        if !self
            .policy
            .allows_dimensions(u32::from(frame.width), u32::from(frame.height))
        {
            return Err(DcError::OverLimits);
        }
        // Lossless, hierarchical or arithmetic-coded; 12-bit; two components or four (CMYK).
        if !matches!(sof, 0..=2) || frame.precision != 8 || !matches!(frame.components.len(), 1 | 3)
        {
            return Err(DcError::Unsupported);
        }
        let frame = frame.into_coded();
        if frame.components.iter().map(|c| c.h * c.v).sum::<usize>() > MAX_BLOCKS_IN_MCU {
            return Err(DcError::Invalid);
        }
        Ok(frame)
    }

    /// A sequential file's image: its one scan of every component, from `start`.
    fn decode_sequential(
        &mut self,
        data: &[u8],
        start: usize,
        frame: &Frame,
        tables: &Tables,
        restart_interval: u16,
        scan: &ScanHeader,
    ) -> Result<ScaledImage, DcError> {
        if scan.components.len() != frame.components.len() {
            // Sequential files may spread components over several scans; leave those to the
            // fallback.
            return Err(DcError::Unsupported);
        }
        // A sequential scan covers coefficients 0..=63 at full precision (Se = 0 is read as 63,
        // as `jpeg-decoder` does).
        if scan.start != 0 || !matches!(scan.end, 0 | 63) || scan.high != 0 || scan.low != 0 {
            return Err(DcError::Invalid);
        }
        let quants = frame
            .components
            .iter()
            .map(|c| tables.quant[c.quant].ok_or(DcError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let huffman = scan
            .components
            .iter()
            .map(|c| match (&tables.dc[c.dc_table], &tables.ac[c.ac_table]) {
                (Some(dc), Some(ac)) => Ok((dc, ac)),
                _ => Err(DcError::Invalid),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.charge_memory(frame, Coding::Sequential)?;
        // `start` is within the data: the segment before it was.
        fits_in(
            frame.all_stored_blocks(),
            MIN_BITS_PER_BLOCK,
            data.len() - start,
        )?;
        let component_tables: Vec<ComponentTables> = huffman
            .into_iter()
            .map(|(dc, ac)| ComponentTables::new(dc, ac, self.paths))
            .collect();
        let planes = sequential::decode_planes(
            data,
            start,
            self.paths,
            frame,
            &component_tables,
            restart_interval,
            self.scale,
            &mut self.mcus,
        )?;
        let image = match planes {
            sequential::Planes::Dc(planes) => {
                let dc_quants: Vec<u16> = quants.iter().map(|q| q[0]).collect();
                to_rgb(frame, &planes, &dc_quants)
            }
            sequential::Planes::Corners(planes) => corners_to_rgb(frame, planes, &quants),
        };
        Ok(image)
    }

    /// Refuses, before anything is allocated for it, a frame whose buffers are over the memory
    /// budget of its pixels: for every block what a scan of its `coding` keeps at the decoder's
    /// scale, the output, and at 1/2 scale the samples and each component's upsampling row and
    /// column map:
    /// [`DcError::OverLimits`] at 1/8 scale, [`DcError::Unsupported`] at 1/2 (the caller then
    /// decodes the file another way: `jpeg-decoder` within its own budget, or this decoder at 1/8).
    ///
    /// It cannot fire with today's sampling factors (at most 3 blocks per 64 pixels, so at 1/2
    /// scale under 3.5 bytes a pixel with the output, and the fixed part of the budget for small
    /// frames); it is there so that the buffers, not the header, are what is charged.
    fn charge_memory(&self, frame: &Frame, coding: Coding) -> Result<(), DcError> {
        // Sequential: the DC plane, or the corners then their samples. Progressive: the DC plane
        // and the non-zero map as well, dropped before the samples are made.
        let bytes_per_block = match (coding, self.scale) {
            (Coding::Sequential, Scale::Eighth) => PLANE_BYTES_PER_BLOCK,
            (Coding::Progressive, Scale::Eighth) => PROGRESSIVE_BYTES_PER_BLOCK,
            (Coding::Sequential, Scale::Half) => CORNER_BYTES_PER_BLOCK + HALF_SAMPLES_PER_BLOCK,
            (Coding::Progressive, Scale::Half) => {
                PROGRESSIVE_BYTES_PER_BLOCK + CORNER_BYTES_PER_BLOCK + HALF_SAMPLES_PER_BLOCK
            }
        };
        let (out_w, out_h) = self.scale.size(frame);
        let rows = match self.scale {
            Scale::Eighth => 0,
            // A row of bytes and a map of `usize` columns, each a little over the output's width.
            Scale::Half => (u64::from(out_w) + 1) * 9 * frame.components.len() as u64,
        };
        let output_bytes = u64::from(out_w) * u64::from(out_h) * 3 + rows;
        let allocated = frame
            .all_stored_blocks()
            .saturating_mul(bytes_per_block)
            .saturating_add(output_bytes);
        check_budget(u32::from(frame.width), u32::from(frame.height), allocated).map_err(|_| {
            match self.scale {
                Scale::Eighth => DcError::OverLimits,
                Scale::Half => DcError::Unsupported,
            }
        })
    }
}
