//! WebP: the RIFF container walked here, each frame's bitstream decoded on its own and reduced as
//! it is converted.
//!
//! `image-webp`'s own reader holds more than one whole-image buffer for several kinds of file:
//! lossy frames as YUV and again as RGB(A); a lossless image without alpha as RGBA and again as
//! RGB; a compressed alpha channel as RGBA and again as a plane, beside the colour; animations
//! as the decoded frame, the canvas and the output. So the container is parsed here and the
//! bitstreams are handed to it one at a time:
//!
//! - lossy (VP8): decoded by `image_webp::vp8` into its YUV planes (1.5 bytes a pixel), which
//!   are converted to RGB a row at a time (the same fancy upsampling and integer arithmetic as
//!   `image-webp`) and added to the [`Reducer`]; an image at least 8 times its thumbnail
//!   without alpha is converted once per 2 x 2 block instead (mean luma, its chroma sample);
//! - alpha (ALPH): decoded into one byte a pixel before the colour, and unfiltered in place;
//!   compressed alpha is a headerless lossless bitstream, given a VP8L header and decoded like one;
//! - lossless (VP8L): decoded by `image-webp` into one RGBA buffer (it decodes straight into the
//!   caller's buffer when the image says it has alpha, so the bitstream is given that flag and
//!   alpha is ignored afterwards if the file did not have it).
//!
//! Every size is checked before a decoder allocates for it: the canvas against the limits, each
//! frame against the canvas, and each bitstream's own header against its frame (a VP8 header is
//! what `image-webp` allocates for, so a small canvas cannot carry a huge VP8 frame). Each
//! frame's peak is estimated before it is decoded, lossless Huffman tables included (see
//! [`vp8l_bound`]: their number is the file's choice, not the image's), and a frame over
//! the budget is [`RejectionReason::TooManyPixels`]. The frames
//! of an animation are all decoded, within [`ProcessingPolicy::max_total_frame_pixels`]; the
//! first one, composed onto a transparent canvas, makes the thumbnail.

mod lossless;
mod lossy;
// Visible to the rest of `imaging` for the tests that edit WebP files' chunks.
pub(in crate::imaging) mod riff;
mod vp8l_bound;

use image::RgbImage;
use image::metadata::Orientation;

use self::lossless::{decode_alpha, decode_lossless, vp8l_header};
use self::lossy::{Planes, decode_vp8, vp8_size};
use self::riff::{Chunks, riff_chunks, u24};
use self::vp8l_bound::huffman_table_bytes;
use super::contract::{
    FramePixelBudget, Reduced, check_budget, check_dimensions, thumbnail_dimensions,
};
use super::reduce::{Layout, Reducer, over_white, to_rgb};
use crate::domain::{ProcessingPolicy, RejectionReason};

const VP8X_ALPHA: u8 = 0b0001_0000;
const VP8X_ANIMATION: u8 = 0b0000_0010;

/// One frame's bitstream.
#[derive(Clone, Copy)]
enum Bitstream<'a> {
    /// VP8 data, and the ALPH chunk beside it if the frame has one.
    Lossy {
        vp8: &'a [u8],
        alpha: Option<&'a [u8]>,
    },
    /// VP8L data, and whether its alpha is shown.
    Lossless { vp8l: &'a [u8], alpha: bool },
}

/// A frame: where it goes on the canvas and its bitstream.
#[derive(Clone, Copy)]
struct Frame<'a> {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    bitstream: Bitstream<'a>,
}

impl Frame<'_> {
    /// Checks the frame lies in the `canvas` and its bitstream's header agrees with its size.
    fn check(&self, canvas: (u32, u32)) -> Result<(), RejectionReason> {
        if self.width == 0
            || self.height == 0
            || self.x + self.width > canvas.0
            || self.y + self.height > canvas.1
        {
            return Err(RejectionReason::Undecodable);
        }
        let stored = match self.bitstream {
            Bitstream::Lossy { vp8, .. } => vp8_size(vp8)?,
            Bitstream::Lossless { vp8l, .. } => {
                let (w, h, _) = vp8l_header(vp8l)?;
                (w, h)
            }
        };
        if stored != (self.width, self.height) {
            return Err(RejectionReason::Undecodable);
        }
        Ok(())
    }

    /// An upper bound of what decoding this frame holds at its peak (see the module's notes):
    /// lossy, the YUV planes in whole macroblocks, the decoder's list of macroblocks (kept for
    /// loop filtering; counted twice for its growth) and the alpha plane; lossless, the RGBA
    /// buffer, the transform and entropy images (7/8 of a byte a pixel at their finest), the copy
    /// of the bitstream and its Huffman tables ([`huffman_table_bytes`]). Compressed alpha is
    /// decoded like a lossless image first, before the colour is.
    ///
    /// # Errors
    /// [`RejectionReason::Undecodable`] for a lossless bitstream whose codes do not parse.
    fn peak_bytes(&self) -> Result<u64, RejectionReason> {
        let pixels = u64::from(self.width) * u64::from(self.height);
        let lossless = |stream: &[u8], implicit| -> Result<u64, RejectionReason> {
            let tables = huffman_table_bytes(stream, implicit)?;
            Ok(pixels * 4 + pixels * 7 / 8 + stream.len() as u64 + 64 + tables)
        };
        Ok(match self.bitstream {
            Bitstream::Lossy { alpha, .. } => {
                let macroblocks = u64::from(self.width.div_ceil(16) * self.height.div_ceil(16));
                let colour = macroblocks * (384 + 2 * 64);
                let (alpha_plane, alpha_decoding) = match alpha {
                    None => (0, 0),
                    Some([info, stream @ ..]) if info & 3 == 1 => {
                        (pixels, lossless(stream, Some((self.width, self.height)))?)
                    }
                    Some(_) => (pixels, pixels),
                };
                (colour + alpha_plane).max(alpha_decoding)
            }
            Bitstream::Lossless { vp8l, .. } => lossless(vp8l, None)?,
        })
    }
}

/// The still image or the frames of the animation, after the container's checks.
struct Container<'a> {
    width: u32,
    height: u32,
    /// The still image, or the rest of the file's chunks, where the animation's frames are.
    content: Content<'a>,
    exif: Option<&'a [u8]>,
}

enum Content<'a> {
    Still(Frame<'a>),
    Animation(Chunks<'a>),
}

fn container<'a>(bytes: &'a [u8]) -> Result<Container<'a>, RejectionReason> {
    let mut chunks = riff_chunks(bytes)?;
    let (fourcc, first) = chunks.next().ok_or(RejectionReason::Undecodable)??;
    let whole = |width, height, bitstream| Frame {
        x: 0,
        y: 0,
        width,
        height,
        bitstream,
    };
    match &fourcc {
        b"VP8 " => {
            let (width, height) = vp8_size(first)?;
            let bitstream = Bitstream::Lossy {
                vp8: first,
                alpha: None,
            };
            Ok(Container {
                width,
                height,
                content: Content::Still(whole(width, height, bitstream)),
                exif: None,
            })
        }
        b"VP8L" => {
            let (width, height, alpha) = vp8l_header(first)?;
            let bitstream = Bitstream::Lossless { vp8l: first, alpha };
            Ok(Container {
                width,
                height,
                content: Content::Still(whole(width, height, bitstream)),
                exif: None,
            })
        }
        b"VP8X" => {
            let header = first.get(..10).ok_or(RejectionReason::Undecodable)?;
            let (flags, width, height) = (header[0], u24(&header[4..]) + 1, u24(&header[7..]) + 1);
            if flags & VP8X_ANIMATION != 0 {
                // The frames are read one at a time as they are decoded; EXIF, which the
                // specification puts after them, is looked for separately.
                let exif = riff_chunks(bytes)?
                    .filter_map(Result::ok)
                    .find(|(fourcc, _)| fourcc == b"EXIF")
                    .map(|(_, payload)| payload);
                return Ok(Container {
                    width,
                    height,
                    content: Content::Animation(chunks),
                    exif,
                });
            }
            let (mut alph, mut vp8, mut vp8l, mut exif) = (None, None, None, None);
            for chunk in chunks {
                let (fourcc, payload) = chunk?;
                let slot = match &fourcc {
                    b"ALPH" => &mut alph,
                    b"VP8 " => &mut vp8,
                    b"VP8L" => &mut vp8l,
                    b"EXIF" => &mut exif,
                    _ => continue,
                };
                slot.get_or_insert(payload);
            }
            let bitstream = match (vp8, vp8l) {
                (Some(vp8), None) => Bitstream::Lossy {
                    vp8,
                    alpha: alph.filter(|_| flags & VP8X_ALPHA != 0),
                },
                (None, Some(vp8l)) => Bitstream::Lossless {
                    vp8l,
                    alpha: flags & VP8X_ALPHA != 0,
                },
                _ => return Err(RejectionReason::Undecodable),
            };
            Ok(Container {
                width,
                height,
                content: Content::Still(whole(width, height, bitstream)),
                exif,
            })
        }
        _ => Err(RejectionReason::Undecodable),
    }
}

/// The frame in an ANMF chunk's payload.
fn animation_frame(anmf: &[u8]) -> Result<Frame<'_>, RejectionReason> {
    let header = anmf.get(..16).ok_or(RejectionReason::Undecodable)?;
    let mut chunks = Chunks::within(&anmf[16..]);
    let (fourcc, payload) = chunks.next().ok_or(RejectionReason::Undecodable)??;
    let bitstream = match &fourcc {
        b"VP8 " => Bitstream::Lossy {
            vp8: payload,
            alpha: None,
        },
        // Frames of an animation are composed with their alpha, as `image-webp` does.
        b"VP8L" => Bitstream::Lossless {
            vp8l: payload,
            alpha: true,
        },
        b"ALPH" => match chunks.next().ok_or(RejectionReason::Undecodable)?? {
            (fourcc, vp8) if &fourcc == b"VP8 " => Bitstream::Lossy {
                vp8,
                alpha: Some(payload),
            },
            _ => return Err(RejectionReason::Undecodable),
        },
        _ => return Err(RejectionReason::Undecodable),
    };
    Ok(Frame {
        x: u24(&header[0..]) * 2,
        y: u24(&header[3..]) * 2,
        width: u24(&header[6..]) + 1,
        height: u24(&header[9..]) + 1,
        bitstream,
    })
}

/// Decodes a WebP (the first frame of an animation), reduced to at least its thumbnail's size,
/// and verifies the other frames.
///
/// # Errors
/// [`RejectionReason::TooManyPixels`] for a canvas over the limits, a frame over the budget or
/// frames adding up to too many pixels; [`RejectionReason::Undecodable`] for a malformed or
/// truncated container, a frame outside the canvas, a bitstream whose header disagrees with its
/// frame, and data the decoders refuse.
pub(super) fn decode(bytes: &[u8], policy: &ProcessingPolicy) -> Result<Reduced, RejectionReason> {
    let Container {
        width,
        height,
        content,
        exif,
    } = container(bytes)?;
    check_dimensions(policy, width, height)?;
    let orientation = exif
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let mut frame_pixels = FramePixelBudget::new(policy);
    let mut check = |frame: &Frame<'_>| {
        frame.check((width, height))?;
        check_budget(width, height, frame.peak_bytes()?)?;
        frame_pixels.add(frame.width, frame.height)
    };
    let pixels = match content {
        Content::Still(frame) => {
            check(&frame)?;
            thumbnail_of(&frame, (width, height), policy)?
        }
        Content::Animation(chunks) => {
            let mut pixels = None;
            for chunk in chunks {
                let (fourcc, payload) = chunk?;
                if &fourcc != b"ANMF" {
                    continue;
                }
                let frame = animation_frame(payload)?;
                check(&frame)?;
                match pixels {
                    None => pixels = Some(thumbnail_of(&frame, (width, height), policy)?),
                    Some(_) => decode_frame(&frame, None)?,
                }
            }
            pixels.ok_or(RejectionReason::Undecodable)?
        }
    };
    Ok(Reduced {
        pixels,
        orientation,
        width,
        height,
    })
}

/// Decodes `frame` onto a transparent `canvas` (white once flattened) and reduces it.
fn thumbnail_of(
    frame: &Frame<'_>,
    canvas: (u32, u32),
    policy: &ProcessingPolicy,
) -> Result<RgbImage, RejectionReason> {
    let (width, height) = canvas;
    let mut reducer = Reducer::new(
        width,
        height,
        thumbnail_dimensions(width, height, policy.renditions.largest_side()),
    );
    if let Bitstream::Lossy { vp8, alpha: None } = frame.bitstream
        && (frame.x, frame.y, frame.width, frame.height) == (0, 0, width, height)
        // From a box of 4 up (images at least 8 times their thumbnail), the chroma placement
        // the blocks give up is averaged away; a smaller image keeps every pixel's colour.
        && reducer.factor() >= 4
    {
        let yuv = decode_vp8(vp8, width, height)?;
        Planes::new(&yuv)?.add_blocks_to(&mut reducer);
        return reducer.finish();
    }
    let mut row = vec![255u8; width as usize * 3];
    for y in (0..frame.y).chain(frame.y + frame.height..height) {
        reducer.add_row(y, &row);
    }
    let span = frame.x as usize * 3..(frame.x + frame.width) as usize * 3;
    decode_frame(
        frame,
        Some(&mut |y, rgb: &[u8]| {
            row[span.clone()].copy_from_slice(rgb);
            reducer.add_row(frame.y + y, &row);
        }),
    )?;
    reducer.finish()
}

/// A row sink: row number within the frame, the row as RGB flattened onto white.
type RowSink<'s> = &'s mut dyn FnMut(u32, &[u8]);

/// Decodes `frame`'s bitstream, giving each row to `rows` if there is one (else only verifying).
fn decode_frame(frame: &Frame<'_>, rows: Option<RowSink<'_>>) -> Result<(), RejectionReason> {
    let (width, height) = (frame.width, frame.height);
    match frame.bitstream {
        Bitstream::Lossy { vp8, alpha } => {
            let alpha = alpha.map(|a| decode_alpha(a, width, height)).transpose()?;
            let yuv = decode_vp8(vp8, width, height)?;
            let Some(rows) = rows else {
                return Ok(());
            };
            let planes = Planes::new(&yuv)?;
            let mut rgb = vec![0u8; width as usize * 3];
            for y in 0..height {
                planes.row_to_rgb(y as usize, &mut rgb);
                if let Some(alpha) = &alpha {
                    let start = y as usize * width as usize;
                    let row_alpha = &alpha[start..start + width as usize];
                    for (px, &a) in rgb.chunks_exact_mut(3).zip(row_alpha) {
                        px.iter_mut().for_each(|c| *c = over_white(*c, a));
                    }
                }
                rows(y, &rgb);
            }
        }
        Bitstream::Lossless { vp8l, alpha } => {
            let rgba = decode_lossless(vp8l, width, height)?;
            let Some(rows) = rows else {
                return Ok(());
            };
            let mut rgb = vec![0u8; width as usize * 3];
            for (y, pixels) in rgba.chunks_exact(width as usize * 4).enumerate() {
                if alpha {
                    to_rgb(Layout::Rgba, pixels, &mut rgb);
                } else {
                    for (out, px) in rgb.chunks_exact_mut(3).zip(pixels.chunks_exact(4)) {
                        out.copy_from_slice(&px[..3]);
                    }
                }
                rows(y as u32, &rgb);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image_webp::WebPDecoder;

    use super::*;
    use crate::domain::Renditions;

    const LOSSY_ALPHA_ODD: &[u8] =
        include_bytes!("../../../fixtures/images/lossy-alpha-37x29.webp");
    const LOSSY: &[u8] = include_bytes!("../../../fixtures/images/sunset-64x48.webp");
    const ANIMATED: &[u8] =
        include_bytes!("../../../fixtures/images/animated-lossy-2000x1500.webp");

    /// Every row of `bytes`' first frame as this module converts it.
    fn our_rows(bytes: &[u8]) -> Vec<u8> {
        let Container { content, .. } = container(bytes).unwrap();
        let frame = match content {
            Content::Still(frame) => frame,
            Content::Animation(mut chunks) => loop {
                let (fourcc, payload) = chunks.next().unwrap().unwrap();
                if &fourcc == b"ANMF" {
                    break animation_frame(payload).unwrap();
                }
            },
        };
        let mut all = Vec::new();
        decode_frame(
            &frame,
            Some(&mut |_, rgb: &[u8]| all.extend_from_slice(rgb)),
        )
        .unwrap();
        all
    }

    /// The same, from `image-webp`'s whole-image decoder, flattened onto white the same way.
    fn reference_rows(bytes: &[u8]) -> Vec<u8> {
        let mut decoder = WebPDecoder::new(Cursor::new(bytes)).unwrap();
        let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_image(&mut buf).unwrap();
        let layout = if decoder.has_alpha() {
            Layout::Rgba
        } else {
            Layout::Rgb
        };
        let (w, h) = decoder.dimensions();
        let mut rgb = vec![0; w as usize * h as usize * 3];
        to_rgb(layout, &buf, &mut rgb);
        rgb
    }

    #[test]
    fn rows_match_image_webp_exactly() {
        for (name, bytes) in [
            ("lossy", LOSSY),
            ("lossy with alpha, odd sides", LOSSY_ALPHA_ODD),
            ("animated, first frame", ANIMATED),
            (
                "lossless from libwebp",
                include_bytes!("../../../fixtures/images/lossless-noisy-64x48.webp"),
            ),
            (
                "lossless with a palette",
                include_bytes!("../../../fixtures/images/lossless-palette-120x90.webp"),
            ),
        ] {
            assert!(our_rows(bytes) == reference_rows(bytes), "{name}");
        }
    }

    #[test]
    fn lossless_images_match_image_webp_with_and_without_alpha() {
        for color in [image_webp::ColorType::Rgb8, image_webp::ColorType::Rgba8] {
            let channels = if color == image_webp::ColorType::Rgb8 {
                3
            } else {
                4
            };
            let pixels: Vec<u8> = (0..37u32 * 29 * channels)
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let mut file = Vec::new();
            image_webp::WebPEncoder::new(&mut file)
                .encode(&pixels, 37, 29, color)
                .unwrap();
            assert!(our_rows(&file) == reference_rows(&file), "{color:?}");
        }
    }

    /// The grid of `bytes` (a still image) for a `thumbnail` px thumbnail, from every pixel
    /// converted with fancy upsampling: what the block path stands in for.
    fn grid_from_rows(bytes: &[u8], thumbnail: u32) -> RgbImage {
        let Container {
            width,
            height,
            content: Content::Still(frame),
            ..
        } = container(bytes).unwrap()
        else {
            panic!("a still image");
        };
        let mut reducer = Reducer::new(
            width,
            height,
            thumbnail_dimensions(width, height, thumbnail),
        );
        decode_frame(&frame, Some(&mut |y, rgb: &[u8]| reducer.add_row(y, rgb))).unwrap();
        reducer.finish().unwrap()
    }

    fn policy(thumbnail_size: u32) -> ProcessingPolicy {
        ProcessingPolicy {
            renditions: Renditions::thumbnail_only(thumbnail_size),
            ..ProcessingPolicy::default()
        }
    }

    #[test]
    fn lossy_blocks_make_nearly_the_grid_of_every_pixel() {
        let big = include_bytes!("../../../fixtures/images/lossy-4000x3000.webp");
        // Boxes of 2 and 3 (every pixel converted: the same grid), 5 (odd, so blocks straddle
        // cells; a tiny, sharp image, where chroma placement shows most) and 7 (the service's
        // 256 px on a photo-sized image), as (max, mean) differences allowed.
        for (name, bytes, thumbnail, allowed) in [
            ("64x48, box 2", LOSSY, 16, (0, 0.0)),
            ("64x48, box 3", LOSSY, 10, (0, 0.0)),
            ("64x48, box 5", LOSSY, 6, (32, 2.5)),
            ("4000x3000, box 7", &big[..], 256, (1, 0.01)),
        ] {
            let ours = decode(bytes, &policy(thumbnail)).unwrap().pixels;
            let reference = grid_from_rows(bytes, thumbnail);
            assert_eq!(ours.dimensions(), reference.dimensions(), "{name}");
            let diffs: Vec<u8> = ours
                .as_raw()
                .iter()
                .zip(reference.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            let max = *diffs.iter().max().unwrap();
            let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
            // Chroma not upsampled and one conversion per 2 x 2 block.
            assert!(
                max <= allowed.0 && mean <= allowed.1,
                "{name}: max {max}, mean {mean}"
            );
        }
    }

    #[test]
    fn lossy_blocks_refuse_truncated_and_corrupt_data_as_image_webp_does() {
        let image_webp_decodes = |bytes: &[u8]| {
            WebPDecoder::new(Cursor::new(bytes)).is_ok_and(|mut decoder| {
                let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
                decoder.read_image(&mut buf).is_ok()
            })
        };
        // Box 5 on the 64 x 48 image: the block path.
        let policy = policy(6);
        for cut in [
            LOSSY.len() - 1,
            LOSSY.len() * 2 / 3,
            LOSSY.len() / 3,
            40,
            20,
        ] {
            assert_eq!(
                decode(&LOSSY[..cut], &policy).map(|d| d.pixels),
                Err(RejectionReason::Undecodable),
                "cut at {cut}"
            );
        }
        // Corrupted VP8 data (past the 20-byte container and 10-byte frame header): where
        // image-webp decodes the file we thumbnail it, where it refuses it we do.
        for at in (30..LOSSY.len()).step_by(7) {
            for flip in [0x01, 0x80, 0xff] {
                let mut bytes = LOSSY.to_vec();
                bytes[at] ^= flip;
                assert_eq!(
                    decode(&bytes, &policy).is_ok(),
                    image_webp_decodes(&bytes),
                    "byte {at} ^ {flip:#x}"
                );
            }
        }
    }
}
