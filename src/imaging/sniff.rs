use image::ImageFormat;

use crate::domain::ImageType;

/// The image type the file's magic bytes announce, if it is one this service accepts.
///
/// Only the signature is read (JPEG `FF D8 FF`, PNG's 8-byte signature, `GIF87a`/`GIF89a`,
/// `RIFF....WEBP`, and for HEIF an ISO BMFF `ftyp` box naming a HEIF brand); SVG, HTML and
/// everything else is `None`. A polyglot that starts with a valid signature passes this check and
/// is then judged by decoding it.
///
/// For HEIF the brands only say which family a file claims to be: [`ImageType::Avif`] for an AV1
/// brand, [`ImageType::Heic`] for an HEVC one, [`ImageType::Heif`] for the generic ones. The type
/// a HEIF file is judged by is the coding of its primary image, read by the decoder.
pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
    if let Some(heif) = heif_brand(bytes) {
        return Some(heif);
    }
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

/// The longest `ftyp` box read: a brand list of this length is already absurd.
const MAX_FTYP: usize = 1024;

/// The HEIF family a file's `ftyp` box (its first box) names, by major and compatible brands.
fn heif_brand(bytes: &[u8]) -> Option<ImageType> {
    let size = usize::try_from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    if bytes.get(4..8)? != b"ftyp" || !(16..=MAX_FTYP).contains(&size) || size % 4 != 0 {
        return None;
    }
    let ftyp = bytes.get(..size)?;
    // The major brand, then the compatible brands after the minor version.
    let brands: Vec<&[u8]> = std::iter::once(&ftyp[8..12])
        .chain(ftyp[16..].chunks_exact(4))
        .collect();
    let has = |list: &[&[u8; 4]]| brands.iter().any(|b| list.iter().any(|l| &l[..] == *b));
    if has(&[b"avif", b"avis", b"avio"]) {
        Some(ImageType::Avif)
    } else if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    ]) {
        Some(ImageType::Heic)
    } else if has(&[b"mif1", b"mif2", b"msf1", b"miaf"]) {
        Some(ImageType::Heif)
    } else {
        None
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

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut b = ((16 + 4 * compatible.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0; 4]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b
    }

    #[test]
    fn heif_files_are_known_by_their_brands() {
        let cases = [
            (ftyp(b"heic", &[b"mif1", b"heic"]), Some(ImageType::Heic)),
            (ftyp(b"mif1", &[b"heix"]), Some(ImageType::Heic)),
            (ftyp(b"avif", &[b"mif1", b"miaf"]), Some(ImageType::Avif)),
            (ftyp(b"avis", &[b"msf1"]), Some(ImageType::Avif)),
            (ftyp(b"mif1", &[b"miaf"]), Some(ImageType::Heif)),
            (ftyp(b"msf1", &[]), Some(ImageType::Heif)),
            // MP4 video and QuickTime are ISO BMFF too, but not images.
            (ftyp(b"isom", &[b"iso2", b"mp41"]), None),
            (ftyp(b"qt  ", &[]), None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                sniff(&bytes),
                expected,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let whole = ftyp(b"heic", &[b"mif1"]);
        assert_eq!(sniff(&whole[..whole.len() - 1]), None, "a cut ftyp");
        let mut huge = whole.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(sniff(&huge), None, "an ftyp larger than the file");
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
