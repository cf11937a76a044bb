//! A DC plane: the quantized DC coefficient of every block of one component, and the bound on
//! those values.

use super::error::DcError;

/// A DC plane's element: a quantized DC coefficient, within [`DC_LIMIT`] so exact in `i16`.
pub(super) type Dc = i16;

/// Bytes a DC plane needs for each block.
pub(super) const PLANE_BYTES_PER_BLOCK: u64 = 2;

/// The largest magnitude of a quantized DC coefficient, and so of the DC predictor, accepted.
/// With 8-bit samples the forward DCT's DC term is the sum of 64 level-shifted samples
/// (-128..=127) divided by 8, so within -1024..=1016, and quantizers are at least 1: 2^11 leaves
/// a factor of two for encoders' rounding. A predictor beyond it only comes from a crafted
/// stream (differences of category 11 added up without end). The bound also keeps the
/// dequantized value exact: 2^11 x 65535 (the largest 16-bit quantizer) < 2^27.
pub(super) const DC_LIMIT: i32 = 1 << 11;

/// The next DC predictor: `predictor` (within [`DC_LIMIT`]) plus a decoded `difference` (of at
/// most 2^11 - 1 either way: no overflow).
///
/// # Errors
/// [`DcError::Invalid`] if the sum is beyond [`DC_LIMIT`].
#[inline]
pub(super) fn next_predictor(predictor: i32, difference: i32) -> Result<i32, DcError> {
    let next = predictor + difference;
    if next.abs() > DC_LIMIT {
        return Err(DcError::Invalid);
    }
    Ok(next)
}

/// `dc` as a plane's element.
///
/// # Errors
/// [`DcError::Invalid`] if it is beyond [`DC_LIMIT`].
#[inline]
pub(super) fn plane_value(dc: i32) -> Result<Dc, DcError> {
    if dc.abs() > DC_LIMIT {
        return Err(DcError::Invalid);
    }
    // Within DC_LIMIT: exact in i16.
    Ok(dc as Dc)
}
