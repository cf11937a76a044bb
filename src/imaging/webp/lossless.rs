//! Lossless (VP8L) bitstreams and alpha (ALPH) planes: decoded by `image-webp` into one RGBA
//! buffer (it decodes straight into the caller's buffer when the image says it has alpha, so
//! the bitstream is given that flag); compressed alpha is a headerless lossless bitstream, given
//! a VP8L header and decoded like one, then unfiltered in place.

use std::io::Cursor;

use image_webp::WebPDecoder;

use crate::domain::RejectionReason;

/// The dimensions and alpha hint in a VP8L header.
pub(super) fn vp8l_header(vp8l: &[u8]) -> Result<(u32, u32, bool), RejectionReason> {
    let header = vp8l.get(..5).ok_or(RejectionReason::Undecodable)?;
    if header[0] != 0x2F {
        return Err(RejectionReason::Undecodable);
    }
    let bits = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    Ok((
        (bits & 0x3FFF) + 1,
        ((bits >> 14) & 0x3FFF) + 1,
        (bits >> 28) & 1 == 1,
    ))
}

/// Decodes a VP8L bitstream of `width` x `height` into RGBA, through `image-webp` (whose
/// lossless decoder is not public) given the bitstream as a file of its own.
pub(super) fn decode_lossless(
    vp8l: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RejectionReason> {
    let mut file = Vec::with_capacity(vp8l.len() + 21);
    let chunk_len = u32::try_from(vp8l.len()).map_err(|_| RejectionReason::Undecodable)?;
    file.extend_from_slice(b"RIFF");
    file.extend_from_slice(&(chunk_len + 12 + (chunk_len & 1)).to_le_bytes());
    file.extend_from_slice(b"WEBPVP8L");
    file.extend_from_slice(&chunk_len.to_le_bytes());
    file.extend_from_slice(vp8l);
    if chunk_len & 1 == 1 {
        file.push(0);
    }
    // The alpha hint (bit 28 of the header after the signature byte) makes `image-webp` decode
    // straight into the RGBA buffer instead of into one of its own and copying to RGB.
    *file.get_mut(24).ok_or(RejectionReason::Undecodable)? |= 0x10;
    let mut decoder =
        WebPDecoder::new(Cursor::new(&file)).map_err(|_| RejectionReason::Undecodable)?;
    if decoder.dimensions() != (width, height) || !decoder.has_alpha() {
        return Err(RejectionReason::Undecodable);
    }
    let mut rgba = vec![0u8; width as usize * height as usize * 4];
    decoder
        .read_image(&mut rgba)
        .map_err(|_| RejectionReason::Undecodable)?;
    Ok(rgba)
}

/// Decodes an ALPH chunk of a `width` x `height` frame into one byte a pixel.
pub(super) fn decode_alpha(
    alph: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RejectionReason> {
    let (&info, data) = alph.split_first().ok_or(RejectionReason::Undecodable)?;
    let pixels = width as usize * height as usize;
    if (info >> 4) & 3 > 1 {
        return Err(RejectionReason::Undecodable);
    }
    let mut plane = match info & 3 {
        0 => data
            .get(..pixels)
            .ok_or(RejectionReason::Undecodable)?
            .to_vec(),
        1 => {
            // A lossless bitstream without its header: give it one (signature, sides less one,
            // alpha hint, version 0) and keep the green channel, compacted in place.
            let header = (width - 1) | (height - 1) << 14 | 1 << 28;
            let mut vp8l = Vec::with_capacity(data.len() + 5);
            vp8l.push(0x2F);
            vp8l.extend_from_slice(&header.to_le_bytes());
            vp8l.extend_from_slice(data);
            let mut rgba = decode_lossless(&vp8l, width, height)?;
            drop(vp8l);
            for i in 0..pixels {
                rgba[i] = rgba[4 * i + 1];
            }
            rgba.truncate(pixels);
            rgba.shrink_to_fit();
            rgba
        }
        _ => return Err(RejectionReason::Undecodable),
    };
    unfilter_alpha(&mut plane, width as usize, (info >> 2) & 3);
    Ok(plane)
}

/// Undoes the ALPH chunk's spatial prediction in place: each value was stored as its difference
/// from the left, upper or gradient prediction of values already reconstructed.
fn unfilter_alpha(plane: &mut [u8], width: usize, method: u8) {
    if method == 0 {
        return;
    }
    for i in 0..plane.len() {
        let (x, y) = (i % width, i / width);
        let left = |p: &[u8]| p[i - 1];
        let up = |p: &[u8]| p[i - width];
        let predictor = match (method, x, y) {
            (_, 0, 0) => 0,
            (_, 0, _) => up(plane),
            (_, _, 0) | (1, _, _) => left(plane),
            (2, _, _) => up(plane),
            _ => {
                let gradient =
                    i16::from(left(plane)) + i16::from(up(plane)) - i16::from(plane[i - width - 1]);
                gradient.clamp(0, 255) as u8
            }
        };
        plane[i] = plane[i].wrapping_add(predictor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_filters_predict_from_reconstructed_neighbours() {
        // 3 x 2, every stored difference 1: what each method reconstructs.
        let cases = [
            (1, [1, 2, 3, 2, 3, 4]),
            (2, [1, 2, 3, 2, 3, 4]),
            (3, [1, 2, 3, 2, 4, 6]),
        ];
        for (method, expected) in cases {
            let mut plane = [1u8; 6];
            unfilter_alpha(&mut plane, 3, method);
            assert_eq!(plane, expected, "method {method}");
        }
        let mut plane = [10, 5, 5, 20, 1, 1];
        unfilter_alpha(&mut plane, 3, 3);
        // Row 1: x 0 from above (10 + 20); x 1 from 30 + 15 - 10 = 35; x 2 from 36 + 20 - 15.
        assert_eq!(plane, [10, 15, 20, 30, 36, 42]);
    }
}
