//! A sequential scan of every component (what cameras and phones write): of each block, the DC
//! coefficient kept (1/8 scale) or the 16 coefficients of its corner (1/2 scale), the other AC
//! coefficients read past.

use super::bits::{Bits, Paths, Restarts};
use super::colour::Scale;
use super::corner::{CORNER_OF_ZIGZAG, Corner, LAST_IN_CORNER};
use super::error::DcError;
use super::huffman::{
    DcTable, Huffman, PAIR_ADVANCE_SHIFT, PAIR_BITS, PAIR_END_OF_BLOCK, PAIR_FIRST_RUN_SHIFT,
    PairTable,
};
use super::plane::{Dc, next_predictor};
use crate::imaging::jpeg::header::Frame;

/// The tables one component of a sequential scan is read with.
pub(super) struct ComponentTables<'t> {
    pub dc: &'t Huffman,
    pub ac: &'t Huffman,
    /// `dc`'s codes and differences, a step each.
    pub dc_steps: DcTable,
    /// `ac`'s codes with their values, one or two a step.
    pub ac_pairs: PairTable,
}

impl<'t> ComponentTables<'t> {
    /// The tables for a component coded with `dc` and `ac`, built when the scan starts (not
    /// for every table a file defines); no steps on the reference `paths`.
    pub(super) fn new(dc: &'t Huffman, ac: &'t Huffman, paths: Paths) -> Self {
        Self {
            dc,
            ac,
            dc_steps: DcTable::new(dc, paths),
            ac_pairs: PairTable::new(ac, paths),
        }
    }
}

/// What a sequential scan keeps of each block: its DC coefficient ([`Dc`]), or its corner
/// ([`Corner`]).
pub(super) trait Block: Copy + Default {
    /// The block whose DC coefficient is `dc`, its AC coefficients read from `bits` (coded
    /// with `tables`).
    fn read(dc: Dc, bits: &mut Bits, tables: &ComponentTables) -> Result<Self, DcError>;
}

impl Block for Dc {
    #[inline]
    fn read(dc: Dc, bits: &mut Bits, tables: &ComponentTables) -> Result<Self, DcError> {
        skip_ac(bits, tables.ac, &tables.ac_pairs, 1)?;
        Ok(dc)
    }
}

impl Block for Corner {
    #[inline]
    fn read(dc: Dc, bits: &mut Bits, tables: &ComponentTables) -> Result<Self, DcError> {
        let mut corner = [0; 16];
        corner[0] = dc;
        // The coefficients up to the corner's last, code by code with their values.
        // k <= 63 before each step and a step adds at most 16: no overflow.
        let mut k = 1;
        while k <= LAST_IN_CORNER as usize {
            let rs = tables.ac.decode(bits)?;
            let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
            if size == 0 {
                if run != 15 {
                    return Ok(corner);
                }
                k += 16;
                continue;
            }
            k += run;
            // `decode` left at least 16 bits buffered, and size <= 15: within -(2^15)..2^15,
            // exact in i16.
            let value = bits.signed(size);
            if let Some(slot) = CORNER_OF_ZIGZAG
                .get(k)
                .and_then(|&i| corner.get_mut(usize::from(i)))
            {
                *slot = value as i16;
            }
            k += 1;
        }
        if k > 64 {
            return Err(DcError::Invalid);
        }
        skip_ac(bits, tables.ac, &tables.ac_pairs, k)?;
        Ok(corner)
    }
}

/// What `scale` keeps of every block of `frame` ([`Planes`]), from the
/// scan whose entropy-coded data starts at `data[start]`, read on `paths`; `tables` are the
/// frame's components', in order. Adds the MCUs it read to their end to `mcus`, whatever the
/// outcome.
///
/// # Errors
/// [`DcError::Invalid`] for bad codes, a DC predictor beyond its bound, restart markers out of
/// place, or data that runs out; [`DcError::OverLimits`] for planes that cannot be addressed.
#[allow(clippy::too_many_arguments)]
pub(super) fn decode_planes(
    data: &[u8],
    start: usize,
    paths: Paths,
    frame: &Frame,
    tables: &[ComponentTables],
    restart_interval: u16,
    scale: Scale,
    mcus: &mut u64,
) -> Result<Planes, DcError> {
    // The bit reader is made here rather than by the caller: 2 to 3 % faster on 4:2:0 photos
    // (A/B on the bench-peers inputs, one pinned core, loops aligned to compare code rather
    // than layout).
    let mut bits = Bits::new(data, start, paths);
    let planes = match scale {
        Scale::Eighth => read_planes(&mut bits, frame, tables, restart_interval).map(Planes::Dc),
        Scale::Half => read_planes(&mut bits, frame, tables, restart_interval).map(Planes::Corners),
    };
    *mcus += bits.mcus();
    planes
}

/// What a sequential scan kept of its blocks, one plane per component.
pub(super) enum Planes {
    /// At 1/8 scale: each block's DC coefficient.
    Dc(Vec<Vec<Dc>>),
    /// At 1/2 scale: each block's corner.
    Corners(Vec<Vec<Corner>>),
}

/// [`decode_planes`]' loops, inlined into it (its only caller), which counts the MCUs whatever
/// the outcome.
#[inline(always)]
fn read_planes<B: Block>(
    bits: &mut Bits,
    frame: &Frame,
    tables: &[ComponentTables],
    restart_interval: u16,
) -> Result<Vec<Vec<B>>, DcError> {
    let (components, mcus_x, mcus_y) = (&frame.components, frame.mcus_x, frame.mcus_y);
    let mut planes = components
        .iter()
        .map(|c| {
            let blocks =
                usize::try_from(frame.stored_blocks(c)).map_err(|_| DcError::OverLimits)?;
            Ok(vec![B::default(); blocks])
        })
        .collect::<Result<Vec<Vec<B>>, DcError>>()?;
    let mut predictors = vec![0i32; components.len()];
    let mut restarts = Restarts::new(restart_interval);
    for mcu_y in 0..mcus_y {
        for mcu_x in 0..mcus_x {
            if restarts.before_mcu(bits)? {
                predictors.fill(0);
            }
            for (i, (c, tables)) in components.iter().zip(tables).enumerate() {
                // Indices: mcu_x < mcus_x and bx < c.h, so the column is below the stride
                // mcus_x * c.h; likewise the row is below mcus_y * c.v: within the plane, whose
                // size is their product. All of it below 2^30.
                let stride = mcus_x * c.h;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        let difference = tables.dc_steps.difference(bits, tables.dc)?;
                        let predictor = next_predictor(predictors[i], difference)?;
                        predictors[i] = predictor;
                        // Within DC_LIMIT (checked above): exact in i16.
                        let block = B::read(predictor as Dc, bits, tables)?;
                        planes[i][(mcu_y * c.v + by) * stride + mcu_x * c.h + bx] = block;
                    }
                }
            }
            bits.end_of_mcu()?;
        }
    }
    Ok(planes)
}

/// Reads past one block's AC coefficients from `k` (1 for all 63) to its end.
#[inline]
fn skip_ac(
    bits: &mut Bits,
    table: &Huffman,
    pairs: &PairTable,
    mut k: usize,
) -> Result<(), DcError> {
    // k <= 64 before each step and a step adds at most 32: no overflow.
    while k < 64 {
        if bits.count < 32 {
            bits.fill();
        }
        // The top PAIR_BITS bits: an index below the table's size.
        let entry = pairs.0[(bits.acc >> (64 - PAIR_BITS)) as usize];
        // Unless the first code lands on the last coefficient (when the block ends after it,
        // which the code-by-code path below handles): one step, whether one code or two.
        if entry != 0 && k + usize::from(entry >> PAIR_FIRST_RUN_SHIFT & 15) + 1 < 64 {
            // At most 13 + 15 bits, and at least 32 are buffered.
            bits.consume(u32::from(entry & 31));
            if entry & PAIR_END_OF_BLOCK != 0 {
                return Ok(());
            }
            k += usize::from(entry >> PAIR_ADVANCE_SHIFT & 63);
            continue;
        }
        let rs = table.decode(bits)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run != 15 {
                return Ok(());
            }
            k += 16;
            continue;
        }
        k += run + 1;
        // At most 15 bits, and `decode` left at least 16 buffered.
        bits.consume(size);
    }
    if k > 64 {
        return Err(DcError::Invalid);
    }
    Ok(())
}
