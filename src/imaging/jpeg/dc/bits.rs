//! Reading entropy-coded data: bits most significant first, stuffed zero bytes removed, stopping
//! at markers, and the restart markers of a scan's intervals.

use super::error::DcError;
use crate::imaging::jpeg::marker::Marker;

/// Which ways of reading entropy-coded data a [`super::DcDecoder`] takes.
///
/// Both run the same loops. On the reference paths the step tables are empty (see
/// `super::huffman`) and no bytes are read in chunks, so each step falls through to the plain
/// reading; no loop asks which paths it is on, except where a refinement scan passes over
/// coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Paths {
    /// Eight bytes at a time where no `FF` is among them, and AC codes (with their values, one
    /// or two at a time) and DC differences looked up in one table step: what the decoder runs.
    Fast,
    /// A byte at a time, every code through canonical decoding (F.2.2.3: a lookup of its first
    /// bits, then one code length after another): the plain reading the fast paths must agree
    /// with, decode for decode (the tests compare the two on files intact, damaged and cut
    /// short).
    Reference,
}

/// Reads entropy-coded bits, removing stuffed zero bytes and stopping at markers.
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    /// The next bits, most significant first.
    pub(super) acc: u64,
    /// How many bits of `acc` are buffered.
    pub(super) count: u32,
    /// Zero bits appended after a marker or the end of data; consuming any means truncation.
    /// It grows by 8 a byte, and is checked (and the scan refused) after every MCU: at most
    /// `header::MAX_BLOCKS_IN_MCU` x 64 codes of at most 32 bits are read in between, so it
    /// stays far below `u32::MAX`.
    padding: u32,
    at_marker: bool,
    /// What [`Bits::fill`] may read eight bytes at a time: `data` on the fast paths, nothing on
    /// the reference paths.
    chunks: &'a [u8],
    /// Whether the refinement scans' and [`Bits::skip`]'s shortcuts may be taken: see [`Paths`].
    fast: bool,
    /// MCUs read to their end (see [`Bits::end_of_mcu`]).
    mcus: u64,
}

impl<'a> Bits<'a> {
    /// A reader of `data`'s entropy-coded bits from `pos`, taking the fast `paths` or not.
    pub(super) fn new(data: &'a [u8], pos: usize, paths: Paths) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            at_marker: false,
            chunks: if paths == Paths::Fast { data } else { &[] },
            fast: paths == Paths::Fast,
            mcus: 0,
        }
    }

    /// Whether the fast paths may be taken.
    #[inline]
    pub(super) fn fast(&self) -> bool {
        self.fast
    }

    /// After each MCU: counts it, and refuses a stream that ran out within it. Cheap, once an
    /// MCU: what makes a stream that runs out cost no more than its bytes.
    ///
    /// # Errors
    /// [`DcError::Invalid`] if the MCU read any padding.
    #[inline]
    pub(super) fn end_of_mcu(&mut self) -> Result<(), DcError> {
        self.mcus += 1;
        if self.truncated() {
            return Err(DcError::Invalid);
        }
        Ok(())
    }

    /// MCUs read to their end, [`Bits::end_of_mcu`] counted.
    pub(super) fn mcus(&self) -> u64 {
        self.mcus
    }

    /// Tops the buffer up to at least 57 bits: eight bytes at a time where it can, inlined into
    /// every decoding loop, else [`Bits::fill_bytewise`] (a `FF` byte, a marker, the end of the
    /// data; every fill on the reference paths).
    #[inline(always)]
    pub(super) fn fill(&mut self) {
        // Most of the time the next eight bytes hold no 0xFF (no stuffing, no marker): take
        // whole bytes of them at once.
        if !self.at_marker
            && let Some(chunk) = self.chunks.get(self.pos..self.pos + 8)
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
        self.fill_bytewise();
    }

    /// [`Bits::fill`] a byte at a time: stuffed zeros removed, padding after a marker or the end.
    #[inline]
    fn fill_bytewise(&mut self) {
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

    /// Drops `n` bits. Callers hold `n <= count`: see `Huffman::decode`.
    #[inline]
    pub(super) fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// `n` (at most 16) raw bits as a signed coefficient (JPEG's EXTEND).
    #[inline]
    pub(super) fn signed(&mut self, n: u32) -> i32 {
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
    pub(super) fn raw(&mut self, n: u32) -> u32 {
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
    pub(super) fn skip(&mut self, mut n: u32) {
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
    pub(super) fn truncated(&self) -> bool {
        self.padding > self.count
    }

    /// After the last MCU of an interval or a scan: refuses a stream that ran out, then moves
    /// `pos` to the next marker. Bytes between the last MCU and the marker are skipped, as
    /// libjpeg does (with a warning): each byte once, so in time proportional to the data.
    pub(super) fn skip_to_marker(&mut self) -> Result<(), DcError> {
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
    pub(super) fn restart(&mut self, expected: u8) -> Result<(), DcError> {
        self.skip_to_marker()?;
        let marker = match self.data.get(self.pos..self.pos + 2) {
            Some(&[0xFF, byte]) => Marker::from_byte(byte),
            _ => None,
        };
        if marker != Some(Marker::Rst(expected)) {
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

/// Where a scan's restart intervals end.
pub(super) struct Restarts {
    /// MCUs an interval (0: no restarts).
    interval: usize,
    /// MCUs left in the current interval.
    left: usize,
    /// The number n of the next `RSTn`.
    next: u8,
}

impl Restarts {
    pub(super) fn new(interval: u16) -> Self {
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
    pub(super) fn before_mcu(&mut self, bits: &mut Bits) -> Result<bool, DcError> {
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

/// Refuses `blocks` that cannot all be coded, at `min_bits` each, in the `bytes` left.
///
/// # Errors
/// [`DcError::Invalid`] if they cannot.
pub(super) fn fits_in(blocks: u64, min_bits: u64, bytes: usize) -> Result<(), DcError> {
    let bits = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(8);
    if blocks.saturating_mul(min_bits) > bits {
        return Err(DcError::Invalid);
    }
    Ok(())
}
