//! Why the DC decode did not produce an image.

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
