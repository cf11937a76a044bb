//! The processor's cost: verifying an upload and making its 256 px thumbnail.
//!
//! Inputs are made here, deterministically: a 4000 x 3000 (12 MP) JPEG of noisy content (about
//! 4.4 MB at quality 90, like a phone photo) and the PNG bomb fixture. `naive` is the baseline
//! the issue names: decode everything with `image`, then `DynamicImage::thumbnail`. `ours` is the
//! processor's path (`imaging::inspect`: sniff, header checks, DCT-scaled decode, SIMD resize,
//! orientation, JPEG encode). `just bench` pins the process to one core.

use criterion::{Criterion, criterion_group, criterion_main};
use image::codecs::jpeg::JpegEncoder;
use image_upload::domain::{ImageType, ProcessingPolicy};
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
    let policy = ProcessingPolicy::default();
    let ours = imaging::inspect(&jpeg, ImageType::Jpeg, &policy).expect("the input is valid");
    assert_eq!((ours.thumbnail.width, ours.thumbnail.height), (256, 192));

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

criterion_group!(benches, thumbnails);
criterion_main!(benches);
