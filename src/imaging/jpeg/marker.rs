//! JPEG markers (ITU T.81 B.1.1.3, table B.1) and the one walk over a file's marker segments.
//!
//! [`Segments`] yields each marker with its segment's payload, checked to lie within the file.
//! What lies between segments follows one policy, the one libjpeg and `jpeg-decoder` follow:
//! bytes that are not a marker (stray bytes some cameras write, an `FF 00` outside entropy-coded
//! data) are skipped, and so are fill bytes (`FF` repeated before a marker, B.1.1.2). Each byte
//! is looked at once, so a walk costs time in proportion to the file's bytes. What a marker means
//! in its place (a second frame header, a restart marker among the headers) is for the caller to
//! judge: the survey and the DC decoder each have their rules, stated where they apply them.

/// A marker: the byte after `FF`, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Marker {
    /// `SOFn` (`FF C0` to `FF CF` but DHT, JPG and DAC): a frame header of coding process `n`.
    Sof(u8),
    /// `DHT`: Huffman tables.
    Dht,
    /// `JPG`: reserved for JPEG extensions.
    Jpg,
    /// `DAC`: arithmetic coding conditioning.
    Dac,
    /// `RSTn`: a restart marker, standalone, inside entropy-coded data.
    Rst(u8),
    /// `SOI`: the start of the image, the file's first two bytes.
    Soi,
    /// `EOI`: the end of the image.
    Eoi,
    /// `SOS`: a scan header; the scan's entropy-coded data follows the segment.
    Sos,
    /// `DQT`: quantization tables.
    Dqt,
    /// `DNL`: the number of lines, after a frame's first scan.
    Dnl,
    /// `DRI`: the restart interval.
    Dri,
    /// `DHP`: a hierarchical frame's dimensions.
    Dhp,
    /// `EXP`: a hierarchical frame's expansion of the reference components.
    Exp,
    /// `APPn`: application data (JFIF, EXIF, ICC, Adobe, ...).
    App(u8),
    /// `JPGn` (`FF F0` to `FF FD`): JPEG extensions (JPEG-LS among them).
    Extension(u8),
    /// `COM`: a comment.
    Com,
    /// `TEM`: standalone, for arithmetic coding's temporary private use.
    Tem,
    /// `FF 02` to `FF BF`: reserved.
    Reserved(u8),
}

impl Marker {
    /// The marker a byte after `FF` names; `None` for `00` (a stuffed zero) and `FF` (fill).
    pub(in crate::imaging) fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x00 | 0xFF => return None,
            0x01 => Self::Tem,
            0x02..=0xBF => Self::Reserved(byte),
            0xC4 => Self::Dht,
            0xC8 => Self::Jpg,
            0xCC => Self::Dac,
            0xC0..=0xCF => Self::Sof(byte - 0xC0),
            0xD0..=0xD7 => Self::Rst(byte - 0xD0),
            0xD8 => Self::Soi,
            0xD9 => Self::Eoi,
            0xDA => Self::Sos,
            0xDB => Self::Dqt,
            0xDC => Self::Dnl,
            0xDD => Self::Dri,
            0xDE => Self::Dhp,
            0xDF => Self::Exp,
            0xE0..=0xEF => Self::App(byte - 0xE0),
            0xF0..=0xFD => Self::Extension(byte - 0xF0),
            0xFE => Self::Com,
        })
    }

    /// Whether a length and a payload follow the marker: all but SOI, EOI, RSTn and TEM.
    fn has_segment(self) -> bool {
        !matches!(self, Self::Soi | Self::Eoi | Self::Rst(_) | Self::Tem)
    }
}

/// A segment or header that is not well-formed: a length under 2 (a lie that would re-read the
/// length as payload) or past the end of the file, or a header whose fields break its structure
/// (`super::header`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Malformed;

/// One marker and its segment's payload (empty for a standalone marker).
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct Segment<'a> {
    pub marker: Marker,
    pub payload: &'a [u8],
}

/// The marker segments of a file, after its SOI, in order.
///
/// After a scan header ([`Marker::Sos`]) the caller either decodes the entropy-coded data that
/// follows and moves the walk past what it read ([`Segments::resume_at`]), or steps over it
/// ([`Segments::skip_entropy_coded_data`]). After a [`Malformed`] segment the walk ends.
#[derive(Debug, Clone)]
pub(in crate::imaging) struct Segments<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Segments<'a> {
    /// The walk over `data`, if it starts with SOI (`FF D8`).
    pub(in crate::imaging) fn after_soi(data: &'a [u8]) -> Option<Self> {
        data.starts_with(&[0xFF, 0xD8])
            .then_some(Self { data, pos: 2 })
    }

    /// Where the walk is: after the last segment read (for a scan header, where its
    /// entropy-coded data starts).
    pub(in crate::imaging) fn position(&self) -> usize {
        self.pos
    }

    /// Continues the walk at `pos`, where the caller stopped reading a scan's data.
    pub(in crate::imaging::jpeg) fn resume_at(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    /// Steps over the entropy-coded data at the walk's position (past stuffed zeros and restart
    /// markers, to the next other marker or the end of the file), returning its length.
    pub(in crate::imaging::jpeg) fn skip_entropy_coded_data(&mut self) -> usize {
        let end = entropy_coded_end(self.data, self.pos);
        let length = end - self.pos;
        self.pos = end;
        length
    }

    /// The next marker, past stray bytes, stuffed zeros and fill bytes; `None` at the end of the
    /// file.
    fn next_marker(&mut self) -> Option<Marker> {
        loop {
            let at = self.pos + find_ff(self.data.get(self.pos..)?)?;
            // The marker's byte: the first after `at` that is not fill.
            let after_fill = at
                + 1
                + self.data[at + 1..]
                    .iter()
                    .take_while(|&&b| b == 0xFF)
                    .count();
            let &byte = self.data.get(after_fill)?;
            self.pos = after_fill + 1;
            if let Some(marker) = Marker::from_byte(byte) {
                return Some(marker);
            }
        }
    }

    /// The payload of the segment at the walk's position: its length counts its own two bytes.
    fn payload(&mut self) -> Result<&'a [u8], Malformed> {
        let length = self
            .data
            .get(self.pos..self.pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .filter(|&length| length >= 2)
            .ok_or(Malformed)?;
        // pos <= data.len() and length < 2^16: no overflow.
        let payload = self
            .data
            .get(self.pos + 2..self.pos + length)
            .ok_or(Malformed)?;
        self.pos += length;
        Ok(payload)
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let marker = self.next_marker()?;
        if !marker.has_segment() {
            return Some(Ok(Segment {
                marker,
                payload: &[],
            }));
        }
        let segment = self.payload().map(|payload| Segment { marker, payload });
        if segment.is_err() {
            self.pos = self.data.len();
        }
        Some(segment)
    }
}

/// Where the entropy-coded data starting at `start` ends: at the first marker other than a
/// stuffed zero or a restart marker, or at the end of the file.
fn entropy_coded_end(data: &[u8], start: usize) -> usize {
    let mut pos = start;
    while let Some(offset) = data.get(pos..).and_then(find_ff) {
        let at = pos + offset;
        // A stuffed zero, or a restart marker: both belong to the data.
        let in_data = data
            .get(at + 1)
            .is_some_and(|&b| b == 0x00 || matches!(Marker::from_byte(b), Some(Marker::Rst(_))));
        if !in_data {
            return at;
        }
        pos = at + 2;
    }
    data.len()
}

/// The first 0xFF byte of `data`, looked for eight bytes at a time: entropy-coded data is most of
/// a JPEG's bytes, and 0xFF is rare in it.
fn find_ff(data: &[u8]) -> Option<usize> {
    let mut chunks = data.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = !u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8]));
        // A zero byte of `word` (a 0xFF of the data) sets its high bit here (and only bytes
        // above a zero byte may be set falsely, so the lowest set bit is exact).
        let zeros = word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == 0xFF)
        .map(|at| offset + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The markers of a walk, with the lengths of their payloads.
    fn walk(data: &[u8]) -> Vec<Result<(Marker, usize), Malformed>> {
        Segments::after_soi(data)
            .expect("SOI")
            .map(|segment| segment.map(|s| (s.marker, s.payload.len())))
            .collect()
    }

    #[test]
    fn every_byte_after_ff_names_one_marker_or_none() {
        let named: Vec<(u8, Marker)> = (0..=255u8)
            .filter_map(|b| Marker::from_byte(b).map(|m| (b, m)))
            .collect();
        assert_eq!(named.len(), 254, "all but 00 and FF");
        for (byte, marker) in [
            (0xC0, Marker::Sof(0)),
            (0xC2, Marker::Sof(2)),
            (0xCF, Marker::Sof(15)),
            (0xC4, Marker::Dht),
            (0xC8, Marker::Jpg),
            (0xCC, Marker::Dac),
            (0xD3, Marker::Rst(3)),
            (0xE1, Marker::App(1)),
            (0xEE, Marker::App(14)),
            (0xF7, Marker::Extension(7)),
            (0x02, Marker::Reserved(0x02)),
            (0x01, Marker::Tem),
        ] {
            assert_eq!(Marker::from_byte(byte), Some(marker), "{byte:#x}");
        }
    }

    #[test]
    fn stray_bytes_stuffed_zeros_and_fill_bytes_between_segments_are_skipped() {
        // SOI; a COM of 1 byte; junk; FF 00; fill bytes; a DRI; EOI.
        let data = [
            0xFF, 0xD8, 0xFF, 0xFE, 0, 3, b'x', 0x12, 0x34, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xDD, 0,
            4, 0, 8, 0xFF, 0xD9,
        ];
        assert_eq!(
            walk(&data),
            [
                Ok((Marker::Com, 1)),
                Ok((Marker::Dri, 2)),
                Ok((Marker::Eoi, 0))
            ]
        );
    }

    #[test]
    fn a_segment_that_cannot_be_read_ends_the_walk() {
        for (case, tail) in [
            ("length 0", &[0xFF, 0xFE, 0, 0, 0xFF, 0xD9][..]),
            ("length 1", &[0xFF, 0xFE, 0, 1, 0xFF, 0xD9]),
            ("past the end", &[0xFF, 0xFE, 0, 9, 1, 2]),
            ("no length", &[0xFF, 0xFE, 0]),
        ] {
            let data = [&[0xFF, 0xD8][..], tail].concat();
            assert_eq!(walk(&data), [Err(Malformed)], "{case}");
        }
        assert!(Segments::after_soi(b"\xFF\xD9").is_none(), "no SOI");
        assert_eq!(walk(b"\xFF\xD8\xFF\xFF\xFF"), [], "fill bytes to the end");
    }

    #[test]
    fn a_scan_is_stepped_over_to_the_next_marker_that_is_not_a_restart() {
        let data = [
            0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xD9,
        ];
        let mut segments = Segments::after_soi(&data).unwrap();
        assert_eq!(segments.next().unwrap().unwrap().marker, Marker::Sos);
        assert_eq!(segments.skip_entropy_coded_data(), 7);
        assert_eq!(segments.next().unwrap().unwrap().marker, Marker::Eoi);
        assert!(segments.next().is_none());
    }

    #[test]
    fn find_ff_finds_the_first_0xff_like_a_byte_by_byte_search() {
        // Every position of a first 0xFF in buffers of 0 to 24 bytes, with 0xFE and 0x00 around
        // it (the neighbours a word-at-a-time search could confuse) and a second 0xFF after it.
        for len in 0..24 {
            for fill in [0x00, 0xFE, 0x7F] {
                for first in 0..=len {
                    let mut data = vec![fill; len];
                    if let Some(byte) = data.get_mut(first) {
                        *byte = 0xFF;
                    }
                    if let Some(byte) = data.get_mut(first + 3) {
                        *byte = 0xFF;
                    }
                    let expected = data.iter().position(|&b| b == 0xFF);
                    assert_eq!(
                        find_ff(&data),
                        expected,
                        "{len} bytes of {fill:#x}, 0xFF at {first}"
                    );
                }
            }
        }
    }

    #[test]
    fn entropy_coded_data_runs_past_stuffing_and_restarts_to_the_next_marker() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF, 0xD9];
        assert_eq!(entropy_coded_end(&data, 0), 7);
        assert_eq!(entropy_coded_end(&data[..6], 0), 6);
    }
}
