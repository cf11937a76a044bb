//! Huffman tables (F.2.2.3) as the DC decoder reads them: canonical decoding code by code
//! ([`Huffman::decode`], the reference), and table steps that read a whole code with its value,
//! or two, at once ([`Huffman::skip`], [`PairTable`], [`DcTable`]).

use super::bits::{Bits, Paths};
use super::error::DcError;

/// The largest DC difference category for 8-bit samples (F.1.2.1: differences up to 2^11 - 1).
pub(super) const MAX_DC_CATEGORY: u32 = 11;

/// The bits a code is looked up by in [`Huffman::decode`] before canonical decoding.
const LOOKUP_BITS: u32 = 9;

/// The bits an AC code is looked up by in [`Huffman::skip`]: 2^11 entries of 2 bytes stay in the
/// L1 cache, and the standard tables code all but rare large coefficients in at most 11 bits.
pub(super) const SKIP_BITS: u32 = 11;

/// [`Huffman::skip`] entries: the bits to drop (code and value) in the low 5 bits, the run in the
/// next 4 (so the code moves `run + 1` along the band, 16 for a run of 16 zeros), the value's size
/// in the next 4, then flags.
pub(super) const SKIP_LENGTH: u16 = 0x1F;
pub(super) const SKIP_RUN_SHIFT: u16 = 5;
pub(super) const SKIP_SIZE_SHIFT: u16 = 9;
/// The code is a coefficient (size > 0): its position, `k + run`, becomes non-zero.
pub(super) const SKIP_COEFFICIENT: u16 = 1 << 14;
/// The code ends the band (size 0, run < 15): end-of-block, or a progressive end-of-band run
/// whose `run` extra bits follow the code (and are not counted in the length).
pub(super) const SKIP_END_OF_BAND: u16 = 1 << 15;

pub(super) struct Huffman {
    /// For the next `LOOKUP_BITS` bits: (code length, symbol); length 0 means "longer code".
    lookup: Vec<(u8, u8)>,
    /// For the next `SKIP_BITS` bits, an AC code read as run/size in one step (see `SKIP_*`):
    /// what passing over a coefficient without its value takes. 0 means a longer code (or none),
    /// left to [`Huffman::decode`].
    pub(super) skip: Box<[u16; 1 << SKIP_BITS]>,
    /// Canonical decoding for codes longer than `LOOKUP_BITS` (index = code length).
    max_code: [i32; 18],
    val_offset: [i32; 18],
    values: Vec<u8>,
}

impl Huffman {
    /// The decoding tables for a DHT's code counts per length and its symbols.
    ///
    /// # Errors
    /// [`DcError::Invalid`] if the counts over-fill a code length (more codes of length `n` than
    /// `n` bits can spell after the shorter ones) or name more symbols than `values` holds.
    pub(super) fn new(counts: &[u8; 16], values: &[u8], paths: Paths) -> Result<Self, DcError> {
        let mut lookup = vec![(0u8, 0u8); 1 << LOOKUP_BITS];
        let mut max_code = [-1i32; 18];
        let mut val_offset = [0i32; 18];
        // `code` is the next canonical code of length `len`. The check below keeps every code of
        // length `len` below 2^len, so `code` <= 2^len <= 2^16 at the top of each pass, and `k`
        // (symbols so far) < 16 x 256: both are exact in i32.
        let mut code: u32 = 0;
        let mut k: u32 = 0;
        for len in 1..=16u32 {
            let index = usize::try_from(len).map_err(|_| DcError::Invalid)?;
            let count = u32::from(counts[index - 1]);
            if code + count > 1 << len {
                return Err(DcError::Invalid);
            }
            if count > 0 {
                val_offset[index] = i32::try_from(k).map_err(|_| DcError::Invalid)?
                    - i32::try_from(code).map_err(|_| DcError::Invalid)?;
                for _ in 0..count {
                    let at = usize::try_from(k).map_err(|_| DcError::Invalid)?;
                    let symbol = *values.get(at).ok_or(DcError::Invalid)?;
                    if len <= LOOKUP_BITS {
                        // code < 2^len, so its entries, code << shift .. (code + 1) << shift,
                        // lie within the 2^LOOKUP_BITS table; `get_mut` keeps it so regardless.
                        let shift = LOOKUP_BITS - len;
                        let first = usize::try_from(code << shift).map_err(|_| DcError::Invalid)?;
                        let length = u8::try_from(len).map_err(|_| DcError::Invalid)?;
                        lookup
                            .get_mut(first..first + (1 << shift))
                            .ok_or(DcError::Invalid)?
                            .fill((length, symbol));
                    }
                    code += 1;
                    k += 1;
                }
                max_code[index] = i32::try_from(code).map_err(|_| DcError::Invalid)? - 1;
            }
            code <<= 1;
        }
        max_code[17] = i32::MAX;
        Ok(Self {
            lookup,
            skip: match paths {
                Paths::Fast => skip_table(counts, values),
                Paths::Reference => Box::new([0; 1 << SKIP_BITS]),
            },
            max_code,
            val_offset,
            values: values.to_vec(),
        })
    }

    /// The next symbol of `bits`, code by code (F.2.2.3, with a lookup of the first
    /// `LOOKUP_BITS` bits). Leaves at least 16 bits buffered for the value that follows: the
    /// buffer holds at least 32 bits (filled below 32 to at least 57) and a code is at most 16
    /// bits, so `consume` of a value of up to 16 bits after it cannot underflow `count`.
    #[inline]
    pub(super) fn decode(&self, bits: &mut Bits) -> Result<u8, DcError> {
        if bits.count < 32 {
            bits.fill();
        }
        // The top LOOKUP_BITS bits: an index below 2^LOOKUP_BITS, the table's size.
        let (len, symbol) = self.lookup[(bits.acc >> (64 - LOOKUP_BITS)) as usize];
        if len != 0 {
            bits.consume(u32::from(len));
            return Ok(symbol);
        }
        for len in (LOOKUP_BITS + 1)..=16 {
            // At most 16 bits: exact in i32, and `code + val_offset` is within
            // -2^17..2^17 + 2^12.
            let code = (bits.acc >> (64 - len)) as i32;
            if code <= self.max_code[len as usize] {
                bits.consume(len);
                let index = usize::try_from(code + self.val_offset[len as usize])
                    .map_err(|_| DcError::Invalid)?;
                return self.values.get(index).copied().ok_or(DcError::Invalid);
            }
        }
        Err(DcError::Invalid)
    }
}

/// [`Huffman::skip`] for a table whose counts `Huffman::new` has checked: each code of at most
/// `SKIP_BITS` bits fills the entries its prefix covers, as in the lookup table.
fn skip_table(counts: &[u8; 16], values: &[u8]) -> Box<[u16; 1 << SKIP_BITS]> {
    let mut skip = Box::new([0u16; 1 << SKIP_BITS]);
    let (mut code, mut k) = (0usize, 0usize);
    for len in 1..=SKIP_BITS {
        for _ in 0..counts[len as usize - 1] {
            let rs = values.get(k).copied().unwrap_or(0);
            let (run, size) = (u16::from(rs >> 4), u16::from(rs & 15));
            // len <= 11 and size <= 15: the length fits SKIP_LENGTH.
            let length = len as u16;
            let entry = match (size, run) {
                (0, 15) => length | run << SKIP_RUN_SHIFT,
                (0, _) => length | run << SKIP_RUN_SHIFT | SKIP_END_OF_BAND,
                _ => {
                    (length + size)
                        | run << SKIP_RUN_SHIFT
                        | size << SKIP_SIZE_SHIFT
                        | SKIP_COEFFICIENT
                }
            };
            let shift = SKIP_BITS - len;
            // Counts were checked (`code` < 2^len): the range is within the table.
            if let Some(entries) = skip.get_mut(code << shift..(code + 1) << shift) {
                entries.fill(entry);
            }
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    skip
}

/// The bits a sequential scan's AC codes are looked up by in a [`PairTable`]: 2^13 entries of 2
/// bytes (16 KB, in L1). Photos average about 5 bits a code with its value, so two often fit.
pub(super) const PAIR_BITS: u32 = 13;

/// [`PairTable`] entries: one code, or two when the first is a coefficient or a run of 16 zeros
/// and both fit, read in one step. 0 means a code longer than `PAIR_BITS` (or none), left to
/// [`Huffman::decode`]. The same fields for either kind, so that the loop does not branch on it:
/// - the bits of the code(s) with their values, in the low 5;
/// - how far they move along the block (`run + 1` a code), in the next 6;
/// - the first code's run, in the next 4 (0 for a single code): if the first lands on the last
///   coefficient, the block ends there and the second code is the next block's;
/// - whether the (last) code ends the block, in the top bit.
pub(super) const PAIR_ADVANCE_SHIFT: u16 = 5;
pub(super) const PAIR_FIRST_RUN_SHIFT: u16 = 11;
/// The entry's last code (its only one, or the second) ends the block.
pub(super) const PAIR_END_OF_BLOCK: u16 = 1 << 15;

/// For a sequential scan: the next `PAIR_BITS` bits read as one or two AC codes with their values
/// in one step, for passing over a block's coefficients (see `PAIR_*`). Built for each AC table a
/// sequential scan uses, when the scan starts (not for every table a file defines).
pub(super) struct PairTable(pub(super) Box<[u16; 1 << PAIR_BITS]>);

impl PairTable {
    /// The steps for `table`: none on the reference paths.
    pub(super) fn new(table: &Huffman, paths: Paths) -> Self {
        let mut pairs = Box::new([0u16; 1 << PAIR_BITS]);
        if paths == Paths::Reference {
            return Self(pairs);
        }
        for (index, entry) in (0u32..).zip(pairs.iter_mut()) {
            let Some((len, rs)) = first_code(table, index) else {
                continue;
            };
            let (run, size) = (u16::from(rs >> 4), u16::from(rs & 15));
            // len <= 13 and size <= 15: within 5 bits; run + 1 <= 16: within 6.
            let first_length = len as u16 + size;
            let end = |run: u16, size: u16| {
                if size == 0 && run != 15 {
                    PAIR_END_OF_BLOCK
                } else {
                    0
                }
            };
            *entry = first_length | (run + 1) << PAIR_ADVANCE_SHIFT | end(run, size);
            if *entry & PAIR_END_OF_BLOCK != 0 || u32::from(first_length) >= PAIR_BITS {
                continue;
            }
            // The bits after the first code and value, padded with zeros (a second code is taken
            // only if it and its value lie within the real ones).
            let rest = (index << first_length) & ((1 << PAIR_BITS) - 1);
            let Some((len2, rs2)) = first_code(table, rest) else {
                continue;
            };
            let (run2, size2) = (u16::from(rs2 >> 4), u16::from(rs2 & 15));
            let length = first_length + len2 as u16 + size2;
            if u32::from(length) > PAIR_BITS {
                continue;
            }
            // length <= 13: within 5 bits; run + run2 + 2 <= 32: within 6; run <= 15: within 4.
            *entry = length
                | (run + run2 + 2) << PAIR_ADVANCE_SHIFT
                | run << PAIR_FIRST_RUN_SHIFT
                | end(run2, size2);
        }
        Self(pairs)
    }
}

/// The code (length, symbol) at the top of the `PAIR_BITS`-bit `index`, if it is at most that
/// long: canonical decoding (F.2.2.3), as `Huffman::decode`'s slow path.
fn first_code(table: &Huffman, index: u32) -> Option<(u32, u8)> {
    (1..=PAIR_BITS).find_map(|len| {
        // Below 2^12: exact in i32.
        let code = (index >> (PAIR_BITS - len)) as i32;
        if code > table.max_code[len as usize] {
            return None;
        }
        let at = usize::try_from(code + table.val_offset[len as usize]).ok()?;
        table.values.get(at).map(|&rs| (len, rs))
    })
}

/// The bits a DC code and its difference are looked up by in a [`DcTable`]: 2^11 entries of 4
/// bytes (8 KB). Photos' DC codes are 2 to 4 bits with differences of 4 to 7.
const DC_BITS: u32 = 11;

/// For a DC Huffman table: the next `DC_BITS` bits read as a code and the difference it codes in
/// one step, when both fit. Entries: the bits of both in the low 5, the difference (EXTENDed, a
/// category of at most `MAX_DC_CATEGORY`) in the high 16; 0 means longer (or an invalid
/// category), left to [`Huffman::decode`] and [`Bits::signed`]. Built when a scan starts.
pub(super) struct DcTable(Box<[u32; 1 << DC_BITS]>);

impl DcTable {
    /// The steps for `table`: none on the reference paths.
    pub(super) fn new(table: &Huffman, paths: Paths) -> Self {
        let mut entries = Box::new([0u32; 1 << DC_BITS]);
        if paths == Paths::Reference {
            return Self(entries);
        }
        for (index, entry) in (0u32..).zip(entries.iter_mut()) {
            // The code at the top of the index, among those of at most LOOKUP_BITS (< DC_BITS).
            let (len, size) = table.lookup[(index >> (DC_BITS - LOOKUP_BITS)) as usize];
            let (len, size) = (u32::from(len), u32::from(size));
            if len == 0 || size > MAX_DC_CATEGORY || len + size > DC_BITS {
                continue;
            }
            // The `size` bits after the code, as `Bits::signed` reads them: below 2^11.
            let raw = ((index << len) & ((1 << DC_BITS) - 1)) >> (DC_BITS - size);
            let difference = if size == 0 {
                0
            } else if raw < 1 << (size - 1) {
                raw as i32 - (1 << size) + 1
            } else {
                raw as i32
            };
            // len + size <= 11: within 5 bits; |difference| < 2^11: within 16.
            *entry = (len + size) | ((difference as i16 as u16 as u32) << 16);
        }
        Self(entries)
    }

    /// The next DC difference: one table step, or the code-by-code reading.
    #[inline]
    pub(super) fn difference(&self, bits: &mut Bits, table: &Huffman) -> Result<i32, DcError> {
        if bits.count < 32 {
            bits.fill();
        }
        // The top DC_BITS bits: an index below the table's size.
        let entry = self.0[(bits.acc >> (64 - DC_BITS)) as usize];
        if entry != 0 {
            bits.consume(entry & 31);
            return Ok(i32::from((entry >> 16) as u16 as i16));
        }
        let size = u32::from(table.decode(bits)?);
        if size > MAX_DC_CATEGORY {
            return Err(DcError::Invalid);
        }
        Ok(bits.signed(size))
    }
}
