//! A progressive frame (what web tools write), decoded scan by scan without storing any AC
//! coefficient outside a block's corner: DC scans fill the DC planes, AC scans are
//! entropy-decoded to verify the file, keeping a bitmap per block of which coefficients are
//! non-zero so far (what refinement scans need to know which coefficients get correction bits)
//! and, at 1/2 scale, the values of the corner's 15 AC coefficients ([`Keep`]). Memory is then
//! independent of the AC data: [`PROGRESSIVE_BYTES_PER_BLOCK`] a block, about 1/6 byte a pixel
//! for each full-resolution component, and the corner's 32 bytes at 1/2 scale.
//!
//! Progressive scans can visit every block of a component at almost no cost in bits (an
//! end-of-band run covers up to 32767 blocks), so each scan is charged its blocks before it is
//! decoded against the DC decoder's [`PassBudget`]; the progression itself is checked (G.1.1.1:
//! the DC first, each coefficient coded once then refined a bit at a time), and a DC scan's
//! blocks must fit in the bytes left.

use super::bits::{Bits, Restarts, fits_in};
use super::colour::{Scale, ScaledImage, to_rgb};
use super::corner::{CORNER_OF_ZIGZAG, Corner, LAST_IN_CORNER, NOT_IN_CORNER, corners_to_rgb};
use super::error::DcError;
use super::huffman::{
    DcTable, Huffman, SKIP_BITS, SKIP_COEFFICIENT, SKIP_END_OF_BAND, SKIP_LENGTH, SKIP_RUN_SHIFT,
    SKIP_SIZE_SHIFT,
};
use super::plane::{Dc, PLANE_BYTES_PER_BLOCK, next_predictor, plane_value};
use super::tables::Tables;
use crate::imaging::jpeg::header::{Frame, ScanComponent, ScanHeader};
use crate::imaging::jpeg::survey::PassBudget;

/// Bytes a progressive frame needs for each block: the DC plane and the non-zero bitmap.
pub(super) const PROGRESSIVE_BYTES_PER_BLOCK: u64 = PLANE_BYTES_PER_BLOCK + 8;

/// The largest point transform (successive approximation bit) of a scan (G.1.1.1.1).
const MAX_POINT_TRANSFORM: u8 = 13;

/// A coefficient not yet coded by any scan, in [`Progression::point_transform`].
const NOT_CODED: u8 = u8::MAX;

/// What the scans of a progressive frame have decoded so far.
pub(super) struct Progression {
    /// Per component: the DC plane, empty until the component's first DC scan.
    dc: Vec<Vec<Dc>>,
    /// Per component, per block: bit k set once AC coefficient k (zigzag order) is non-zero.
    /// A refinement scan reads a correction bit for each of those and codes only the others.
    nonzero: Vec<Vec<u64>>,
    /// At 1/2 scale, per component: every block's corner (its DC left to `dc`), empty until the
    /// component's first DC scan; empty throughout at 1/8 scale.
    corners: Vec<Vec<Corner>>,
    scale: Scale,
    /// Per component, per coefficient: the point transform of the last scan that coded it,
    /// `NOT_CODED` before the first.
    point_transform: Vec<[u8; 64]>,
    /// Per component: the corner's quantizers (the DC's first), latched at its first scan (as
    /// libjpeg does).
    quants: Vec<Option<[u16; 16]>>,
    /// Blocks the remaining scans may visit.
    budget: PassBudget,
}

/// Each scan component's decoding state, reset at every restart marker.
#[derive(Default)]
struct ScanState {
    /// DC predictors, one per scan component (at most 4).
    predictors: [i32; 4],
    /// Blocks left in the current end-of-band run.
    eob_run: u32,
}

/// The tables in force and the restart interval when a scan starts.
pub(super) struct ScanContext<'c> {
    pub frame: &'c Frame,
    pub tables: &'c Tables,
    pub restart_interval: u16,
}

impl Progression {
    /// Nothing decoded yet of `frame`, in a file of `file_bytes` (see
    /// [`PassBudget::for_dc_decoder`]), for its image at `scale`. Its buffers take
    /// [`PROGRESSIVE_BYTES_PER_BLOCK`], and a [`Corner`] a block at 1/2 scale.
    pub(super) fn new(frame: &Frame, file_bytes: usize, scale: Scale) -> Self {
        let n = frame.components.len();
        Self {
            dc: vec![Vec::new(); n],
            nonzero: vec![Vec::new(); n],
            corners: vec![Vec::new(); n],
            scale,
            point_transform: vec![[NOT_CODED; 64]; n],
            quants: vec![None; n],
            budget: PassBudget::for_dc_decoder(frame, file_bytes),
        }
    }

    /// The image of `frame` at the progression's scale, once EOI says all scans are in.
    ///
    /// # Errors
    /// [`DcError::Invalid`] if a component never had a DC scan.
    pub(super) fn image(&mut self, frame: &Frame) -> Result<ScaledImage, DcError> {
        let quants = self
            .quants
            .iter()
            .map(|q| q.ok_or(DcError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        match self.scale {
            Scale::Eighth => {
                let dc_quants: Vec<u16> = quants.iter().map(|q| q[0]).collect();
                Ok(to_rgb(frame, &self.dc, &dc_quants))
            }
            Scale::Half => {
                for (corners, dc) in self.corners.iter_mut().zip(&self.dc) {
                    for (corner, &dc) in corners.iter_mut().zip(dc) {
                        corner[0] = dc;
                    }
                }
                // Only the corners are needed from here on.
                self.dc = Vec::new();
                self.nonzero = Vec::new();
                let corners = std::mem::take(&mut self.corners);
                Ok(corners_to_rgb(frame, corners, &quants))
            }
        }
    }

    /// Decodes one scan into the progression, leaving `bits` at the next marker.
    ///
    /// # Errors
    /// [`DcError::Invalid`] for a scan out of the progression's order (G.1.1.1), one over the
    /// [`PassBudget`], tables not defined, bad codes and data that runs out.
    pub(super) fn decode_scan(
        &mut self,
        bits: &mut Bits,
        context: &ScanContext,
        scan: &ScanHeader,
    ) -> Result<(), DcError> {
        let ScanContext {
            frame,
            tables,
            restart_interval,
        } = *context;
        let ScanHeader {
            ref components,
            start,
            end,
            high,
            low,
        } = *scan;
        // G.1.1.1.1: a DC scan codes the DC alone, an AC scan one band of one component, and each
        // scan after a coefficient's first refines it by exactly one bit.
        let dc_scan = start == 0;
        if end > 63
            || start > end
            || (dc_scan && end != 0)
            || (!dc_scan && components.len() != 1)
            || high > MAX_POINT_TRANSFORM
            || low > MAX_POINT_TRANSFORM
            || (high != 0 && high != low + 1)
        {
            return Err(DcError::Invalid);
        }
        for &ScanComponent { index: c, .. } in components {
            let coded = &mut self.point_transform[c];
            // The DC before any AC coefficient (G.1.1.1.1).
            if !dc_scan && coded[0] == NOT_CODED {
                return Err(DcError::Invalid);
            }
            let expected = if high == 0 { NOT_CODED } else { high };
            for k in start..=end {
                // k <= end <= 63.
                let point_transform = &mut coded[usize::from(k)];
                if *point_transform != expected {
                    return Err(DcError::Invalid);
                }
                *point_transform = low;
            }
        }
        // Every scan is charged the blocks it visits before it is decoded: an end-of-band run
        // makes an AC scan cost next to no bits whatever the number of blocks.
        let blocks = frame.scan_units_of(components);
        self.budget.charge(blocks).map_err(|_| DcError::Invalid)?;
        if dc_scan {
            // A DC scan codes at least a bit a block: a Huffman code, or the refinement bit.
            fits_in(blocks, 1, bits.data.len().saturating_sub(bits.pos))?;
        }
        match (dc_scan, high) {
            (true, 0) => {
                let mut huffman = Vec::with_capacity(components.len());
                for &ScanComponent {
                    index: c, dc_table, ..
                } in components
                {
                    huffman.push(tables.dc[dc_table].as_ref().ok_or(DcError::Invalid)?);
                    let component = &frame.components[c];
                    self.quants[c] = Some(tables.quant[component.quant].ok_or(DcError::Invalid)?);
                    // Allocated once a component: its first DC scan is its only one (checked
                    // above), and its blocks fit in the bytes left (also above).
                    let blocks = usize::try_from(frame.stored_blocks(component))
                        .map_err(|_| DcError::OverLimits)?;
                    self.dc[c] = vec![0; blocks];
                    self.nonzero[c] = vec![0; blocks];
                    if self.scale == Scale::Half {
                        self.corners[c] = vec![[0; 16]; blocks];
                    }
                }
                let steps: Vec<DcTable> = huffman
                    .iter()
                    .map(|&table| DcTable::new(table, tables.paths))
                    .collect();
                let planes = &mut self.dc;
                walk_scan(
                    bits,
                    frame,
                    components,
                    restart_interval,
                    |bits, state, i, block| {
                        let difference = steps[i].difference(bits, huffman[i])?;
                        let predictor = next_predictor(state.predictors[i], difference)?;
                        state.predictors[i] = predictor;
                        // Below 2^12 x 2^13: no overflow; then bounded like any DC coefficient.
                        planes[components[i].index][block] = plane_value(predictor << low)?;
                        Ok(())
                    },
                )
            }
            (true, _) => {
                let planes = &mut self.dc;
                walk_scan(
                    bits,
                    frame,
                    components,
                    restart_interval,
                    |bits, _, i, block| {
                        if bits.raw(1) == 1 {
                            let plane = &mut planes[components[i].index];
                            // The bit is below 2^14 and the value within DC_LIMIT: then
                            // bounded again.
                            plane[block] = plane_value(i32::from(plane[block]) | (1 << low))?;
                        }
                        Ok(())
                    },
                )
            }
            (false, _) => {
                let &[
                    ScanComponent {
                        index: c, ac_table, ..
                    },
                ] = components.as_slice()
                else {
                    return Err(DcError::Invalid);
                };
                let table = tables.ac[ac_table].as_ref().ok_or(DcError::Invalid)?;
                let nonzero = &mut self.nonzero[c];
                let band = (start, end);
                // The corner's values are kept at 1/2 scale by the scans of bands that reach it.
                let corners = &mut self.corners[c];
                if self.scale == Scale::Half && u32::from(start) <= LAST_IN_CORNER {
                    walk_scan(
                        bits,
                        frame,
                        components,
                        restart_interval,
                        |bits, state, _, block| {
                            let corner = corners.get_mut(block).ok_or(DcError::Invalid)?;
                            let keep = Corners { corner, low };
                            ac_block(bits, table, state, &mut nonzero[block], (band, high), keep)
                        },
                    )
                } else {
                    walk_scan(
                        bits,
                        frame,
                        components,
                        restart_interval,
                        |bits, state, _, block| {
                            let band = (band, high);
                            ac_block(bits, table, state, &mut nonzero[block], band, Nothing)
                        },
                    )
                }
            }
        }?;
        bits.skip_to_marker()
    }
}

/// What an AC scan keeps of a block's coefficients besides which are non-zero: nothing at 1/8
/// scale ([`Nothing`]), the values of the corner's at 1/2 ([`Corners`]). With `Nothing` the
/// scans compile to what they are without it.
trait Keep {
    /// Whether coefficient `k` (zigzag order) may need its value kept: refinement scans then go
    /// code by code from `k` on, so that each correction bit can be applied.
    fn from(&self, k: u32) -> bool;
    /// Whether coefficient `k`'s value is kept.
    fn keeps(&self, k: u32) -> bool;
    /// Coefficient `k` is first coded as `value` (before the scan's point transform).
    fn first(&mut self, k: u32, value: i32);
    /// A correction bit of 1 for the non-zero coefficient `k` (G.1.2.3).
    fn correct(&mut self, k: u32);
    /// Coefficient `k` becomes non-zero: the scan's bit, positive or negative.
    fn new_one(&mut self, k: u32, positive: bool);
}

/// At 1/8 scale: no value is kept.
struct Nothing;

impl Keep for Nothing {
    #[inline(always)]
    fn from(&self, _: u32) -> bool {
        false
    }
    #[inline(always)]
    fn keeps(&self, _: u32) -> bool {
        false
    }
    #[inline(always)]
    fn first(&mut self, _: u32, _: i32) {}
    #[inline(always)]
    fn correct(&mut self, _: u32) {}
    #[inline(always)]
    fn new_one(&mut self, _: u32, _: bool) {}
}

/// At 1/2 scale: the values of a block's corner, in a scan whose point transform is `low`
/// (at most `MAX_POINT_TRANSFORM`, checked before the scan).
struct Corners<'c> {
    corner: &'c mut Corner,
    low: u8,
}

impl Corners<'_> {
    /// The scan's bit, 2^low: within i16, as low <= 13.
    #[inline]
    fn bit(&self) -> i16 {
        1 << self.low
    }

    /// Coefficient `k`'s slot in the corner, if it has one.
    #[inline]
    fn slot(&mut self, k: u32) -> Option<&mut i16> {
        let index = *CORNER_OF_ZIGZAG.get(k as usize)?;
        self.corner.get_mut(usize::from(index))
    }
}

impl Keep for Corners<'_> {
    #[inline]
    fn from(&self, k: u32) -> bool {
        k <= LAST_IN_CORNER
    }
    #[inline]
    fn keeps(&self, k: u32) -> bool {
        CORNER_OF_ZIGZAG
            .get(k as usize)
            .is_some_and(|&i| i != NOT_IN_CORNER)
    }
    #[inline]
    fn first(&mut self, k: u32, value: i32) {
        let low = self.low;
        if let Some(slot) = self.slot(k) {
            // |value| < 2^15 and low <= 13: below 2^28, exact in i32. Only a crafted file
            // exceeds i16 (8-bit samples give coefficients below 2^11); it is clamped.
            *slot = (value << low).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        }
    }
    #[inline]
    fn correct(&mut self, k: u32) {
        let bit = self.bit();
        if let Some(slot) = self.slot(k)
            && *slot & bit == 0
        {
            // As libjpeg: the bit is added to the magnitude.
            *slot = if *slot >= 0 {
                slot.saturating_add(bit)
            } else {
                slot.saturating_sub(bit)
            };
        }
    }
    #[inline]
    fn new_one(&mut self, k: u32, positive: bool) {
        let bit = self.bit();
        if let Some(slot) = self.slot(k) {
            *slot = if positive { bit } else { -bit };
        }
    }
}

/// JPEG's EXTEND (F.2.2.1): `raw`, the `size` (1..=15) bits of a value, as the value.
#[inline]
fn extend(raw: i32, size: u32) -> i32 {
    if raw < 1 << (size - 1) {
        raw - (1 << size) + 1
    } else {
        raw
    }
}

/// Walks a scan's blocks in coding order (A.2): MCU by MCU if it has several components,
/// block by block over the component's own grid if one, with restarts and a truncation check
/// after every MCU. `block` decodes scan component `i`'s block at `index` in its plane.
fn walk_scan(
    bits: &mut Bits,
    frame: &Frame,
    components: &[ScanComponent],
    restart_interval: u16,
    mut block: impl FnMut(&mut Bits, &mut ScanState, usize, usize) -> Result<(), DcError>,
) -> Result<(), DcError> {
    let mut restarts = Restarts::new(restart_interval);
    let mut state = ScanState::default();
    if let &[ScanComponent { index: c, .. }] = components {
        let component = &frame.components[c];
        let (across, down) = frame.coded_blocks(component);
        // across <= mcus_x * h (the plane's stride) and down <= mcus_y * v: within the plane.
        let stride = frame.mcus_x * component.h;
        for y in 0..down {
            for x in 0..across {
                if restarts.before_mcu(bits)? {
                    state = ScanState::default();
                }
                block(bits, &mut state, 0, y * stride + x)?;
                bits.end_of_mcu()?;
            }
        }
        return Ok(());
    }
    for mcu_y in 0..frame.mcus_y {
        for mcu_x in 0..frame.mcus_x {
            if restarts.before_mcu(bits)? {
                state = ScanState::default();
            }
            for (i, &ScanComponent { index: c, .. }) in components.iter().enumerate() {
                let component = &frame.components[c];
                // As in `sequential::decode_planes`: within the plane.
                let stride = frame.mcus_x * component.h;
                for by in 0..component.v {
                    for bx in 0..component.h {
                        let row = mcu_y * component.v + by;
                        block(bits, &mut state, i, row * stride + mcu_x * component.h + bx)?;
                    }
                }
            }
            bits.end_of_mcu()?;
        }
    }
    Ok(())
}

/// One block of an AC scan over coefficients `band`, a first scan if `high` (its Ah) is 0 and a
/// refinement scan otherwise, keeping the values `keep` keeps.
#[inline]
fn ac_block(
    bits: &mut Bits,
    table: &Huffman,
    state: &mut ScanState,
    nonzero: &mut u64,
    (band, high): ((u8, u8), u8),
    keep: impl Keep,
) -> Result<(), DcError> {
    if high == 0 {
        ac_first(bits, table, &mut state.eob_run, nonzero, band, keep)
    } else {
        ac_refine(bits, table, &mut state.eob_run, nonzero, band, keep)
    }
}

/// One block of an AC first scan over coefficients `band` (G.1.2.2): which coefficients become
/// non-zero is kept, and the values `keep` keeps.
fn ac_first(
    bits: &mut Bits,
    table: &Huffman,
    eob_run: &mut u32,
    nonzero: &mut u64,
    (start, end): (u8, u8),
    mut keep: impl Keep,
) -> Result<(), DcError> {
    if *eob_run > 0 {
        *eob_run -= 1;
        return Ok(());
    }
    // k <= 63 + 16 throughout.
    let (mut k, end) = (u32::from(start), u32::from(end));
    while k <= end {
        if bits.count < 32 {
            bits.fill();
        }
        // The top SKIP_BITS bits: an index below the table's size.
        let entry = table.skip[(bits.acc >> (64 - SKIP_BITS)) as usize];
        if entry != 0 {
            let acc = bits.acc;
            // At most 11 + 15 bits, and at least 32 are buffered.
            bits.consume(u32::from(entry & SKIP_LENGTH));
            let run = u32::from(entry >> SKIP_RUN_SHIFT & 15);
            if entry & SKIP_COEFFICIENT != 0 {
                k += run;
                if k > end {
                    return Err(DcError::Invalid);
                }
                if keep.keeps(k) {
                    // The value's `size` bits (1..=15) follow the code, within the entry's length.
                    let size = u32::from(entry >> SKIP_SIZE_SHIFT & 15);
                    let code = u32::from(entry & SKIP_LENGTH) - size;
                    keep.first(k, extend((acc << code >> (64 - size)) as i32, size));
                }
                *nonzero |= 1 << k;
                k += 1;
            } else if entry & SKIP_END_OF_BAND != 0 {
                // As below: run <= 14.
                *eob_run = (1 << run) - 1 + bits.raw(run);
                return Ok(());
            } else {
                k += 16;
            }
            continue;
        }
        let rs = table.decode(bits)?;
        let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run == 15 {
                k += 16;
                continue;
            }
            // An end-of-band run: this block and 2^run - 1 + (the next `run` bits) more;
            // run <= 14, so below 2^15.
            *eob_run = (1 << run) - 1 + bits.raw(run);
            return Ok(());
        }
        k += run;
        if k > end {
            return Err(DcError::Invalid);
        }
        // At most 15 bits, and `decode` left at least 16 buffered.
        if keep.keeps(k) {
            keep.first(k, bits.signed(size));
        } else {
            bits.consume(size);
        }
        *nonzero |= 1 << k;
        k += 1;
    }
    // Sixteen zeros past the end of the band.
    if k > end + 1 {
        return Err(DcError::Invalid);
    }
    Ok(())
}

/// One block of an AC refinement scan over coefficients `band` (G.1.2.3): a correction bit for
/// every coefficient already non-zero, and new coefficients of magnitude 1 among the zeros; the
/// values `keep` keeps are refined, code by code where it keeps any.
fn ac_refine(
    bits: &mut Bits,
    table: &Huffman,
    eob_run: &mut u32,
    nonzero: &mut u64,
    (start, end): (u8, u8),
    mut keep: impl Keep,
) -> Result<(), DcError> {
    // k <= 64 throughout.
    let (mut k, end) = (u32::from(start), u32::from(end));
    if *eob_run == 0 {
        while k <= end {
            if keep.from(k) {
                match refine_kept(bits, table, nonzero, k, end, &mut keep)? {
                    Refined::At(next) => {
                        k = next;
                        continue;
                    }
                    Refined::EndOfBand(run) => {
                        *eob_run = run;
                        break;
                    }
                }
            }
            if bits.count < 32 {
                bits.fill();
            }
            // The top SKIP_BITS bits: an index below the table's size.
            let entry = table.skip[(bits.acc >> (64 - SKIP_BITS)) as usize];
            if entry != 0 {
                let run = u32::from(entry >> SKIP_RUN_SHIFT & 15);
                // A new coefficient's length counts its sign bit (its size, 1).
                let new = if entry & SKIP_COEFFICIENT != 0 {
                    if entry >> SKIP_SIZE_SHIFT & 15 != 1 {
                        return Err(DcError::Invalid);
                    }
                    true
                } else if entry & SKIP_END_OF_BAND != 0 {
                    bits.consume(u32::from(entry & SKIP_LENGTH));
                    // As below.
                    *eob_run = (1 << run) + bits.raw(run);
                    break;
                } else {
                    false
                };
                // At most 11 + 1 bits, and at least 32 are buffered.
                bits.consume(u32::from(entry & SKIP_LENGTH));
                k = refine_to(bits, nonzero, k, end, run, new)?;
                continue;
            }
            let rs = table.decode(bits)?;
            let (mut run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
            let new = match (size, run) {
                // A new coefficient: its sign bit comes first.
                (1, _) => {
                    bits.raw(1);
                    true
                }
                // Sixteen zero coefficients.
                (0, 15) => false,
                // An end-of-band run, of this block and 2^run + (the next `run` bits) - 1 more.
                (0, _) => {
                    *eob_run = (1 << run) + bits.raw(run);
                    break;
                }
                _ => return Err(DcError::Invalid),
            };
            // To the `run`-th zero coefficient from k, with a correction bit for each non-zero
            // one on the way.
            if bits.fast() {
                k = refine_to(bits, nonzero, k, end, run, new)?;
                continue;
            }
            loop {
                if k > end {
                    return Err(DcError::Invalid);
                }
                if *nonzero >> k & 1 == 1 {
                    bits.raw(1);
                } else if run == 0 {
                    break;
                } else {
                    run -= 1;
                }
                k += 1;
            }
            if new {
                *nonzero |= 1 << k;
            }
            k += 1;
        }
    }
    if *eob_run > 0 {
        // In an end-of-band run: only the correction bits of the band's non-zero coefficients
        // from k on; those of kept values one by one, the others' values do not matter here.
        while k <= end && keep.from(k) {
            if *nonzero >> k & 1 == 1 && bits.raw(1) == 1 {
                keep.correct(k);
            }
            k += 1;
        }
        let band = (u64::MAX >> (63 - end)) & u64::MAX.checked_shl(k).unwrap_or(0);
        bits.skip((*nonzero & band).count_ones());
        *eob_run -= 1;
    }
    Ok(())
}

/// Where a refinement scan's code read by [`refine_kept`] left the block.
enum Refined {
    /// At this coefficient, within the band or just past its end.
    At(u32),
    /// In an end-of-band run of this many blocks (this one included).
    EndOfBand(u32),
}

/// In a refinement scan, from coefficient `k` within the band's `end`: one code, read code by
/// code as [`ac_refine`]'s reference path does, with every correction bit and new coefficient
/// passed to `keep`.
fn refine_kept(
    bits: &mut Bits,
    table: &Huffman,
    nonzero: &mut u64,
    mut k: u32,
    end: u32,
    keep: &mut impl Keep,
) -> Result<Refined, DcError> {
    let rs = table.decode(bits)?;
    let (mut run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
    let new = match (size, run) {
        // A new coefficient: its sign bit comes first (1 for positive).
        (1, _) => Some(bits.raw(1) == 1),
        // Sixteen zero coefficients.
        (0, 15) => None,
        // An end-of-band run, of this block and 2^run + (the next `run` bits) - 1 more; the
        // block's correction bits from k on follow.
        (0, _) => return Ok(Refined::EndOfBand((1 << run) + bits.raw(run))),
        _ => return Err(DcError::Invalid),
    };
    loop {
        if k > end {
            return Err(DcError::Invalid);
        }
        if *nonzero >> k & 1 == 1 {
            if bits.raw(1) == 1 {
                keep.correct(k);
            }
        } else if run == 0 {
            break;
        } else {
            run -= 1;
        }
        k += 1;
    }
    if let Some(positive) = new {
        *nonzero |= 1 << k;
        keep.new_one(k, positive);
    }
    Ok(Refined::At(k + 1))
}

/// In a refinement scan, from coefficient `k`: to the zero coefficient after `run` others
/// (`run` <= 15) within the band's `end`, passing over the correction bit of each non-zero one
/// on the way, and making it non-zero if `new`. Returns the position after it. The reference,
/// one coefficient at a time, is the loop in [`ac_refine`]; this does it in a few bit operations.
#[inline]
fn refine_to(
    bits: &mut Bits,
    nonzero: &mut u64,
    k: u32,
    end: u32,
    run: u32,
    new: bool,
) -> Result<u32, DcError> {
    // k <= end + 1 <= 64 and end <= 63: the band's bits k..=end.
    let from_k = (u64::MAX >> (63 - end)) & u64::MAX.checked_shl(k).unwrap_or(0);
    let zeros = !*nonzero & from_k;
    // k <= at <= end: between them, `run` zeros and a correction bit for every other position.
    // 94 % of the time in a noisy photo it is among the next eight positions: one table step.
    let near = SELECT_IN_BYTE[zeros.checked_shr(k).unwrap_or(0) as usize & 0xFF][run as usize & 15];
    let at = if near < 8 {
        k + u32::from(near)
    } else {
        select(zeros, run).ok_or(DcError::Invalid)?
    };
    bits.skip(at - k - run);
    if new {
        *nonzero |= 1 << at;
    }
    Ok(at + 1)
}

/// For each byte value and `r` below 16: the position of its set bit with `r` set bits below it
/// (8 if there is none, as for any `r` of 8 or more).
static SELECT_IN_BYTE: [[u8; 16]; 256] = {
    let mut table = [[8u8; 16]; 256];
    let mut byte = 0;
    while byte < 256 {
        let (mut bit, mut seen) = (0, 0);
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte][seen] = bit as u8;
                seen += 1;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// The position of `x`'s set bit with `r` (at most 15) set bits below it, if `x` has more than
/// `r`: in a fixed number of steps, without a branch on the bits (broadword selection: the set
/// bits counted per byte, their running sums compared with `r` all at once, then a table).
#[inline]
fn select(x: u64, r: u32) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pairs = x - ((x >> 1) & 0x5555_5555_5555_5555);
    let nibbles = (pairs & 0x3333_3333_3333_3333) + ((pairs >> 2) & 0x3333_3333_3333_3333);
    let bytes = (nibbles + (nibbles >> 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    // Byte i: the set bits of bytes 0..=i, at most 64, so no byte carries into the next.
    let running = bytes.wrapping_mul(ONES);
    // The high bit of byte i is set where running_i <= r: 0x80 + r - running_i stays within
    // 0x40..=0x8F, never borrowing from the next byte.
    let at_or_below = (((u64::from(r) * ONES) | HIGHS) - running) & HIGHS;
    // The running sums only grow: the bytes where they are at most `r` come first, and their
    // count is the byte holding the bit.
    let byte = ((at_or_below >> 7).wrapping_mul(ONES) >> 56) as u32;
    if byte >= 8 {
        return None;
    }
    // Set bits below that byte, then the bit within it (r - below < 8, as running_byte > r).
    let below = ((running << 8) >> (8 * byte)) as u32 & 0xFF;
    let within = SELECT_IN_BYTE[(x >> (8 * byte)) as usize & 0xFF][(r - below) as usize & 15];
    Some(8 * byte + u32::from(within))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_finds_the_bit_that_clearing_the_lowest_bits_finds() {
        // Reference: clear the lowest set bit `r` times, then take the lowest left.
        let reference = |x: u64, r: u32| {
            let mut rest = x;
            for _ in 0..r {
                rest &= rest.wrapping_sub(1);
            }
            (rest != 0).then(|| rest.trailing_zeros())
        };
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases = vec![0, u64::MAX, 1, 1 << 63, 0xFF00, 0x8000_0000_0000_0001];
        for _ in 0..20_000 {
            // Dense, half, sparse and very sparse words, as the masks of real blocks are.
            let (a, b, c) = (next(), next(), next());
            cases.extend([a | b, a, a & b, a & b & c]);
        }
        for x in cases {
            for r in 0..16 {
                assert_eq!(select(x, r), reference(x, r), "x = {x:#018x}, r = {r}");
            }
        }
    }
}
