//! Magic-byte sniffing: `imaging::sniff` against the signatures written out here by hand.
//!
//! `sniff` delegates to `image::guess_format`, whose table knows many more formats (and may grow);
//! this oracle is the documented contract: JPEG `FF D8 FF`, the 8-byte PNG signature,
//! `GIF87a`/`GIF89a`, `RIFF....WEBP`, and nothing else.

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
