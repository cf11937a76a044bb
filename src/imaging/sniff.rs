use image::ImageFormat;

use crate::domain::ImageType;

/// The image type the file's magic bytes announce, if it is one this service accepts.
///
/// Only the signature is read (JPEG `FF D8 FF`, PNG's 8-byte signature, `GIF87a`/`GIF89a`,
/// `RIFF....WEBP`); SVG, HTML and everything else is `None`. A polyglot that starts with a valid
/// signature passes this check and is then judged by decoding it.
pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
    // `image::guess_format` is the magic-number table of the decoders we use, so what passes
    // here is what they will try to decode.
    match image::guess_format(bytes).ok()? {
        ImageFormat::Jpeg => Some(ImageType::Jpeg),
        ImageFormat::Png => Some(ImageType::Png),
        ImageFormat::Gif => Some(ImageType::Gif),
        ImageFormat::WebP => Some(ImageType::Webp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    #[test]
    fn each_accepted_type_is_known_by_its_signature() {
        let cases: [(&[u8], Option<ImageType>); 8] = [
            (b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", Some(ImageType::Jpeg)),
            (b"\xFF\xD8\xFF\xE1\x00\x10Exif\x00", Some(ImageType::Jpeg)),
            (
                b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
                Some(ImageType::Png),
            ),
            (b"GIF89a\x01\x00\x01\x00", Some(ImageType::Gif)),
            (b"GIF87a\x01\x00\x01\x00", Some(ImageType::Gif)),
            (b"RIFF\x24\x00\x00\x00WEBPVP8 ", Some(ImageType::Webp)),
            (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
            (b"BM\x36\x00\x00\x00\x00\x00", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(bytes), expected, "{bytes:?}");
        }
    }

    #[test]
    fn documents_and_text_are_not_images() {
        let cases: [&[u8]; 6] = [
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            b"<?xml version=\"1.0\"?><svg/>",
            b"<!DOCTYPE html><html><body>cat.png</body></html>",
            b"just some text that claims to be a PNG",
            b"%PDF-1.7\n",
            b"",
        ];
        for bytes in cases {
            assert_eq!(sniff(bytes), None, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn truncated_signatures_are_not_images() {
        for len in 0..PNG_SIGNATURE.len() {
            assert_eq!(sniff(&PNG_SIGNATURE[..len]), None, "{len} bytes of PNG");
        }
        assert_eq!(sniff(b"\xFF\xD8"), None);
        assert_eq!(sniff(b"GIF8"), None);
        assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WEB"), None);
    }

    #[test]
    fn a_signature_anywhere_but_the_start_does_not_count() {
        let mut html_first = b"<html>".to_vec();
        html_first.extend_from_slice(PNG_SIGNATURE);
        assert_eq!(sniff(&html_first), None);
    }
}
