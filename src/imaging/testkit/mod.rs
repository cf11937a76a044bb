//! Test inputs made in the tests: images from the crates' encoders where they can (PNG, GIF,
//! baseline JPEG, lossless WebP), and files written by hand where they cannot (interlaced PNG,
//! crafted JPEG segments and entropy-coded data, hostile headers and chunks). The tests read
//! files back with the decoders' own parsers, except PNG chunks and GIF image descriptors, which
//! no decoder here parses itself (`png::png_chunks`, `gif::first_image_descriptor`).

pub mod gif;
pub mod heif;
pub mod jpeg;
pub mod png;
pub mod webp;

/// A smooth RGBA colour at (x, y) of a `w` x `h` image: gradients compress to little, so large
/// test images stay small files.
pub fn smooth(x: u32, y: u32, w: u32, h: u32) -> [u8; 4] {
    [
        (x * 255 / w) as u8,
        (y * 255 / h) as u8,
        ((x + y) * 255 / (w + h)) as u8,
        (255 - y * 255 / h) as u8,
    ]
}

/// A photo stand-in: gradients plus per-pixel noise (xorshift, fixed seed), so every band
/// has non-zero coefficients and high qualities need long Huffman codes.
pub fn noisy(width: u32, height: u32, seed: u32, amplitude: u32) -> image::RgbImage {
    let mut state = seed;
    image::RgbImage::from_fn(width, height, |x, y| {
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % (2 * amplitude + 1)) as i32 - amplitude as i32
        };
        let base = [x * 255 / width, y * 255 / height, (x + 2 * y) % 256];
        image::Rgb(base.map(|b| (b as i32 + noise()).clamp(0, 255) as u8))
    })
}
