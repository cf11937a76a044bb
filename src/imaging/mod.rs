//! Verifying uploaded bytes and making thumbnails: pure functions of bytes and limits, no I/O.
//!
//! - [`sniff`]: what the first bytes say the file is.
//! - [`inspect`]: sniff, check the dimensions before decoding, decode, and make the thumbnail.
//! - [`jpeg_dc`]: large JPEGs decoded at 1/8 scale from their DC coefficients alone.

#[cfg(test)]
mod fuzz_regressions;
pub mod jpeg_dc;
mod sniff;
mod thumbnail;

pub use sniff::sniff;
pub use thumbnail::{Inspected, Thumbnail, inspect, thumbnail_dimensions};
