//! What the items of a HEIF file mean: the primary image (one coded image, or a `grid` of coded
//! tiles), its alpha plane (an `auxl` auxiliary image), and the transforms that show it upright
//! (`irot`, `imir`, `clap`, in the order `ipma` lists them).
//!
//! Every rule that can be checked without decoding is checked here: the coding of every tile, the
//! grid's geometry against its tiles' `ispe`, tiles referenced once each and never grids
//! themselves (so a `dimg` cycle cannot be followed), the alpha plane's size against its master.

use super::av1::Av1C;
use super::error::HeifError;
use super::hevc::HevcConfig;
use super::meta::{Clap, Meta, Nclx, Property};
use super::picture::Chroma;

/// The most tiles a grid may have (256 x 256 is the most its header can declare; an iPhone's
/// 48 MP photo has 192).
pub(in crate::imaging) const MAX_TILES: usize = 1024;

/// How the coded images are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Coding {
    /// HEVC (`hvc1`, `hev1`): HEIC.
    Hevc,
    /// AV1 (`av01`): AVIF.
    Av1,
}

/// A coded image's decoder configuration (`hvcC` or `av1C`), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) enum Config<'a> {
    Hevc(HevcConfig<'a>),
    Av1(Av1C<'a>),
}

impl Config<'_> {
    pub(in crate::imaging) fn coding(&self) -> Coding {
        match self {
            Self::Hevc(_) => Coding::Hevc,
            Self::Av1(_) => Coding::Av1,
        }
    }

    /// The sampling and bit depth the configuration declares (its decoder refuses a picture that
    /// differs).
    pub(in crate::imaging) fn format(&self) -> (Chroma, u8) {
        match self {
            Self::Hevc(c) => (c.chroma, c.bit_depth),
            Self::Av1(c) => (c.chroma, c.bit_depth),
        }
    }
}

/// One coded image: a whole image or a tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct Coded<'a> {
    pub id: u32,
    pub config: Config<'a>,
}

/// An image as tiles: one tile for a coded image, `rows` x `columns` for a grid. The tiles cover
/// the image; those on the right and bottom edges may reach past it and are cropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct Tiled<'a> {
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
    /// In raster order; never empty, and all of one coding, sampling and bit depth.
    pub tiles: Vec<Coded<'a>>,
    /// The colour description of the image (or, for a grid without one, of its first tile).
    pub colour: Option<Nclx>,
}

impl Tiled<'_> {
    pub(in crate::imaging) fn coding(&self) -> Coding {
        self.tiles[0].config.coding()
    }

    /// The sampling and bit depth of every tile.
    pub(in crate::imaging) fn format(&self) -> (Chroma, u8) {
        self.tiles[0].config.format()
    }
}

/// One transform of how the image is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Transform {
    /// Anticlockwise quarter turns.
    Rotate(u8),
    /// `imir` mode 0: top and bottom swap; 1: left and right swap.
    Mirror(u8),
    Crop(Clap),
}

/// The primary image as the file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct Primary<'a> {
    pub colour: Tiled<'a>,
    pub alpha: Option<Tiled<'a>>,
    /// In the order they apply.
    pub transforms: Vec<Transform>,
}

const ALPHA_URNS: [&[u8]; 2] = [
    b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
    b"urn:mpeg:hevc:2015:auxid:1",
];

impl<'a> Primary<'a> {
    /// Resolves the file's primary item.
    pub(in crate::imaging) fn resolve(meta: &Meta<'a>) -> Result<Self, HeifError> {
        if meta.item(meta.primary)?.hidden {
            return Err(HeifError::Malformed("the primary item is hidden"));
        }
        let colour = tiled(meta, meta.primary)?;
        let mut transforms = Vec::new();
        for (property, _) in meta.properties_of(meta.primary)? {
            match property {
                Property::Rotation(quarters) => transforms.push(Transform::Rotate(*quarters)),
                Property::Mirror(axis) => transforms.push(Transform::Mirror(*axis)),
                Property::CleanAperture(clap) => transforms.push(Transform::Crop(*clap)),
                _ => {}
            }
        }
        let mut alpha = None;
        for id in meta.references_to(meta.primary, b"auxl") {
            let is_alpha = meta
                .properties_of(id)?
                .any(|(p, _)| matches!(p, Property::Auxiliary(urn) if ALPHA_URNS.contains(urn)));
            if !is_alpha {
                continue;
            }
            if alpha.is_some() {
                return Err(HeifError::BadReference("two alpha planes"));
            }
            let plane = tiled(meta, id)?;
            if (plane.width, plane.height) != (colour.width, colour.height) {
                return Err(HeifError::AlphaSizeMismatch);
            }
            // One coding per file: an AVIF never needs the HEVC decoder, nor a HEIC the AV1 one.
            if plane.coding() != colour.coding() {
                return Err(HeifError::BadReference("an alpha plane of another coding"));
            }
            alpha = Some(plane);
        }
        Ok(Self {
            colour,
            alpha,
            transforms,
        })
    }
}

/// Item `id` as tiles: a coded image, or a grid of coded images.
fn tiled<'a>(meta: &Meta<'a>, id: u32) -> Result<Tiled<'a>, HeifError> {
    let item = meta.item(id)?;
    check_essentials(meta, id)?;
    match &item.kind {
        b"grid" => grid(meta, id),
        _ => {
            let (coded, width, height) = coded(meta, id)?;
            Ok(Tiled {
                width,
                height,
                tile_width: width,
                tile_height: height,
                columns: 1,
                rows: 1,
                tiles: vec![coded],
                colour: colour_of(meta, id)?,
            })
        }
    }
}

/// Refuses an item with an essential property this reader does not know: HEIF readers must not
/// show such an item as if the property were not there.
fn check_essentials(meta: &Meta<'_>, id: u32) -> Result<(), HeifError> {
    for (property, essential) in meta.properties_of(id)? {
        if essential && matches!(property, Property::Other(_)) {
            return Err(HeifError::Unsupported("an essential property"));
        }
    }
    Ok(())
}

fn colour_of(meta: &Meta<'_>, id: u32) -> Result<Option<Nclx>, HeifError> {
    Ok(meta.properties_of(id)?.find_map(|(p, _)| match p {
        Property::Colour(nclx) => *nclx,
        _ => None,
    }))
}

fn size_of(meta: &Meta<'_>, id: u32) -> Result<(u32, u32), HeifError> {
    meta.properties_of(id)?
        .find_map(|(p, _)| match p {
            Property::Size { width, height } => Some((*width, *height)),
            _ => None,
        })
        .ok_or(HeifError::MissingProperty("ispe"))
}

/// Item `id` as one coded image: its parsed configuration and `ispe` size.
fn coded<'a>(meta: &Meta<'a>, id: u32) -> Result<(Coded<'a>, u32, u32), HeifError> {
    let item = meta.item(id)?;
    let coding = match &item.kind {
        b"hvc1" | b"hev1" => Coding::Hevc,
        b"av01" => Coding::Av1,
        b"grid" => return Err(HeifError::BadReference("a tile that is a grid")),
        _ => return Err(HeifError::Unsupported("an item type")),
    };
    if item.protected {
        return Err(HeifError::Unsupported("a protected item"));
    }
    let record = meta
        .properties_of(id)?
        .find_map(|(p, _)| match (coding, p) {
            (Coding::Hevc, Property::HevcConfig(c)) | (Coding::Av1, Property::Av1Config(c)) => {
                Some(*c)
            }
            _ => None,
        })
        .ok_or(HeifError::MissingProperty("hvcC or av1C"))?;
    let config = match coding {
        Coding::Hevc => Config::Hevc(HevcConfig::parse(record)?),
        Coding::Av1 => Config::Av1(Av1C::parse(record)?),
    };
    let (width, height) = size_of(meta, id)?;
    if width == 0 || height == 0 {
        return Err(HeifError::Malformed("an empty ispe"));
    }
    Ok((Coded { id, config }, width, height))
}

/// A `grid` item (ISO/IEC 23008-12 §6.6.2.3): its header, and its tiles from its `dimg`
/// references.
fn grid<'a>(meta: &Meta<'a>, id: u32) -> Result<Tiled<'a>, HeifError> {
    let data = meta.data(id)?;
    let mut r = super::boxes::Reader::new(&data);
    if r.u8()? != 0 {
        return Err(HeifError::Malformed("grid version"));
    }
    let wide = r.u8()? & 1 != 0;
    let rows = u32::from(r.u8()?) + 1;
    let columns = u32::from(r.u8()?) + 1;
    let (width, height) = if wide {
        (r.u32()?, r.u32()?)
    } else {
        (u32::from(r.u16()?), u32::from(r.u16()?))
    };
    if r.remaining() != 0 {
        return Err(HeifError::Malformed("grid data length"));
    }
    if (width, height) != size_of(meta, id)? {
        return Err(HeifError::GridMismatch(
            "the grid's ispe is not its output size",
        ));
    }
    let count = (rows * columns) as usize;
    if count > MAX_TILES {
        return Err(HeifError::TooManyTiles);
    }
    let ids = meta.references_from(id, b"dimg")?;
    if ids.len() != count {
        return Err(HeifError::GridMismatch(
            "dimg references are not rows x columns",
        ));
    }
    let mut tiles = Vec::with_capacity(count);
    let mut first = None;
    for (i, &tile) in ids.iter().enumerate() {
        if ids[..i].contains(&tile) {
            return Err(HeifError::BadReference("a tile referenced twice"));
        }
        check_essentials(meta, tile)?;
        let transformed = meta.properties_of(tile)?.any(|(p, _)| {
            matches!(
                p,
                Property::Rotation(_) | Property::Mirror(_) | Property::CleanAperture(_)
            )
        });
        if transformed {
            return Err(HeifError::GridMismatch("a tile with its own transform"));
        }
        let (coded, w, h) = coded(meta, tile)?;
        let shape = (coded.config.coding(), coded.config.format(), w, h);
        match first {
            None => first = Some(shape),
            Some(expected) if expected != shape => {
                return Err(HeifError::GridMismatch(
                    "tiles of different sizes, codings or formats",
                ));
            }
            Some(_) => {}
        }
        tiles.push(coded);
    }
    let (_, _, tile_width, tile_height) = first.ok_or(HeifError::Malformed("an empty grid"))?;
    // The tiles cover the output, and no row or column of them lies wholly outside it.
    let covers = |tile: u32, n: u32, side: u32| {
        let tile = u64::from(tile);
        tile * u64::from(n) >= u64::from(side) && tile * u64::from(n - 1) < u64::from(side)
    };
    if width == 0
        || height == 0
        || !covers(tile_width, columns, width)
        || !covers(tile_height, rows, height)
    {
        return Err(HeifError::GridMismatch(
            "the tiles do not cover the output size",
        ));
    }
    let colour = match colour_of(meta, id)? {
        Some(c) => Some(c),
        None => colour_of(meta, tiles[0].id)?,
    };
    Ok(Tiled {
        width,
        height,
        tile_width,
        tile_height,
        columns,
        rows,
        tiles,
        colour,
    })
}
