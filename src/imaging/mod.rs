//! Verifying uploaded bytes and making thumbnails: pure functions of bytes and limits, no I/O.
//!
//! - [`sniff`]: what the first bytes say the file is.
//! - [`inspect`]: sniff, check the dimensions before decoding, decode, and make the thumbnail,
//!   within [`crate::domain::ProcessingPolicy::memory_budget`] whatever the file.
//! - one decoder per format (`jpeg_decode`, `png_decode`, `gif_decode`, `webp_decode`), each
//!   checking every header it honours and reducing the image as it decodes (`shrink`).
//! - [`jpeg_dc`]: large JPEGs decoded at 1/8 scale from their DC coefficients alone.

#[cfg(test)]
mod fuzz_regressions;
mod gif_decode;
pub mod jpeg_dc;
mod jpeg_decode;
mod png_decode;
mod shrink;
mod sniff;
mod thumbnail;
mod vp8l_bound;
mod webp_decode;

pub use sniff::sniff;
pub use thumbnail::{Inspected, Thumbnail, inspect, thumbnail_dimensions};

#[cfg(test)]
mod memory_budget_tests;
#[cfg(test)]
mod test_images;
