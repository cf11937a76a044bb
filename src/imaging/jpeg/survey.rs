//! What is checked of a JPEG before any decoder runs: one walk over its marker segments, in time
//! proportional to its bytes.
//!
//! - There must be exactly one frame header (SOF), within the limits. `jpeg-decoder`'s
//!   `read_info` stops at the first and its `decode` refuses a second, as the DC decoder does;
//!   a frame header after the scans a decoder reads would otherwise go unchecked, and the
//!   dimensions checked and the pixels decoded could come from different headers.
//! - Every scan header is read whole (`ScanHeader::parse`), also those after the scan the DC
//!   decoder stops at.
//! - A frame only the general decoder takes has its peak memory estimated from the header
//!   ([`fallback::peak_bytes`]) and is refused if that is over the budget.
//! - Each scan's entropy-coded data must be at least as long as the least its blocks can take
//!   (two bits a block in a sequential scan, one in a progressive DC scan, one per 32767 blocks
//!   in a progressive AC scan, which end-of-band runs allow). Both decoders pad data that stops
//!   early at a marker with zero bits, so a few bytes under a large frame header would otherwise
//!   have them walk every block the header claims.
//! - All scans together may visit the frame's units only so often ([`PassBudget`]): a
//!   progressive file may repeat scans, each a walk over the image.

use super::fallback;
use super::header::{Frame, ScanHeader};
use super::marker::{Marker, Segments};
use crate::domain::{ProcessingPolicy, RejectionReason};
use crate::imaging::contract::{check_budget, check_dimensions, thumbnail_dimensions};

/// How many times, on average, the scans of one file may visit each unit of its frame, for any
/// decoder ([`PassBudget::for_any_decoder`]).
///
/// libjpeg's default progressive script visits luma blocks 6 times and chroma blocks 4 times;
/// 32 leaves room for any encoder's script while bounding the walks a file can ask for.
pub(in crate::imaging::jpeg) const SURVEY_PASSES: u64 = 32;

/// Blocks the DC decoder's progressive scans may visit, per block of the frame and per byte of
/// the file ([`PassBudget::for_dc_decoder`]). The usual scripts (libjpeg's, mozjpeg's) pass
/// over each component 6 to 10 times; a file of many more scans than that has to bring the
/// bytes for them.
pub(in crate::imaging::jpeg) const DC_PASSES: u64 = 16;

/// The largest block count one progressive AC code can cover (an EOB run of 2^15 - 1).
const MAX_EOB_RUN: u64 = 32_767;

/// How many units (blocks; samples for lossless) the scans of one file may visit in all.
///
/// There are two budgets, because two walks are bounded:
/// - [`PassBudget::for_any_decoder`], charged by [`survey`] before any decoder runs: at most
///   [`SURVEY_PASSES`] visits of every unit as the frame's scans code them. It is the
///   service's limit for every file, and a file over it is
///   [`RejectionReason::TooManyPixels`], as any other limit.
/// - [`PassBudget::for_dc_decoder`], charged by the DC decoder scan by scan as it decodes:
///   [`DC_PASSES`] visits per block of its planes and per byte of the file. The DC decoder is
///   also run on its own (the `jpeg_dc` fuzz target, its tests) and must bound its own work
///   without a survey before it; counting the file's bytes lets a file that brings the data
///   for many scans have them, while a short file of many empty scans (an end-of-band run
///   makes an AC scan of any size cost two bytes) cannot make it walk the image hundreds of
///   times. Overdrawing it makes the file invalid.
///
/// Through `inspect` both apply, and the survey's comes first.
#[derive(Debug)]
pub(in crate::imaging::jpeg) struct PassBudget {
    left: u64,
}

/// A scan that would take more visits than its [`PassBudget`] has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct Overdrawn;

impl PassBudget {
    /// [`SURVEY_PASSES`] visits of each unit of `frame`.
    pub(in crate::imaging::jpeg) fn for_any_decoder(frame: &Frame) -> Self {
        Self {
            left: frame.units().saturating_mul(SURVEY_PASSES),
        }
    }

    /// [`DC_PASSES`] visits per stored block of `frame` and per byte of a file of `file_bytes`.
    pub(in crate::imaging::jpeg) fn for_dc_decoder(frame: &Frame, file_bytes: usize) -> Self {
        let bytes = u64::try_from(file_bytes).unwrap_or(u64::MAX);
        Self {
            left: frame
                .all_stored_blocks()
                .saturating_add(bytes)
                .saturating_mul(DC_PASSES),
        }
    }

    /// Takes `units` visits from the budget.
    ///
    /// # Errors
    /// [`Overdrawn`] if fewer are left (and then nothing is taken).
    pub(in crate::imaging::jpeg) fn charge(&mut self, units: u64) -> Result<(), Overdrawn> {
        self.left = self.left.checked_sub(units).ok_or(Overdrawn)?;
        Ok(())
    }
}

/// Whether only the general decoder can take this frame, whatever else the file holds. The DC
/// decoder takes baseline, extended and progressive Huffman frames of 8-bit samples with one
/// or three components, using little memory at any size, so those (and two-component frames)
/// are not refused from the header; what falls back to the general decoder anyway (a sequential file spread over several
/// scans, an image too small for 1/8 scale) has its budget checked before it is decoded
/// ([`super::decode`]).
fn needs_general_decoder(frame: &Frame) -> bool {
    !matches!(frame.sof, 0..=2) || frame.precision != 8 || frame.components.len() == 4
}

/// The frame, once the whole file's structure has been checked (see the module's notes).
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] for a frame over the limits, over the budget of the general
/// decoder it needs, or scans visiting its units too often; [`RejectionReason::Undecodable`]
/// for a missing or second frame header, malformed or truncated segments, and scans shorter
/// than they can be.
pub(in crate::imaging::jpeg) fn survey(
    data: &[u8],
    policy: &ProcessingPolicy,
) -> Result<Frame, RejectionReason> {
    let mut segments = Segments::after_soi(data).ok_or(RejectionReason::Undecodable)?;
    let mut frame: Option<(Frame, PassBudget)> = None;
    while let Some(segment) = segments.next() {
        let segment = segment.map_err(|_| RejectionReason::Undecodable)?;
        match segment.marker {
            Marker::Eoi => break,
            // Standalone markers out of place are the decoders' to judge.
            Marker::Tem | Marker::Rst(_) => {}
            Marker::Soi => return Err(RejectionReason::Undecodable),
            Marker::Sof(sof) => {
                if frame.is_some() {
                    return Err(RejectionReason::Undecodable);
                }
                let parsed =
                    Frame::parse(sof, segment.payload).map_err(|_| RejectionReason::Undecodable)?;
                let (width, height) = (u32::from(parsed.width), u32::from(parsed.height));
                check_dimensions(policy, width, height)?;
                if needs_general_decoder(&parsed) {
                    let thumbnail =
                        thumbnail_dimensions(width, height, policy.renditions.largest_side());
                    let scale = fallback::scale(&parsed, thumbnail);
                    check_budget(width, height, fallback::peak_bytes(&parsed, scale))?;
                }
                let budget = PassBudget::for_any_decoder(&parsed);
                frame = Some((parsed, budget));
            }
            Marker::Sos => {
                let (frame, budget) = frame.as_mut().ok_or(RejectionReason::Undecodable)?;
                let scan = ScanHeader::parse(segment.payload, frame)
                    .map_err(|_| RejectionReason::Undecodable)?;
                let (units, min_bits) = scan_demand(frame, &scan);
                let bytes = segments.skip_entropy_coded_data() as u64;
                if bytes.saturating_mul(8) < min_bits {
                    return Err(RejectionReason::Undecodable);
                }
                budget
                    .charge(units)
                    .map_err(|_| RejectionReason::TooManyPixels)?;
            }
            _ => {}
        }
    }
    frame
        .map(|(frame, _)| frame)
        .ok_or(RejectionReason::Undecodable)
}

/// The units (blocks or samples) a scan codes and the fewest bits it can code them in.
fn scan_demand(frame: &Frame, scan: &ScanHeader) -> (u64, u64) {
    let units = frame.scan_units_of(&scan.components);
    let min_bits = if frame.is_arithmetic() {
        // Arithmetic coding can spend less than a bit on a block (neither decoder supports it).
        0
    } else if frame.is_lossless() || (frame.is_progressive() && scan.start == 0) {
        units
    } else if frame.is_progressive() {
        units.div_ceil(MAX_EOB_RUN)
    } else {
        2 * units
    };
    (units, min_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::jpeg::dc::decode_dc;
    use crate::imaging::testkit::jpeg::{
        EOI, dqt, entropy, gray_sof, segment, sos, stream, tables,
    };

    #[test]
    fn the_survey_refuses_what_no_decoder_should_walk() {
        const PROGRESSIVE: &[u8] =
            include_bytes!("../../../fixtures/images/progressive-420-4000x3000.jpg");
        const SMALL: &[u8] = include_bytes!("../../../fixtures/images/sunset-64x48.jpg");
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
    fn a_malformed_later_scan_header_is_refused_by_the_survey() {
        // A baseline file whose one scan decodes, followed by a second scan header naming DC
        // table 4. The DC decoder stops after the first scan and would never read it, nor would
        // jpeg-decoder's `read_info`; the survey reads every scan header whole, as the DC
        // decoder and jpeg-decoder read the ones they decode.
        let policy = ProcessingPolicy::default();
        let parts = |second_scan: &[u8]| {
            stream(&[
                &dqt(0, 8),
                &gray_sof(64, 64),
                &tables(),
                &sos(&[(1, 0x00)]),
                &entropy(&[0; 64], 0),
                second_scan,
                &[0; 16],
                &EOI,
            ])
        };
        let well_formed = parts(&sos(&[(1, 0x00)]));
        assert!(survey(&well_formed, &policy).is_ok());
        for (case, second_scan) in [
            ("DC table 4", sos(&[(1, 0x40)])),
            ("a component listed twice", sos(&[(1, 0x00), (1, 0x00)])),
            ("a byte too many", segment(0xDA, &[1, 1, 0, 0, 63, 0, 0])),
        ] {
            let jpeg = parts(&second_scan);
            assert!(
                decode_dc(&jpeg, &policy).is_ok(),
                "{case}: the DC decoder stops earlier"
            );
            assert_eq!(
                survey(&jpeg, &policy).err(),
                Some(RejectionReason::Undecodable),
                "{case}"
            );
        }
    }
}
