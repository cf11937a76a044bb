//! Magic-byte sniffing: `imaging::sniff` against the signatures written out here by hand.
//!
//! `sniff` delegates to `image::guess_format`, whose table knows many more formats (and may grow);
//! this oracle is the documented contract: JPEG `FF D8 FF`, the 8-byte PNG signature,
//! `GIF87a`/`GIF89a`, `RIFF....WEBP`, an ISO BMFF `ftyp` box (first, whole, 16 to 1024 bytes, a
//! multiple of 4) naming a HEIF brand, and nothing else.

#![no_main]

use image_upload::domain::ImageType;
use image_upload::imaging::sniff;
use libfuzzer_sys::fuzz_target;

fn by_signature(bytes: &[u8]) -> Option<ImageType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageType::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageType::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageType::Webp)
    } else {
        heif_brands(bytes)
    }
}

/// The HEIF family of an `ftyp` box's brands: AV1 brands first, then HEVC, then the generic ones.
fn heif_brands(bytes: &[u8]) -> Option<ImageType> {
    let size = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    if bytes.get(4..8)? != b"ftyp"
        || !(16..=1024).contains(&size)
        || !size.is_multiple_of(4)
        || bytes.len() < size
    {
        return None;
    }
    let mut brands = vec![&bytes[8..12]];
    let mut at = 16;
    while at + 4 <= size {
        brands.push(&bytes[at..at + 4]);
        at += 4;
    }
    let any = |names: &[&str]| {
        brands
            .iter()
            .any(|b| names.iter().any(|n| n.as_bytes() == *b))
    };
    if any(&["avif", "avis", "avio"]) {
        Some(ImageType::Avif)
    } else if any(&[
        "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs",
    ]) {
        Some(ImageType::Heic)
    } else if any(&["mif1", "mif2", "msf1", "miaf"]) {
        Some(ImageType::Heif)
    } else {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    assert_eq!(
        sniffed,
        by_signature(data),
        "sniff disagrees with the signatures"
    );
    // Only the first bytes count: whatever follows a signature cannot change the verdict.
    if let Some(image_type) = sniffed {
        let mut longer = data.to_vec();
        longer.extend_from_slice(b"<svg onload=alert(1)>");
        assert_eq!(sniff(&longer), Some(image_type));
    }
});
