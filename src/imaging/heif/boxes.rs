//! ISO BMFF boxes (ISO/IEC 14496-12 §4.2): the header of each, checked to lie within its parent,
//! and a bounded reader for their fields.
//!
//! Nothing here recurses: a box's children are read with [`Boxes::within`] by the code that knows
//! which box holds which, down a fixed path (`meta` > `iprp` > `ipco` > a property), so a file of
//! boxes nested thousands deep costs one level of iteration per box that is actually read.

use super::error::HeifError;

/// A four-character code.
pub(in crate::imaging) type FourCc = [u8; 4];

/// One box: its type and its body (the bytes after the header, to the box's end).
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct Bx<'a> {
    pub kind: FourCc,
    pub body: &'a [u8],
    /// Where `body` starts in the buffer the iteration began with (the file, for top-level boxes).
    pub offset: usize,
}

/// The boxes one after another in a buffer: a file, or a box's body.
pub(in crate::imaging) struct Boxes<'a> {
    data: &'a [u8],
    at: usize,
    /// Added to offsets, so that children report where they are in the file.
    base: usize,
}

impl<'a> Boxes<'a> {
    /// The top-level boxes of a file.
    pub(in crate::imaging) fn of_file(bytes: &'a [u8]) -> Self {
        Self {
            data: bytes,
            at: 0,
            base: 0,
        }
    }

    /// The boxes in `parent`'s body, starting `skip` bytes in (after a full box's version and
    /// flags, or an entry count).
    pub(in crate::imaging) fn within(parent: &Bx<'a>, skip: usize) -> Self {
        Self {
            data: parent.body,
            at: skip.min(parent.body.len()),
            base: parent.offset,
        }
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<Bx<'a>, HeifError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.data.len() {
            return None;
        }
        let result = read_box(self.data, self.at);
        match result {
            Ok((bx, end)) => {
                self.at = end;
                Some(Ok(Bx {
                    offset: self.base + bx.offset,
                    ..bx
                }))
            }
            Err(e) => {
                self.at = self.data.len();
                Some(Err(e))
            }
        }
    }
}

/// The box starting at `at` in `data`, and where it ends.
fn read_box(data: &[u8], at: usize) -> Result<(Bx<'_>, usize), HeifError> {
    let mut header = Reader::new(&data[at..]);
    let size32 = header.u32()?;
    let kind = header.fourcc()?;
    let size = match size32 {
        // Size 0: the box runs to the end of its parent (the file, for a top-level box).
        0 => (data.len() - at) as u64,
        // Size 1: a 64-bit size follows the type.
        1 => header.u64()?,
        size => u64::from(size),
    };
    if &kind == b"uuid" {
        header.skip(16)?;
    }
    let header_len = header.position();
    let size = usize::try_from(size).map_err(|_| HeifError::BoxOutsideParent)?;
    if size < header_len || size > data.len() - at {
        return Err(HeifError::BoxOutsideParent);
    }
    let body = &data[at + header_len..at + size];
    Ok((
        Bx {
            kind,
            body,
            offset: at + header_len,
        },
        at + size,
    ))
}

/// Big-endian fields read one after another, every read checked against the end.
#[derive(Debug, Clone)]
pub(in crate::imaging) struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(in crate::imaging) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    pub(in crate::imaging) fn position(&self) -> usize {
        self.at
    }

    pub(in crate::imaging) fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    pub(in crate::imaging) fn bytes(&mut self, n: usize) -> Result<&'a [u8], HeifError> {
        let end = self.at.checked_add(n).ok_or(HeifError::Truncated)?;
        let out = self.data.get(self.at..end).ok_or(HeifError::Truncated)?;
        self.at = end;
        Ok(out)
    }

    pub(in crate::imaging) fn skip(&mut self, n: usize) -> Result<(), HeifError> {
        self.bytes(n).map(|_| ())
    }

    pub(in crate::imaging) fn u8(&mut self) -> Result<u8, HeifError> {
        Ok(self.bytes(1)?[0])
    }

    pub(in crate::imaging) fn u16(&mut self) -> Result<u16, HeifError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(in crate::imaging) fn u32(&mut self) -> Result<u32, HeifError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(in crate::imaging) fn u64(&mut self) -> Result<u64, HeifError> {
        let b = self.bytes(8)?;
        let mut v = [0u8; 8];
        v.copy_from_slice(b);
        Ok(u64::from_be_bytes(v))
    }

    /// An unsigned field of `size` bytes (0, 4 or 8, as `iloc` declares them; 0 reads as 0).
    pub(in crate::imaging) fn sized(&mut self, size: u8) -> Result<u64, HeifError> {
        match size {
            0 => Ok(0),
            4 => self.u32().map(u64::from),
            8 => self.u64(),
            _ => Err(HeifError::Malformed("iloc field size")),
        }
    }

    /// An item ID: 32 bits in the boxes' wide versions, 16 otherwise.
    pub(in crate::imaging) fn item_id(&mut self, wide: bool) -> Result<u32, HeifError> {
        if wide {
            self.u32()
        } else {
            self.u16().map(u32::from)
        }
    }

    pub(in crate::imaging) fn fourcc(&mut self) -> Result<FourCc, HeifError> {
        let b = self.bytes(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// A full box's version and flags.
    pub(in crate::imaging) fn version_and_flags(&mut self) -> Result<(u8, u32), HeifError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }

    /// A NUL-terminated string (its bytes without the NUL); a string missing its NUL at the end
    /// of the box is taken to the end, as readers of `infe` names do.
    pub(in crate::imaging) fn c_string(&mut self) -> &'a [u8] {
        let rest = &self.data[self.at..];
        match rest.iter().position(|&b| b == 0) {
            Some(nul) => {
                self.at += nul + 1;
                &rest[..nul]
            }
            None => {
                self.at = self.data.len();
                rest
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn boxes_follow_one_another_and_know_their_offsets() {
        let mut file = boxed(b"ftyp", b"heic\0\0\0\0");
        file.extend(boxed(b"mdat", b"abc"));
        let boxes: Vec<_> = Boxes::of_file(&file).collect::<Result<_, _>>().unwrap();
        assert_eq!(boxes.len(), 2);
        assert_eq!(&boxes[1].kind, b"mdat");
        assert_eq!(boxes[1].body, b"abc");
        assert_eq!(boxes[1].offset, 16 + 8);
    }

    #[test]
    fn size_zero_runs_to_the_end_and_size_one_reads_64_bits() {
        let mut file = 0u32.to_be_bytes().to_vec();
        file.extend_from_slice(b"mdat0123");
        let only = Boxes::of_file(&file).next().unwrap().unwrap();
        assert_eq!(only.body, b"0123");

        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16u64 + 2).to_be_bytes());
        large.extend_from_slice(b"xy");
        let only = Boxes::of_file(&large).next().unwrap().unwrap();
        assert_eq!(only.body, b"xy");
    }

    #[test]
    fn a_box_larger_than_its_parent_is_refused() {
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        let cases = [
            huge,
            boxed(b"mdat", b"abc")[..10].to_vec(),
            // A declared size smaller than the header itself.
            [&4u32.to_be_bytes()[..], b"free"].concat(),
            // A header cut short.
            b"\0\0\0".to_vec(),
        ];
        for file in cases {
            let first = Boxes::of_file(&file).next().unwrap();
            assert!(first.is_err(), "{file:?}");
            let mut again = Boxes::of_file(&file);
            again.next();
            assert!(again.next().is_none(), "iteration stops at the first error");
        }
    }
}
