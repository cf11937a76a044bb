//! The tables a DC decode has been given so far (DHT, DQT): the latest of each id.

use super::bits::Paths;
use super::corner::corner_quantizers;
use super::error::DcError;
use super::huffman::Huffman;
use crate::imaging::jpeg::header::{self, TableClass};

/// The tables defined so far, by id, for a decoder on `paths`.
pub(super) struct Tables {
    /// Each quantization table's quantizers of a block's corner (the DC's first; see
    /// [`Corner`](super::corner::Corner)).
    pub quant: [Option<[u16; 16]>; 4],
    pub dc: [Option<Huffman>; 4],
    pub ac: [Option<Huffman>; 4],
    /// The paths the Huffman tables, and the steps built from them, are for.
    pub paths: Paths,
}

impl Tables {
    /// No tables yet.
    pub(super) fn new(paths: Paths) -> Self {
        Self {
            quant: [None; 4],
            dc: Default::default(),
            ac: Default::default(),
            paths,
        }
    }

    /// Defines the Huffman tables of a DHT segment's payload.
    ///
    /// # Errors
    /// [`DcError::Invalid`] for a malformed segment, or counts that are not a prefix code.
    pub(super) fn define_huffman(&mut self, payload: &[u8]) -> Result<(), DcError> {
        for spec in header::huffman_tables(payload).map_err(|_| DcError::Invalid)? {
            let table = Huffman::new(spec.counts, spec.values, self.paths)?;
            match spec.class {
                TableClass::Dc => self.dc[spec.id] = Some(table),
                TableClass::Ac => self.ac[spec.id] = Some(table),
            }
        }
        Ok(())
    }

    /// Defines the quantization tables of a DQT segment's payload.
    ///
    /// # Errors
    /// [`DcError::Invalid`] for a malformed segment.
    pub(super) fn define_quantizers(&mut self, payload: &[u8]) -> Result<(), DcError> {
        for table in header::quant_tables(payload).map_err(|_| DcError::Invalid)? {
            self.quant[table.id] = Some(corner_quantizers(&table.zigzag));
        }
        Ok(())
    }
}
