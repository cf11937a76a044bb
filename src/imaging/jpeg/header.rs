//! The headers of a JPEG, each parsed in one place for every reader of it: the frame (SOFn),
//! scans (SOS), Huffman and quantization tables (DHT, DQT), the restart interval (DRI) and
//! Adobe's colour transform (APP14).
//!
//! Each parser checks the segment's structure as T.81 B.2 and B.3 define it, whatever the coding
//! process: exact lengths, component identifiers unique and known, sampling factors 1 to 4,
//! table ids 0 to 3, scan components in the frame's order. `jpeg-decoder` refuses each of these
//! too (and checks more, per coding process), so no file it would decode is refused here for its
//! structure. Whether the frame is one a given decoder handles, and whether its dimensions are
//! within the limits, is for the caller: `survey` and `dc` each say what they accept.

use super::marker::Malformed;

/// The most blocks one MCU of an interleaved scan may hold (B.2.3: "shall not exceed 10").
pub(in crate::imaging::jpeg) const MAX_BLOCKS_IN_MCU: usize = 10;

/// A frame component: its identifier, sampling factors (1 to 4) and quantization table (0 to 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct Component {
    pub id: u8,
    pub h: usize,
    pub v: usize,
    pub quant: usize,
}

/// A frame header, and the grid of MCUs it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct Frame {
    /// `n` of the `SOFn` marker: the coding process.
    pub sof: u8,
    /// Bits a sample.
    pub precision: u8,
    pub width: u16,
    /// 0 when a DNL segment after the first scan gives the height (B.2.5).
    pub height: u16,
    pub components: Vec<Component>,
    /// The largest sampling factors: an interleaved MCU is `8 h_max` x `8 v_max` pixels.
    pub h_max: usize,
    pub v_max: usize,
    /// MCUs across and down: at most ceil(65535 / 8) = 8192 each.
    pub mcus_x: usize,
    pub mcus_y: usize,
}

impl Frame {
    /// The frame of `components` (sampling factors 1 to 4) over `width` x `height`, coded with
    /// process `sof`, with its MCU grid.
    pub(in crate::imaging::jpeg) fn new(
        sof: u8,
        precision: u8,
        width: u16,
        height: u16,
        components: Vec<Component>,
    ) -> Self {
        let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
        Self {
            sof,
            precision,
            width,
            height,
            h_max,
            v_max,
            mcus_x: usize::from(width).div_ceil(8 * h_max),
            mcus_y: usize::from(height).div_ceil(8 * v_max),
            components,
        }
    }

    /// Parses the payload of a `SOFn` segment (B.2.2).
    ///
    /// # Errors
    /// [`Malformed`] for a payload that is not exactly 6 bytes and 3 a component, no
    /// components, a sampling factor outside 1 to 4, a quantization table above 3, or an
    /// identifier used twice.
    pub(in crate::imaging::jpeg) fn parse(sof: u8, payload: &[u8]) -> Result<Self, Malformed> {
        let Some((&[precision, h1, h0, w1, w0, count], specs)) = payload.split_first_chunk::<6>()
        else {
            return Err(Malformed);
        };
        if count == 0 || specs.len() != 3 * usize::from(count) {
            return Err(Malformed);
        }
        let mut components: Vec<Component> = Vec::with_capacity(usize::from(count));
        for spec in specs.chunks_exact(3) {
            let &[id, sampling, quant] = spec else {
                return Err(Malformed);
            };
            let (h, v) = (usize::from(sampling >> 4), usize::from(sampling & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || quant > 3 {
                return Err(Malformed);
            }
            if components.iter().any(|c| c.id == id) {
                return Err(Malformed);
            }
            components.push(Component {
                id,
                h,
                v,
                quant: usize::from(quant),
            });
        }
        let (height, width) = (u16::from_be_bytes([h1, h0]), u16::from_be_bytes([w1, w0]));
        Ok(Self::new(sof, precision, width, height, components))
    }

    /// This frame as its scans code it: a frame of one component has only non-interleaved
    /// scans, whose MCU is one block whatever sampling factors the component declares (A.2.2),
    /// so its factors are read as 1 x 1. (The general decoder sizes its buffers by the declared
    /// factors, so [`Frame::stored_blocks`] is asked of the frame as parsed.)
    pub(in crate::imaging::jpeg) fn into_coded(self) -> Self {
        match self.components.as_slice() {
            [only] => {
                let component = Component {
                    h: 1,
                    v: 1,
                    ..*only
                };
                Self::new(
                    self.sof,
                    self.precision,
                    self.width,
                    self.height,
                    vec![component],
                )
            }
            _ => self,
        }
    }

    /// Progressive DCT (SOF2, 6, 10, 14).
    pub(in crate::imaging::jpeg) fn is_progressive(&self) -> bool {
        self.sof & 3 == 2
    }

    /// Lossless (SOF3, 7, 11, 15).
    pub(in crate::imaging::jpeg) fn is_lossless(&self) -> bool {
        self.sof & 3 == 3
    }

    /// Arithmetic-coded (SOF9 and above).
    pub(in crate::imaging::jpeg) fn is_arithmetic(&self) -> bool {
        self.sof >= 9
    }

    /// Blocks of component `c` as a decoder stores them: whole MCUs, `h` x `v` blocks of each
    /// (at most 8192 x 4 x 8192 x 4 = 2^30).
    pub(in crate::imaging::jpeg) fn stored_blocks(&self, c: &Component) -> u64 {
        [self.mcus_x, c.h, self.mcus_y, c.v]
            .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
            .into_iter()
            .fold(1, u64::saturating_mul)
    }

    /// Blocks in all components, stored as whole MCUs.
    pub(in crate::imaging::jpeg) fn all_stored_blocks(&self) -> u64 {
        self.components
            .iter()
            .map(|c| self.stored_blocks(c))
            .fold(0, u64::saturating_add)
    }

    /// Samples of component `c` across and down.
    pub(in crate::imaging::jpeg) fn samples(&self, c: &Component) -> (usize, usize) {
        (
            (usize::from(self.width) * c.h).div_ceil(self.h_max),
            (usize::from(self.height) * c.v).div_ceil(self.v_max),
        )
    }

    /// The blocks across and down of component `c` alone, which a one-component scan codes
    /// (A.2.2: no padding to whole MCUs), each within the stored `mcus_x h` x `mcus_y v`.
    pub(in crate::imaging::jpeg) fn coded_blocks(&self, c: &Component) -> (usize, usize) {
        let (across, down) = self.samples(c);
        (across.div_ceil(8), down.div_ceil(8))
    }

    /// The units (blocks; samples for lossless) a scan of `components` codes: one component
    /// alone, the blocks covering its samples; several, whole MCUs of each.
    pub(in crate::imaging::jpeg) fn scan_units<'c>(
        &self,
        components: impl ExactSizeIterator<Item = &'c Component>,
    ) -> u64 {
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        if self.is_lossless() {
            return components
                .map(|c| {
                    let (x, y) = self.samples(c);
                    as_u64(x).saturating_mul(as_u64(y))
                })
                .fold(0, u64::saturating_add);
        }
        if components.len() == 1 {
            return components
                .map(|c| {
                    let (x, y) = self.coded_blocks(c);
                    as_u64(x).saturating_mul(as_u64(y))
                })
                .sum();
        }
        components
            .map(|c| self.stored_blocks(c))
            .fold(0, u64::saturating_add)
    }

    /// The units a scan of the frame's `components` codes, as [`Self::scan_units`].
    pub(in crate::imaging::jpeg) fn scan_units_of(&self, components: &[ScanComponent]) -> u64 {
        self.scan_units(components.iter().map(|c| &self.components[c.index]))
    }

    /// The units of the whole frame, each component once.
    pub(in crate::imaging::jpeg) fn units(&self) -> u64 {
        self.components
            .iter()
            .map(|c| self.scan_units(std::iter::once(c)))
            .fold(0, u64::saturating_add)
    }

    /// The 1/8-scale image's width and height: each at most 8192.
    pub(in crate::imaging::jpeg) fn eighth_size(&self) -> (u16, u16) {
        (self.width.div_ceil(8), self.height.div_ceil(8))
    }
}

/// A component of a scan: its index in the frame and the Huffman tables it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct ScanComponent {
    pub index: usize,
    pub dc_table: usize,
    pub ac_table: usize,
}

/// A scan header (B.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct ScanHeader {
    /// At most 4, in the frame's order, each once.
    pub components: Vec<ScanComponent>,
    /// Spectral selection: the first and last coefficient coded, in zigzag order (for lossless,
    /// the predictor).
    pub start: u8,
    pub end: u8,
    /// Successive approximation: the point transform of the coefficients' previous scan (0 for
    /// their first), and of this one.
    pub high: u8,
    pub low: u8,
}

impl ScanHeader {
    /// Parses the payload of an SOS segment against its `frame`.
    ///
    /// # Errors
    /// [`Malformed`] for a count outside 1 to 4, a payload not exactly 2 bytes a component and
    /// 3 more, a component not in the frame, listed twice or out of the frame's order, or a
    /// table id above 3.
    pub(in crate::imaging::jpeg) fn parse(
        payload: &[u8],
        frame: &Frame,
    ) -> Result<Self, Malformed> {
        let (&count, rest) = payload.split_first().ok_or(Malformed)?;
        let count = usize::from(count);
        if !(1..=4).contains(&count) || rest.len() != 2 * count + 3 {
            return Err(Malformed);
        }
        let (selectors, parameters) = rest.split_at(2 * count);
        let mut components: Vec<ScanComponent> = Vec::with_capacity(count);
        for selector in selectors.chunks_exact(2) {
            let &[id, tables] = selector else {
                return Err(Malformed);
            };
            let index = frame
                .components
                .iter()
                .position(|c| c.id == id)
                .ok_or(Malformed)?;
            // Each component once, in the frame's order.
            if components.last().is_some_and(|last| index <= last.index) {
                return Err(Malformed);
            }
            let (dc_table, ac_table) = (usize::from(tables >> 4), usize::from(tables & 15));
            if dc_table > 3 || ac_table > 3 {
                return Err(Malformed);
            }
            components.push(ScanComponent {
                index,
                dc_table,
                ac_table,
            });
        }
        let &[start, end, approximation] = parameters else {
            return Err(Malformed);
        };
        Ok(Self {
            components,
            start,
            end,
            high: approximation >> 4,
            low: approximation & 15,
        })
    }
}

/// Huffman table classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) enum TableClass {
    Dc,
    Ac,
}

/// One Huffman table of a DHT segment (B.2.4.2): the number of codes of each length 1 to 16
/// and the symbols in code order, at least one and at most 256 of them.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging::jpeg) struct HuffmanSpec<'a> {
    pub class: TableClass,
    pub id: usize,
    pub counts: &'a [u8; 16],
    pub values: &'a [u8],
}

/// The tables of a DHT segment's payload, in order.
///
/// # Errors
/// [`Malformed`] for a class other than DC (0) or AC (1), an id above 3, a table of no symbols
/// or more than 256, or one that names more symbols than the segment holds. (Whether the counts
/// make a prefix code is checked where the codes are assigned, `dc::huffman`.)
pub(in crate::imaging::jpeg) fn huffman_tables(
    mut payload: &[u8],
) -> Result<Vec<HuffmanSpec<'_>>, Malformed> {
    let mut tables = Vec::new();
    while let Some((&class_id, rest)) = payload.split_first() {
        let (counts, rest) = rest.split_first_chunk::<16>().ok_or(Malformed)?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        // A table codes at least one symbol and at most 256 (one per byte value).
        if !(1..=256).contains(&total) {
            return Err(Malformed);
        }
        let (values, rest) = rest.split_at_checked(total).ok_or(Malformed)?;
        let id = usize::from(class_id & 15);
        let class = match (class_id >> 4, id) {
            (0, 0..=3) => TableClass::Dc,
            (1, 0..=3) => TableClass::Ac,
            _ => return Err(Malformed),
        };
        tables.push(HuffmanSpec {
            class,
            id,
            counts,
            values,
        });
        payload = rest;
    }
    Ok(tables)
}

/// A quantization table: its id and its 64 quantizers in zigzag order (the file's), the DC's first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct QuantTable {
    pub id: usize,
    pub zigzag: [u16; 64],
}

/// The tables of a DQT segment's payload, in order (B.2.4.1).
///
/// # Errors
/// [`Malformed`] for an id above 3, a precision other than 8 or 16 bits, a table cut short, or
/// a quantizer of 0 (which `jpeg-decoder` refuses too).
pub(in crate::imaging::jpeg) fn quant_tables(
    mut payload: &[u8],
) -> Result<Vec<QuantTable>, Malformed> {
    let mut tables = Vec::new();
    while let Some((&precision_id, rest)) = payload.split_first() {
        let id = usize::from(precision_id & 15);
        if id > 3 {
            return Err(Malformed);
        }
        let (entries, rest): (Vec<u16>, _) = match precision_id >> 4 {
            0 => {
                let (table, rest) = rest.split_first_chunk::<64>().ok_or(Malformed)?;
                (table.iter().map(|&q| u16::from(q)).collect(), rest)
            }
            // 16-bit entries are not for 8-bit samples, but libjpeg and `jpeg-decoder` read
            // them, and images in the wild use them.
            1 => {
                let (table, rest) = rest.split_first_chunk::<128>().ok_or(Malformed)?;
                let entries = table
                    .chunks_exact(2)
                    .map(|q| u16::from_be_bytes([q[0], q[1]]))
                    .collect();
                (entries, rest)
            }
            _ => return Err(Malformed),
        };
        if entries.contains(&0) {
            return Err(Malformed);
        }
        let zigzag = entries.try_into().map_err(|_| Malformed)?;
        tables.push(QuantTable { id, zigzag });
        payload = rest;
    }
    Ok(tables)
}

/// The restart interval of a DRI segment's payload (B.2.4.4): MCUs between restart markers,
/// 0 for none.
///
/// # Errors
/// [`Malformed`] unless the payload is exactly two bytes.
pub(in crate::imaging::jpeg) fn restart_interval(payload: &[u8]) -> Result<u16, Malformed> {
    <[u8; 2]>::try_from(payload)
        .map(u16::from_be_bytes)
        .map_err(|_| Malformed)
}

/// What an Adobe APP14 segment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging::jpeg) struct Adobe {
    /// The colour transform: 0 none (so three components are RGB), 1 YCbCr, 2 YCCK; `None` if
    /// the segment is too short to say.
    pub transform: Option<u8>,
}

/// The Adobe segment in an APP14 payload, if it is Adobe's.
pub(in crate::imaging::jpeg) fn adobe(payload: &[u8]) -> Option<Adobe> {
    payload.starts_with(b"Adobe").then(|| Adobe {
        transform: payload.get(11).copied(),
    })
}

#[cfg(test)]
pub(in crate::imaging::jpeg) mod tests {
    use super::*;

    /// A frame of process `sof`, 8-bit samples, with components 1, 2, ... sampled as given.
    pub(in crate::imaging::jpeg) fn frame(
        sof: u8,
        width: u16,
        height: u16,
        sampling: &[(usize, usize)],
    ) -> Frame {
        let components = sampling
            .iter()
            .enumerate()
            .map(|(i, &(h, v))| Component {
                id: i as u8 + 1,
                h,
                v,
                quant: 0,
            })
            .collect();
        Frame::new(sof, 8, width, height, components)
    }

    #[test]
    fn blocks_are_counted_as_the_decoders_store_and_scan_them() {
        // 4:2:0, 100 x 50: MCUs of 16 x 16, 7 x 4 of them.
        let f = frame(2, 100, 50, &[(2, 2), (1, 1), (1, 1)]);
        assert_eq!((f.mcus_x, f.mcus_y), (7, 4));
        assert_eq!(f.stored_blocks(&f.components[0]), 14 * 8);
        assert_eq!(f.stored_blocks(&f.components[1]), 7 * 4);
        // Alone in a scan, luma codes only the blocks covering 100 x 50: 13 x 7.
        assert_eq!(f.scan_units(f.components[..1].iter()), 13 * 7);
        assert_eq!(f.scan_units(f.components.iter()), 14 * 8 + 2 * 7 * 4);
    }
}
