//! Verifying uploaded bytes and making their renditions: pure functions of bytes and limits, no I/O.
//!
//! - [`inspect`] (the pipeline): sniff the type ([`sniff`]), decode with the format's decoder,
//!   resize, turn upright and encode each rendition (`output`), within
//!   [`crate::domain::ProcessingPolicy::memory_budget`] whatever the file.
//! - `contract`: what every decoder checks and hands over; it imports nothing else of
//!   `imaging`.
//! - `reduce`: the reducer decoders feed rows to as they decode, so that no full-size image
//!   is ever held.
//! - one decoder per format, each checking every header it honours: `png`, `gif`, `webp`
//!   (its RIFF container, lossy, lossless), and [`jpeg`] (one marker walker and header parser;
//!   large JPEGs decoded at 1/8 scale from their DC coefficients alone, [`jpeg::dc`]), and
//!   `heif` (HEIC and AVIF: the ISO BMFF container, grids decoded a tile at a time).
//!
//! Only the pipeline imports the decoders; a decoder imports only the contract, the reducer,
//! its own parts and `crate::domain`.

mod contract;
mod gif;
pub mod heif;
mod inspect;
pub mod jpeg;
mod output;
mod png;
mod reduce;
mod sniff;
mod webp;

pub use contract::thumbnail_dimensions;
pub use inspect::{Inspected, inspect};
pub use output::Rendition;
pub use sniff::sniff;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
