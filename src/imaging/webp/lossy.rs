//! Lossy (VP8) frames: decoded by `image_webp::vp8` into YUV planes (1.5 bytes a pixel), then
//! converted to RGB a row at a time with the same fancy upsampling and integer arithmetic as
//! `image-webp`, or, for an image at least 8 times its thumbnail without alpha, once per 2 x 2
//! block (mean luma, its chroma sample).

use image_webp::vp8::{Frame as Vp8Frame, Vp8Decoder};

use crate::domain::RejectionReason;
use crate::imaging::reduce::Reducer;

/// The dimensions in a VP8 key frame header, which `image-webp` allocates its planes for.
pub(super) fn vp8_size(vp8: &[u8]) -> Result<(u32, u32), RejectionReason> {
    let header = vp8.get(..10).ok_or(RejectionReason::Undecodable)?;
    let key_frame = header[0] & 1 == 0;
    if !key_frame || header[3..6] != [0x9D, 0x01, 0x2A] {
        return Err(RejectionReason::Undecodable);
    }
    let side = |lo: u8, hi: u8| u32::from(u16::from_le_bytes([lo, hi]) & 0x3FFF);
    Ok((side(header[6], header[7]), side(header[8], header[9])))
}

/// Decodes a VP8 bitstream into its YUV planes, checking it is `width` x `height`.
pub(super) fn decode_vp8(vp8: &[u8], width: u32, height: u32) -> Result<Vp8Frame, RejectionReason> {
    let yuv = Vp8Decoder::decode_frame(vp8).map_err(|_| RejectionReason::Undecodable)?;
    if (u32::from(yuv.width), u32::from(yuv.height)) != (width, height) {
        return Err(RejectionReason::Undecodable);
    }
    Ok(yuv)
}

/// A decoded VP8 frame's planes, converted to RGB a row at a time.
pub(super) struct Planes<'a> {
    frame: &'a Vp8Frame,
    width: usize,
    luma_stride: usize,
    chroma_stride: usize,
    chroma_width: usize,
    chroma_height: usize,
}

impl<'a> Planes<'a> {
    pub(super) fn new(frame: &'a Vp8Frame) -> Result<Self, RejectionReason> {
        let (width, height) = (usize::from(frame.width), usize::from(frame.height));
        let luma_stride = width.div_ceil(16) * 16;
        let chroma_stride = luma_stride / 2;
        let (chroma_width, chroma_height) = (width.div_ceil(2), height.div_ceil(2));
        if frame.ybuf.len() < luma_stride * height
            || frame.ubuf.len() < chroma_stride * chroma_height
            || frame.vbuf.len() < chroma_stride * chroma_height
        {
            return Err(RejectionReason::Undecodable);
        }
        Ok(Self {
            frame,
            width,
            luma_stride,
            chroma_stride,
            chroma_width,
            chroma_height,
        })
    }

    /// Row `y` as RGB into `rgb`, with libwebp's "fancy" upsampling of chroma as `image-webp`
    /// does it: each pixel's chroma is (9 a + 3 b + 3 c + d) / 16 of the nearest chroma sample
    /// `a`, its horizontal and vertical neighbours on the pixel's side `b` and `c`, and the
    /// diagonal one `d` (at the edges, the sample itself).
    pub(super) fn row_to_rgb(&self, y: usize, rgb: &mut [u8]) {
        let (near_row, far_row) = nearest_two(y, self.chroma_height);
        let luma = &self.frame.ybuf[y * self.luma_stride..][..self.width];
        let row = |plane: &'a [u8], r: usize| &plane[r * self.chroma_stride..][..self.chroma_width];
        let (u_near, u_far) = (
            row(&self.frame.ubuf, near_row),
            row(&self.frame.ubuf, far_row),
        );
        let (v_near, v_far) = (
            row(&self.frame.vbuf, near_row),
            row(&self.frame.vbuf, far_row),
        );
        for (x, (out, &l)) in rgb.chunks_exact_mut(3).zip(luma).enumerate() {
            let (near, far) = nearest_two(x, self.chroma_width);
            let fancy = |n: &[u8], f: &[u8]| {
                let sum = 9 * u16::from(n[near])
                    + 3 * u16::from(n[far])
                    + 3 * u16::from(f[near])
                    + u16::from(f[far])
                    + 8;
                (sum / 16) as u8
            };
            let (u, v) = (fancy(u_near, u_far), fancy(v_near, v_far));
            out[0] = yuv_to_r(l, v);
            out[1] = yuv_to_g(l, u, v);
            out[2] = yuv_to_b(l, u);
        }
    }
}

impl Planes<'_> {
    /// Adds the image to `reducer` as 2 x 2 blocks (see [`Reducer::add_block_row`]), each the
    /// colour of its mean luma and its own chroma sample: a quarter of the conversions, and no
    /// upsampling. At an odd right or bottom edge, a block's missing pixels repeat its last
    /// column or row, so its mean is that of the pixels it has.
    pub(super) fn add_blocks_to(&self, reducer: &mut Reducer) {
        let height = usize::from(self.frame.height);
        let mut rgb = vec![0u8; self.chroma_width * 3];
        for by in 0..self.chroma_height {
            let (y0, y1) = (2 * by, (2 * by + 1).min(height - 1));
            let top = &self.frame.ybuf[y0 * self.luma_stride..][..self.width];
            let bottom = &self.frame.ybuf[y1 * self.luma_stride..][..self.width];
            let u = &self.frame.ubuf[by * self.chroma_stride..][..self.chroma_width];
            let v = &self.frame.vbuf[by * self.chroma_stride..][..self.chroma_width];
            let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (((out, (t, b)), &u), &v) in rgb.chunks_exact_mut(3).zip(pairs).zip(u).zip(v) {
                let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
                block_to_rgb(((sum + 2) / 4) as u8, u, v, out);
            }
            if self.width % 2 == 1 {
                let last = self.width - 1;
                let sum = u16::from(top[last]) + u16::from(bottom[last]);
                let at = self.chroma_width - 1;
                let out = &mut rgb[at * 3..][..3];
                block_to_rgb(sum.div_ceil(2) as u8, u[at], v[at], out);
            }
            reducer.add_block_row(y0 as u32, &rgb);
        }
    }
}

fn block_to_rgb(l: u8, u: u8, v: u8, out: &mut [u8]) {
    out[0] = yuv_to_r(l, v);
    out[1] = yuv_to_g(l, u, v);
    out[2] = yuv_to_b(l, u);
}

/// For pixel `i` of a row or column, the nearest chroma sample and the next nearest one (of
/// `chroma_len`): pixel 2k + 1 lies between samples k and k + 1, pixel 2k + 2 between k + 1 and k,
/// and pixel 0 (and a last pixel past the last pair) on its own sample.
fn nearest_two(i: usize, chroma_len: usize) -> (usize, usize) {
    if i == 0 {
        (0, 0)
    } else if i % 2 == 1 {
        let k = (i - 1) / 2;
        (k, (k + 1).min(chroma_len - 1))
    } else {
        (i / 2, i / 2 - 1)
    }
}

// libwebp's integer YUV to RGB (src/dsp/yuv.h), as `image-webp` has it.
fn mulhi(v: u8, coefficient: u16) -> i32 {
    ((u32::from(v) * u32::from(coefficient)) >> 8) as i32
}

fn clip(v: i32) -> u8 {
    (v >> 6).clamp(0, 255) as u8
}

fn yuv_to_r(y: u8, v: u8) -> u8 {
    clip(mulhi(y, 19077) + mulhi(v, 26149) - 14234)
}

fn yuv_to_g(y: u8, u: u8, v: u8) -> u8 {
    clip(mulhi(y, 19077) - mulhi(u, 6419) - mulhi(v, 13320) + 8708)
}

fn yuv_to_b(y: u8, u: u8) -> u8 {
    clip(mulhi(y, 19077) + mulhi(u, 33050) - 17685)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroma_neighbours_follow_the_pixel_pairs() {
        let pairs: Vec<_> = (0..6).map(|i| nearest_two(i, 3)).collect();
        assert_eq!(pairs, [(0, 0), (0, 1), (1, 0), (1, 2), (2, 1), (2, 2)]);
    }
}
