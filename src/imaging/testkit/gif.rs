//! GIF files from the `gif` encoder.

use std::borrow::Cow;

/// A 256-colour palette: a ramp, so indices map to distinct colours.
pub fn palette() -> Vec<u8> {
    (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect()
}

/// A GIF with a `screen_w` x `screen_h` logical screen and one frame per rectangle, each filled
/// with runs of colours (which LZW compresses well).
pub fn gif(screen_w: u16, screen_h: u16, frames: &[(u16, u16, u16, u16)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, screen_w, screen_h, &palette()).unwrap();
    for &(left, top, width, height) in frames {
        let indices: Vec<u8> = (0..u32::from(height))
            .flat_map(|y| (0..u32::from(width)).map(move |x| ((x / 16 + y / 16) % 256) as u8))
            .collect();
        let frame = gif::Frame {
            left,
            top,
            width,
            height,
            buffer: Cow::Owned(indices),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// A GIF whose `count` frames are all the same `width` x `height` frame, LZW-encoded once.
pub fn gif_repeating(screen: (u16, u16), frame: (u16, u16), count: usize) -> Vec<u8> {
    let (width, height) = frame;
    let mut frame = gif::Frame::from_indexed_pixels(
        width,
        height,
        vec![7; usize::from(width) * usize::from(height)],
        None,
    );
    frame.make_lzw_pre_encoded();
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, screen.0, screen.1, &palette()).unwrap();
    for _ in 0..count {
        encoder.write_lzw_pre_encoded_frame(&frame).unwrap();
    }
    drop(encoder);
    out
}

/// The offset of a GIF's first image descriptor (after the header, screen and global palette).
pub fn first_image_descriptor(file: &[u8]) -> usize {
    file.iter()
        .enumerate()
        .skip(13 + 768)
        .find(|&(_, &b)| b == 0x2C)
        .map(|(i, _)| i)
        .unwrap()
}
