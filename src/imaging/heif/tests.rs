//! HEIC and AVIF end to end through [`inspect`]: the fixtures made by real encoders
//! (`fixtures/images/heif/make_fixtures.py`), and crafted hostile files, each refused by the
//! exact rule it breaks.

use image::{ImageFormat, RgbImage};

use super::image::Primary;
use super::meta::{Meta, Property};
use super::picture::LoopFilters;
use super::{Conversion, HeifError, decode_colour, decode_heif, transform};
use crate::domain::{ImageType, ProcessingPolicy, RejectionReason, Renditions};
use crate::imaging::contract::thumbnail_dimensions;
use crate::imaging::inspect;
use crate::imaging::reduce::Reducer;
use crate::imaging::testkit::heif::{
    Heif, Item, auxc_alpha, bx, clap, grid_data, imir, irot, ispe,
};
use crate::test_alloc::bytes_allocated_by;

const IPHONE: &[u8] =
    include_bytes!("../../../fixtures/images/heif/iphone-grid-4032x3024-irot90.heic");
const HEIC_ALPHA: &[u8] = include_bytes!("../../../fixtures/images/heif/alpha-640x480.heic");
const HEIC_PLAIN: &[u8] = include_bytes!("../../../fixtures/images/heif/photo-420-640x480.heic");
const AVIF_TEN_BIT: &[u8] = include_bytes!("../../../fixtures/images/heif/ten-bit-640x480.avif");
const AVIF_ALPHA: &[u8] = include_bytes!("../../../fixtures/images/heif/alpha-640x480.avif");
const AVIF_MONO: &[u8] = include_bytes!("../../../fixtures/images/heif/mono-640x480.avif");
const AVIF_444: &[u8] = include_bytes!("../../../fixtures/images/heif/photo-444-640x480.avif");
const AVIF_LIMITED: &[u8] =
    include_bytes!("../../../fixtures/images/heif/limited-range-640x480.avif");
const AVIF_GRID: &[u8] =
    include_bytes!("../../../fixtures/images/heif/grid-2x2-avif-1024x768.avif");
const HEIC_ODD: &[u8] = include_bytes!("../../../fixtures/images/heif/odd-1002x750.heic");
const AVIF_SEQUENCE: &[u8] =
    include_bytes!("../../../fixtures/images/heif/sequence-4frames-320x240.avif");

fn policy() -> ProcessingPolicy {
    ProcessingPolicy::default()
}

fn thumbnail(bytes: &[u8], declared: ImageType) -> (u32, u32, RgbImage) {
    let inspected = inspect(bytes, declared, &policy()).unwrap_or_else(|e| panic!("{e}"));
    let thumb =
        image::load_from_memory_with_format(&inspected.thumbnail().bytes, ImageFormat::Jpeg)
            .expect("thumbnails are JPEG")
            .into_rgb8();
    (inspected.width, inspected.height, thumb)
}

fn distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| u32::from(x.abs_diff(y)))
        .max()
        .unwrap_or(0)
}

/// The mean colour of the `side` x `side` square at (x, y).
fn mean(image: &RgbImage, x: u32, y: u32, side: u32) -> [u8; 3] {
    let mut sum = [0u32; 3];
    for dy in 0..side {
        for dx in 0..side {
            let p = image.get_pixel(x + dx, y + dy);
            for c in 0..3 {
                sum[c] += u32::from(p[c]);
            }
        }
    }
    sum.map(|s| (s / (side * side)) as u8)
}

#[test]
fn every_fixture_is_verified_and_thumbnailed_at_its_displayed_size() {
    let cases: [(&[u8], ImageType, (u32, u32)); 11] = [
        (IPHONE, ImageType::Heic, (3024, 4032)),
        (HEIC_ODD, ImageType::Heic, (1002, 750)),
        (HEIC_ALPHA, ImageType::Heic, (640, 480)),
        (HEIC_PLAIN, ImageType::Heif, (640, 480)),
        (AVIF_TEN_BIT, ImageType::Avif, (640, 480)),
        (AVIF_ALPHA, ImageType::Avif, (640, 480)),
        (AVIF_MONO, ImageType::Avif, (640, 480)),
        (AVIF_444, ImageType::Avif, (640, 480)),
        (AVIF_LIMITED, ImageType::Avif, (640, 480)),
        (AVIF_GRID, ImageType::Avif, (1024, 768)),
        (AVIF_SEQUENCE, ImageType::Avif, (320, 240)),
    ];
    for (bytes, declared, size) in cases {
        let (width, height, thumb) = thumbnail(bytes, declared);
        assert_eq!((width, height), size, "{declared} {size:?}");
        let longest = thumb.width().max(thumb.height());
        assert_eq!(longest, 256, "{declared} {size:?}");
    }
}

#[test]
fn the_iphone_grid_is_shown_as_its_irot_says_and_its_exif_orientation_is_not_applied() {
    // Stored 4032 x 3024 with an irot of a quarter turn anticlockwise, and an Exif item saying
    // orientation 6: shown upright, the markers are red top left, green top right, blue bottom
    // left. Applying the Exif orientation on top would show it 4032 x 3024.
    let (width, height, thumb) = thumbnail(IPHONE, ImageType::Heic);
    assert_eq!((width, height), (3024, 4032));
    assert_eq!(thumb.dimensions(), (192, 256));
    let side = 8;
    let corners = [
        ((2, 2), [230, 30, 30]),
        ((192 - side - 2, 2), [30, 200, 60]),
        ((2, 256 - side - 2), [30, 60, 230]),
    ];
    for ((x, y), marker) in corners {
        let found = mean(&thumb, x, y, side);
        assert!(distance(found, marker) < 40, "at ({x}, {y}): {found:?}");
    }
}

#[test]
fn alpha_is_flattened_onto_white() {
    // Opaque on the left, half transparent on the right, a fully transparent disc centred at
    // (480, 240) of 640 x 480: the thumbnail is 256 x 192.
    for (bytes, declared) in [(HEIC_ALPHA, ImageType::Heic), (AVIF_ALPHA, ImageType::Avif)] {
        let (_, _, thumb) = thumbnail(bytes, declared);
        let disc = mean(&thumb, 190, 94, 4);
        assert!(disc.iter().all(|&c| c > 245), "{declared}: disc {disc:?}");
        let left = mean(&thumb, 20, 20, 4);
        assert!(left.iter().any(|&c| c < 200), "{declared}: opaque {left:?}");
    }
}

#[test]
fn the_coding_decides_the_type_not_the_brand() {
    for (bytes, declared) in [
        (IPHONE, ImageType::Avif),
        (HEIC_PLAIN, ImageType::Avif),
        (AVIF_444, ImageType::Heic),
        (AVIF_444, ImageType::Heif),
        (IPHONE, ImageType::Jpeg),
    ] {
        assert_eq!(
            inspect(bytes, declared, &policy()),
            Err(RejectionReason::TypeMismatch),
            "{declared}"
        );
    }
    // An AVIF whose brands claim HEIC is still judged by its coding.
    let mut claims_heic = AVIF_444.to_vec();
    let major = 8;
    claims_heic[major..major + 4].copy_from_slice(b"heic");
    let compatible = &mut claims_heic[16..32];
    for chunk in compatible.chunks_exact_mut(4) {
        if chunk == b"avif" {
            chunk.copy_from_slice(b"heic");
        }
    }
    assert_eq!(
        inspect(&claims_heic, ImageType::Heic, &policy()),
        Err(RejectionReason::TypeMismatch)
    );
    assert!(inspect(&claims_heic, ImageType::Avif, &policy()).is_ok());
}

/// A 512 x 512 HEVC tile of the iPhone fixture: its `hvcC` and data.
fn real_tile() -> (Vec<u8>, Vec<u8>) {
    let meta = Meta::parse(IPHONE).unwrap();
    let tile = meta.references_from(meta.primary, b"dimg").unwrap()[0];
    let config = meta
        .properties_of(tile)
        .unwrap()
        .find_map(|(p, _)| match p {
            Property::HevcConfig(c) => Some(c.to_vec()),
            _ => None,
        })
        .unwrap();
    (config, meta.data(tile).unwrap().into_owned())
}

/// A `rows` x `columns` grid of the real tile, `width` x `height`, with items 1.. the tiles and
/// item 100 the grid.
fn grid_of_real_tiles(rows: u32, columns: u32, width: u32, height: u32) -> Heif {
    let (config, data) = real_tile();
    let mut heif = Heif::new(b"heic", 100);
    let hvcc = heif.property(bx(b"hvcC", &config));
    let tile_size = heif.property(ispe(512, 512));
    let grid_size = heif.property(ispe(width, height));
    let mut tiles = Vec::new();
    for id in 1..=rows * columns {
        let mut item = Item::new(id, b"hvc1", data.clone(), vec![-hvcc, tile_size]);
        item.hidden = true;
        heif.items.push(item);
        tiles.push(id);
    }
    heif.items.push(Item::new(
        100,
        b"grid",
        grid_data(rows, columns, width, height),
        vec![grid_size],
    ));
    heif.references.push((*b"dimg", 100, tiles));
    heif
}

fn verdict(bytes: &[u8]) -> Result<(u32, u32), HeifError> {
    decode_heif(bytes, ImageType::Heic, &policy()).map(|r| (r.width, r.height))
}

#[test]
fn a_crafted_grid_of_real_tiles_decodes() {
    assert_eq!(
        verdict(&grid_of_real_tiles(2, 2, 1000, 1000).build()),
        Ok((1000, 1000))
    );
}

#[test]
fn hostile_files_are_refused_by_the_rule_they_break() {
    let (config, data) = real_tile();
    let mut cases: Vec<(&str, Vec<u8>, HeifError)> = Vec::new();

    let mut mixed = grid_of_real_tiles(2, 2, 1000, 1000);
    let small = mixed.property(ispe(256, 256));
    mixed.items[3].properties[1] = small;
    cases.push((
        "tiles of mixed sizes",
        mixed.build(),
        HeifError::GridMismatch("tiles of different sizes, codings or formats"),
    ));

    // One tile whose hvcC declares 4:4:4: the peak is estimated from the first tile's format, so
    // every tile must share it.
    let mut formats = grid_of_real_tiles(2, 2, 1000, 1000);
    let mut chroma_444 = config.clone();
    chroma_444[16] = 0xFC | 3;
    let other = formats.property(bx(b"hvcC", &chroma_444));
    formats.items[3].properties[0] = -other;
    cases.push((
        "a tile of another sampling",
        formats.build(),
        HeifError::GridMismatch("tiles of different sizes, codings or formats"),
    ));

    let mut twice = grid_of_real_tiles(2, 2, 1000, 1000);
    twice.references[0].2[3] = 1;
    cases.push((
        "a tile referenced twice",
        twice.build(),
        HeifError::BadReference("a tile referenced twice"),
    ));

    let mut cycle = grid_of_real_tiles(1, 2, 1000, 500);
    let size = cycle.property(ispe(1000, 500));
    cycle.items.push(Item::new(
        101,
        b"grid",
        grid_data(1, 2, 1000, 500),
        vec![size],
    ));
    cycle.references[0].2[1] = 101;
    cycle.references.push((*b"dimg", 101, vec![100, 1]));
    cases.push((
        "a dimg cycle through a second grid",
        cycle.build(),
        HeifError::BadReference("a tile that is a grid"),
    ));

    let mut itself = grid_of_real_tiles(1, 2, 1000, 500);
    itself.references[0].2[1] = 100;
    cases.push((
        "a grid that is its own tile",
        itself.build(),
        HeifError::BadReference("an item refers to itself"),
    ));

    let uncovered = grid_of_real_tiles(2, 2, 1100, 1000);
    cases.push((
        "tiles that do not cover the output",
        uncovered.build(),
        HeifError::GridMismatch("the tiles do not cover the output size"),
    ));

    let mut one = Heif::new(b"heic", 1);
    let hvcc = one.property(bx(b"hvcC", &config));
    let size = one.property(ispe(512, 512));
    let half_size = one.property(ispe(256, 512));
    one.items
        .push(Item::new(1, b"hvc1", data.clone(), vec![hvcc, size]));
    let valid = one.clone();
    // Without its ftyp first, a file is not a HEIF file at all.
    let headless = valid.build()[24..].to_vec();
    assert_eq!(
        verdict(&headless),
        Err(HeifError::Malformed("the first box is not ftyp"))
    );
    assert_eq!(
        inspect(&headless, ImageType::Heic, &policy()).map(|_| ()),
        Err(RejectionReason::TypeMismatch)
    );

    let mut cut = valid.clone();
    cut.items[0].data.truncate(data.len() / 2);
    cases.push((
        "a NAL unit cut short of its length prefix",
        cut.build(),
        HeifError::Truncated,
    ));
    // The same slice cut in half with its length prefix saying so: the decoder finds it short.
    let mut truncated = valid.clone();
    let nal = &data[4..];
    assert_eq!(data[..4], (nal.len() as u32).to_be_bytes(), "one NAL unit");
    let half = nal.len() / 2;
    truncated.items[0].data = [&(half as u32).to_be_bytes()[..], &nal[..half]].concat();
    cases.push((
        "a truncated HEVC stream",
        truncated.build(),
        HeifError::Codec,
    ));

    let mut smaller = valid.clone();
    smaller.items[0].properties[1] = half_size;
    cases.push((
        "an ispe smaller than the coded image",
        smaller.build(),
        HeifError::Codec,
    ));

    let mut alpha = valid.clone();
    let aux = alpha.property(auxc_alpha());
    let mut plane = Item::new(2, b"hvc1", data.clone(), vec![hvcc, half_size, aux]);
    plane.hidden = true;
    alpha.items.push(plane);
    alpha.references.push((*b"auxl", 2, vec![1]));
    cases.push((
        "an alpha plane of another size",
        alpha.build(),
        HeifError::AlphaSizeMismatch,
    ));

    let mut unknown = valid.clone();
    let essential = unknown.property(bx(b"zzzz", b""));
    unknown.items[0].properties.push(-essential);
    cases.push((
        "an unknown essential property",
        unknown.build(),
        HeifError::Unsupported("an essential property"),
    ));

    // Item data pointing into the headers (offset 0: the ftyp box), and past the end.
    let built = valid.build();
    // After the version and flags: sizes, count, ID, method, data reference, extent count.
    let offset_at = find(&built, b"iloc") + 4 + 2 + 2 + 2 + 2 + 2 + 2;
    let mut into_header = built.clone();
    into_header[offset_at..offset_at + 4].copy_from_slice(&0u32.to_be_bytes());
    cases.push((
        "an extent over the header",
        into_header,
        HeifError::ExtentOutsideData,
    ));
    let mut past_end = built.clone();
    past_end[offset_at..offset_at + 4].copy_from_slice(&(built.len() as u32 - 10).to_be_bytes());
    cases.push((
        "an extent past the end",
        past_end,
        HeifError::ExtentOutsideData,
    ));

    // A 64-bit box size far larger than the file.
    let mut huge = built.clone();
    let mdat = find(&huge, b"mdat") - 4;
    huge.splice(
        mdat..mdat + 8,
        [
            1u32.to_be_bytes().as_slice(),
            b"mdat",
            &u64::MAX.to_be_bytes(),
        ]
        .concat(),
    );
    cases.push((
        "a 64-bit box size past the end",
        huge,
        HeifError::BoxOutsideParent,
    ));

    let mut no_primary = valid.clone();
    no_primary.primary = 7;
    cases.push((
        "a primary item that does not exist",
        no_primary.build(),
        HeifError::MissingItem,
    ));

    for (case, bytes, expected) in cases {
        assert_eq!(verdict(&bytes), Err(expected), "{case}");
        assert_eq!(
            inspect(&bytes, ImageType::Heic, &policy()).map(|_| ()),
            Err(RejectionReason::from(expected)),
            "{case}"
        );
    }
}

/// Where `kind` first appears in `bytes` (the byte after it).
fn find(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).expect("present") + 4
}

#[test]
fn huge_declarations_are_refused_before_anything_is_allocated_for_them() {
    let (config, data) = real_tile();
    let mut huge = Heif::new(b"heic", 1);
    let hvcc = huge.property(bx(b"hvcC", &config));
    let size = huge.property(ispe(60_000, 60_000));
    huge.items
        .push(Item::new(1, b"hvc1", data.clone(), vec![hvcc, size]));

    let mut tiles = Heif::new(b"heic", 100);
    let size = tiles.property(ispe(256 * 512, 256 * 512));
    tiles.items.push(Item::new(
        100,
        b"grid",
        grid_data(256, 256, 256 * 512, 256 * 512),
        vec![size],
    ));

    for (case, file, expected) in [
        ("a 60000 x 60000 ispe", huge.build(), HeifError::OverLimits),
        (
            "a grid of 65536 tiles",
            tiles.build(),
            HeifError::TooManyTiles,
        ),
    ] {
        let mut result = None;
        let allocated = bytes_allocated_by(|| result = Some(verdict(&file)));
        assert_eq!(result, Some(Err(expected)), "{case}");
        assert!(allocated < 64 * 1024, "{case}: allocated {allocated} bytes");
        assert_eq!(
            inspect(&file, ImageType::Heic, &policy()).map(|_| ()),
            Err(RejectionReason::TooManyPixels),
            "{case}"
        );
    }
}

#[test]
fn boxes_nested_thousands_deep_cost_nothing() {
    let mut deep = b"leaf".to_vec();
    for _ in 0..10_000 {
        deep = bx(b"dinf", &deep);
    }
    let mut heif = grid_of_real_tiles(1, 1, 512, 512);
    heif.extra_meta.push(deep.clone());
    let property = heif.property(deep);
    heif.items[1].properties.push(property);
    assert_eq!(verdict(&heif.build()), Ok((512, 512)));
}

#[test]
fn an_image_sequence_without_a_still_image_is_refused_clearly() {
    let sequence = [
        bx(b"ftyp", b"msf1\0\0\0\0msf1iso8"),
        bx(b"moov", &bx(b"mvhd", &[0; 100])),
        bx(b"mdat", &[0; 64]),
    ]
    .concat();
    assert_eq!(verdict(&sequence), Err(HeifError::NoStillImage));
}

#[test]
fn transforms_apply_in_the_order_ipma_lists_them() {
    // A 1000 x 500 grid turned a quarter anticlockwise shows 500 x 1000; then the clean aperture
    // keeps 500 x 600 of that, centred: 600 x 500 of the stored image.
    let mut turned_then_cropped = grid_of_real_tiles(1, 2, 1000, 500);
    let turn = turned_then_cropped.property(irot(1));
    let crop = turned_then_cropped.property(clap(500, 600, 0, 0));
    turned_then_cropped.items[2]
        .properties
        .extend([-turn, -crop]);
    let bytes = turned_then_cropped.build();
    assert_eq!(verdict(&bytes), Ok((600, 500)));
    let inspected = inspect(&bytes, ImageType::Heic, &policy()).unwrap();
    assert_eq!((inspected.width, inspected.height), (500, 600));

    // The same two the other way round: cropping 500 x 600 of 1000 x 500 does not fit.
    let mut cropped_then_turned = grid_of_real_tiles(1, 2, 1000, 500);
    let crop = cropped_then_turned.property(clap(500, 600, 0, 0));
    let turn = cropped_then_turned.property(irot(1));
    cropped_then_turned.items[2]
        .properties
        .extend([-crop, -turn]);
    assert_eq!(
        verdict(&cropped_then_turned.build()),
        Err(HeifError::BadCrop)
    );

    // A mirror after the turn: still 500 x 1000 shown, the orientation a transverse one.
    let mut mirrored = grid_of_real_tiles(1, 2, 1000, 500);
    let turn = mirrored.property(irot(1));
    let flip = mirrored.property(imir(1));
    mirrored.items[2].properties.extend([-turn, -flip]);
    let inspected = inspect(&mirrored.build(), ImageType::Heic, &policy()).unwrap();
    assert_eq!((inspected.width, inspected.height), (500, 1000));
}

/// The verdict on `file` thumbnailed at `thumbnail_size` px.
fn verdict_at(file: &[u8], declared: ImageType, thumbnail_size: u32) -> Result<(), HeifError> {
    let policy = ProcessingPolicy {
        renditions: Renditions::thumbnail_only(thumbnail_size),
        ..policy()
    };
    decode_heif(file, declared, &policy).map(|_| ())
}

/// Asserts that `files`, images of `size`, get the same verdicts with the in-loop filters run (a
/// 256 px thumbnail of a small image) and skipped (a thumbnail of `skipping_size` px), and that
/// some are accepted and some refused.
fn assert_filters_change_no_verdict(
    files: &[Vec<u8>],
    declared: ImageType,
    (width, height): (u32, u32),
    skipping_size: u32,
) {
    let filters = |size| {
        let reducer = Reducer::new(width, height, thumbnail_dimensions(width, height, size));
        LoopFilters::for_box(reducer.factor())
    };
    assert_eq!(filters(256), LoopFilters::Apply);
    assert_eq!(filters(skipping_size), LoopFilters::Skip);
    let mut refused = 0;
    for (i, file) in files.iter().enumerate() {
        let filtered = verdict_at(file, declared, 256);
        assert_eq!(
            filtered,
            verdict_at(file, declared, skipping_size),
            "variant {i} of {declared}"
        );
        refused += usize::from(filtered.is_err());
    }
    assert!(
        refused > 0 && refused < files.len(),
        "{refused} of {} refused",
        files.len()
    );
}

#[test]
fn skipping_the_in_loop_filters_changes_no_verdict() {
    // HEVC: one real 512 x 512 tile as the whole image, its slice cut (the length prefix saying
    // so) or a byte of it changed, at places spread over the slice.
    let (config, data) = real_tile();
    let nal = &data[4..];
    let file = |data: Vec<u8>| {
        let mut heif = Heif::new(b"heic", 1);
        let hvcc = heif.property(bx(b"hvcC", &config));
        let size = heif.property(ispe(512, 512));
        heif.items
            .push(Item::new(1, b"hvc1", data, vec![-hvcc, size]));
        heif.build()
    };
    let mut files = vec![file(data.clone())];
    for k in 1..8 {
        let cut = nal.len() * k / 8;
        files.push(file(
            [&(cut as u32).to_be_bytes()[..], &nal[..cut]].concat(),
        ));
    }
    for k in 0..24 {
        let mut damaged = data.clone();
        damaged[4 + 2 + (nal.len() - 2) * k / 24] ^= 0x5A;
        files.push(file(damaged));
    }
    assert_filters_change_no_verdict(&files, ImageType::Heic, (512, 512), 64);

    // AV1: a 35 x 21 image (a 4 px thumbnail has a box of 4), a byte of its item data changed.
    let avif: &[u8] = include_bytes!("../../../fixtures/images/heif/av1/yuv420-8bit-35x21.avif");
    let mdat = find(avif, b"mdat") + 4;
    let mut files = vec![avif.to_vec()];
    for k in 0..24 {
        let mut damaged = avif.to_vec();
        damaged[mdat + (avif.len() - mdat) * k / 24] ^= 0x5A;
        files.push(damaged);
    }
    assert_filters_change_no_verdict(&files, ImageType::Avif, (35, 21), 4);
}

/// The box grid of `file`'s colour image (no alpha) for a `thumbnail_size` px thumbnail, its
/// samples converted as `conversion` says, with the filters run.
fn grid_converted(file: &[u8], thumbnail_size: u32, conversion: Conversion) -> RgbImage {
    let meta = Meta::parse(file).unwrap();
    let primary = Primary::resolve(&meta).unwrap();
    let colour = &primary.colour;
    let (crop, _) = transform::resolve(&primary.transforms, colour.width, colour.height).unwrap();
    let thumbnail = thumbnail_dimensions(crop.width, crop.height, thumbnail_size);
    let mut reducer = Reducer::new(crop.width, crop.height, thumbnail);
    assert_eq!(
        Conversion::for_image(colour, crop, false, reducer.factor()),
        Conversion::Blocks,
        "blocks may be used for this crop"
    );
    let how = (LoopFilters::Apply, conversion);
    decode_colour(&meta, colour, crop, None, how, &mut reducer).unwrap();
    reducer.finish().unwrap()
}

#[test]
fn blocks_and_pixels_give_the_same_grid_for_crops_of_odd_sides_inside_tiles() {
    // A 2 x 2 grid of real 512 px tiles shown at 1001 x 999 (the tiles cut at the right and the
    // bottom), cropped by `clap` to odd sides with an even origin: one crop starting inside the
    // first tile and ending inside the last column and row, one lying in the second column alone
    // (so the first column's tiles are decoded and lie wholly outside it).
    for (width, height, dx, dy, origin) in
        [(995, 713, 1, 1, (4, 144)), (301, 401, 170, 1, (520, 300))]
    {
        let mut heif = grid_of_real_tiles(2, 2, 1001, 999);
        let crop = heif.property(clap(width, height, dx, dy));
        heif.items.last_mut().unwrap().properties.push(-crop);
        let file = heif.build();
        let meta = Meta::parse(&file).unwrap();
        let primary = Primary::resolve(&meta).unwrap();
        let colour = &primary.colour;
        let (rect, _) =
            transform::resolve(&primary.transforms, colour.width, colour.height).unwrap();
        assert_eq!(
            (rect.x, rect.y, rect.width, rect.height),
            (origin.0, origin.1, width, height)
        );

        let blocks = grid_converted(&file, 32, Conversion::Blocks);
        let pixels = grid_converted(&file, 32, Conversion::Pixels);
        assert_eq!(blocks.dimensions(), pixels.dimensions());
        let mut worst = 0;
        let mut total = 0u64;
        for (a, b) in blocks.pixels().zip(pixels.pixels()) {
            for c in 0..3 {
                let d = a[c].abs_diff(b[c]);
                worst = worst.max(d);
                total += u64::from(d);
            }
        }
        let mean = total as f64 / (3 * blocks.width() * blocks.height()) as f64;
        // Each cell averages dozens of pixels; the blocks differ only by rounding and by the
        // clamping of a colour outside the RGB cube.
        assert!(
            worst <= 2 && mean < 0.5,
            "{width} x {height}: worst {worst}, mean {mean:.3}"
        );
    }
}
