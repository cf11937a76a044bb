//! A JPEG decoder for one purpose: the image at 1/8 scale, from the DC term of every block.
//!
//! A thumbnail of a photo needs far fewer pixels than 1/8 of the photo, and at 1/8 scale each
//! 8 x 8 block is exactly its DC coefficient (the block's mean). So every block is still
//! entropy-decoded (that is what verifies the file and cannot be skipped), but its 63 AC
//! coefficients are only read past, never stored, dequantized or transformed. General decoders at
//! 1/8 scale still fill and hand over full coefficient buffers; this one does not, which is most
//! of the processor's time on large photos.
//!
//! Handled: Huffman-coded JPEGs with 8-bit samples, one or three components, either sequential
//! in one scan (what cameras and phones write) or progressive (what web tools write). A
//! progressive file is decoded scan by scan without storing any AC coefficient: DC scans fill
//! the DC plane, AC scans are entropy-decoded to verify the file, keeping only a bitmap per
//! block of which coefficients are non-zero so far (what refinement scans need to know which
//! coefficients get correction bits). Memory is then independent of the AC data: 2 + 8 bytes a
//! block, about 1/6 byte a pixel for each full-resolution component. Anything else (arithmetic coding, 12-bit,
//! lossless, hierarchical, CMYK, sequential over several scans) is [`DcError::Unsupported`] and
//! the caller falls back to a general decoder.
//!
//! # Hostile input
//!
//! Every number in a header is attacker input, and so is every decoded value.
//! - One frame header is honoured; a second is [`DcError::Invalid`] (a second frame header that
//!   differs from the first is how limits were stepped around). The policy is checked against
//!   every frame header seen, the unsupported kinds included, before anything is sized from it,
//!   and the buffers actually allocated (DC planes, output) are charged against
//!   [`ProcessingPolicy::memory_budget`].
//! - Refusing a file costs time in proportion to its bytes, never to the dimensions it claims.
//!   Every block costs at least two bits of entropy-coded data, so a frame with more blocks than
//!   four per byte left in the file is refused before its planes are allocated. The bit reader
//!   pads with zero bits at a marker or at the end of the data, and the scan checks after every
//!   MCU (at most [`MAX_BLOCKS_IN_MCU`] blocks) whether it consumed any padding, so a stream that
//!   runs out is refused within one MCU of where it ran out.
//! - Progressive scans can visit every block of a component at almost no cost in bits (an
//!   end-of-band run covers up to 32767 blocks), so each scan is charged its blocks before it is
//!   decoded, against a budget of [`MAX_PASSES`] visits per block of the frame and per byte of
//!   the file; the progression itself is checked (G.1.1.1: the DC first, each coefficient coded
//!   once then refined a bit at a time), and a DC scan's blocks must fit in the bytes left.
//! - Arithmetic is either checked or bounded by a proof in a comment next to it; the tests run
//!   as debug builds, with overflow checks on, over crafted streams.

use crate::domain::ProcessingPolicy;

/// Why the DC decode did not produce an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcError {
    /// A valid kind of JPEG this decoder does not handle (arithmetic, 12-bit, CMYK, ...).
    Unsupported,
    /// Not a well-formed JPEG (bad tables, bad Huffman codes, truncated data).
    Invalid,
    /// The frame's dimensions are over the policy's limits (checked before anything is allocated).
    OverLimits,
}

/// The image at 1/8 scale (`ceil(width / 8)` x `ceil(height / 8)`), RGB8, and the full-size
/// dimensions of the frame it was decoded from (the ones the limits were checked against).
#[derive(Debug, Clone)]
pub struct DcImage {
    pub width: u32,
    pub height: u32,
    pub full_width: u32,
    pub full_height: u32,
    pub rgb: Vec<u8>,
}

impl DcImage {
    /// `rgb`, the 1/8-scale image of `frame`, with the sizes of both.
    fn of_frame(frame: &Frame, rgb: Vec<u8>) -> Self {
        let (width, height) = frame.output_size();
        Self {
            width: u32::from(width),
            height: u32::from(height),
            full_width: u32::from(frame.width),
            full_height: u32::from(frame.height),
            rgb,
        }
    }
}

/// The largest magnitude of a quantized DC coefficient, and so of the DC predictor, accepted.
/// With 8-bit samples the forward DCT's DC term is the sum of 64 level-shifted samples
/// (-128..=127) divided by 8, so within -1024..=1016, and quantizers are at least 1: 2^11 leaves
/// a factor of two for encoders' rounding. A predictor beyond it only comes from a crafted
/// stream (differences of category 11 added up without end). The bound also keeps the
/// dequantized value exact: 2^11 x 65535 (the largest 16-bit quantizer) < 2^27.
const DC_LIMIT: i32 = 1 << 11;

/// The largest DC difference category for 8-bit samples (F.1.2.1: differences up to 2^11 - 1).
const MAX_DC_CATEGORY: u32 = 11;

/// Blocks in one MCU of an interleaved scan (B.2.3: "shall not exceed 10"). It bounds the work
/// done between two truncation checks.
const MAX_BLOCKS_IN_MCU: usize = 10;

/// Every block costs at least this many bits of entropy-coded data: a DC and an AC Huffman code
/// of at least one bit each.
const MIN_BITS_PER_BLOCK: u64 = 2;

/// A DC plane's element: a quantized DC coefficient, within `DC_LIMIT` so exact in `i16`.
type Dc = i16;

/// Bytes a DC plane needs for each block.
const PLANE_BYTES_PER_BLOCK: u64 = 2;

/// Bytes a progressive frame needs for each block: the DC plane and the non-zero bitmap.
const PROGRESSIVE_BYTES_PER_BLOCK: u64 = PLANE_BYTES_PER_BLOCK + 8;

/// Blocks progressive scans may visit, per block of the frame and per byte of the file. The
/// usual scripts (libjpeg's, mozjpeg's) pass over each component 6 to 10 times; a file of many
/// more scans than that has to bring the bytes for them.
const MAX_PASSES: u64 = 16;

/// The largest point transform (successive approximation bit) of a scan (G.1.1.1.1).
const MAX_POINT_TRANSFORM: u8 = 13;

/// A coefficient not yet coded by any scan, in [`Progression::point_transform`].
const NOT_CODED: u8 = u8::MAX;

const LOOKUP_BITS: u32 = 9;

/// The bits an AC code is looked up by in [`Huffman::skip`]: 2^11 entries of 2 bytes stay in the
/// L1 cache, and the standard tables code all but rare large coefficients in at most 11 bits.
const SKIP_BITS: u32 = 11;

/// [`Huffman::skip`] entries: the bits to drop (code and value) in the low 5 bits, the run in the
/// next 4 (so the code moves `run + 1` along the band, 16 for a run of 16 zeros), the value's size
/// in the next 4, then flags.
const SKIP_LENGTH: u16 = 0x1F;
const SKIP_RUN_SHIFT: u16 = 5;
const SKIP_SIZE_SHIFT: u16 = 9;
/// The code is a coefficient (size > 0): its position, `k + run`, becomes non-zero.
const SKIP_COEFFICIENT: u16 = 1 << 14;
/// The code ends the band (size 0, run < 15): end-of-block, or a progressive end-of-band run
/// whose `run` extra bits follow the code (and are not counted in the length).
const SKIP_END_OF_BAND: u16 = 1 << 15;

struct Huffman {
    /// For the next `LOOKUP_BITS` bits: (code length, symbol); length 0 means "longer code".
    lookup: Vec<(u8, u8)>,
    /// For the next `SKIP_BITS` bits, an AC code read as run/size in one step (see `SKIP_*`):
    /// what passing over a coefficient without its value takes. 0 means a longer code (or none),
    /// left to [`Bits::symbol`].
    skip: Box<[u16; 1 << SKIP_BITS]>,
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
    fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, DcError> {
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
            skip: skip_table(counts, values),
            max_code,
            val_offset,
            values: values.to_vec(),
        })
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
const PAIR_BITS: u32 = 13;

/// [`PairTable`] entries: one code, or two when the first is a coefficient or a run of 16 zeros
/// and both fit, read in one step. 0 means a code longer than `PAIR_BITS` (or none), left to
/// [`Bits::symbol`]. The same fields for either kind, so that the loop does not branch on it:
/// - the bits of the code(s) with their values, in the low 5;
/// - how far they move along the block (`run + 1` a code), in the next 6;
/// - the first code's run, in the next 4 (0 for a single code): if the first lands on the last
///   coefficient, the block ends there and the second code is the next block's;
/// - whether the (last) code ends the block, in the top bit.
const PAIR_ADVANCE_SHIFT: u16 = 5;
const PAIR_FIRST_RUN_SHIFT: u16 = 11;
/// The entry's last code (its only one, or the second) ends the block.
const PAIR_END_OF_BLOCK: u16 = 1 << 15;

/// For a sequential scan: the next `PAIR_BITS` bits read as one or two AC codes with their values
/// in one step, for passing over a block's coefficients (see `PAIR_*`). Built for each AC table a
/// sequential scan uses, when the scan starts (not for every table a file defines).
struct PairTable(Box<[u16; 1 << PAIR_BITS]>);

impl PairTable {
    fn new(table: &Huffman) -> Self {
        let mut pairs = Box::new([0u16; 1 << PAIR_BITS]);
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
/// long: canonical decoding (F.2.2.3), as `Bits::symbol`'s slow path.
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
/// category), left to [`Bits::symbol`] and [`Bits::signed`]. Built when a scan starts.
struct DcTable(Box<[u32; 1 << DC_BITS]>);

impl DcTable {
    fn new(table: &Huffman) -> Self {
        let mut entries = Box::new([0u32; 1 << DC_BITS]);
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
    fn difference(&self, bits: &mut Bits, table: &Huffman) -> Result<i32, DcError> {
        if bits.count < 32 {
            bits.fill();
        }
        // The top DC_BITS bits: an index below the table's size.
        let entry = self.0[(bits.acc >> (64 - DC_BITS)) as usize];
        if entry != 0 && bits.fast() {
            bits.consume(entry & 31);
            return Ok(i32::from((entry >> 16) as u16 as i16));
        }
        let size = u32::from(bits.symbol(table)?);
        if size > MAX_DC_CATEGORY {
            return Err(DcError::Invalid);
        }
        Ok(bits.signed(size))
    }
}

/// Reads entropy-coded bits, removing stuffed zero bytes and stopping at markers.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    count: u32,
    /// Zero bits appended after a marker or the end of data; consuming any means truncation.
    /// It grows by 8 a byte, and is checked (and the scan refused) after every MCU: at most
    /// `MAX_BLOCKS_IN_MCU` x 64 codes of at most 32 bits are read in between, so it stays far
    /// below `u32::MAX`.
    padding: u32,
    at_marker: bool,
    /// Whether the fast paths (eight bytes at a time, [`Huffman::skip`]) may be taken. Tests turn
    /// them off (`tests::with_reference_paths`) to compare against the plain byte-by-byte,
    /// symbol-by-symbol reading; other builds have no such field (see [`Bits::fast`]).
    #[cfg(test)]
    fast: bool,
}

#[cfg(test)]
thread_local! {
    /// Set by the tests to decode with the reference paths only (see `Bits::fast`).
    static REFERENCE_PATHS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            at_marker: false,
            #[cfg(test)]
            fast: !REFERENCE_PATHS.get(),
        }
    }

    /// Whether the fast paths may be taken: always, but in tests that compare them with the
    /// reference paths (a constant, so the check costs nothing in the decoding loops).
    #[inline]
    fn fast(&self) -> bool {
        #[cfg(test)]
        return self.fast;
        #[cfg(not(test))]
        true
    }

    /// Tops the buffer up to at least 57 bits.
    #[inline]
    fn fill(&mut self) {
        // Most of the time the next eight bytes hold no 0xFF (no stuffing, no marker): take
        // whole bytes of them at once.
        if self.fast()
            && !self.at_marker
            && let Some(chunk) = self.data.get(self.pos..self.pos + 8)
            && let Ok(chunk) = <[u8; 8]>::try_from(chunk)
        {
            let word = u64::from_be_bytes(chunk);
            let inverted = !word;
            // A zero byte of `inverted` (a 0xFF byte of `word`) sets its high bit here.
            let has_ff =
                inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080;
            if has_ff == 0 && self.count <= 56 {
                // count <= 56: between 1 and 8 whole bytes fit; keep just those.
                let bytes = (64 - self.count) / 8;
                let kept = word & !u64::MAX.checked_shr(8 * bytes).unwrap_or(0);
                self.acc |= kept >> self.count;
                self.count += 8 * bytes;
                self.pos += bytes as usize;
                return;
            }
        }
        while self.count <= 56 {
            let mut byte = 0u8;
            if self.at_marker {
                self.padding += 8;
            } else if let Some(&b) = self.data.get(self.pos) {
                if b == 0xFF {
                    if self.data.get(self.pos + 1) == Some(&0x00) {
                        self.pos += 2;
                        byte = 0xFF;
                    } else {
                        self.at_marker = true;
                        self.padding += 8;
                    }
                } else {
                    self.pos += 1;
                    byte = b;
                }
            } else {
                self.at_marker = true;
                self.padding += 8;
            }
            // count <= 56: the byte lands within the 64-bit buffer.
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// Drops `n` bits. Callers hold `n <= count`: see `symbol`.
    #[inline]
    fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// The next Huffman symbol. Leaves at least 16 bits buffered for the value that follows:
    /// the buffer holds at least 32 bits (filled below 32 to at least 57) and a code is at most
    /// 16 bits, so `consume` of a value of up to 16 bits after it cannot underflow `count`.
    #[inline]
    fn symbol(&mut self, table: &Huffman) -> Result<u8, DcError> {
        if self.count < 32 {
            self.fill();
        }
        // The top LOOKUP_BITS bits: an index below 2^LOOKUP_BITS, the table's size.
        let (len, symbol) = table.lookup[(self.acc >> (64 - LOOKUP_BITS)) as usize];
        if len != 0 {
            self.consume(u32::from(len));
            return Ok(symbol);
        }
        for len in (LOOKUP_BITS + 1)..=16 {
            // At most 16 bits: exact in i32, and `code + val_offset` is within
            // -2^17..2^17 + 2^12.
            let code = (self.acc >> (64 - len)) as i32;
            if code <= table.max_code[len as usize] {
                self.consume(len);
                let index = usize::try_from(code + table.val_offset[len as usize])
                    .map_err(|_| DcError::Invalid)?;
                return table.values.get(index).copied().ok_or(DcError::Invalid);
            }
        }
        Err(DcError::Invalid)
    }

    /// `n` (at most 16) raw bits as a signed coefficient (JPEG's EXTEND).
    #[inline]
    fn signed(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        // `n` in 1..=16 bits: v < 2^16, exact in i32, and the result is within -(2^16)..2^16.
        let v = (self.acc >> (64 - n)) as i32;
        self.consume(n);
        if v < (1 << (n - 1)) {
            v - (1 << n) + 1
        } else {
            v
        }
    }

    /// `n` (at most 16) raw bits, as an unsigned number.
    #[inline]
    fn raw(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.fill();
        }
        // `n` in 1..=16: the top `n` bits, below 2^16.
        let v = (self.acc >> (64 - n)) as u32;
        self.consume(n);
        v
    }

    /// Drops `n` bits, any number (refinement bits whose values do not matter here).
    #[inline]
    fn skip(&mut self, mut n: u32) {
        // Mostly the bits are buffered: drop them without a loop (n = 64 empties the buffer).
        if self.fast() && n <= self.count {
            self.acc = self.acc.checked_shl(n).unwrap_or(0);
            self.count -= n;
            return;
        }
        while n > 0 {
            let step = n.min(32);
            if self.count < step {
                self.fill();
            }
            self.consume(step);
            n -= step;
        }
    }

    /// Whether any padding bit was consumed: the data ran out (or hit a marker) mid-scan.
    #[inline]
    fn truncated(&self) -> bool {
        self.padding > self.count
    }

    /// After the last MCU of an interval or a scan: refuses a stream that ran out, then moves
    /// `pos` to the next marker. Bytes between the last MCU and the marker are skipped, as
    /// libjpeg does (with a warning): each byte once, so in time proportional to the data.
    fn skip_to_marker(&mut self) -> Result<(), DcError> {
        if self.truncated() {
            return Err(DcError::Invalid);
        }
        if !self.at_marker {
            // Skip to the marker (only fill bits may be left before it).
            while self.data.get(self.pos) != Some(&0xFF)
                || self.data.get(self.pos + 1) == Some(&0x00)
            {
                self.pos += if self.data.get(self.pos) == Some(&0xFF) {
                    2
                } else {
                    1
                };
                if self.pos >= self.data.len() {
                    return Err(DcError::Invalid);
                }
            }
        }
        // Any marker may be preceded by fill bytes (B.1.1.2).
        while self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        Ok(())
    }

    /// At a restart interval: drop the byte's leftover bits and step over `RSTn`.
    fn restart(&mut self, expected: u8) -> Result<(), DcError> {
        self.skip_to_marker()?;
        if self.data.get(self.pos..self.pos + 2) != Some(&[0xFF, 0xD0 + expected]) {
            return Err(DcError::Invalid);
        }
        self.pos += 2;
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        self.at_marker = false;
        Ok(())
    }
}

/// The frame header, and the MCU grid it implies.
struct Frame {
    progressive: bool,
    width: u16,
    height: u16,
    components: Vec<Component>,
    /// The largest sampling factors: an MCU is `8 * h_max` x `8 * v_max` pixels.
    h_max: usize,
    v_max: usize,
    /// MCUs across and down: at most ceil(65535 / 8) = 8192 each.
    mcus_x: usize,
    mcus_y: usize,
}

impl Frame {
    /// The frame of `components` (sampling factors 1 to 4) over `width` x `height`, with its MCU
    /// grid.
    fn new(progressive: bool, width: u16, height: u16, components: Vec<Component>) -> Self {
        let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
        Self {
            progressive,
            width,
            height,
            h_max,
            v_max,
            mcus_x: usize::from(width).div_ceil(8 * h_max),
            mcus_y: usize::from(height).div_ceil(8 * v_max),
            components,
        }
    }

    /// Blocks in component `c`'s DC plane: its `h` x `v` blocks of every MCU (at most
    /// 8192 x 4 x 8192 x 4 = 2^30, computed saturating all the same).
    fn blocks(&self, c: &Component) -> u64 {
        let [mcus_x, mcus_y, h, v] =
            [self.mcus_x, self.mcus_y, c.h, c.v].map(|n| u64::try_from(n).unwrap_or(u64::MAX));
        mcus_x
            .saturating_mul(h)
            .saturating_mul(mcus_y)
            .saturating_mul(v)
    }

    /// The blocks across and down of component `c` alone, which a one-component scan covers
    /// (A.2.2: no padding to whole MCUs), each within the plane's `mcus_x * c.h` x
    /// `mcus_y * c.v`.
    fn component_blocks(&self, c: &Component) -> (usize, usize) {
        let across = (usize::from(self.width) * c.h).div_ceil(self.h_max);
        let down = (usize::from(self.height) * c.v).div_ceil(self.v_max);
        (across.div_ceil(8), down.div_ceil(8))
    }

    /// Blocks in all of the frame's DC planes.
    fn all_blocks(&self) -> u64 {
        self.components
            .iter()
            .map(|c| self.blocks(c))
            .fold(0, u64::saturating_add)
    }

    /// The 1/8-scale output's width and height: each at most 8192.
    fn output_size(&self) -> (u16, u16) {
        (self.width.div_ceil(8), self.height.div_ceil(8))
    }
}

#[derive(Clone, Copy)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
}

/// The tables defined so far (DQT, DHT): the latest of each id.
#[derive(Default)]
struct Tables {
    /// Each quantization table's DC quantizer.
    quant_dc: [Option<u16>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
}

/// What one decode did, for the tests that show refusing costs in proportion to the bytes.
#[derive(Debug, Default)]
struct Work {
    /// MCUs entropy-decoded.
    mcus: u64,
}

/// Decodes `data` at 1/8 scale from the DC coefficients alone, if its frame is within `policy`.
///
/// # Errors
/// [`DcError::Unsupported`] for JPEG kinds left to a general decoder; [`DcError::Invalid`] for
/// malformed data; [`DcError::OverLimits`] for a frame over the policy's dimensions.
pub fn decode_dc(data: &[u8], policy: &ProcessingPolicy) -> Result<DcImage, DcError> {
    decode(data, policy, &mut Work::default())
}

fn decode(data: &[u8], policy: &ProcessingPolicy, work: &mut Work) -> Result<DcImage, DcError> {
    if data.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(DcError::Invalid);
    }
    let mut pos = 2;
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0u16;
    let mut adobe_transform = None;
    let mut progression: Option<Progression> = None;
    let mut after_scan = false;
    loop {
        match data.get(pos) {
            Some(0xFF) => {}
            // The data ended before a scan (or before a progressive image's EOI).
            None => return Err(DcError::Invalid),
            // Bytes between segments are not JPEG, but libjpeg and `jpeg-decoder` skip them
            // (some cameras write them), so the general decoder gets to read such a file.
            Some(_) => return Err(DcError::Unsupported),
        }
        // Any number of fill bytes may precede a marker (B.1.1.2); each is stepped over once.
        while data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos + 1).ok_or(DcError::Invalid)?;
        pos += 2;
        match marker {
            // FF 00 outside entropy-coded data: junk, as above.
            0x00 => return Err(DcError::Unsupported),
            // The end of a progressive image, after all its scans.
            0xD9 if progression.is_some() => {
                return match (&frame, &progression) {
                    (Some(frame), Some(progression)) => progression.finish(frame),
                    _ => Err(DcError::Invalid),
                };
            }
            // Some encoders write an RSTn after a scan's last MCU; libjpeg and `jpeg-decoder`
            // step over it.
            0xD0..=0xD7 if after_scan => {
                after_scan = false;
                continue;
            }
            // TEM, reserved markers, RSTn, SOI, EOI and DNL have no place here.
            0x01..=0xBF | 0xD0..=0xD9 | 0xDC => return Err(DcError::Invalid),
            _ => {}
        }
        after_scan = false;
        let length = data
            .get(pos..pos + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
            .ok_or(DcError::Invalid)?;
        // The length counts its own two bytes: less is a lie that would re-read them as data.
        let length = usize::from(length);
        if length < 2 {
            return Err(DcError::Invalid);
        }
        // pos <= data.len() and length < 2^16: no overflow.
        let segment = data.get(pos + 2..pos + length).ok_or(DcError::Invalid)?;
        pos += length;
        match marker {
            0xC4 => parse_huffman(segment, &mut tables.dc, &mut tables.ac)?,
            // JPG, DAC (arithmetic conditioning), DHP and EXP (hierarchical), JPGn extensions.
            0xC8 | 0xCC | 0xDE | 0xDF | 0xF0..=0xFD => return Err(DcError::Unsupported),
            // Every other SOFn: a frame header.
            0xC0..=0xCF => {
                if frame.is_some() {
                    return Err(DcError::Invalid);
                }
                frame = Some(parse_frame(marker, segment, policy)?);
            }
            0xDB => parse_quant(segment, &mut tables.quant_dc)?,
            0xDD => {
                restart_interval = <[u8; 2]>::try_from(segment)
                    .map(u16::from_be_bytes)
                    .map_err(|_| DcError::Invalid)?;
            }
            0xEE if segment.starts_with(b"Adobe") => adobe_transform = segment.get(11).copied(),
            // APPn and COM: metadata this decoder does not need.
            0xE0..=0xEF | 0xFE => {}
            0xDA => {
                // A scan before any frame header.
                let frame = frame.as_ref().ok_or(DcError::Invalid)?;
                if frame.components.len() == 3 && adobe_transform == Some(0) {
                    return Err(DcError::Unsupported);
                }
                let scan = parse_scan(segment, frame)?;
                if frame.progressive {
                    let progression = match progression.as_mut() {
                        Some(progression) => progression,
                        None => progression.insert(Progression::new(frame, data.len())?),
                    };
                    let mut bits = Bits::new(data, pos);
                    let context = (frame, &tables, restart_interval);
                    decode_progressive_scan(&mut bits, context, &scan, progression, work)?;
                    pos = bits.pos;
                    after_scan = true;
                    continue;
                }
                if scan.components.len() != frame.components.len() {
                    // Sequential files may spread components over several scans; leave those
                    // to the fallback.
                    return Err(DcError::Unsupported);
                }
                // A sequential scan covers coefficients 0..=63 at full precision (Se = 0 is
                // read as 63, as `jpeg-decoder` does).
                if scan.start != 0 || !matches!(scan.end, 0 | 63) || scan.high != 0 || scan.low != 0
                {
                    return Err(DcError::Invalid);
                }
                let quants = frame
                    .components
                    .iter()
                    .map(|c| tables.quant_dc[c.quant].ok_or(DcError::Invalid))
                    .collect::<Result<Vec<_>, _>>()?;
                let huffman = scan
                    .components
                    .iter()
                    .map(|&(_, dc, ac)| match (&tables.dc[dc], &tables.ac[ac]) {
                        (Some(dc), Some(ac)) => Ok((dc, ac)),
                        _ => Err(DcError::Invalid),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                charge_memory(frame, PLANE_BYTES_PER_BLOCK)?;
                // `pos` is within the data: the segment before it was.
                fits_in(frame.all_blocks(), MIN_BITS_PER_BLOCK, data.len() - pos)?;
                let pairs: Vec<PairTable> =
                    huffman.iter().map(|&(_, ac)| PairTable::new(ac)).collect();
                let dc_tables: Vec<DcTable> =
                    huffman.iter().map(|&(dc, _)| DcTable::new(dc)).collect();
                let planes = decode_scan(
                    data,
                    pos,
                    frame,
                    (&huffman, &pairs, &dc_tables),
                    restart_interval,
                    work,
                )?;
                return Ok(to_rgb(frame, &planes, &quants));
            }
            // Everything else was refused before its length was read.
            _ => return Err(DcError::Invalid),
        }
    }
}

/// Parses a frame header of kind `marker` (SOFn), checking its dimensions against `policy`
/// whatever the kind, so no frame over the limits reaches any decoder from here.
fn parse_frame(marker: u8, segment: &[u8], policy: &ProcessingPolicy) -> Result<Frame, DcError> {
    let Some((&[precision, h1, h0, w1, w0, count], specs)) = segment.split_first_chunk::<6>()
    else {
        return Err(DcError::Invalid);
    };
    let height = u16::from_be_bytes([h1, h0]);
    let width = u16::from_be_bytes([w1, w0]);
    if height == 0 {
        // The height comes from a DNL segment after the first scan (B.2.5): left to others.
        return Err(DcError::Unsupported);
    }
    if width == 0 {
        return Err(DcError::Invalid);
    }
    if !policy.allows_dimensions(u32::from(width), u32::from(height)) {
        return Err(DcError::OverLimits);
    }
    if !matches!(marker, 0xC0..=0xC2) {
        // Lossless, hierarchical or arithmetic-coded.
        return Err(DcError::Unsupported);
    }
    if precision != 8 {
        return Err(DcError::Unsupported);
    }
    if count == 0 || specs.len() != 3 * usize::from(count) {
        return Err(DcError::Invalid);
    }
    if !matches!(count, 1 | 3) {
        return Err(DcError::Unsupported);
    }
    let mut components: Vec<Component> = Vec::with_capacity(usize::from(count));
    for spec in specs.chunks_exact(3) {
        let &[id, sampling, quant] = spec else {
            return Err(DcError::Invalid);
        };
        let (h, v) = (usize::from(sampling >> 4), usize::from(sampling & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || quant > 3 {
            return Err(DcError::Invalid);
        }
        if components.iter().any(|c| c.id == id) {
            return Err(DcError::Invalid);
        }
        components.push(Component {
            id,
            h,
            v,
            quant: usize::from(quant),
        });
    }
    if let [only] = components.as_mut_slice() {
        // A single-component scan is not interleaved: its MCU is one block.
        only.h = 1;
        only.v = 1;
    }
    if components.iter().map(|c| c.h * c.v).sum::<usize>() > MAX_BLOCKS_IN_MCU {
        return Err(DcError::Invalid);
    }
    Ok(Frame::new(marker == 0xC2, width, height, components))
}

fn parse_huffman(
    mut segment: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), DcError> {
    while let Some((&class_id, rest)) = segment.split_first() {
        let (counts, rest) = rest.split_first_chunk::<16>().ok_or(DcError::Invalid)?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        // A table codes at least one symbol and at most 256 (one per byte value).
        if !(1..=256).contains(&total) {
            return Err(DcError::Invalid);
        }
        let (values, rest) = rest.split_at_checked(total).ok_or(DcError::Invalid)?;
        let table = Huffman::new(counts, values)?;
        let id = usize::from(class_id & 15);
        match (class_id >> 4, id) {
            (0, 0..=3) => dc[id] = Some(table),
            (1, 0..=3) => ac[id] = Some(table),
            _ => return Err(DcError::Invalid),
        }
        segment = rest;
    }
    Ok(())
}

/// Keeps each quantization table's DC entry, after checking the whole table.
fn parse_quant(mut segment: &[u8], quant_dc: &mut [Option<u16>; 4]) -> Result<(), DcError> {
    while let Some((&precision_id, rest)) = segment.split_first() {
        let id = usize::from(precision_id & 15);
        if id > 3 {
            return Err(DcError::Invalid);
        }
        let (entries, rest): (Vec<u16>, _) = match precision_id >> 4 {
            0 => {
                let (table, rest) = rest.split_first_chunk::<64>().ok_or(DcError::Invalid)?;
                (table.iter().map(|&q| u16::from(q)).collect(), rest)
            }
            // 16-bit entries are not for 8-bit samples, but libjpeg and `jpeg-decoder` read
            // them, and images in the wild use them.
            1 => {
                let (table, rest) = rest.split_first_chunk::<128>().ok_or(DcError::Invalid)?;
                let entries = table
                    .chunks_exact(2)
                    .map(|q| u16::from_be_bytes([q[0], q[1]]))
                    .collect();
                (entries, rest)
            }
            _ => return Err(DcError::Invalid),
        };
        // A quantizer of 0 is not JPEG (`jpeg-decoder` refuses it too).
        if entries.contains(&0) {
            return Err(DcError::Invalid);
        }
        quant_dc[id] = entries.first().copied();
        segment = rest;
    }
    Ok(())
}

/// A scan header.
struct Scan {
    /// (frame component index, DC table id, AC table id), in the frame's order.
    components: Vec<(usize, usize, usize)>,
    /// Spectral selection: the first and last coefficient coded, in zigzag order.
    start: u8,
    end: u8,
    /// Successive approximation: the point transform of the coefficients' previous scan (0 for
    /// their first), and of this one.
    high: u8,
    low: u8,
}

fn parse_scan(segment: &[u8], frame: &Frame) -> Result<Scan, DcError> {
    let (&count, rest) = segment.split_first().ok_or(DcError::Invalid)?;
    let count = usize::from(count);
    if !(1..=4).contains(&count) || rest.len() != 2 * count + 3 {
        return Err(DcError::Invalid);
    }
    let (selectors, parameters) = rest.split_at(2 * count);
    let mut components: Vec<(usize, usize, usize)> = Vec::with_capacity(count);
    for selector in selectors.chunks_exact(2) {
        let &[id, ids] = selector else {
            return Err(DcError::Invalid);
        };
        let index = frame
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or(DcError::Invalid)?;
        // Each component once, in the frame's order (B.2.3).
        if components.last().is_some_and(|&(last, ..)| index <= last) {
            return Err(DcError::Invalid);
        }
        let (dc, ac) = (usize::from(ids >> 4), usize::from(ids & 15));
        if dc > 3 || ac > 3 {
            return Err(DcError::Invalid);
        }
        components.push((index, dc, ac));
    }
    let &[start, end, approximation] = parameters else {
        return Err(DcError::Invalid);
    };
    Ok(Scan {
        components,
        start,
        end,
        high: approximation >> 4,
        low: approximation & 15,
    })
}

/// Refuses, before anything is allocated for it, a frame whose buffers (`bytes_per_block` for
/// every block, and the output) are over the memory budget of its pixels.
///
/// It cannot fire with today's sampling factors (at most 10 x 10 bytes per 64 pixels, and
/// the fixed part of the budget for small frames); it is there so that the buffers, not the
/// header, are what is charged.
fn charge_memory(frame: &Frame, bytes_per_block: u64) -> Result<(), DcError> {
    let (out_w, out_h) = frame.output_size();
    let output_bytes = u64::from(out_w) * u64::from(out_h) * 3;
    let allocated = frame
        .all_blocks()
        .saturating_mul(bytes_per_block)
        .saturating_add(output_bytes);
    let pixels = u64::from(frame.width) * u64::from(frame.height);
    if allocated > ProcessingPolicy::memory_budget(pixels) {
        return Err(DcError::OverLimits);
    }
    Ok(())
}

/// Refuses `blocks` that cannot all be coded, at `min_bits` each, in the `bytes` left.
fn fits_in(blocks: u64, min_bits: u64, bytes: usize) -> Result<(), DcError> {
    let bits = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(8);
    if blocks.saturating_mul(min_bits) > bits {
        return Err(DcError::Invalid);
    }
    Ok(())
}

/// The DC coefficient of every block, one plane of blocks per component.
/// `tables` are each component's DC and AC Huffman tables.
fn decode_scan(
    data: &[u8],
    start: usize,
    frame: &Frame,
    (tables, pairs, dc_tables): (&[(&Huffman, &Huffman)], &[PairTable], &[DcTable]),
    restart_interval: u16,
    work: &mut Work,
) -> Result<Vec<Vec<Dc>>, DcError> {
    let (components, mcus_x, mcus_y) = (&frame.components, frame.mcus_x, frame.mcus_y);
    let mut planes = components
        .iter()
        .map(|c| {
            let blocks = usize::try_from(frame.blocks(c)).map_err(|_| DcError::OverLimits)?;
            Ok(vec![0; blocks])
        })
        .collect::<Result<Vec<Vec<Dc>>, DcError>>()?;
    let mut predictors = vec![0i32; components.len()];
    let mut bits = Bits::new(data, start);
    let mut restarts = Restarts::new(restart_interval);
    for mcu_y in 0..mcus_y {
        for mcu_x in 0..mcus_x {
            if restarts.before_mcu(&mut bits)? {
                predictors.fill(0);
            }
            for (i, c) in components.iter().enumerate() {
                let ((dc_table, ac_table), pair_table) = (tables[i], &pairs[i]);
                let dc_steps = &dc_tables[i];
                // Indices: mcu_x < mcus_x and bx < c.h, so the column is below the stride
                // mcus_x * c.h; likewise the row is below mcus_y * c.v: within the plane, whose
                // size is their product. All of it below 2^30.
                let stride = mcus_x * c.h;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        // |predictor| <= DC_LIMIT and |difference| < 2^11: no overflow.
                        let predictor = predictors[i] + dc_steps.difference(&mut bits, dc_table)?;
                        if predictor.abs() > DC_LIMIT {
                            return Err(DcError::Invalid);
                        }
                        predictors[i] = predictor;
                        // Within DC_LIMIT (checked above): exact in i16.
                        planes[i][(mcu_y * c.v + by) * stride + mcu_x * c.h + bx] = predictor as Dc;
                        skip_ac(&mut bits, ac_table, pair_table)?;
                    }
                }
            }
            work.mcus += 1;
            // Cheap, once an MCU: what makes a stream that runs out cost no more than its bytes.
            if bits.truncated() {
                return Err(DcError::Invalid);
            }
        }
    }
    Ok(planes)
}

/// Reads past one block's 63 AC coefficients.
#[inline]
fn skip_ac(bits: &mut Bits, table: &Huffman, pairs: &PairTable) -> Result<(), DcError> {
    // k <= 63 before each step and a step adds at most 32: no overflow.
    let mut k = 1;
    while k < 64 {
        if bits.count < 32 {
            bits.fill();
        }
        // The top PAIR_BITS bits: an index below the table's size.
        let entry = pairs.0[(bits.acc >> (64 - PAIR_BITS)) as usize];
        // Unless the first code lands on the last coefficient (when the block ends after it,
        // which the code-by-code path below handles): one step, whether one code or two.
        if entry != 0 && k + usize::from(entry >> PAIR_FIRST_RUN_SHIFT & 15) + 1 < 64 && bits.fast()
        {
            // At most 13 + 15 bits, and at least 32 are buffered.
            bits.consume(u32::from(entry & 31));
            if entry & PAIR_END_OF_BLOCK != 0 {
                return Ok(());
            }
            k += usize::from(entry >> PAIR_ADVANCE_SHIFT & 63);
            continue;
        }
        let rs = bits.symbol(table)?;
        let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if run != 15 {
                return Ok(());
            }
            k += 16;
            continue;
        }
        k += run + 1;
        // At most 15 bits, and `symbol` left at least 16 buffered.
        bits.consume(size);
    }
    if k > 64 {
        return Err(DcError::Invalid);
    }
    Ok(())
}

/// Where a scan's restart intervals end.
struct Restarts {
    /// MCUs an interval (0: no restarts).
    interval: usize,
    /// MCUs left in the current interval.
    left: usize,
    /// The number n of the next `RSTn`.
    next: u8,
}

impl Restarts {
    fn new(interval: u16) -> Self {
        let interval = usize::from(interval);
        Self {
            interval,
            left: interval,
            next: 0,
        }
    }

    /// Before each MCU: at the end of an interval, steps over the expected `RSTn` (or refuses
    /// the stream) and says so, for the caller to reset its predictors.
    #[inline]
    fn before_mcu(&mut self, bits: &mut Bits) -> Result<bool, DcError> {
        if self.interval == 0 {
            return Ok(false);
        }
        let restarted = self.left == 0;
        if restarted {
            bits.restart(self.next)?;
            self.next = (self.next + 1) % 8;
            self.left = self.interval;
        }
        self.left -= 1;
        Ok(restarted)
    }
}

/// What the scans of a progressive frame have decoded so far.
struct Progression {
    /// Per component: the DC plane, empty until the component's first DC scan.
    dc: Vec<Vec<Dc>>,
    /// Per component, per block: bit k set once AC coefficient k (zigzag order) is non-zero.
    /// A refinement scan reads a correction bit for each of those and codes only the others.
    nonzero: Vec<Vec<u64>>,
    /// Per component, per coefficient: the point transform of the last scan that coded it,
    /// `NOT_CODED` before the first.
    point_transform: Vec<[u8; 64]>,
    /// Per component: the DC quantizer, latched at its first scan (as libjpeg does).
    quants: Vec<Option<u16>>,
    /// Blocks the remaining scans may visit.
    visits_left: u64,
}

impl Progression {
    /// # Errors
    /// [`DcError::OverLimits`] if the frame's buffers are over the memory budget.
    fn new(frame: &Frame, file_bytes: usize) -> Result<Self, DcError> {
        charge_memory(frame, PROGRESSIVE_BYTES_PER_BLOCK)?;
        let n = frame.components.len();
        let bytes = u64::try_from(file_bytes).unwrap_or(u64::MAX);
        Ok(Self {
            dc: vec![Vec::new(); n],
            nonzero: vec![Vec::new(); n],
            point_transform: vec![[NOT_CODED; 64]; n],
            quants: vec![None; n],
            visits_left: frame
                .all_blocks()
                .saturating_add(bytes)
                .saturating_mul(MAX_PASSES),
        })
    }

    /// The image, once EOI says all scans are in.
    ///
    /// # Errors
    /// [`DcError::Invalid`] if a component never had a DC scan.
    fn finish(&self, frame: &Frame) -> Result<DcImage, DcError> {
        let quants = self
            .quants
            .iter()
            .map(|q| q.ok_or(DcError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(to_rgb(frame, &self.dc, &quants))
    }
}

/// Each scan component's decoding state, reset at every restart marker.
#[derive(Default)]
struct ScanState {
    /// DC predictors, one per scan component (at most 4).
    predictors: [i32; 4],
    /// Blocks left in the current end-of-band run.
    eob_run: u32,
}

/// Decodes one scan of a progressive frame into `progression`, leaving `bits` at the next
/// marker. `context` is the frame, the tables in force and the restart interval.
fn decode_progressive_scan(
    bits: &mut Bits,
    (frame, tables, restart_interval): (&Frame, &Tables, u16),
    scan: &Scan,
    progression: &mut Progression,
    work: &mut Work,
) -> Result<(), DcError> {
    let Scan {
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
    for &(c, ..) in components {
        let coded = &mut progression.point_transform[c];
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
    let blocks = match components.as_slice() {
        &[(c, ..)] => {
            let (across, down) = frame.component_blocks(&frame.components[c]);
            u64::try_from(across * down).unwrap_or(u64::MAX)
        }
        _ => {
            let per_mcu: usize = components
                .iter()
                .map(|&(c, ..)| frame.components[c].h * frame.components[c].v)
                .sum();
            u64::try_from(frame.mcus_x * frame.mcus_y * per_mcu).unwrap_or(u64::MAX)
        }
    };
    progression.visits_left = progression
        .visits_left
        .checked_sub(blocks)
        .ok_or(DcError::Invalid)?;
    if dc_scan {
        // A DC scan codes at least a bit a block: a Huffman code, or the refinement bit.
        fits_in(blocks, 1, bits.data.len().saturating_sub(bits.pos))?;
    }
    match (dc_scan, high) {
        (true, 0) => {
            let mut huffman = Vec::with_capacity(components.len());
            for &(c, dc, _) in components {
                huffman.push(tables.dc[dc].as_ref().ok_or(DcError::Invalid)?);
                let component = &frame.components[c];
                progression.quants[c] =
                    Some(tables.quant_dc[component.quant].ok_or(DcError::Invalid)?);
                // Allocated once a component: its first DC scan is its only one (checked
                // above), and its blocks fit in the bytes left (also above).
                let blocks =
                    usize::try_from(frame.blocks(component)).map_err(|_| DcError::OverLimits)?;
                progression.dc[c] = vec![0; blocks];
                progression.nonzero[c] = vec![0; blocks];
            }
            let steps: Vec<DcTable> = huffman.iter().map(|&table| DcTable::new(table)).collect();
            let planes = &mut progression.dc;
            walk_scan(
                bits,
                frame,
                components,
                restart_interval,
                work,
                |bits, state, i, block| {
                    // |predictor| <= DC_LIMIT and |difference| < 2^11: no overflow.
                    let predictor = state.predictors[i] + steps[i].difference(bits, huffman[i])?;
                    if predictor.abs() > DC_LIMIT {
                        return Err(DcError::Invalid);
                    }
                    state.predictors[i] = predictor;
                    // Below 2^12 x 2^13: no overflow; then bounded like any DC coefficient.
                    let dc = predictor << low;
                    if dc.abs() > DC_LIMIT {
                        return Err(DcError::Invalid);
                    }
                    // Within DC_LIMIT: exact in i16.
                    planes[components[i].0][block] = dc as Dc;
                    Ok(())
                },
            )
        }
        (true, _) => {
            let planes = &mut progression.dc;
            walk_scan(
                bits,
                frame,
                components,
                restart_interval,
                work,
                |bits, _, i, block| {
                    if bits.raw(1) == 1 {
                        let plane = &mut planes[components[i].0];
                        // The bit is below 2^14 and the value within DC_LIMIT: then bounded again.
                        let dc = i32::from(plane[block]) | (1 << low);
                        if dc.abs() > DC_LIMIT {
                            return Err(DcError::Invalid);
                        }
                        // Within DC_LIMIT: exact in i16.
                        plane[block] = dc as Dc;
                    }
                    Ok(())
                },
            )
        }
        (false, _) => {
            let &[(c, _, ac)] = components.as_slice() else {
                return Err(DcError::Invalid);
            };
            let table = tables.ac[ac].as_ref().ok_or(DcError::Invalid)?;
            let nonzero = &mut progression.nonzero[c];
            let band = (start, end);
            walk_scan(
                bits,
                frame,
                components,
                restart_interval,
                work,
                |bits, state, _, block| {
                    let (eob_run, nonzero) = (&mut state.eob_run, &mut nonzero[block]);
                    if high == 0 {
                        ac_first(bits, table, eob_run, nonzero, band)
                    } else {
                        ac_refine(bits, table, eob_run, nonzero, band)
                    }
                },
            )
        }
    }?;
    bits.skip_to_marker()
}

/// Walks a scan's blocks in coding order (A.2): MCU by MCU if it has several components,
/// block by block over the component's own grid if one, with restarts and a truncation check
/// after every MCU. `block` decodes scan component `i`'s block at `index` in its plane.
fn walk_scan(
    bits: &mut Bits,
    frame: &Frame,
    components: &[(usize, usize, usize)],
    restart_interval: u16,
    work: &mut Work,
    mut block: impl FnMut(&mut Bits, &mut ScanState, usize, usize) -> Result<(), DcError>,
) -> Result<(), DcError> {
    let mut restarts = Restarts::new(restart_interval);
    let mut state = ScanState::default();
    if let &[(c, ..)] = components {
        let component = &frame.components[c];
        let (across, down) = frame.component_blocks(component);
        // across <= mcus_x * h (the plane's stride) and down <= mcus_y * v: within the plane.
        let stride = frame.mcus_x * component.h;
        for y in 0..down {
            for x in 0..across {
                if restarts.before_mcu(bits)? {
                    state = ScanState::default();
                }
                block(bits, &mut state, 0, y * stride + x)?;
                work.mcus += 1;
                if bits.truncated() {
                    return Err(DcError::Invalid);
                }
            }
        }
        return Ok(());
    }
    for mcu_y in 0..frame.mcus_y {
        for mcu_x in 0..frame.mcus_x {
            if restarts.before_mcu(bits)? {
                state = ScanState::default();
            }
            for (i, &(c, ..)) in components.iter().enumerate() {
                let component = &frame.components[c];
                // As in `decode_scan`: within the plane.
                let stride = frame.mcus_x * component.h;
                for by in 0..component.v {
                    for bx in 0..component.h {
                        let row = mcu_y * component.v + by;
                        block(bits, &mut state, i, row * stride + mcu_x * component.h + bx)?;
                    }
                }
            }
            work.mcus += 1;
            if bits.truncated() {
                return Err(DcError::Invalid);
            }
        }
    }
    Ok(())
}

/// One block of an AC first scan over coefficients `band` (G.1.2.2): only which coefficients
/// become non-zero is kept.
fn ac_first(
    bits: &mut Bits,
    table: &Huffman,
    eob_run: &mut u32,
    nonzero: &mut u64,
    (start, end): (u8, u8),
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
        if entry != 0 && bits.fast() {
            // At most 11 + 15 bits, and at least 32 are buffered.
            bits.consume(u32::from(entry & SKIP_LENGTH));
            let run = u32::from(entry >> SKIP_RUN_SHIFT & 15);
            if entry & SKIP_COEFFICIENT != 0 {
                k += run;
                if k > end {
                    return Err(DcError::Invalid);
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
        let rs = bits.symbol(table)?;
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
        // At most 15 bits, and `symbol` left at least 16 buffered.
        bits.consume(size);
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
/// every coefficient already non-zero, and new coefficients of magnitude 1 among the zeros.
fn ac_refine(
    bits: &mut Bits,
    table: &Huffman,
    eob_run: &mut u32,
    nonzero: &mut u64,
    (start, end): (u8, u8),
) -> Result<(), DcError> {
    // k <= 64 throughout.
    let (mut k, end) = (u32::from(start), u32::from(end));
    if *eob_run == 0 {
        while k <= end {
            if bits.fast() {
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
            }
            let rs = bits.symbol(table)?;
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
        // from k on, whose values do not matter here.
        let band = (u64::MAX >> (63 - end)) & u64::MAX.checked_shl(k).unwrap_or(0);
        bits.skip((*nonzero & band).count_ones());
        *eob_run -= 1;
    }
    Ok(())
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

/// `v` clamped into a byte, as a decoder's output stage does.
#[inline]
fn to_byte(v: i32) -> u8 {
    // Within 0..=255 once clamped: exact in u8.
    v.clamp(0, 255) as u8
}

/// A block's mean sample: DC x quant / 8 (the IDCT's DC term), centred on 128, and clamped to a
/// sample's range before colour conversion, as a full decoder's IDCT output.
#[inline]
fn mean_sample(dc: Dc, quant: u16) -> u8 {
    // |dc| <= DC_LIMIT = 2^11 and quant < 2^16: |product| < 2^27, exact in i32; `>> 3` is the
    // division by 8 rounded down (`div_euclid`).
    to_byte(((i32::from(dc) * i32::from(quant) + 4) >> 3) + 128)
}

/// One component's samples along an output row: its blocks' mean samples, repeated as its
/// sampling factor says. Kept from row to row while the rows fall on the same row of blocks.
struct SampleRow {
    samples: Vec<u8>,
    /// For each output column, the block along the row; `None` when it is the column itself
    /// (the component is sampled at the frame's highest rate across).
    columns: Option<Vec<u16>>,
    block_row: Option<usize>,
}

impl SampleRow {
    /// For a component sampled `h` times across where the frame's highest is `h_max`, and
    /// `width` output columns.
    fn new(h: usize, h_max: usize, width: usize) -> Self {
        // x < ceil(frame width / 8) <= mcus_x * h_max, so x * h / h_max < mcus_x * h <= 2^15.
        let columns = (h != h_max).then(|| {
            (0..width)
                .map(|x| u16::try_from(x * h / h_max).unwrap_or(u16::MAX))
                .collect()
        });
        Self {
            samples: vec![0; width],
            columns,
            block_row: None,
        }
    }

    /// Loads the samples of `blocks`, the row of blocks output row falls on (`block_row`).
    fn load(&mut self, block_row: usize, blocks: &[Dc], quant: u16) {
        if self.block_row == Some(block_row) {
            return;
        }
        self.block_row = Some(block_row);
        match &self.columns {
            None => {
                for (sample, &dc) in self.samples.iter_mut().zip(blocks) {
                    *sample = mean_sample(dc, quant);
                }
                // The row holds at least `width` blocks (see `new`); were it short, the rest
                // would read as DC 0, as with `columns`.
                if let Some(rest) = self.samples.get_mut(blocks.len()..) {
                    rest.fill(mean_sample(0, quant));
                }
            }
            Some(columns) => {
                for (sample, &column) in self.samples.iter_mut().zip(columns) {
                    let dc = blocks.get(usize::from(column)).copied().unwrap_or(0);
                    *sample = mean_sample(dc, quant);
                }
            }
        }
    }
}

/// JFIF YCbCr -> RGB in 16.16 fixed point, a row at a time.
fn ycbcr_row(out: &mut [u8], luma: &[u8], blue: &[u8], red: &[u8]) {
    for (((pixel, &l), &cb), &cr) in out.chunks_exact_mut(3).zip(luma).zip(blue).zip(red) {
        // Each within -128..=127, so every product below is under 2^24.
        let (l, cb, cr) = (i32::from(l), i32::from(cb) - 128, i32::from(cr) - 128);
        let r = l + ((91_881 * cr + 32_768) >> 16);
        let g = l - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
        let b = l + ((116_130 * cb + 32_768) >> 16);
        pixel.copy_from_slice(&[to_byte(r), to_byte(g), to_byte(b)]);
    }
}

/// The image of the blocks' mean samples (each block one pixel), in RGB: what a decoder at 1/8
/// scale outputs, up to its rounding. The components were checked to be one or three.
fn to_rgb(frame: &Frame, planes: &[Vec<Dc>], quants: &[u16]) -> DcImage {
    let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
    let (out_w, out_h) = frame.output_size();
    let (width, height) = (usize::from(out_w), usize::from(out_h));
    let mut rgb = vec![0u8; width * height * 3];
    let mut rows: Vec<SampleRow> = components
        .iter()
        .map(|c| SampleRow::new(c.h, h_max, width))
        .collect();
    for (y, out) in rgb.chunks_exact_mut((width * 3).max(1)).enumerate() {
        for (i, (row, c)) in rows.iter_mut().zip(components).enumerate() {
            // Output row y falls on the component's block row y * c.v / v_max: below the
            // plane's rows (y < ceil(height / 8) <= mcus_y * v_max), so the slice is within it.
            let stride = frame.mcus_x * c.h;
            let block_row = y * c.v / v_max;
            let start = block_row * stride;
            let blocks = planes[i].get(start..start + stride).unwrap_or(&[]);
            row.load(block_row, blocks, quants.get(i).copied().unwrap_or(1));
        }
        match rows.as_slice() {
            [luma] => {
                for (pixel, &l) in out.chunks_exact_mut(3).zip(&luma.samples) {
                    pixel.fill(l);
                }
            }
            [luma, blue, red, ..] => ycbcr_row(out, &luma.samples, &blue.samples, &red.samples),
            _ => {}
        }
    }
    DcImage::of_frame(frame, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_alloc::bytes_allocated_by;

    /// The same image at 1/8 scale from `jpeg-decoder` (a full IDCT at reduced size).
    fn reference(data: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(data);
        decoder.read_info().unwrap();
        let info = decoder.info().unwrap();
        let (w, h) = decoder
            .scale(info.width.div_ceil(8), info.height.div_ceil(8))
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

    fn encoded(image: &image::DynamicImage, quality: u8) -> Vec<u8> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(image)
            .unwrap();
        jpeg
    }

    // Crafted streams. `stream` puts SOI before segments made by the helpers below; the scan
    // data comes from a small DC-only encoder (every block's AC terms are a lone end-of-block).

    const SOI: [u8; 2] = [0xFF, 0xD8];
    const EOI: [u8; 2] = [0xFF, 0xD9];

    /// The standard luminance DC table (K.3): categories 0..=11, codes of 2 to 9 bits.
    const DC_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const DC_SYMBOLS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    /// One code per length 1..=12 for categories 0..=11: the longest take the slow path.
    const LONG_DC_COUNTS: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
    /// An AC table with a single code, `0`, for end-of-block.
    const EOB_COUNTS: [u8; 16] = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    fn permissive() -> ProcessingPolicy {
        ProcessingPolicy {
            max_width: u32::from(u16::MAX),
            max_height: u32::from(u16::MAX),
            max_pixels: u64::MAX,
            ..ProcessingPolicy::default()
        }
    }

    fn stream(parts: &[&[u8]]) -> Vec<u8> {
        [&SOI[..]]
            .iter()
            .chain(parts)
            .copied()
            .collect::<Vec<_>>()
            .concat()
    }

    /// A marker segment: the marker, the length (payload + 2) and the payload.
    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let length = u16::try_from(payload.len() + 2).unwrap();
        [&[0xFF, marker][..], &length.to_be_bytes(), payload].concat()
    }

    /// A frame header of kind `marker` with components (id, sampling HV, quantization table).
    fn sof(marker: u8, width: u16, height: u16, components: &[(u8, u8, u8)]) -> Vec<u8> {
        let mut payload = vec![8];
        payload.extend(height.to_be_bytes());
        payload.extend(width.to_be_bytes());
        payload.push(u8::try_from(components.len()).unwrap());
        for &(id, sampling, quant) in components {
            payload.extend([id, sampling, quant]);
        }
        segment(marker, &payload)
    }

    fn gray_sof(width: u16, height: u16) -> Vec<u8> {
        sof(0xC0, width, height, &[(1, 0x11, 0)])
    }

    /// 4:2:0 colour: luma 2x2, both chroma 1x1, all on quantization table 0.
    fn colour_sof(width: u16, height: u16) -> Vec<u8> {
        sof(
            0xC0,
            width,
            height,
            &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)],
        )
    }

    /// An 8-bit quantization table `id` with DC quantizer `dc` (AC quantizers 1).
    fn dqt(id: u8, dc: u8) -> Vec<u8> {
        let mut payload = vec![id, dc];
        payload.extend([1; 63]);
        segment(0xDB, &payload)
    }

    /// A 16-bit quantization table `id` with DC quantizer `dc`.
    fn dqt16(id: u8, dc: u16) -> Vec<u8> {
        let mut payload = vec![0x10 | id];
        payload.extend(dc.to_be_bytes());
        payload.extend([0, 1].repeat(63));
        segment(0xDB, &payload)
    }

    fn dht(class_id: u8, counts: &[u8; 16], symbols: &[u8]) -> Vec<u8> {
        segment(0xC4, &[&[class_id][..], counts, symbols].concat())
    }

    /// DC table 0 (standard) and AC table 0 (end-of-block only).
    fn tables() -> Vec<u8> {
        [
            dht(0x00, &DC_COUNTS, &DC_SYMBOLS),
            dht(0x10, &EOB_COUNTS, &[0]),
        ]
        .concat()
    }

    /// A sequential scan header over components (id, DC table << 4 | AC table).
    fn sos(components: &[(u8, u8)]) -> Vec<u8> {
        let mut payload = vec![u8::try_from(components.len()).unwrap()];
        for &(id, ids) in components {
            payload.extend([id, ids]);
        }
        payload.extend([0, 63, 0]);
        segment(0xDA, &payload)
    }

    fn dri(interval: u16) -> Vec<u8> {
        segment(0xDD, &interval.to_be_bytes())
    }

    /// Writes bits most significant first, stuffing a zero after every 0xFF.
    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        byte: u8,
        filled: u32,
    }

    impl BitWriter {
        fn put(&mut self, bits: u32, len: u32) {
            for i in (0..len).rev() {
                self.byte = self.byte << 1 | u8::from(bits >> i & 1 == 1);
                self.filled += 1;
                if self.filled == 8 {
                    self.out.push(self.byte);
                    if self.byte == 0xFF {
                        self.out.push(0);
                    }
                    (self.byte, self.filled) = (0, 0);
                }
            }
        }

        /// Pads the last byte with one bits, as encoders do before a marker.
        fn flush(&mut self) {
            while self.filled != 0 {
                self.put(1, 1);
            }
        }
    }

    /// (code, length) of each symbol, in the order the table lists them.
    fn canonical_codes(counts: &[u8; 16]) -> Vec<(u32, u32)> {
        let mut codes = Vec::new();
        let mut code = 0;
        for len in 1..=16 {
            for _ in 0..counts[len as usize - 1] {
                codes.push((code, len));
                code += 1;
            }
            code <<= 1;
        }
        codes
    }

    /// Scan data for blocks with these quantized DC values, in scan order, and no AC terms,
    /// coded with `dc_counts` over symbols 0..=11 and `EOB_COUNTS`. An MCU holds
    /// `blocks_per_mcu[i]` blocks of component `i`; `RSTn` comes after every
    /// `restart_interval` MCUs (0: never).
    fn entropy_with(
        dc_counts: &[u8; 16],
        dcs: &[i32],
        blocks_per_mcu: &[usize],
        restart_interval: usize,
    ) -> Vec<u8> {
        let codes = canonical_codes(dc_counts);
        let mcu: Vec<usize> = blocks_per_mcu
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| std::iter::repeat_n(i, n))
            .collect();
        let mut w = BitWriter::default();
        let mut predictors = vec![0; blocks_per_mcu.len()];
        for (i, &dc) in dcs.iter().enumerate() {
            let (mcu_index, component) = (i / mcu.len(), mcu[i % mcu.len()]);
            if restart_interval > 0
                && i % mcu.len() == 0
                && mcu_index > 0
                && mcu_index % restart_interval == 0
            {
                w.flush();
                let n = u8::try_from((mcu_index / restart_interval - 1) % 8).unwrap();
                w.out.extend([0xFF, 0xD0 + n]);
                predictors.fill(0);
            }
            let difference: i32 = dc - predictors[component];
            predictors[component] = dc;
            let category = 32 - difference.unsigned_abs().leading_zeros();
            let (code, len) = codes[category as usize];
            w.put(code, len);
            // Negative differences are sent as difference - 1 in `category` bits (F.1.2.1).
            let raw = if difference < 0 {
                difference - 1
            } else {
                difference
            };
            w.put(raw as u32 & ((1 << category) - 1), category);
            w.put(0, 1);
        }
        w.flush();
        w.out
    }

    fn entropy(dcs: &[i32], restart_interval: usize) -> Vec<u8> {
        entropy_with(&DC_COUNTS, dcs, &[1], restart_interval)
    }

    /// A grayscale baseline JPEG whose blocks (raster order) have these quantized DC values,
    /// with DC quantizer 8, so that a block's pixel is 128 + its DC value.
    fn gray_jpeg(width: u16, height: u16, dcs: &[i32], restart_interval: u16) -> Vec<u8> {
        stream(&[
            &dqt(0, 8),
            &gray_sof(width, height),
            &tables(),
            &dri(restart_interval),
            &sos(&[(1, 0x00)]),
            &entropy(dcs, usize::from(restart_interval)),
            &EOI,
        ])
    }

    fn gray_pixels(image: &DcImage) -> Vec<u8> {
        image.rgb.chunks(3).map(|p| p[0]).collect()
    }

    fn decode_counting(data: &[u8], policy: &ProcessingPolicy) -> (Result<DcImage, DcError>, u64) {
        let mut work = Work::default();
        let result = decode(data, policy, &mut work);
        (result, work.mcus)
    }

    /// `decode` with the fast paths off: bytes read one at a time, every AC code through
    /// `Bits::symbol` (the reference the fast paths are compared against).
    pub(super) fn with_reference_paths<T>(decode: impl FnOnce() -> T) -> T {
        REFERENCE_PATHS.set(true);
        let result = decode();
        REFERENCE_PATHS.set(false);
        result
    }

    /// A photo stand-in: gradients plus per-pixel noise (xorshift, fixed seed), so every band
    /// has non-zero coefficients and high qualities need long Huffman codes.
    fn noisy(width: u32, height: u32, seed: u32, amplitude: u32) -> image::RgbImage {
        let mut state = seed;
        image::RgbImage::from_fn(width, height, |x, y| {
            let mut noise = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % (2 * amplitude + 1)) as i32 - amplitude as i32
            };
            let base = [x * 255 / width, y * 255 / height, (x + 2 * y) % 256];
            image::Rgb(base.map(|b| (b as i32 + noise()).clamp(0, 255) as u8))
        })
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

    /// The reference of [`to_rgb`]: each output pixel computed on its own, with divisions.
    fn reference_rgb(frame: &Frame, planes: &[Vec<Dc>], quants: &[u16]) -> DcImage {
        let (components, h_max, v_max) = (&frame.components, frame.h_max, frame.v_max);
        let (out_w, out_h) = frame.output_size();
        let (width, height) = (usize::from(out_w), usize::from(out_h));
        // A block's mean sample is DC x quant / 8 (the IDCT's DC term), centred on 128, and clamped to
        // a sample's range before colour conversion, as a full decoder's IDCT output.
        // |dc| <= DC_LIMIT = 2^11 and quant < 2^16: |product| < 2^27, exact in i32.
        let mean = |dc: Dc, quant: u16| {
            ((i32::from(dc) * i32::from(quant) + 4).div_euclid(8) + 128).clamp(0, 255)
        };
        let mut rgb = vec![0u8; width * height * 3];
        // Row `y` of component `c`'s samples at output scale: its blocks' row `y * c.v / v_max`, and
        // along it block `x * c.h / h_max` for output pixel `x`, stepped without dividing.
        // x < ceil(width / 8) <= mcus_x * h_max, so x * c.h / h_max < mcus_x * c.h, the plane's
        // stride; likewise for y and the plane's rows: every index is within the plane.
        let row = |i: usize, y: usize| -> &[Dc] {
            let c = &components[i];
            let stride = frame.mcus_x * c.h;
            let start = y * c.v / v_max * stride;
            planes[i].get(start..start + stride).unwrap_or(&[])
        };
        let columns = |i: usize| {
            // block = x * step / h_max, carried along: step <= h_max, so the remainder passes
            // h_max at most once a pixel.
            let step = components[i].h;
            (0..width).scan((0usize, 0usize), move |(block, remainder), _| {
                let this = *block;
                *remainder += step;
                if *remainder >= h_max {
                    *remainder -= h_max;
                    *block += 1;
                }
                Some(this)
            })
        };
        let sample = |plane: &[Dc], x: usize, i: usize| {
            mean(
                plane.get(x).copied().unwrap_or(0),
                quants.get(i).copied().unwrap_or(1),
            )
        };
        for (y, out) in rgb.chunks_exact_mut((width * 3).max(1)).enumerate() {
            if let [_] = components.as_slice() {
                let luma = row(0, y);
                for (x, pixel) in out.chunks_exact_mut(3).enumerate() {
                    pixel.fill(to_byte(sample(luma, x, 0)));
                }
                continue;
            }
            let (luma, blue, red) = (row(0, y), row(1, y), row(2, y));
            let columns = columns(0).zip(columns(1)).zip(columns(2));
            for (pixel, ((lx, bx), rx)) in out.chunks_exact_mut(3).zip(columns) {
                let l = sample(luma, lx, 0);
                // Each within -128..=127, so every product below is under 2^24.
                let (cb, cr) = (sample(blue, bx, 1) - 128, sample(red, rx, 2) - 128);
                // JFIF YCbCr -> RGB in 16.16 fixed point.
                let r = l + ((91_881 * cr + 32_768) >> 16);
                let g = l - ((22_554 * cb + 46_802 * cr - 32_768) >> 16);
                let b = l + ((116_130 * cb + 32_768) >> 16);
                pixel.copy_from_slice(&[r, g, b].map(to_byte));
            }
        }
        DcImage::of_frame(frame, rgb)
    }

    #[test]
    fn the_row_by_row_colour_conversion_matches_the_pixel_by_pixel_reference() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % below
        };
        // Every sampling the decoder accepts, on odd sizes: one component (always read as 1 x 1),
        // and three with factors 1 to 4 and at most MAX_BLOCKS_IN_MCU blocks an MCU.
        let mut samplings: Vec<Vec<(usize, usize)>> = vec![vec![(1, 1)]];
        let factors: Vec<(usize, usize)> =
            (1..=4).flat_map(|h| (1..=4).map(move |v| (h, v))).collect();
        for &y in &factors {
            for &b in &factors {
                for &r in &factors {
                    if y.0 * y.1 + b.0 * b.1 + r.0 * r.1 <= MAX_BLOCKS_IN_MCU {
                        samplings.push(vec![y, b, r]);
                    }
                }
            }
        }
        for factors in &samplings {
            for _ in 0..3 {
                let (width, height) = (1 + next(300) as u16, 1 + next(200) as u16);
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
                let frame = Frame::new(false, width, height, components);
                let planes: Vec<Vec<Dc>> = frame
                    .components
                    .iter()
                    .map(|c| {
                        (0..frame.blocks(c))
                            .map(|_| next(2 * DC_LIMIT as u64 + 1) as Dc - DC_LIMIT as Dc)
                            .collect()
                    })
                    .collect();
                let quants: Vec<u16> = factors
                    .iter()
                    .map(|_| {
                        // Small quantizers as in photos, and large ones that saturate.
                        let largest = if next(2) == 0 { 255 } else { 65_535 };
                        1 + next(largest) as u16
                    })
                    .collect();
                let fast = to_rgb(&frame, &planes, &quants);
                let reference = reference_rgb(&frame, &planes, &quants);
                assert_eq!(
                    (fast.width, fast.height),
                    (reference.width, reference.height)
                );
                assert!(
                    fast.rgb == reference.rgb,
                    "{factors:?}, {width} x {height}: the pixels differ"
                );
            }
        }
    }

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

    #[test]
    fn the_fast_paths_decode_exactly_like_the_reference_paths() {
        let policy = ProcessingPolicy::default();
        for (name, jpeg) in fast_path_inputs() {
            // Arrange: the file, damaged copies, and cuts through its scans.
            let mut cases: Vec<(String, Vec<u8>)> = vec![(name.clone(), jpeg.clone())];
            for seed in 1..=24 {
                let edits = 1 + seed as usize % 3;
                cases.push((
                    format!("{name}, {edits} bytes damaged (seed {seed})"),
                    damaged(&jpeg, seed, edits),
                ));
            }
            for eighth in 1..8 {
                let cut = jpeg.len() * eighth / 8;
                cases.push((format!("{name}, cut at {cut}"), jpeg[..cut].to_vec()));
            }
            for (case, data) in cases {
                // Act
                let fast = decode_dc(&data, &policy).map(|image| image.rgb);
                let reference =
                    with_reference_paths(|| decode_dc(&data, &policy)).map(|image| image.rgb);
                // Assert: the same pixels, or the same refusal.
                assert!(
                    fast == reference,
                    "{case}: fast {:?} vs reference {:?}",
                    fast.as_ref().map(Vec::len),
                    reference.as_ref().map(Vec::len)
                );
            }
        }
    }

    #[test]
    fn noisy_files_decode_like_a_general_decoder() {
        for (name, jpeg) in fast_path_inputs() {
            let ours = decode_dc(&jpeg, &ProcessingPolicy::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let (w, h, expected) = reference(&jpeg);
            assert_eq!((ours.width, ours.height), (w, h), "{name}");
            let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
            assert!(luma < 1.5, "{name}: mean luma difference {luma}");
        }
    }

    #[test]
    fn the_test_encoder_makes_files_a_general_decoder_reads_alike() {
        // Arrange: DC values across the whole range, negative and positive differences.
        let dcs: Vec<i32> = (0..40).map(|i| (i * 37 % 255) - 127).collect();
        let jpeg = gray_jpeg(80, 32, &dcs, 0);
        // Act
        let ours = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
        // Assert
        let expected: Vec<u8> = dcs
            .iter()
            .map(|&d| u8::try_from(d + 128).unwrap())
            .collect();
        assert_eq!(gray_pixels(&ours), expected);
        assert_eq!(reference(&jpeg).2, ours.rgb);
    }

    #[test]
    fn matches_a_general_decoder_at_one_eighth_scale() {
        let gradient = image::RgbImage::from_fn(803, 601, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
        });
        let inputs = [
            (
                "4:2:0, EXIF (Pillow)",
                include_bytes!("../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
            ),
            (
                "4:2:0 rotated (Pillow)",
                include_bytes!("../../fixtures/images/portrait-exif-rotated.jpg").to_vec(),
            ),
            (
                "sunset",
                include_bytes!("../../fixtures/images/sunset-64x48.jpg").to_vec(),
            ),
            (
                "odd size, image's encoder",
                encoded(&gradient.clone().into(), 90),
            ),
            (
                "grayscale",
                encoded(
                    &image::DynamicImage::ImageRgb8(gradient).into_luma8().into(),
                    80,
                ),
            ),
        ];
        for (name, jpeg) in inputs {
            let ours = decode_dc(&jpeg, &ProcessingPolicy::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let (w, h, expected) = reference(&jpeg);
            assert_eq!((ours.width, ours.height), (w, h), "{name}");
            let difference = mean_abs_difference(&ours.rgb, &expected);
            // Luma is never subsampled: it must match. Subsampled chroma is upsampled by
            // repetition here and by interpolation there, which differs at sharp colour edges of
            // tiny images, so full colour is compared on the smooth large image only.
            let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
            assert!(luma < 1.5, "{name}: mean luma difference {luma}");
            if name.starts_with("odd size") {
                assert!(difference < 2.0, "{name}: mean difference {difference}");
            }
        }
    }

    #[test]
    fn long_huffman_codes_decode_like_a_general_decoder() {
        // Category 11 gets a 12-bit code here: past the lookup table, through `max_code`.
        let dcs = [0, 2047, 0, -2047, 0, 1, -1, 1000];
        let jpeg = stream(&[
            &dqt(0, 1),
            &gray_sof(64, 8),
            &dht(0x00, &LONG_DC_COUNTS, &DC_SYMBOLS),
            &dht(0x10, &EOB_COUNTS, &[0]),
            &sos(&[(1, 0x00)]),
            &entropy_with(&LONG_DC_COUNTS, &dcs, &[1], 0),
            &EOI,
        ]);
        let ours = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
        // Quantizer 1: a block's sample is 128 + round(dc / 8), clamped.
        assert_eq!(gray_pixels(&ours), [128, 255, 128, 0, 128, 128, 128, 253]);
        // `jpeg-decoder` truncates (dc x q + 1024) / 8 where libjpeg (and this) rounds, so a
        // DC of -1 is 127 there: one step at most.
        let (_, _, expected) = reference(&jpeg);
        for (ours, theirs) in ours.rgb.iter().zip(&expected) {
            assert!(ours.abs_diff(*theirs) <= 1, "{ours} vs {theirs}");
        }
    }

    #[test]
    fn crafted_headers_are_refused_with_the_right_error() {
        use DcError::{Invalid, OverLimits, Unsupported};
        let q = dqt(0, 8);
        let gray = gray_sof(16, 16);
        let t = tables();
        let gray_scan = sos(&[(1, 0x00)]);
        let data = entropy(&[0; 4], 0);
        let colour = colour_sof(16, 16);
        let colour_scan = sos(&[(1, 0x00), (2, 0x00), (3, 0x00)]);
        let colour_data = entropy(&[0; 6], 0);
        // A valid file with `frame` and `scan` in place of the grayscale ones.
        let with = |frame: &[u8], scan: &[u8]| stream(&[&q, frame, &t, scan, &data, &EOI]);
        let cases: Vec<(&str, Vec<u8>, DcError)> = vec![
            // Missing or misplaced structure.
            ("no SOI", [&q[..], &gray].concat(), Invalid),
            (
                "nothing after SOI: ran out before a scan",
                stream(&[]),
                Invalid,
            ),
            (
                "EOI before any scan",
                stream(&[&q, &gray, &t, &EOI]),
                Invalid,
            ),
            (
                "a scan before the frame header",
                stream(&[&q, &t, &gray_scan, &data, &gray, &EOI]),
                Invalid,
            ),
            (
                "no quantization table for the frame's component",
                stream(&[&gray, &t, &gray_scan, &data, &EOI]),
                Invalid,
            ),
            (
                "no Huffman tables",
                stream(&[&q, &gray, &gray_scan, &data, &EOI]),
                Invalid,
            ),
            (
                "the scan names a DC table never defined",
                with(&gray, &sos(&[(1, 0x10)])),
                Invalid,
            ),
            // Several frame headers: the second is how limits were stepped around.
            (
                "the same frame header twice",
                stream(&[&q, &gray, &gray, &t, &gray_scan, &data, &EOI]),
                Invalid,
            ),
            (
                "a second, larger frame header",
                stream(&[&q, &gray, &gray_sof(4096, 4096), &t, &gray_scan, &data]),
                Invalid,
            ),
            (
                "a second frame header over the limits",
                stream(&[&q, &gray, &gray_sof(65535, 65535), &t, &gray_scan, &data]),
                Invalid,
            ),
            (
                "a baseline frame header, then a progressive one",
                stream(&[&q, &gray, &sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &t]),
                Invalid,
            ),
            // Markers in odd places.
            ("SOI among the headers", stream(&[&q, &SOI, &gray]), Invalid),
            (
                "RST0 among the headers",
                stream(&[&q, &[0xFF, 0xD0], &gray]),
                Invalid,
            ),
            (
                "TEM among the headers",
                stream(&[&q, &[0xFF, 0x01], &gray]),
                Invalid,
            ),
            (
                "a reserved marker",
                stream(&[&q, &segment(0x02, &[]), &gray]),
                Invalid,
            ),
            (
                "DNL before any scan",
                stream(&[&q, &segment(0xDC, &[0, 16]), &gray]),
                Invalid,
            ),
            (
                "fill bytes then EOI",
                stream(&[&q, &[0xFF, 0xFF, 0xFF, 0xD9]]),
                Invalid,
            ),
            (
                "fill bytes to the end",
                stream(&[&q, &[0xFF, 0xFF, 0xFF]]),
                Invalid,
            ),
            // Junk between segments is not JPEG, but libjpeg and jpeg-decoder skip it, and the
            // file then goes to the fallback decoder (which applies its own limits).
            (
                "a junk byte between segments",
                stream(&[&q, &[0x00], &gray]),
                Unsupported,
            ),
            (
                "FF 00 between segments",
                stream(&[&q, &[0xFF, 0x00], &gray]),
                Unsupported,
            ),
            // Segment lengths.
            (
                "segment length 0",
                stream(&[&q, &[0xFF, 0xFE, 0, 0], &gray]),
                Invalid,
            ),
            (
                "segment length 1",
                stream(&[&q, &[0xFF, 0xFE, 0, 1], &gray]),
                Invalid,
            ),
            (
                "segment length past the end",
                stream(&[&q, &[0xFF, 0xFE, 0xFF, 0xFF, 1, 2, 3]]),
                Invalid,
            ),
            (
                "a marker without its length",
                stream(&[&q, &[0xFF, 0xFE, 0]]),
                Invalid,
            ),
            // Huffman tables.
            (
                "DHT class 2",
                with(&gray, &gray_scan).splice_before(&t, &dht(0x20, &EOB_COUNTS, &[0])),
                Invalid,
            ),
            (
                "DHT id 4",
                with(&gray, &gray_scan).splice_before(&t, &dht(0x04, &EOB_COUNTS, &[0])),
                Invalid,
            ),
            (
                "DHT with no codes",
                with(&gray, &gray_scan).splice_before(&t, &dht(0, &[0; 16], &[])),
                Invalid,
            ),
            (
                "DHT with three codes of one bit",
                with(&gray, &gray_scan).splice_before(
                    &t,
                    &dht(
                        0,
                        &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        &[0, 1, 2],
                    ),
                ),
                Invalid,
            ),
            (
                "DHT over-full after the one-bit codes",
                with(&gray, &gray_scan).splice_before(
                    &t,
                    &dht(
                        0,
                        &[2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        &[0, 1, 2],
                    ),
                ),
                Invalid,
            ),
            (
                "DHT naming more symbols than it holds",
                with(&gray, &gray_scan).splice_before(
                    &t,
                    &segment(0xC4, &[&[0][..], &DC_COUNTS, &[0, 1, 2]].concat()),
                ),
                Invalid,
            ),
            (
                "DHT with 257 symbols",
                with(&gray, &gray_scan).splice_before(
                    &t,
                    &dht(
                        0x10,
                        &[0, 0, 0, 0, 0, 0, 0, 0, 2, 255, 0, 0, 0, 0, 0, 0],
                        &[0; 257],
                    ),
                ),
                Invalid,
            ),
            // Quantization tables.
            (
                "DQT id 4",
                with(&gray, &gray_scan).splice_before(&q, &dqt(4, 8)),
                Invalid,
            ),
            (
                "DQT precision 2",
                with(&gray, &gray_scan).splice_before(&q, &dqt(0x20, 8)),
                Invalid,
            ),
            (
                "DQT with a zero quantizer",
                with(&gray, &gray_scan).splice_before(&q, &dqt(0, 0)),
                Invalid,
            ),
            (
                "DQT of 63 entries",
                with(&gray, &gray_scan).splice_before(&q, &segment(0xDB, &[0; 64])),
                Invalid,
            ),
            (
                "16-bit DQT of 64 bytes",
                with(&gray, &gray_scan)
                    .splice_before(&q, &segment(0xDB, &[&[0x10][..], &[1; 64]].concat())),
                Invalid,
            ),
            // Restart interval definition.
            (
                "DRI of three bytes",
                with(&gray, &gray_scan).splice_before(&q, &segment(0xDD, &[0, 1, 0])),
                Invalid,
            ),
            // Frame headers.
            (
                "frame header one byte short",
                with(
                    &gray[..gray.len() - 1].to_vec().with_length_fixed(),
                    &gray_scan,
                ),
                Invalid,
            ),
            (
                "frame header one byte long",
                with(&[&gray[..], &[0]].concat().with_length_fixed(), &gray_scan),
                Invalid,
            ),
            (
                "frame header of 5 bytes",
                with(&segment(0xC0, &[8, 0, 16, 0, 16]), &gray_scan),
                Invalid,
            ),
            (
                "zero components",
                with(&sof(0xC0, 16, 16, &[]), &gray_scan),
                Invalid,
            ),
            ("width 0", with(&gray_sof(0, 16), &gray_scan), Invalid),
            (
                "height 0, set by a DNL after the scan",
                with(&gray_sof(16, 0), &gray_scan),
                Unsupported,
            ),
            (
                "sampling factor 0",
                with(&sof(0xC0, 16, 16, &[(1, 0x01, 0)]), &gray_scan),
                Invalid,
            ),
            (
                "sampling factor 5",
                with(&sof(0xC0, 16, 16, &[(1, 0x51, 0)]), &gray_scan),
                Invalid,
            ),
            (
                "quantization table 4",
                with(&sof(0xC0, 16, 16, &[(1, 0x11, 4)]), &gray_scan),
                Invalid,
            ),
            (
                "two components with the same id",
                with(
                    &sof(0xC0, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (2, 0x11, 0)]),
                    &colour_scan,
                ),
                Invalid,
            ),
            (
                "11 blocks an MCU",
                with(
                    &sof(0xC0, 16, 16, &[(1, 0x42, 0), (2, 0x21, 0), (3, 0x11, 0)]),
                    &colour_scan,
                ),
                Invalid,
            ),
            (
                "12-bit samples",
                with(
                    &segment(0xC1, &[12, 0, 16, 0, 16, 1, 1, 0x11, 0]),
                    &gray_scan,
                ),
                Unsupported,
            ),
            (
                "two components",
                with(
                    &sof(0xC0, 16, 16, &[(1, 0x11, 0), (2, 0x11, 0)]),
                    &gray_scan,
                ),
                Unsupported,
            ),
            (
                "four components (CMYK)",
                with(
                    &sof(
                        0xC0,
                        16,
                        16,
                        &[(1, 0x11, 0), (2, 0x11, 0), (3, 0x11, 0), (4, 0x11, 0)],
                    ),
                    &gray_scan,
                ),
                Unsupported,
            ),
            (
                "a progressive frame with a sequential scan",
                with(&sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
                Invalid,
            ),
            (
                "lossless",
                with(&sof(0xC3, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
                Unsupported,
            ),
            (
                "arithmetic",
                with(&sof(0xC9, 16, 16, &[(1, 0x11, 0)]), &gray_scan),
                Unsupported,
            ),
            (
                "DAC",
                stream(&[&q, &segment(0xCC, &[0, 0]), &gray]),
                Unsupported,
            ),
            (
                "hierarchical (DHP)",
                stream(&[&q, &segment(0xDE, &[8, 0, 16, 0, 16, 0])]),
                Unsupported,
            ),
            (
                "a JPEG extension marker (JPEG-LS)",
                stream(&[&q, &segment(0xF7, &[8])]),
                Unsupported,
            ),
            (
                "Adobe RGB",
                stream(&[
                    &segment(0xEE, b"Adobe\0\x64\0\0\0\0\0"),
                    &q,
                    &colour,
                    &t,
                    &colour_scan,
                    &colour_data,
                ]),
                Unsupported,
            ),
            // Limits, whatever the kind of frame.
            (
                "a baseline frame over the limits",
                with(&gray_sof(16_385, 8), &gray_scan),
                OverLimits,
            ),
            (
                "a progressive frame over the limits",
                with(&sof(0xC2, 8, 16_385, &[(1, 0x11, 0)]), &gray_scan),
                OverLimits,
            ),
            (
                "an arithmetic frame over the limits",
                with(&sof(0xC9, 10_000, 10_000, &[(1, 0x11, 0)]), &gray_scan),
                OverLimits,
            ),
            // Scan headers.
            (
                "a scan naming a component not in the frame",
                with(&gray, &sos(&[(2, 0x00)])),
                Invalid,
            ),
            (
                "a scan listing a component twice",
                stream(&[
                    &q,
                    &colour,
                    &t,
                    &sos(&[(1, 0), (1, 0), (3, 0)]),
                    &colour_data,
                ]),
                Invalid,
            ),
            (
                "a scan out of the frame's order",
                stream(&[
                    &q,
                    &colour,
                    &t,
                    &sos(&[(1, 0), (3, 0), (2, 0)]),
                    &colour_data,
                ]),
                Invalid,
            ),
            (
                "a scan of one of three components",
                stream(&[&q, &colour, &t, &sos(&[(1, 0)]), &colour_data]),
                Unsupported,
            ),
            (
                "a scan with DC table 4",
                with(&gray, &sos(&[(1, 0x40)])),
                Invalid,
            ),
            (
                "a scan with no components",
                with(&gray, &segment(0xDA, &[0, 0, 63, 0])),
                Invalid,
            ),
            (
                "a scan header one byte short",
                with(&gray, &segment(0xDA, &[1, 1, 0, 0, 63])),
                Invalid,
            ),
            (
                "a scan from coefficient 1",
                with(&gray, &segment(0xDA, &[1, 1, 0, 1, 63, 0])),
                Invalid,
            ),
            (
                "a scan to coefficient 5",
                with(&gray, &segment(0xDA, &[1, 1, 0, 0, 5, 0])),
                Invalid,
            ),
            (
                "successive approximation",
                with(&gray, &segment(0xDA, &[1, 1, 0, 0, 63, 0x01])),
                Invalid,
            ),
        ];
        for (name, jpeg, expected) in cases {
            // Act and Assert: never a panic (debug build, overflow checks on), the exact error.
            assert_eq!(
                decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
                Err(expected),
                "{name}"
            );
        }
        // The valid stream these cases were cut from decodes.
        assert!(decode_dc(&with(&gray, &gray_scan), &ProcessingPolicy::default()).is_ok());
        assert!(
            decode_dc(
                &stream(&[&q, &colour, &t, &colour_scan, &colour_data, &EOI]),
                &ProcessingPolicy::default()
            )
            .is_ok()
        );
    }

    /// Edits on crafted streams, for the table above.
    trait Craft {
        /// The stream with `extra` inserted before the first occurrence of `part`.
        fn splice_before(self, part: &[u8], extra: &[u8]) -> Vec<u8>;
        /// A segment whose bytes were edited, with its length field made to match again.
        fn with_length_fixed(self) -> Vec<u8>;
    }

    impl Craft for Vec<u8> {
        fn splice_before(mut self, part: &[u8], extra: &[u8]) -> Vec<u8> {
            let at = self.windows(part.len()).position(|w| w == part).unwrap();
            self.splice(at..at, extra.iter().copied());
            self
        }

        fn with_length_fixed(mut self) -> Vec<u8> {
            let length = u16::try_from(self.len() - 2).unwrap();
            self[2..4].copy_from_slice(&length.to_be_bytes());
            self
        }
    }

    #[test]
    fn maximum_dimensions_are_over_the_default_limits() {
        // 65535 x 65535 is the most a frame header can claim: over every default limit. The
        // check comes before anything is sized from the header.
        let scan = entropy(&[0; 8], 0);
        for (name, frame, scan_header) in [
            ("gray", gray_sof(65535, 65535), sos(&[(1, 0)])),
            (
                "4:2:0",
                colour_sof(65535, 65535),
                sos(&[(1, 0), (2, 0), (3, 0)]),
            ),
            ("wide", gray_sof(65535, 1), sos(&[(1, 0)])),
            ("just over the pixels", gray_sof(7072, 7071), sos(&[(1, 0)])),
        ] {
            let jpeg = stream(&[&dqt(0, 8), &frame, &tables(), &scan_header, &scan, &EOI]);
            let mut result = None;
            let allocated = bytes_allocated_by(|| {
                result = Some(decode_counting(&jpeg, &ProcessingPolicy::default()));
            });
            let (result, mcus) = result.unwrap();
            assert_eq!(result.map(|_| ()), Err(DcError::OverLimits), "{name}");
            assert_eq!(mcus, 0, "{name}");
            assert!(allocated < 16 * 1024, "{name}: {allocated} bytes allocated");
        }
    }

    #[test]
    fn dimensions_its_bytes_cannot_hold_are_refused_before_allocating() {
        // Root cause (before): the planes were allocated for the claimed dimensions and the
        // scan walked every claimed MCU over zero padding, so a file of a few hundred bytes
        // cost seconds and gigabytes. Every block takes at least 2 bits, so 100 bytes of scan
        // data hold at most 400 blocks: the frame is refused before its planes exist.
        let scan = entropy(&[0; 8], 0);
        let junk = [0u8; 100];
        for (name, frame, scan_header, policy) in [
            (
                "65535 x 65535 gray",
                gray_sof(65535, 65535),
                sos(&[(1, 0)]),
                permissive(),
            ),
            (
                "65535 x 65535 4:2:0",
                colour_sof(65535, 65535),
                sos(&[(1, 0), (2, 0), (3, 0)]),
                permissive(),
            ),
            (
                "16384 x 16384 gray",
                gray_sof(16384, 16384),
                sos(&[(1, 0)]),
                permissive(),
            ),
            (
                "7000 x 7000 gray, within the default limits",
                gray_sof(7000, 7000),
                sos(&[(1, 0)]),
                ProcessingPolicy::default(),
            ),
        ] {
            let jpeg = stream(&[&dqt(0, 8), &frame, &tables(), &scan_header, &scan, &junk]);
            assert!(jpeg.len() < 400, "{name}: a small file");
            let mut result = None;
            let allocated = bytes_allocated_by(|| result = Some(decode_counting(&jpeg, &policy)));
            let (result, mcus) = result.unwrap();
            assert_eq!(result.map(|_| ()), Err(DcError::Invalid), "{name}");
            assert_eq!(mcus, 0, "{name}: no MCU decoded");
            assert!(allocated < 16 * 1024, "{name}: {allocated} bytes allocated");
        }
    }

    #[test]
    fn a_stream_that_runs_out_is_refused_within_one_mcu() {
        // Root cause (before): `truncated()` was checked once, after the whole scan, so the
        // decoder walked every claimed MCU over zero padding. Here 100 blocks of data, an EOI,
        // and 16 KiB after it (so the frame's 65536 blocks pass the bytes bound): the scan
        // must stop at the first MCU that reads past the EOI, not after 65536.
        let blocks: Vec<i32> = (0..100).map(|i| i % 50).collect();
        let trailing = vec![0u8; 16 * 1024];
        for (name, policy) in [
            ("default policy", ProcessingPolicy::default()),
            ("permissive policy", permissive()),
        ] {
            let jpeg = stream(&[
                &dqt(0, 8),
                &gray_sof(2048, 2048),
                &tables(),
                &sos(&[(1, 0)]),
                &entropy(&blocks, 0),
                &EOI,
                &trailing,
            ]);
            let (result, mcus) = decode_counting(&jpeg, &policy);
            assert_eq!(result.map(|_| ()), Err(DcError::Invalid), "{name}");
            assert_eq!(
                mcus, 101,
                "{name}: the 100 blocks there, and the one that ran out"
            );
        }
        // The same with nothing after the data: the end of the file pads the same way.
        let alternating: Vec<i32> = (0..12).map(|i| if i % 2 == 0 { 50 } else { -50 }).collect();
        let cut = stream(&[
            &dqt(0, 8),
            &gray_sof(32, 32),
            &tables(),
            &sos(&[(1, 0)]),
            &entropy(&alternating, 0),
        ]);
        let (result, mcus) = decode_counting(&cut, &ProcessingPolicy::default());
        assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
        assert_eq!(mcus, 13, "the 12 blocks there, and the one that ran out");
    }

    #[test]
    fn extreme_quantizers_and_dc_values_saturate_without_overflow() {
        // The largest 16-bit quantizer times the largest DC values: 2047 x 65535 is far past
        // a sample's range and must clamp, never wrap (before: `wrapping_mul`, and colour
        // conversion of unclamped values).
        let dcs = [2047, 0, -2047, 0, 1, -1, 1000, -1000];
        let jpeg = stream(&[
            &dqt16(0, 65535),
            &gray_sof(64, 8),
            &tables(),
            &sos(&[(1, 0)]),
            &entropy(&dcs, 0),
            &EOI,
        ]);
        let image = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
        assert_eq!(gray_pixels(&image), [255, 128, 0, 128, 255, 0, 255, 0]);
        // And in colour, where the colour conversion sees clamped samples.
        let colour = stream(&[
            &dqt16(0, 65535),
            &colour_sof(16, 16),
            &tables(),
            &sos(&[(1, 0), (2, 0), (3, 0)]),
            &entropy_with(
                &DC_COUNTS,
                &[2047, 2047, 2047, 2047, -2047, 2047],
                &[4, 1, 1],
                0,
            ),
            &EOI,
        ]);
        let image = decode_dc(&colour, &ProcessingPolicy::default()).unwrap();
        // Samples Y = 255, Cb = 0, Cr = 255 (each clamped), then the JFIF conversion.
        assert_eq!(image.rgb, [255, 209, 28].repeat(4));
    }

    #[test]
    fn a_runaway_dc_predictor_is_invalid() {
        // Root cause (before): differences of category 11 added up with `wrapping_add`, so a
        // stream of them made any predictor value at all. Quantized DC values of 8-bit
        // samples stay within 2^11; a predictor beyond that is refused.
        let runaway: Vec<i32> = (1..=1000).map(|i| i * 2047).collect();
        let jpeg = gray_jpeg(8000, 8, &runaway, 0);
        let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
        assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
        assert_eq!(mcus, 1, "refused at the second block");
        // A category 12 difference is not 8-bit JPEG.
        let symbols: Vec<u8> = (0..=12).collect();
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        let mut w = BitWriter::default();
        let (code, len) = canonical_codes(&counts)[12];
        w.put(code, len);
        w.put(0xFFF, 12);
        w.put(0, 1);
        w.flush();
        let jpeg = stream(&[
            &dqt(0, 8),
            &gray_sof(8, 8),
            &dht(0x00, &counts, &symbols),
            &dht(0x10, &EOB_COUNTS, &[0]),
            &sos(&[(1, 0)]),
            &w.out,
            &EOI,
        ]);
        assert_eq!(
            decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
            Err(DcError::Invalid)
        );
        // Within the bound, restarts reset the predictor, so large values are fine.
        let jpeg = gray_jpeg(24, 8, &[2047, 2047, 2047], 1);
        assert!(decode_dc(&jpeg, &ProcessingPolicy::default()).is_ok());
    }

    #[test]
    fn restart_markers_must_come_in_order_where_the_interval_says() {
        // 20 blocks, a restart every 2: RST0..RST7, RST0 (the numbers wrap at 8).
        let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
        let good = gray_jpeg(160, 8, &dcs, 2);
        let image = decode_dc(&good, &ProcessingPolicy::default()).unwrap();
        let expected: Vec<u8> = dcs
            .iter()
            .map(|&d| u8::try_from(d + 128).unwrap())
            .collect();
        assert_eq!(gray_pixels(&image), expected);
        assert_eq!(reference(&good).2, image.rgb);

        let rst_positions: Vec<usize> = good
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(rst_positions.len(), 9);
        let first = rst_positions[0];
        let mut wrong_number = good.clone();
        wrong_number[first + 1] = 0xD1;
        let mut missing = good.clone();
        missing.drain(first..first + 2);
        let mut eoi_instead = good.clone();
        eoi_instead[first + 1] = 0xD9;
        let mut junk_before = good.clone();
        junk_before.splice(first..first, [0x12, 0x34, 0xFF, 0x00]);
        let mut fill_before = good.clone();
        fill_before.splice(first..first, [0xFF, 0xFF]);
        // An RST1 one byte into the second interval, before its data ends: the decoder reads
        // padding there.
        let mut extra_in_interval = good.clone();
        extra_in_interval.splice(first + 3..first + 3, [0xFF, 0xD1]);
        let no_dri = stream(&[
            &dqt(0, 8),
            &gray_sof(160, 8),
            &tables(),
            &sos(&[(1, 0)]),
            &entropy(&dcs, 2),
            &EOI,
        ]);
        let dri_without_markers =
            gray_jpeg(160, 8, &dcs, 0).splice_before(&sos(&[(1, 0)]), &dri(2));
        let mut dnl_in_scan = good.clone();
        dnl_in_scan.splice(first..first, segment(0xDC, &[0, 8]));

        for (name, jpeg, expected) in [
            (
                "RST1 where RST0 is due",
                wrong_number,
                Err(DcError::Invalid),
            ),
            ("an RST marker missing", missing, Err(DcError::Invalid)),
            ("EOI where RST0 is due", eoi_instead, Err(DcError::Invalid)),
            (
                "a DNL where RST0 is due",
                dnl_in_scan,
                Err(DcError::Invalid),
            ),
            (
                "an extra RST inside an interval",
                extra_in_interval,
                Err(DcError::Invalid),
            ),
            (
                "RST markers with no restart interval",
                no_dri,
                Err(DcError::Invalid),
            ),
            (
                "a restart interval with no RST markers",
                dri_without_markers,
                Err(DcError::Invalid),
            ),
            // Bytes before a marker: libjpeg skips them with a warning, and so does this.
            ("junk before RST0", junk_before, Ok(expected.clone())),
            ("fill bytes before RST0", fill_before, Ok(expected.clone())),
        ] {
            let result = decode_dc(&jpeg, &ProcessingPolicy::default());
            assert_eq!(result.map(|image| gray_pixels(&image)), expected, "{name}");
        }
    }

    #[test]
    fn truncated_at_every_byte_is_invalid_never_a_panic() {
        let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
        let inputs = [
            (
                "Pillow 4:2:0",
                include_bytes!("../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
            ),
            (
                "sunset",
                include_bytes!("../../fixtures/images/sunset-64x48.jpg").to_vec(),
            ),
            ("crafted, with restarts", gray_jpeg(160, 8, &dcs, 2)),
        ];
        for (name, jpeg) in inputs {
            assert!(jpeg.ends_with(&EOI), "{name}");
            let whole = decode_dc(&jpeg, &ProcessingPolicy::default()).unwrap();
            // The entropy-coded data ends where EOI starts. Cut anywhere before, the file is
            // refused; cut within the EOI, all the data is there and decodes (as libjpeg does,
            // with a warning).
            let data_end = jpeg.len() - 2;
            for cut in 0..jpeg.len() {
                let result = decode_dc(&jpeg[..cut], &ProcessingPolicy::default());
                if cut < data_end {
                    assert_eq!(
                        result.map(|_| ()),
                        Err(DcError::Invalid),
                        "{name}: cut at {cut}"
                    );
                } else {
                    assert_eq!(result.unwrap().rgb, whole.rgb, "{name}: cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn truncated_or_corrupt_data_is_invalid() {
        let jpeg = include_bytes!("../../fixtures/images/gps-exif-64x48.jpg");
        let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for cut in [jpeg.len() / 2, scan + 20, jpeg.len() - 40] {
            assert_eq!(
                decode_dc(&jpeg[..cut], &ProcessingPolicy::default()).unwrap_err(),
                DcError::Invalid,
                "cut at {cut}"
            );
        }
        assert_eq!(
            decode_dc(b"\xFF\xD8\xFF\xD9", &ProcessingPolicy::default()).unwrap_err(),
            DcError::Invalid
        );
        assert_eq!(
            decode_dc(b"GIF89a", &ProcessingPolicy::default()).unwrap_err(),
            DcError::Invalid
        );
    }

    #[test]
    fn arithmetic_lossless_and_hierarchical_jpegs_are_left_to_the_general_decoder() {
        // SOI, then a frame header of each kind: SOF3 lossless, SOF5 differential sequential,
        // SOF9 arithmetic sequential, SOF10 arithmetic progressive.
        for marker in [0xC3, 0xC5, 0xC9, 0xCA] {
            let jpeg = stream(&[&sof(marker, 16, 16, &[(1, 0x11, 0)])]);
            assert_eq!(
                decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
                Err(DcError::Unsupported),
                "SOF{}",
                marker - 0xC0
            );
        }
    }

    /// Progressive fixtures, each with its sequential twin: the same quantized coefficients
    /// (see `fixtures/images/progressive/make_progressive.py`).
    fn progressive_pairs() -> [(&'static str, &'static [u8], &'static [u8]); 4] {
        [
            (
                "4:2:0",
                include_bytes!("../../fixtures/images/progressive/420-progressive.jpg"),
                include_bytes!("../../fixtures/images/progressive/420-sequential.jpg"),
            ),
            (
                "4:4:4",
                include_bytes!("../../fixtures/images/progressive/444-progressive.jpg"),
                include_bytes!("../../fixtures/images/progressive/444-sequential.jpg"),
            ),
            (
                "grayscale",
                include_bytes!("../../fixtures/images/progressive/gray-progressive.jpg"),
                include_bytes!("../../fixtures/images/progressive/gray-sequential.jpg"),
            ),
            (
                "4:2:0, optimized tables, restarts",
                include_bytes!(
                    "../../fixtures/images/progressive/420-optimized-restarts-progressive.jpg"
                ),
                include_bytes!(
                    "../../fixtures/images/progressive/420-optimized-restarts-sequential.jpg"
                ),
            ),
        ]
    }

    #[test]
    fn progressive_files_decode_like_their_sequential_twins_and_a_general_decoder() {
        for (name, progressive, sequential) in progressive_pairs() {
            // Act
            let ours = decode_dc(progressive, &ProcessingPolicy::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let twin = decode_dc(sequential, &ProcessingPolicy::default()).unwrap();
            // Assert: the same DC coefficients, so exactly the same image.
            assert_eq!(
                (ours.width, ours.height),
                (twin.width, twin.height),
                "{name}"
            );
            assert_eq!(
                ours.rgb, twin.rgb,
                "{name}: differs from the sequential twin"
            );
            // And close to a general decoder's (which rounds and upsamples differently).
            let (w, h, expected) = reference(progressive);
            assert_eq!((ours.width, ours.height), (w, h), "{name}");
            let luma = mean_abs_difference(&gray(&ours.rgb), &gray(&expected));
            assert!(luma < 1.5, "{name}: mean luma difference {luma}");
            if !name.starts_with("4:2:0") {
                let difference = mean_abs_difference(&ours.rgb, &expected);
                assert!(difference < 1.5, "{name}: mean difference {difference}");
            }
        }
    }

    #[test]
    fn progressive_files_truncated_at_every_byte_are_invalid() {
        // A progressive file is complete only at its EOI: any cut loses a scan or part of one.
        // Two of the four files (every cut of each is a few thousand decodes in a debug build):
        // one component, and three with restarts.
        for (name, progressive, _) in [&progressive_pairs()[2], &progressive_pairs()[3]] {
            for cut in 0..progressive.len() {
                assert_eq!(
                    decode_dc(&progressive[..cut], &ProcessingPolicy::default()).map(|_| ()),
                    Err(DcError::Invalid),
                    "{name}: cut at {cut}"
                );
            }
        }
    }

    /// A progressive scan header: components (id, tables), spectral selection, Ah << 4 | Al.
    fn progressive_sos(components: &[(u8, u8)], start: u8, end: u8, approximation: u8) -> Vec<u8> {
        let mut payload = vec![u8::try_from(components.len()).unwrap()];
        for &(id, ids) in components {
            payload.extend([id, ids]);
        }
        payload.extend([start, end, approximation]);
        segment(0xDA, &payload)
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

    #[test]
    fn crafted_progressive_streams_are_refused_with_the_right_error() {
        use DcError::Invalid;
        let good = progressive_gray_512(&[(1, 63, 0x01), (0, 0, 0x10), (1, 63, 0x10)]);
        let image = decode_dc(&good, &ProcessingPolicy::default()).unwrap();
        assert_eq!(image.rgb, vec![128; 64 * 64 * 3]);
        let colour_dc_only = stream(&[
            &dqt(0, 8),
            &sof(0xC2, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)]),
            &tables(),
            &progressive_sos(&[(1, 0), (2, 0)], 0, 0, 0),
            &[0; 3],
            &EOI,
        ]);
        let cases: Vec<(&str, Vec<u8>, DcError)> = vec![
            (
                "an AC band coded twice",
                progressive_gray_512(&[(1, 5, 0), (5, 9, 0)]),
                Invalid,
            ),
            (
                "the DC coded twice",
                progressive_gray_512(&[(0, 0, 0x01)]),
                Invalid,
            ),
            (
                "a refinement from the wrong bit",
                progressive_gray_512(&[(0, 0, 0x21)]),
                Invalid,
            ),
            (
                "a refinement of two bits",
                progressive_gray_512(&[(1, 63, 0x02), (1, 63, 0x20)]),
                Invalid,
            ),
            (
                "a refinement before the first scan",
                progressive_gray_512(&[(1, 63, 0x10)]),
                Invalid,
            ),
            (
                "a band past coefficient 63",
                progressive_gray_512(&[(1, 64, 0)]),
                Invalid,
            ),
            (
                "a band ending before it starts",
                progressive_gray_512(&[(9, 5, 0)]),
                Invalid,
            ),
            (
                "a DC scan with AC coefficients",
                progressive_gray_512(&[(0, 5, 0x10)]),
                Invalid,
            ),
            (
                "a point transform of 14",
                progressive_gray_512(&[(1, 63, 0x0E)]),
                Invalid,
            ),
            (
                "an AC scan before the DC",
                stream(&[
                    &dqt(0, 8),
                    &sof(0xC2, 16, 16, &[(1, 0x11, 0)]),
                    &tables(),
                    &progressive_sos(&[(1, 0)], 1, 63, 0),
                    &[0; 4],
                    &EOI,
                ]),
                Invalid,
            ),
            (
                "an AC scan of two components",
                stream(&[
                    &dqt(0, 8),
                    &sof(0xC2, 16, 16, &[(1, 0x22, 0), (2, 0x11, 0), (3, 0x11, 0)]),
                    &tables(),
                    &progressive_sos(&[(1, 0), (2, 0), (3, 0)], 0, 0, 0),
                    &[0; 3],
                    &progressive_sos(&[(1, 0), (2, 0)], 1, 63, 0),
                    &[0; 3],
                    &EOI,
                ]),
                Invalid,
            ),
            (
                "EOI with a component's DC never coded",
                colour_dc_only,
                Invalid,
            ),
            ("no EOI", good[..good.len() - 2].to_vec(), Invalid),
            (
                "EOI without a scan",
                stream(&[&dqt(0, 8), &sof(0xC2, 16, 16, &[(1, 0x11, 0)]), &EOI]),
                Invalid,
            ),
            (
                "a DC scan its bytes cannot hold",
                {
                    let mut short = good.clone();
                    let scan = short.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
                    short.truncate(scan + 10 + 100);
                    short.extend(EOI);
                    short
                },
                Invalid,
            ),
            (
                "a second frame header between scans",
                good.clone()
                    .splice_before(&progressive_sos(&[(1, 0x01)], 1, 63, 0x01), &gray_sof(8, 8)),
                Invalid,
            ),
        ];
        for (name, jpeg, expected) in cases {
            assert_eq!(
                decode_dc(&jpeg, &ProcessingPolicy::default()).map(|_| ()),
                Err(expected),
                "{name}"
            );
        }
    }

    #[test]
    fn progressive_scans_visit_a_bounded_number_of_blocks() {
        // Root cause (guarded against): an end-of-band run makes an AC scan of every block
        // cost two bytes, and a file may hold as many scans as its bytes allow. Coefficient by
        // coefficient, 63 first scans and 13 refinements of each is 882 scans of 4096 blocks:
        // 3.6 million block visits from 30 KB. The budget is 16 visits per block of the frame
        // and per byte of the file.
        let mut scans = Vec::new();
        for k in 1..=63 {
            scans.push((k, k, 13));
        }
        for high in (1..=13).rev() {
            for k in 1..=63 {
                scans.push((k, k, high << 4 | (high - 1)));
            }
        }
        let jpeg = progressive_gray_512(&scans);
        let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
        assert_eq!(result.map(|_| ()), Err(DcError::Invalid));
        let budget = MAX_PASSES * (4096 + jpeg.len() as u64);
        assert!(mcus <= budget, "{mcus} blocks visited, budget {budget}");
        assert!(
            budget - mcus < 4096,
            "refused by the budget, at the scan that overdrew it"
        );
        assert!(mcus < 882 * 4096 / 4, "{mcus} blocks visited");
        // Ten scans, as usual scripts have, are well within it.
        let usual = progressive_gray_512(&scans[..9]);
        assert!(decode_dc(&usual, &ProcessingPolicy::default()).is_ok());
        // A DC scan codes at least a bit a block: 4096 blocks do not fit in 100 bytes, and
        // that is known before any is decoded.
        let mut short = usual.clone();
        let scan = short.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        short.truncate(scan + 10 + 100);
        short.extend(EOI);
        let (result, mcus) = decode_counting(&short, &ProcessingPolicy::default());
        assert_eq!((result.map(|_| ()), mcus), (Err(DcError::Invalid), 0));
    }

    /// One edit of a file, for the corruption property.
    #[derive(Debug, Clone)]
    enum Edit {
        Overwrite(usize, u8),
        Insert(usize, u8),
        Delete(usize),
        /// Two bytes `FF xx`: a marker, or a stuffed zero, somewhere.
        InsertMarker(usize, u8),
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Overwrite(at, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::InsertMarker(at, b)),
        ]
    }

    fn corrupt(mut jpeg: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
        for edit in edits {
            let len = jpeg.len().max(1);
            match *edit {
                Edit::Overwrite(at, byte) => {
                    if let Some(b) = jpeg.get_mut(at % len) {
                        *b = byte;
                    }
                }
                Edit::Insert(at, byte) => jpeg.insert(at % (jpeg.len() + 1), byte),
                Edit::Delete(at) => {
                    if !jpeg.is_empty() {
                        jpeg.remove(at % len);
                    }
                }
                Edit::InsertMarker(at, byte) => {
                    let at = at % (jpeg.len() + 1);
                    jpeg.splice(at..at, [0xFF, byte]);
                }
            }
        }
        jpeg
    }

    proptest::proptest! {
        #[test]
        fn corrupted_files_are_refused_or_decoded_never_a_panic(
            which in 0usize..5,
            edits in proptest::collection::vec(edit(), 1..8)
        ) {
            let dcs: Vec<i32> = (0..20).map(|i| i * 11 - 100).collect();
            let original = match which {
                0 => include_bytes!("../../fixtures/images/gps-exif-64x48.jpg").to_vec(),
                1 => include_bytes!("../../fixtures/images/sunset-64x48.jpg").to_vec(),
                2 => include_bytes!("../../fixtures/images/progressive/420-progressive.jpg")
                    .to_vec(),
                3 => include_bytes!(
                    "../../fixtures/images/progressive/420-optimized-restarts-progressive.jpg"
                )
                .to_vec(),
                _ => gray_jpeg(160, 8, &dcs, 2),
            };
            let jpeg = corrupt(original, &edits);
            let (result, mcus) = decode_counting(&jpeg, &ProcessingPolicy::default());
            if let Ok(image) = result {
                let expected = image.width as usize * image.height as usize * 3;
                proptest::prop_assert_eq!(image.rgb.len(), expected);
            }
            // Work stays proportional to the bytes, whatever the header claims: a sequential
            // scan decodes at most 4 blocks a byte; progressive scans visit at most MAX_PASSES
            // blocks per block (at most 8 a byte: their DC scans) and per byte.
            proptest::prop_assert!(mcus <= MAX_PASSES * 9 * jpeg.len() as u64);
        }
    }
}
