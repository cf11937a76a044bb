//! The processor's cost: verifying an upload and making its 256 px thumbnail, and its default
//! rendition set (the thumbnail and a 1600 px display rendition).
//!
//! Inputs are made here, deterministically: a 4000 x 3000 (12 MP) JPEG of noisy content (about
//! 4.4 MB at quality 90, like a phone photo) and the PNG bomb fixture. `naive` is the baseline
//! the issue names: decode everything with `image`, then `DynamicImage::thumbnail`. `ours` is the
//! processor's path (`imaging::inspect`: sniff, header checks, DCT-scaled decode, SIMD resize,
//! orientation, JPEG encode). `just bench` pins the process to one core.
//!
//! `other_formats` times `inspect` on the other formats' large cases of the memory-budget tests
//! (`src/imaging/tests/memory_budget.rs`), which decode row by row and reduce as they go: a
//! 25 MP 16-bit RGBA PNG (the case), a 12 MP GIF, and 12 MP WebP, lossy (fixture) and
//! lossless.

use criterion::{Criterion, criterion_group, criterion_main};
use image::codecs::jpeg::JpegEncoder;
use image_upload::domain::{ImageType, ProcessingPolicy, Renditions};
use image_upload::imaging;

/// A 12 MP photo stand-in: smooth gradients plus per-pixel noise (xorshift, fixed seed), which is
/// what makes real photos expensive to entropy-decode.
fn noisy_12mp_jpeg() -> Vec<u8> {
    let (width, height) = (4000u32, 3000u32);
    let mut state: u32 = 0x2545_F491;
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as i32 - 12;
        let base = [
            (x * 255 / width) as i32,
            (y * 255 / height) as i32,
            ((x + y) % 256) as i32,
        ];
        image::Rgb(base.map(|b| (b + noise).clamp(0, 255) as u8))
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&pixels)
        .expect("encoding the bench input");
    jpeg
}

fn thumbnails(c: &mut Criterion) {
    let jpeg = noisy_12mp_jpeg();
    eprintln!("12 MP JPEG input: {} bytes", jpeg.len());
    let policy = ProcessingPolicy {
        renditions: Renditions::thumbnail_only(256),
        ..ProcessingPolicy::default()
    };
    let ours = imaging::inspect(&jpeg, ImageType::Jpeg, &policy).expect("the input is valid");
    assert_eq!(
        (ours.thumbnail().width, ours.thumbnail().height),
        (256, 192)
    );
    let default_set = ProcessingPolicy::default();

    let mut group = c.benchmark_group("thumbnail_12mp_jpeg");
    group.sample_size(20);
    group.bench_function("naive_image_thumbnail", |b| {
        b.iter(|| {
            let decoded = image::load_from_memory(&jpeg).expect("decodes");
            std::hint::black_box(decoded.thumbnail(256, 256))
        });
    });
    group.bench_function("ours_inspect", |b| {
        b.iter(|| {
            std::hint::black_box(
                imaging::inspect(&jpeg, ImageType::Jpeg, &policy).expect("the input is valid"),
            )
        });
    });
    group.bench_function("ours_inspect_default_renditions", |b| {
        b.iter(|| {
            std::hint::black_box(
                imaging::inspect(&jpeg, ImageType::Jpeg, &default_set).expect("the input is valid"),
            )
        });
    });
    group.finish();

    let bomb = include_bytes!("../fixtures/images/bomb-100000x100000.png");
    c.bench_function("refuse_png_bomb", |b| {
        b.iter(|| {
            let refused = imaging::inspect(bomb, ImageType::Png, &policy);
            assert!(refused.is_err());
            std::hint::black_box(refused)
        });
    });
}

/// A smooth RGBA colour at (x, y) of a `w` x `h` image (as in the memory-budget tests).
fn smooth(x: u32, y: u32, w: u32, h: u32) -> [u8; 4] {
    [
        (x * 255 / w) as u8,
        (y * 255 / h) as u8,
        ((x + y) * 255 / (w + h)) as u8,
        (255 - y * 255 / h) as u8,
    ]
}

fn png_16_bit_rgba(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().expect("png header");
    let mut stream = writer.stream_writer().expect("png stream");
    let mut row = vec![0u8; width as usize * 8];
    for y in 0..height {
        for (x, pixel) in row.chunks_exact_mut(8).enumerate() {
            let rgba = smooth(x as u32, y, width, height);
            for (sample, value) in pixel.chunks_exact_mut(2).zip(rgba) {
                sample.fill(value);
            }
        }
        stream.write_all(&row).expect("png row");
    }
    stream.finish().expect("png data");
    writer.finish().expect("png end");
    out
}

fn gif_12mp() -> Vec<u8> {
    let (width, height) = (4000u16, 3000u16);
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect();
    let indices: Vec<u8> = (0..u32::from(height))
        .flat_map(|y| (0..u32::from(width)).map(move |x| ((x / 16 + y / 16) % 256) as u8))
        .collect();
    let mut out = Vec::new();
    let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).expect("gif header");
    let frame = gif::Frame {
        width,
        height,
        buffer: std::borrow::Cow::Owned(indices),
        ..gif::Frame::default()
    };
    encoder.write_frame(&frame).expect("gif frame");
    drop(encoder);
    out
}

fn webp_lossless_12mp() -> Vec<u8> {
    let (width, height) = (4000u32, 3000u32);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 4);
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&smooth(x, y, width, height));
        }
    }
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&pixels, width, height, image_webp::ColorType::Rgba8)
        .expect("webp");
    out
}

fn other_formats(c: &mut Criterion) {
    let policy = ProcessingPolicy::default();
    let cases: [(&str, Vec<u8>, ImageType); 4] = [
        (
            "png_16_bit_rgba_25mp",
            png_16_bit_rgba(5000, 5000),
            ImageType::Png,
        ),
        ("gif_12mp", gif_12mp(), ImageType::Gif),
        (
            "webp_lossy_12mp",
            include_bytes!("../fixtures/images/lossy-4000x3000.webp").to_vec(),
            ImageType::Webp,
        ),
        ("webp_lossless_12mp", webp_lossless_12mp(), ImageType::Webp),
    ];
    let mut group = c.benchmark_group("other_formats");
    group.sample_size(10);
    for (name, bytes, image_type) in &cases {
        eprintln!("{name}: {} bytes", bytes.len());
        imaging::inspect(bytes, *image_type, &policy).expect("the input is valid");
        group.bench_function(format!("ours_inspect_{name}"), |b| {
            b.iter(|| {
                std::hint::black_box(
                    imaging::inspect(bytes, *image_type, &policy).expect("the input is valid"),
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, thumbnails, other_formats);
criterion_main!(benches);
