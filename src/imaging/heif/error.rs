//! Why a HEIF file is refused, one variant per rule, and the verdict each is reported as.

use crate::domain::RejectionReason;

/// Why a HEIF file is refused: the exact rule it broke. Each maps to the [`RejectionReason`] the
/// owner sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(in crate::imaging) enum HeifError {
    #[error("a box reaches past the end of its parent")]
    BoxOutsideParent,
    #[error("a box ends inside one of its fields")]
    Truncated,
    #[error("malformed: {0}")]
    Malformed(&'static str),
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    #[error("no still image (no meta box or primary item): an image sequence without one")]
    NoStillImage,
    #[error("a reference to an item that does not exist")]
    MissingItem,
    #[error("an item without data")]
    MissingData,
    #[error("an image without its {0} property")]
    MissingProperty(&'static str),
    #[error("bad reference: {0}")]
    BadReference(&'static str),
    #[error("too many {0}")]
    TooMany(&'static str),
    #[error("a grid of more tiles than allowed")]
    TooManyTiles,
    #[error("item data outside every mdat (or the idat)")]
    ExtentOutsideData,
    #[error("grid: {0}")]
    GridMismatch(&'static str),
    #[error("an alpha plane of another size than its image")]
    AlphaSizeMismatch,
    #[error("a coded image of another size than its ispe")]
    CodedSizeMismatch,
    #[error("a clean aperture that is empty, off the pixel grid or outside the image")]
    BadCrop,
    #[error("the coded data does not decode")]
    Codec,
    #[error("dimensions or memory over the limits")]
    OverLimits,
    #[error("the primary image's coding is not the declared type's")]
    TypeMismatch,
}

impl From<HeifError> for RejectionReason {
    fn from(error: HeifError) -> Self {
        match error {
            HeifError::TooManyTiles | HeifError::OverLimits => Self::TooManyPixels,
            HeifError::TypeMismatch => Self::TypeMismatch,
            _ => Self::Undecodable,
        }
    }
}

impl From<RejectionReason> for HeifError {
    fn from(reason: RejectionReason) -> Self {
        match reason {
            RejectionReason::TooManyPixels => Self::OverLimits,
            RejectionReason::TypeMismatch => Self::TypeMismatch,
            _ => Self::Codec,
        }
    }
}
