//! The RIFF container of a WebP: the file's chunks, each checked to lie within the file.

use crate::domain::RejectionReason;

/// The chunks of a RIFF body, each checked to lie within it.
pub(in crate::imaging) struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<([u8; 4], &'a [u8]), RejectionReason>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let chunk = (|| {
            let header = self.rest.get(..8)?;
            let fourcc: [u8; 4] = header[..4].try_into().ok()?;
            let size = usize::try_from(u32::from_le_bytes(header[4..8].try_into().ok()?)).ok()?;
            let payload = self.rest.get(8..8 + size)?;
            // Chunks are padded to an even size; a missing pad byte at the very end is tolerated.
            self.rest = self.rest.get(8 + size + (size & 1)..).unwrap_or(&[]);
            Some((fourcc, payload))
        })();
        if chunk.is_none() {
            self.rest = &[];
        }
        Some(chunk.ok_or(RejectionReason::Undecodable))
    }
}

/// The chunks of the file, after checking the RIFF header and that the file holds the size the
/// header declares (a truncated file is refused here, before any decoder sees it).
pub(in crate::imaging) fn riff_chunks(bytes: &[u8]) -> Result<Chunks<'_>, RejectionReason> {
    let declared = bytes
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or(RejectionReason::Undecodable)?;
    if !bytes.starts_with(b"RIFF") || bytes.get(8..12) != Some(b"WEBP") || declared < 4 {
        return Err(RejectionReason::Undecodable);
    }
    let body = bytes
        .get(12..8 + declared)
        .ok_or(RejectionReason::Undecodable)?;
    Ok(Chunks { rest: body })
}

impl<'a> Chunks<'a> {
    /// The chunks of `body`, a chunk's payload that holds chunks of its own (ANMF).
    pub(super) fn within(body: &'a [u8]) -> Self {
        Self { rest: body }
    }
}

/// A 24-bit little-endian field.
pub(super) fn u24(bytes: &[u8]) -> u32 {
    u32::from(bytes[0]) | u32::from(bytes[1]) << 8 | u32::from(bytes[2]) << 16
}
