//! How much `image-webp`'s lossless decoder will allocate for Huffman tables, read from the start
//! of a VP8L bitstream before it is decoded.
//!
//! A VP8L image may split itself into blocks, each with its own group of five Huffman codes,
//! and says which group a block uses in an "entropy image". `image-webp` (0.2.4, and upstream as
//! of this writing) reads as many groups as the largest group index in that image asks for, up to
//! 65536, each code a table of up to 1024 entries plus a tree for codes longer than 10 bits,
//! whether or not a block uses it. So a 1 x 1 image whose one block names group 65535 makes it
//! read 65536 groups: about 1.3 GB of tables from a 5 MB file, or 160 MB from 580 kB (see the
//! memory-budget tests). libwebp maps the used groups only; `image-webp` does not.
//!
//! [`huffman_table_bytes`] reads the bitstream as far as the codes of the entropy image (skipping
//! the transforms' sub-images, which only needs their codes and the bits each symbol takes, not
//! their pixels) and bounds the group count by the largest index those codes can produce: every
//! pixel of the entropy image is a literal of its red and green codes, or a copy of an earlier
//! one. The bound times the largest a group of codes can be is what the tables may take.

use crate::domain::RejectionReason;

/// The most entries `image-webp` gives a code's lookup table (10 bits), 4 bytes each.
const TABLE_BYTES: u64 = (1 << 10) * 4;
/// The bytes `image-webp`'s tree may take per symbol of a code's alphabet: two 16-byte nodes.
const TREE_BYTES_PER_SYMBOL: u64 = 32;
/// The alphabets of the five codes of a group: green (plus colour cache), red, blue, alpha and
/// distance.
const ALPHABETS: [u16; 5] = [256 + 24, 256, 256, 256, 40];
/// The order code length code lengths are stored in.
const CODE_LENGTH_ORDER: [usize; 19] = [
    17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
];

/// Least significant bit first, as VP8L is written.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn read(&mut self, count: u32) -> Result<u32, RejectionReason> {
        let mut value = 0;
        for i in 0..count {
            let byte = *self
                .data
                .get(self.at / 8)
                .ok_or(RejectionReason::Undecodable)?;
            value |= u32::from((byte >> (self.at % 8)) & 1) << i;
            self.at += 1;
        }
        Ok(value)
    }
}

/// A prefix code as `image-webp` builds it: one symbol (no bits), two (one bit: 0 for the first
/// read, whatever their values), or canonical.
enum Code {
    Single(u16),
    Two(u16, u16),
    Canonical {
        /// Codes of each length, 1 to 15.
        counts: [u16; 16],
        /// Symbols ordered by code length, then value.
        symbols: Vec<u16>,
    },
}

impl Code {
    /// Builds a code from its lengths, refusing what `image-webp`'s `build_implicit` refuses: no
    /// symbol, or an incomplete or oversubscribed code.
    fn from_lengths(lengths: &[u16]) -> Result<Self, RejectionReason> {
        let mut counts = [0u16; 16];
        for &length in lengths.iter().filter(|&&l| l != 0) {
            counts[usize::from(length)] += 1;
        }
        let used: Vec<u16> = (0..lengths.len() as u16)
            .filter(|&s| lengths[usize::from(s)] != 0)
            .collect();
        match used.as_slice() {
            [] => return Err(RejectionReason::Undecodable),
            &[only] => return Ok(Self::Single(only)),
            _ => {}
        }
        let max = (1..16).rev().find(|&l| counts[l] != 0).unwrap_or(1);
        let mut code = 0u32;
        for &count in &counts[1..=max] {
            code = (code + u32::from(count)) << 1;
        }
        if code != 2 << max {
            return Err(RejectionReason::Undecodable);
        }
        let mut symbols = used;
        symbols.sort_by_key(|&s| lengths[usize::from(s)]);
        Ok(Self::Canonical { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, RejectionReason> {
        let (counts, symbols) = match self {
            Self::Single(symbol) => return Ok(*symbol),
            Self::Two(zero, one) => return Ok(if bits.read(1)? == 0 { *zero } else { *one }),
            Self::Canonical { counts, symbols } => (counts, symbols),
        };
        let (mut code, mut first, mut index) = (0u32, 0u32, 0usize);
        for &count in &counts[1..] {
            code |= bits.read(1)?;
            let count = u32::from(count);
            if code < first + count {
                return Ok(symbols[index + (code - first) as usize]);
            }
            index += count as usize;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(RejectionReason::Undecodable)
    }

    /// The largest symbol below `limit` the code can produce, if any.
    fn largest_below(&self, limit: u16) -> Option<u16> {
        match self {
            Self::Single(symbol) => Some(*symbol).filter(|&s| s < limit),
            Self::Two(zero, one) => [*zero, *one].into_iter().filter(|&s| s < limit).max(),
            Self::Canonical { symbols, .. } => symbols.iter().copied().filter(|&s| s < limit).max(),
        }
    }
}

/// Reads a prefix code over `alphabet` symbols as `image-webp`'s `read_huffman_code` does.
fn read_code(bits: &mut Bits<'_>, alphabet: u16) -> Result<Code, RejectionReason> {
    if bits.read(1)? == 1 {
        let two = bits.read(1)? == 1;
        let first_bits = if bits.read(1)? == 1 { 8 } else { 1 };
        let zero = bits.read(first_bits)? as u16;
        if zero >= alphabet {
            return Err(RejectionReason::Undecodable);
        }
        if !two {
            return Ok(Code::Single(zero));
        }
        let one = bits.read(8)? as u16;
        if one >= alphabet {
            return Err(RejectionReason::Undecodable);
        }
        return Ok(Code::Two(zero, one));
    }
    let mut length_lengths = [0u16; 19];
    for &symbol in &CODE_LENGTH_ORDER[..4 + bits.read(4)? as usize] {
        length_lengths[symbol] = bits.read(3)? as u16;
    }
    let length_code = Code::from_lengths(&length_lengths)?;
    let mut max_symbol = if bits.read(1)? == 1 {
        let width = 2 + 2 * bits.read(3)?;
        let max_minus_two = bits.read(width)?;
        if max_minus_two > u32::from(alphabet) - 2 {
            return Err(RejectionReason::Undecodable);
        }
        max_minus_two + 2
    } else {
        u32::from(alphabet)
    };
    let mut lengths = vec![0u16; usize::from(alphabet)];
    let (mut symbol, mut previous) = (0usize, 8u16);
    while symbol < lengths.len() && max_symbol > 0 {
        max_symbol -= 1;
        match length_code.decode(bits)? {
            length @ 0..=15 => {
                lengths[symbol] = length;
                symbol += 1;
                if length != 0 {
                    previous = length;
                }
            }
            repeat_code => {
                let (extra, offset, length) = match repeat_code {
                    16 => (2, 3, previous),
                    17 => (3, 3, 0),
                    _ => (7, 11, 0),
                };
                let repeat = bits.read(extra)? as usize + offset;
                if symbol + repeat > lengths.len() {
                    return Err(RejectionReason::Undecodable);
                }
                lengths[symbol..symbol + repeat].fill(length);
                symbol += repeat;
            }
        }
    }
    Code::from_lengths(&lengths)
}

/// Reads the colour cache flag and size; returns the cache's entries (0 without one).
fn read_colour_cache(bits: &mut Bits<'_>) -> Result<u16, RejectionReason> {
    if bits.read(1)? == 0 {
        return Ok(0);
    }
    match bits.read(4)? {
        cache_bits @ 1..=11 => Ok(1 << cache_bits),
        _ => Err(RejectionReason::Undecodable),
    }
}

fn read_group(bits: &mut Bits<'_>, cache: u16) -> Result<Vec<Code>, RejectionReason> {
    ALPHABETS
        .iter()
        .enumerate()
        .map(|(i, &alphabet)| read_code(bits, if i == 0 { alphabet + cache } else { alphabet }))
        .collect()
}

/// A length or distance from its prefix symbol and extra bits.
fn prefix_value(bits: &mut Bits<'_>, symbol: u16) -> Result<usize, RejectionReason> {
    if symbol < 4 {
        return Ok(usize::from(symbol) + 1);
    }
    let extra = u32::from((symbol - 2) >> 1);
    let offset = (2 + (usize::from(symbol) & 1)) << extra;
    Ok(offset + bits.read(extra)? as usize + 1)
}

/// Reads past a sub-image (a transform's data or a colour table) of `width` x `height`: its
/// colour cache, its codes, and the symbols of its pixels, without computing the pixels.
fn skip_image(bits: &mut Bits<'_>, width: u32, height: u32) -> Result<(), RejectionReason> {
    let cache = read_colour_cache(bits)?;
    let codes = read_group(bits, cache)?;
    let total = width as usize * height as usize;
    // Four one-symbol codes and a literal: no bits at all, whatever the size.
    if codes[..4].iter().all(|c| matches!(c, Code::Single(_)))
        && matches!(codes[0], Code::Single(green) if green < 256)
    {
        return Ok(());
    }
    let mut index = 0;
    while index < total {
        let green = codes[0].decode(bits)?;
        if green < 256 {
            for code in &codes[1..4] {
                code.decode(bits)?;
            }
            index += 1;
        } else if green < 256 + 24 {
            let length = prefix_value(bits, green - 256)?;
            let distance_symbol = codes[4].decode(bits)?;
            prefix_value(bits, distance_symbol)?;
            if total - index < length {
                return Err(RejectionReason::Undecodable);
            }
            index += length;
        } else if cache == 0 {
            return Err(RejectionReason::Undecodable);
        } else {
            index += 1;
        }
    }
    Ok(())
}

fn subsample(size: u32, bits: u32) -> u32 {
    size.div_ceil(1 << bits)
}

/// An upper bound of the bytes `image-webp` allocates for the Huffman tables of the VP8L
/// bitstream `stream`: a whole VP8L chunk, or (`implicit` = the frame's size) the headerless
/// bitstream of a compressed ALPH chunk.
///
/// # Errors
/// [`RejectionReason::Undecodable`] where `image-webp` would refuse the bitstream too (bad
/// codes, a second transform of a kind, data ending early).
pub(super) fn huffman_table_bytes(
    stream: &[u8],
    implicit: Option<(u32, u32)>,
) -> Result<u64, RejectionReason> {
    let mut bits = Bits {
        data: stream,
        at: 0,
    };
    let (width, height) = match implicit {
        Some(size) => size,
        None => {
            bits.read(8)?;
            let width = bits.read(14)? + 1;
            let height = bits.read(14)? + 1;
            bits.read(4)?;
            (width, height)
        }
    };
    let mut xsize = width;
    let mut seen = [false; 4];
    while bits.read(1)? == 1 {
        let kind = bits.read(2)? as usize;
        if std::mem::replace(&mut seen[kind], true) {
            return Err(RejectionReason::Undecodable);
        }
        match kind {
            0 | 1 => {
                let block_bits = bits.read(3)? + 2;
                skip_image(
                    &mut bits,
                    subsample(xsize, block_bits),
                    subsample(height, block_bits),
                )?;
            }
            2 => {}
            _ => {
                let colours = bits.read(8)? + 1;
                skip_image(&mut bits, colours, 1)?;
                let packing = match colours {
                    0..=2 => 3,
                    3..=4 => 2,
                    5..=16 => 1,
                    _ => 0,
                };
                xsize = subsample(xsize, packing);
            }
        }
    }
    let cache = read_colour_cache(&mut bits)?;
    let groups = if bits.read(1)? == 1 {
        bits.read(3)?;
        // The entropy image: each pixel is a literal of these codes or a copy of an earlier one
        // (colour cache entries included, which start at zero).
        let entropy_cache = read_colour_cache(&mut bits)?;
        let codes = read_group(&mut bits, entropy_cache)?;
        let green = codes[0].largest_below(256).unwrap_or(0);
        let red = codes[1].largest_below(256).unwrap_or(0);
        u64::from(red) * 256 + u64::from(green) + 1
    } else {
        1
    };
    let alphabets: u64 = ALPHABETS.iter().map(|&a| u64::from(a)).sum::<u64>() + u64::from(cache);
    Ok(groups * (5 * TABLE_BYTES + TREE_BYTES_PER_SYMBOL * alphabets))
}

#[cfg(test)]
mod tests {
    use super::super::riff::riff_chunks;
    use super::*;
    use crate::imaging::testkit::webp::vp8l_with_huffman_groups;

    const PER_GROUP: u64 = 5 * TABLE_BYTES + TREE_BYTES_PER_SYMBOL * (280 + 768 + 40);

    fn vp8l_of(file: &[u8]) -> Vec<u8> {
        riff_chunks(file)
            .unwrap()
            .map(Result::unwrap)
            .find(|(fourcc, _)| fourcc == b"VP8L")
            .unwrap()
            .1
            .to_vec()
    }

    #[test]
    fn a_group_index_in_the_entropy_image_bounds_the_groups() {
        for groups in [1, 300, 8192] {
            let stream = vp8l_of(&vp8l_with_huffman_groups(groups));
            assert_eq!(
                huffman_table_bytes(&stream, None),
                Ok(u64::from(groups) * PER_GROUP),
                "{groups}"
            );
        }
    }

    #[test]
    fn what_libwebp_writes_parses_and_asks_for_a_few_groups() {
        // Transforms with sub-images, colour indexing, an entropy image choosing between groups,
        // and (in the lossy fixtures) compressed alpha: all skipped or read as image-webp does.
        let noisy = vp8l_of(include_bytes!(
            "../../../fixtures/images/lossless-noisy-64x48.webp"
        ));
        let groups = huffman_table_bytes(&noisy, None).unwrap() / PER_GROUP;
        assert!((2..=16).contains(&groups), "{groups}");
        let palette = vp8l_of(include_bytes!(
            "../../../fixtures/images/lossless-palette-120x90.webp"
        ));
        assert_eq!(huffman_table_bytes(&palette, None), Ok(PER_GROUP));
        for (file, size) in [
            (
                &include_bytes!("../../../fixtures/images/lossy-alpha-37x29.webp")[..],
                (37, 29),
            ),
            (
                &include_bytes!("../../../fixtures/images/lossy-alpha-4000x3000.webp")[..],
                (4000, 3000),
            ),
        ] {
            let (_, alph) = riff_chunks(file)
                .unwrap()
                .map(Result::unwrap)
                .find(|(fourcc, _)| fourcc == b"ALPH")
                .unwrap();
            let groups = huffman_table_bytes(&alph[1..], Some(size)).unwrap() / PER_GROUP;
            assert!((1..=16).contains(&groups), "{groups}");
        }
    }

    #[test]
    fn a_stream_that_ends_inside_its_codes_is_undecodable() {
        let noisy = vp8l_of(include_bytes!(
            "../../../fixtures/images/lossless-noisy-64x48.webp"
        ));
        assert_eq!(
            huffman_table_bytes(&noisy[..40], None),
            Err(RejectionReason::Undecodable)
        );
    }

    #[test]
    fn codes_are_canonical_and_decode_most_significant_bit_first() {
        // Lengths 1, 2, 3, 3: codes 0, 10, 110, 111.
        let code = Code::from_lengths(&[1, 2, 3, 3]).unwrap();
        // 0, 10, 111, 110: bits 0 1 0 1 1 1 1 1 0, filling each byte from its lowest bit.
        let mut bits = Bits {
            data: &[0b1111_1010, 0b0000_0000],
            at: 0,
        };
        let symbols: Vec<_> = (0..4).map(|_| code.decode(&mut bits).unwrap()).collect();
        assert_eq!(symbols, [0, 1, 3, 2]);
        assert!(Code::from_lengths(&[1, 2, 3]).is_err(), "incomplete");
        assert!(Code::from_lengths(&[1, 1, 1]).is_err(), "oversubscribed");
        assert!(matches!(
            Code::from_lengths(&[0, 5, 0]),
            Ok(Code::Single(1))
        ));
    }
}
