//! AV1 still images: the coded data of one AVIF item, decoded by rav1d (the Rust port of dav1d,
//! as published in the `re_rav1d` package: see `ffi::N_THREADS`), called through its dav1d C API,
//! the only public one it has.
//!
//! A decoder is opened for one item and closed before [`decode`] returns: no worker thread and one
//! frame context, so it decodes on the calling thread and frees everything it allocated when it is
//! closed; film grain applied, only the highest
//! spatial layer of operating point 0 output, no logging, and a frame size limit from the item's
//! `ispe` that rav1d checks when it parses a frame header, before it allocates the frame. The
//! whole stream is decoded before the picture is lent out, so damage anywhere in it is found,
//! even after the frame that is shown.
//!
//! All the `unsafe` is in [`ffi`]: owners of the context, the input and a picture, which release
//! them when dropped, whatever path the decoding took, and the one place the planes are borrowed.

use super::error::HeifError;
use super::picture::{Chroma, LoopFilters, PictureRef, Plane, Samples, StreamColour};

/// The AV1 codec configuration record (`av1C`, AV1-ISOBMFF §2.3): the sampling and depth it
/// declares, and the configuration OBUs that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Av1C<'a> {
    pub chroma: Chroma,
    pub bit_depth: u8,
    pub config_obus: &'a [u8],
}

impl<'a> Av1C<'a> {
    pub(in crate::imaging) fn parse(record: &'a [u8]) -> Result<Self, HeifError> {
        let [marker, _profile_level, flags, _delay, config_obus @ ..] = record else {
            return Err(HeifError::Truncated);
        };
        if *marker != 0x81 {
            return Err(HeifError::Malformed("av1C marker or version"));
        }
        let (high, twelve, mono) = (flags & 0x40 != 0, flags & 0x20 != 0, flags & 0x10 != 0);
        let (sx, sy) = (flags & 0x08 != 0, flags & 0x04 != 0);
        let chroma = match (mono, sx, sy) {
            (true, _, _) => Chroma::Monochrome,
            (false, true, true) => Chroma::Yuv420,
            (false, true, false) => Chroma::Yuv422,
            (false, false, false) => Chroma::Yuv444,
            (false, false, true) => return Err(HeifError::Malformed("av1C subsampling")),
        };
        let bit_depth = match (high, twelve) {
            (false, _) => 8,
            (true, false) => 10,
            (true, true) => 12,
        };
        Ok(Self {
            chroma,
            bit_depth,
            config_obus,
        })
    }
}

/// Limits the decoder is held to, from the container's checked properties.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct Av1Limits {
    /// The item's `ispe` width: a wider frame is refused.
    pub max_width: u32,
    /// The item's `ispe` height: a taller frame is refused.
    pub max_height: u32,
}

/// Why an item's AV1 data gave no picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Av1Error {
    /// Not exactly a valid AV1 stream with a picture to show: empty, truncated, corrupt anywhere,
    /// no frame shown, or a picture format outside [`PictureRef`]'s.
    Undecodable,
    /// A frame larger than the limits (or limits of zero), refused before its buffers are
    /// allocated.
    TooLarge,
}

/// Decodes the AV1 data of one item (low-overhead OBUs, after the `av1C` box's `configOBUs`), its
/// in-loop filters (deblocking, CDEF, loop restoration) run or skipped as `filters` says, and
/// lends its picture to `use_picture`. The stream must decode without error to its end and show at
/// least one frame; the first shown is the item's picture.
pub(in crate::imaging) fn decode<R>(
    config_obus: &[u8],
    data: &[u8],
    limits: &Av1Limits,
    filters: LoopFilters,
    use_picture: impl FnOnce(PictureRef<'_>) -> R,
) -> Result<R, Av1Error> {
    if limits.max_width == 0 || limits.max_height == 0 {
        return Err(Av1Error::TooLarge);
    }
    if data.is_empty() {
        return Err(Av1Error::Undecodable);
    }
    // rav1d compares width * height with this; the sides are checked on the picture below.
    // Saturating, as 0 would mean no limit (and AV1 frames have at most 2^32 samples anyway).
    let frame_size_limit = limits.max_width.saturating_mul(limits.max_height);
    let decoder = ffi::Decoder::open(frame_size_limit, filters)?;
    let mut input = ffi::Input::copy_of(config_obus, data)?;
    let mut first = None;
    let mut all_sent = false;
    // Calls for a picture that gave none since the last send. The first such call after a send
    // only arms the drain (rav1d drains what it holds on the next call), so two in a row after
    // the last send mean that all is decoded and taken.
    let mut idle = 0;
    loop {
        if !all_sent {
            all_sent = decoder.send(&mut input)?;
            if all_sent {
                idle = 0;
            } else if idle > 0 {
                // Input refused with no picture to take: rav1d never does this.
                return Err(Av1Error::Undecodable);
            }
        }
        match decoder.next_picture()? {
            Some(picture) => {
                idle = 0;
                // Further pictures are released at once: the first is the item's.
                if first.is_none() {
                    first = Some(picture);
                }
            }
            None => {
                idle += 1;
                if all_sent && idle == 2 {
                    break;
                }
            }
        }
    }
    let picture = first.as_ref().ok_or(Av1Error::Undecodable)?.view()?;
    if picture.width > limits.max_width || picture.height > limits.max_height {
        return Err(Av1Error::TooLarge);
    }
    Ok(use_picture(picture))
}

/// The planes' layout, checked; [`ffi::Picture::view`] borrows the samples.
fn picture_ref<'a>(
    width: i32,
    height: i32,
    bit_depth: i32,
    chroma: Chroma,
    colour: StreamColour,
    plane: impl Fn(usize, u32, u32, u8) -> Result<Plane<'a>, Av1Error>,
) -> Result<PictureRef<'a>, Av1Error> {
    let side = |s: i32| u32::try_from(s).ok().filter(|&s| s > 0);
    let (Some(width), Some(height)) = (side(width), side(height)) else {
        return Err(Av1Error::Undecodable);
    };
    let bit_depth = match bit_depth {
        8 => 8,
        10 => 10,
        12 => 12,
        _ => return Err(Av1Error::Undecodable),
    };
    let luma = plane(0, width, height, bit_depth)?;
    let chroma_planes = if chroma == Chroma::Monochrome {
        None
    } else {
        let (x, y) = chroma.shifts();
        let (w, h) = ((width + x) >> x, (height + y) >> y);
        Some([plane(1, w, h, bit_depth)?, plane(2, w, h, bit_depth)?])
    };
    Ok(PictureRef {
        width,
        height,
        bit_depth,
        chroma,
        luma,
        chroma_planes,
        colour,
    })
}

mod ffi;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::heif::meta::{Meta, Property};
    use crate::test_alloc::bytes_allocated_by;

    // Made with avifenc 0.11.1 (aom 3.6.0) from a 35 x 21 crop of a noisy test JPEG, tinted with
    // gradients so that every plane varies: `avifenc -c aom -s 6 --min 20 --max 40` with `-d 8 -y 420`, `-d 10 -y 420`,
    // `-y 444`, `-y 400`, `-d 12 -y 422`, and `-y 420 -a film-grain-test=1`; the last from a flat
    // grey 4032 x 3024 PNG with `-s 10 --min 63 --max 63` (in fixtures/images/heif/av1/). Whole
    // files, whose item data the container parser takes out (see `fixture`). Their av1C boxes
    // have no configOBUs: the sequence header is in the data.
    const YUV420_8: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/yuv420-8bit-35x21.avif");

    const YUV420_10: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/yuv420-10bit-35x21.avif");

    const YUV444_8: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/yuv444-8bit-35x21.avif");

    const MONO_8: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/mono-8bit-35x21.avif");

    const YUV422_12: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/yuv422-12bit-35x21.avif");

    const GRAIN_420_8: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/film-grain-420-8bit-35x21.avif");

    const FLAT_4032X3024: &[u8] =
        include_bytes!("../../../../fixtures/images/heif/av1/flat-4032x3024.avif");

    /// The 64-bit FNV-1a hashes of avifdec's planes (`avifdec -c dav1d FILE out.y4m`, the same
    /// bytes with `-c aom`): luma, then Cb and Cr; samples of more than 8 bits as little-endian
    /// pairs of bytes, rows without padding.
    const YUV420_8_HASHES: [u64; 3] = [0xbc84fd58e346d885, 0x66fcfa266905bd7b, 0xfcbe515e594df0c3];
    const YUV420_10_HASHES: [u64; 3] = [0xd09896fb6e6b5889, 0xf4278f09ee216d7b, 0x54962d1010431b24];
    const YUV444_8_HASHES: [u64; 3] = [0xb60b21bbd92c974e, 0x850fc23c792c9c6f, 0xb95d468e89a130f6];
    const MONO_8_HASHES: [u64; 1] = [0xbc84fd58e346d885];
    const YUV422_12_HASHES: [u64; 3] = [0xe6bd14330bdbe711, 0x9d5b22c3908efba2, 0x11643b6a5b11fde6];
    const GRAIN_420_8_HASHES: [u64; 3] =
        [0x126c2fbb14d1893e, 0xfff3286943563686, 0x5fa97ea7d5d1bfe6];

    const SMALL: Av1Limits = Av1Limits {
        max_width: 35,
        max_height: 21,
    };

    /// The primary item's `av1C` configOBUs and data, read by the container parser.
    fn fixture(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let meta = Meta::parse(file).expect("an AVIF");
        let config = meta
            .properties_of(meta.primary)
            .expect("the primary item")
            .find_map(|(p, _)| match p {
                Property::Av1Config(record) => Some(record[4..].to_vec()),
                _ => None,
            })
            .expect("an av1C property");
        (
            config,
            meta.data(meta.primary).expect("its data").into_owned(),
        )
    }

    fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
        bytes.iter().fold(hash, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    /// The plane's hash as `YUV420_8_HASHES` has them, checking its geometry on the way.
    fn plane_hash(plane: &Plane<'_>) -> u64 {
        let (w, h) = (plane.width as usize, plane.height as usize);
        assert!(plane.stride >= w);
        let mut hash = 0xcbf2_9ce4_8422_2325;
        for y in 0..h {
            let row = y * plane.stride..y * plane.stride + w;
            hash = match plane.samples {
                Samples::Eight(s) => fnv1a(hash, &s[row]),
                Samples::Deep(s) => s[row]
                    .iter()
                    .fold(hash, |hash, v| fnv1a(hash, &v.to_le_bytes())),
            };
        }
        let len = match plane.samples {
            Samples::Eight(s) => s.len(),
            Samples::Deep(s) => s.len(),
        };
        assert_eq!(
            len,
            plane.stride * (h - 1) + w,
            "a slice to the last sample"
        );
        hash
    }

    /// Decodes a fixture and returns its format and its planes' hashes.
    fn decoded(file: &[u8]) -> (u8, Chroma, StreamColour, Vec<u64>) {
        let (config, data) = fixture(file);
        decode(&config, &data, &SMALL, LoopFilters::Apply, |p| {
            assert_eq!((p.width, p.height), (35, 21));
            assert_eq!((p.luma.width, p.luma.height), (35, 21));
            let mut hashes = vec![plane_hash(&p.luma)];
            if let Some(chroma) = p.chroma_planes {
                let (x, y) = p.chroma.shifts();
                for plane in &chroma {
                    assert_eq!((plane.width, plane.height), ((35 + x) >> x, (21 + y) >> y));
                    hashes.push(plane_hash(plane));
                }
            }
            (p.bit_depth, p.chroma, p.colour, hashes)
        })
        .expect("decodes")
    }

    /// How avifenc described every fixture (`colr` nclx 1/13/6, full range): aom repeats it in
    /// the sequence header's colour config.
    const COLOUR: StreamColour = StreamColour {
        matrix: 6,
        full_range: true,
    };

    #[test]
    fn decodes_8_bit_4_2_0_like_avifdec() {
        let expected = (8, Chroma::Yuv420, COLOUR, YUV420_8_HASHES.to_vec());
        assert_eq!(decoded(YUV420_8), expected);
    }

    #[test]
    fn decodes_10_bit_like_avifdec() {
        let expected = (10, Chroma::Yuv420, COLOUR, YUV420_10_HASHES.to_vec());
        assert_eq!(decoded(YUV420_10), expected);
    }

    #[test]
    fn decodes_12_bit_4_2_2_like_avifdec() {
        let expected = (12, Chroma::Yuv422, COLOUR, YUV422_12_HASHES.to_vec());
        assert_eq!(decoded(YUV422_12), expected);
    }

    #[test]
    fn decodes_4_4_4_like_avifdec() {
        let expected = (8, Chroma::Yuv444, COLOUR, YUV444_8_HASHES.to_vec());
        assert_eq!(decoded(YUV444_8), expected);
    }

    #[test]
    fn decodes_monochrome_like_avifdec() {
        let expected = (8, Chroma::Monochrome, COLOUR, MONO_8_HASHES.to_vec());
        assert_eq!(decoded(MONO_8), expected);
    }

    #[test]
    fn applies_film_grain_like_avifdec() {
        let expected = (8, Chroma::Yuv420, COLOUR, GRAIN_420_8_HASHES.to_vec());
        assert_eq!(decoded(GRAIN_420_8), expected);
    }

    /// Splits the sequence header OBU out of an item's data: (that OBU, the rest).
    fn split_sequence_header(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut at = 0;
        while at < data.len() {
            // obu_type, obu_extension_flag; obu_has_size_field is set in every fixture.
            let (kind, extension) = ((data[at] >> 3) & 15, (data[at] >> 2) & 1);
            let mut end = at + 1 + usize::from(extension);
            let (mut size, mut shift) = (0, 0);
            loop {
                let byte = data[end];
                end += 1;
                size |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            end += size;
            if kind == 1 {
                return (data[at..end].to_vec(), [&data[..at], &data[end..]].concat());
            }
            at = end;
        }
        panic!("no sequence header");
    }

    #[test]
    fn takes_the_sequence_header_from_config_obus() {
        // avifenc 0.11 writes no configOBUs in av1C and repeats the sequence header in the data.
        let (config, data) = fixture(YUV420_8);
        assert!(config.is_empty());
        let (sequence_header, frame) = split_sequence_header(&data);
        let luma = decode(&sequence_header, &frame, &SMALL, LoopFilters::Apply, |p| {
            plane_hash(&p.luma)
        });
        assert_eq!(luma, Ok(YUV420_8_HASHES[0]));
        assert_eq!(
            decode(&[], &frame, &SMALL, LoopFilters::Apply, |_| ()),
            Err(Av1Error::Undecodable)
        );
    }

    #[test]
    fn empty_data_is_undecodable() {
        let (sequence_header, _) = split_sequence_header(&fixture(YUV420_8).1);
        let result = decode(&sequence_header, &[], &SMALL, LoopFilters::Apply, |_| ());
        assert_eq!(result, Err(Av1Error::Undecodable));
        assert_eq!(
            decode(&[], &[], &SMALL, LoopFilters::Apply, |_| ()),
            Err(Av1Error::Undecodable)
        );
        // A sequence header alone decodes without error, but shows no frame.
        let result = decode(&[], &sequence_header, &SMALL, LoopFilters::Apply, |_| ());
        assert_eq!(result, Err(Av1Error::Undecodable));
    }

    #[test]
    fn truncated_data_is_undecodable() {
        for file in [YUV420_8, YUV420_10, MONO_8, GRAIN_420_8] {
            let (config, data) = fixture(file);
            for len in 0..data.len() {
                let result = decode(&config, &data[..len], &SMALL, LoopFilters::Apply, |_| ());
                assert_eq!(
                    result,
                    Err(Av1Error::Undecodable),
                    "{len} of {} bytes",
                    data.len()
                );
            }
        }
    }

    /// xorshift64*: the same "random" bytes on every run.
    fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn garbage_is_undecodable() {
        let (config, _) = split_sequence_header(&fixture(YUV420_8).1);
        let mut pictures = 0;
        for seed in 0..200 {
            let garbage = random_bytes(seed, 1 + (seed as usize * 37) % 2000);
            assert_eq!(
                decode(&[], &garbage, &SMALL, LoopFilters::Apply, |_| ()),
                Err(Av1Error::Undecodable)
            );
            // After a valid sequence header, random bytes are now and then a frame that AV1's
            // arithmetic decoding takes as well as any: a picture, but within the limits.
            if let Ok(size) = decode(&config, &garbage, &SMALL, LoopFilters::Apply, |p| {
                (p.width, p.height)
            }) {
                assert!(size.0 <= 35 && size.1 <= 21, "seed {seed}");
                pictures += 1;
            }
        }
        assert!(pictures <= 20, "{pictures} of 200 pictures from garbage");
    }

    #[test]
    fn damaged_data_never_panics() {
        for file in [
            YUV420_8,
            YUV420_10,
            YUV444_8,
            MONO_8,
            YUV422_12,
            GRAIN_420_8,
        ] {
            let (config, data) = fixture(file);
            for seed in 0..150 {
                let mut damaged = data.clone();
                let noise = random_bytes(seed, 6);
                for pair in noise.chunks(2) {
                    let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % damaged.len();
                    damaged[at] ^= 1 << (pair[0] % 8);
                }
                // Damage to coefficients can decode to other pixels; anything else is refused.
                let _ = decode(&config, &damaged, &SMALL, LoopFilters::Apply, |p| {
                    assert!(p.width <= 35 && p.height <= 21);
                    plane_hash(&p.luma)
                });
            }
        }
    }

    #[test]
    fn the_whole_stream_must_decode() {
        let (config, data) = fixture(YUV420_8);
        // A second frame after the item's is decoded (and released); the first is lent.
        let twice = [&data[..], &data[..]].concat();
        let luma = decode(&config, &twice, &SMALL, LoopFilters::Apply, |p| {
            plane_hash(&p.luma)
        });
        assert_eq!(luma, Ok(YUV420_8_HASHES[0]));
        // Damage in it is found although the frame lent out was whole.
        let cut = &twice[..twice.len() - 10];
        assert_eq!(
            decode(&config, cut, &SMALL, LoopFilters::Apply, |_| ()),
            Err(Av1Error::Undecodable)
        );
    }

    #[test]
    fn a_frame_larger_than_the_limits_is_too_large() {
        let (config, data) = fixture(YUV420_8);
        let limits = |max_width, max_height| Av1Limits {
            max_width,
            max_height,
        };
        for (w, h) in [(34, 21), (35, 20), (1, 1), (0, 21), (35, 0), (0, 0)] {
            let result = decode(&config, &data, &limits(w, h), LoopFilters::Apply, |_| ());
            assert_eq!(result, Err(Av1Error::TooLarge), "{w} x {h}");
        }
        // Within rav1d's area limit (21 x 35 = 35 x 21), refused on its sides.
        let result = decode(&config, &data, &limits(21, 35), LoopFilters::Apply, |_| ());
        assert_eq!(result, Err(Av1Error::TooLarge));
        let result = decode(
            &config,
            &data,
            &limits(u32::MAX, u32::MAX),
            LoopFilters::Apply,
            |p| p.width,
        );
        assert_eq!(result, Ok(35));
    }

    #[test]
    fn a_frame_too_large_is_refused_before_it_is_allocated() {
        let (config, data) = fixture(FLAT_4032X3024);
        let limits = Av1Limits {
            max_width: 4032,
            max_height: 3023,
        };
        let mut result = Ok(());
        let allocated = bytes_allocated_by(|| {
            result = decode(&config, &data, &limits, LoopFilters::Apply, |_| ())
        });
        assert_eq!(result, Err(Av1Error::TooLarge));
        // The frame's luma alone would be 12 MB: decoded within its limits, it is counted.
        assert!(allocated < 1 << 20, "{allocated} bytes allocated");
        let limits = Av1Limits {
            max_width: 4032,
            max_height: 3024,
        };
        let mut result = Ok(0);
        let allocated = bytes_allocated_by(|| {
            result = decode(&config, &data, &limits, LoopFilters::Apply, |p| p.width)
        });
        assert_eq!(result, Ok(4032));
        assert!(allocated > 4032 * 3024, "{allocated} bytes allocated");
    }
}
