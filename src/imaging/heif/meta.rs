//! The `meta` box of a HEIF file (ISO/IEC 23008-12 §9, ISO/IEC 14496-12 §8.11): its items,
//! where their data lies, how they refer to one another, and their properties.
//!
//! Every count is bounded by the bytes of the box that declares it (nothing is allocated from a
//! declared count), every offset and length is checked, and item data must lie inside an `mdat`
//! (or the `meta`'s own `idat`), so an extent can neither run past the end nor point into the
//! headers. What the items mean (the primary image, its tiles, its alpha) is [`super::image`]'s.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::boxes::{Boxes, Bx, FourCc, Reader};
use super::error::HeifError;

/// The most items a file may declare: an iPhone photo has about 50 (48 tiles, a thumbnail,
/// metadata); a file with thousands is not a photo.
pub(in crate::imaging) const MAX_ITEMS: usize = 4096;
/// The most properties in `ipco`, and the most associations of all items together.
pub(in crate::imaging) const MAX_PROPERTIES: usize = 4096;
/// The most extents an item's data may be split into.
pub(in crate::imaging) const MAX_EXTENTS: usize = 1024;

/// The parsed `meta` box and the file's `mdat` boxes.
#[derive(Debug)]
pub(in crate::imaging) struct Meta<'a> {
    pub primary: u32,
    pub items: BTreeMap<u32, Item>,
    /// The `ipco` properties in order (an association's index `i` is `properties[i - 1]`).
    pub properties: Vec<Property<'a>>,
    pub references: Vec<Reference>,
    idat: Option<&'a [u8]>,
    /// `iloc` and `ipma` entries, kept until `iinf` (which may come after them) is read.
    locations: BTreeMap<u32, Location>,
    associations: BTreeMap<u32, Vec<(u16, bool)>>,
    file: &'a [u8],
    /// Where the bodies of the `mdat` boxes lie in the file.
    mdats: Vec<(usize, usize)>,
}

/// One item of `iinf`, with its location (`iloc`) and property associations (`ipma`).
#[derive(Debug, Default)]
pub(in crate::imaging) struct Item {
    pub kind: FourCc,
    pub hidden: bool,
    pub protected: bool,
    pub location: Option<Location>,
    /// (property index from 1, essential), in the order `ipma` lists them.
    pub associations: Vec<(u16, bool)>,
}

/// Where an item's data is: extents of the file, or of the `idat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct Location {
    pub in_idat: bool,
    /// (offset, length) of each extent, the base offset already added; length 0 means "to the
    /// end", allowed for a sole extent.
    pub extents: Vec<(u64, u64)>,
}

/// One `iref` reference: `from` refers to each of `to`, as `kind` says (`dimg`, `thmb`, `auxl`,
/// `cdsc`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) struct Reference {
    pub kind: FourCc,
    pub from: u32,
    pub to: Vec<u32>,
}

/// A colour description from `colr` of type `nclx` (ITU-T H.273 code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Nclx {
    pub matrix: u16,
    pub full_range: bool,
}

/// A clean aperture (`clap`): the width, height and centre offset as fractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Clap {
    pub width: (u32, u32),
    pub height: (u32, u32),
    pub horizontal_offset: (i32, u32),
    pub vertical_offset: (i32, u32),
}

/// An item property (ISO/IEC 23008-12 §6.5) as far as verifying and showing the image needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::imaging) enum Property<'a> {
    /// `ispe`: the image's width and height.
    Size { width: u32, height: u32 },
    /// `pixi`: bits per channel.
    Depths(Vec<u8>),
    /// `hvcC`: the HEVC decoder configuration record, unparsed.
    HevcConfig(&'a [u8]),
    /// `av1C`: the AV1 codec configuration record, unparsed.
    Av1Config(&'a [u8]),
    /// `colr` of type `nclx` (`None` for an ICC profile, which is not applied).
    Colour(Option<Nclx>),
    /// `irot`: anticlockwise rotation in quarter turns.
    Rotation(u8),
    /// `imir`: mode 0 swaps top and bottom, mode 1 left and right (ISO/IEC 23008-12:2022).
    Mirror(u8),
    /// `clap`: crop to the clean aperture.
    CleanAperture(Clap),
    /// `auxC`: what an auxiliary image is (its URN), e.g. alpha.
    Auxiliary(&'a [u8]),
    /// Any other property, by type.
    Other(FourCc),
}

impl<'a> Meta<'a> {
    /// Parses the file's top-level boxes: `ftyp` first, exactly one `meta`, any `mdat`s.
    pub(in crate::imaging) fn parse(file: &'a [u8]) -> Result<Self, HeifError> {
        let mut meta = None;
        let mut mdats = Vec::new();
        for (i, bx) in Boxes::of_file(file).enumerate() {
            let bx = bx?;
            match &bx.kind {
                b"ftyp" if i == 0 => {}
                _ if i == 0 => return Err(HeifError::Malformed("the first box is not ftyp")),
                b"meta" if meta.is_some() => return Err(HeifError::Malformed("two meta boxes")),
                b"meta" => meta = Some(bx),
                b"mdat" => mdats.push((bx.offset, bx.offset + bx.body.len())),
                _ => {}
            }
        }
        let meta = meta.ok_or(HeifError::NoStillImage)?;
        let mut parsed = Self {
            primary: 0,
            items: BTreeMap::new(),
            properties: Vec::new(),
            references: Vec::new(),
            idat: None,
            locations: BTreeMap::new(),
            associations: BTreeMap::new(),
            file,
            mdats,
        };
        parsed.read_meta(&meta)?;
        Ok(parsed)
    }

    fn read_meta(&mut self, meta: &Bx<'a>) -> Result<(), HeifError> {
        let (version, _) = Reader::new(meta.body).version_and_flags()?;
        if version != 0 {
            return Err(HeifError::Malformed("meta version"));
        }
        let mut seen: Vec<FourCc> = Vec::new();
        let mut primary = None;
        for (i, bx) in Boxes::within(meta, 4).enumerate() {
            let bx = bx?;
            let once = matches!(
                &bx.kind,
                b"hdlr" | b"pitm" | b"iinf" | b"iloc" | b"iref" | b"iprp" | b"idat"
            );
            if once && seen.contains(&bx.kind) {
                return Err(HeifError::Malformed("a meta child box twice"));
            }
            seen.push(bx.kind);
            match &bx.kind {
                b"hdlr" if i == 0 => {
                    let mut r = Reader::new(bx.body);
                    r.version_and_flags()?;
                    r.u32()?;
                    if &r.fourcc()? != b"pict" {
                        return Err(HeifError::Malformed("meta handler is not pict"));
                    }
                }
                b"hdlr" => return Err(HeifError::Malformed("hdlr is not first in meta")),
                b"pitm" => {
                    let mut r = Reader::new(bx.body);
                    let (version, _) = r.version_and_flags()?;
                    primary = Some(if version == 0 {
                        u32::from(r.u16()?)
                    } else {
                        r.u32()?
                    });
                }
                b"iinf" => self.read_iinf(&bx)?,
                b"iloc" => self.read_iloc(&bx)?,
                b"iref" => self.read_iref(&bx)?,
                b"iprp" => self.read_iprp(&bx)?,
                b"idat" => self.idat = Some(bx.body),
                _ => {}
            }
        }
        // Entries for items that iinf does not list carry nothing that is read.
        for (id, location) in std::mem::take(&mut self.locations) {
            if let Some(item) = self.items.get_mut(&id) {
                item.location = Some(location);
            }
        }
        for (id, associations) in std::mem::take(&mut self.associations) {
            if let Some(item) = self.items.get_mut(&id) {
                item.associations = associations;
            }
        }
        if !seen.contains(b"hdlr") {
            return Err(HeifError::Malformed("meta has no hdlr"));
        }
        self.primary = primary.ok_or(HeifError::NoStillImage)?;
        if !self.items.contains_key(&self.primary) {
            return Err(HeifError::MissingItem);
        }
        Ok(())
    }

    fn read_iinf(&mut self, iinf: &Bx<'a>) -> Result<(), HeifError> {
        let mut r = Reader::new(iinf.body);
        let (version, _) = r.version_and_flags()?;
        let count_len = if version == 0 { 2 } else { 4 };
        for infe in Boxes::within(iinf, 4 + count_len) {
            let infe = infe?;
            if &infe.kind != b"infe" {
                continue;
            }
            let mut r = Reader::new(infe.body);
            let (version, flags) = r.version_and_flags()?;
            let id = match version {
                2 => u32::from(r.u16()?),
                3 => r.u32()?,
                _ => return Err(HeifError::Malformed("infe version")),
            };
            let protected = r.u16()? != 0;
            let kind = r.fourcc()?;
            if self.items.len() >= MAX_ITEMS {
                return Err(HeifError::TooMany("items"));
            }
            let item = Item {
                kind,
                hidden: flags & 1 != 0,
                protected,
                ..Item::default()
            };
            if self.items.insert(id, item).is_some() {
                return Err(HeifError::Malformed("two items with one ID"));
            }
        }
        Ok(())
    }

    fn read_iloc(&mut self, iloc: &Bx<'a>) -> Result<(), HeifError> {
        let mut r = Reader::new(iloc.body);
        let (version, _) = r.version_and_flags()?;
        if version > 2 {
            return Err(HeifError::Malformed("iloc version"));
        }
        let sizes = r.u16()?;
        let (offset_size, length_size, base_size) = (
            (sizes >> 12) as u8,
            (sizes >> 8 & 0xF) as u8,
            (sizes >> 4 & 0xF) as u8,
        );
        let index_size = if version == 0 { 0 } else { (sizes & 0xF) as u8 };
        let count = if version < 2 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        for _ in 0..count {
            let id = if version < 2 {
                u32::from(r.u16()?)
            } else {
                r.u32()?
            };
            let method = if version == 0 { 0 } else { r.u16()? & 0xF };
            if r.u16()? != 0 {
                return Err(HeifError::Unsupported("data in another file"));
            }
            let base = r.sized(base_size)?;
            let extent_count = usize::from(r.u16()?);
            if extent_count == 0 || extent_count > MAX_EXTENTS {
                return Err(HeifError::Malformed("iloc extent count"));
            }
            let mut extents = Vec::new();
            for _ in 0..extent_count {
                r.sized(index_size)?;
                let offset = base
                    .checked_add(r.sized(offset_size)?)
                    .ok_or(HeifError::ExtentOutsideData)?;
                extents.push((offset, r.sized(length_size)?));
            }
            let in_idat = match method {
                0 => false,
                1 => true,
                _ => return Err(HeifError::Unsupported("iloc construction method")),
            };
            if self.locations.len() >= MAX_ITEMS {
                return Err(HeifError::TooMany("item locations"));
            }
            if self
                .locations
                .insert(id, Location { in_idat, extents })
                .is_some()
            {
                return Err(HeifError::Malformed("an item located twice"));
            }
        }
        Ok(())
    }

    fn read_iref(&mut self, iref: &Bx<'a>) -> Result<(), HeifError> {
        let (version, _) = Reader::new(iref.body).version_and_flags()?;
        for reference in Boxes::within(iref, 4) {
            let reference = reference?;
            let wide = version != 0;
            let mut r = Reader::new(reference.body);
            let from = r.item_id(wide)?;
            let count = r.u16()?;
            let mut to = Vec::new();
            for _ in 0..count {
                let target = r.item_id(wide)?;
                if target == from {
                    return Err(HeifError::BadReference("an item refers to itself"));
                }
                to.push(target);
            }
            if self.references.len() >= MAX_ITEMS {
                return Err(HeifError::TooMany("references"));
            }
            self.references.push(Reference {
                kind: reference.kind,
                from,
                to,
            });
        }
        Ok(())
    }

    fn read_iprp(&mut self, iprp: &Bx<'a>) -> Result<(), HeifError> {
        let mut associated = 0usize;
        for (i, bx) in Boxes::within(iprp, 0).enumerate() {
            let bx = bx?;
            match &bx.kind {
                b"ipco" if i == 0 => {
                    for property in Boxes::within(&bx, 0) {
                        if self.properties.len() >= MAX_PROPERTIES {
                            return Err(HeifError::TooMany("properties"));
                        }
                        self.properties.push(Property::parse(&property?)?);
                    }
                }
                b"ipco" => return Err(HeifError::Malformed("ipco is not first in iprp")),
                b"ipma" => {
                    let mut r = Reader::new(bx.body);
                    let (version, flags) = r.version_and_flags()?;
                    let count = r.u32()?;
                    for _ in 0..count {
                        let id = if version == 0 {
                            u32::from(r.u16()?)
                        } else {
                            r.u32()?
                        };
                        let n = r.u8()?;
                        let mut associations = Vec::new();
                        for _ in 0..n {
                            let (essential, index) = if flags & 1 != 0 {
                                let v = r.u16()?;
                                (v & 0x8000 != 0, v & 0x7FFF)
                            } else {
                                let v = r.u8()?;
                                (v & 0x80 != 0, u16::from(v & 0x7F))
                            };
                            associated += 1;
                            if associated > MAX_PROPERTIES {
                                return Err(HeifError::TooMany("property associations"));
                            }
                            // Index 0 means "no property".
                            if index != 0 {
                                associations.push((index, essential));
                            }
                        }
                        if self.associations.insert(id, associations).is_some() {
                            return Err(HeifError::Malformed("an item in ipma twice"));
                        }
                    }
                }
                _ => {}
            }
        }
        for associations in self.associations.values() {
            if associations
                .iter()
                .any(|&(index, _)| usize::from(index) > self.properties.len())
            {
                return Err(HeifError::BadReference("a property index past ipco"));
            }
        }
        Ok(())
    }

    /// The item `id`.
    pub(in crate::imaging) fn item(&self, id: u32) -> Result<&Item, HeifError> {
        self.items.get(&id).ok_or(HeifError::MissingItem)
    }

    /// The properties of item `id`, in association order.
    pub(in crate::imaging) fn properties_of(
        &self,
        id: u32,
    ) -> Result<impl Iterator<Item = (&Property<'a>, bool)>, HeifError> {
        let item = self.item(id)?;
        Ok(item
            .associations
            .iter()
            .map(|&(index, essential)| (&self.properties[usize::from(index) - 1], essential)))
    }

    /// The items `from` refers to by references of `kind`, in order (none if it has none; a
    /// second reference box of the same kind from the same item is refused).
    pub(in crate::imaging) fn references_from(
        &self,
        from: u32,
        kind: &FourCc,
    ) -> Result<&[u32], HeifError> {
        let mut found = self
            .references
            .iter()
            .filter(|r| r.from == from && &r.kind == kind);
        let first = found.next();
        if found.next().is_some() {
            return Err(HeifError::BadReference("two references of one kind"));
        }
        Ok(first.map_or(&[], |r| &r.to))
    }

    /// The items that refer to `to` by references of `kind`.
    pub(in crate::imaging) fn references_to(&self, to: u32, kind: &FourCc) -> Vec<u32> {
        self.references
            .iter()
            .filter(|r| &r.kind == kind && r.to.contains(&to))
            .map(|r| r.from)
            .collect()
    }

    /// Item `id`'s data: borrowed when it is one extent, its extents joined otherwise. Each
    /// extent must lie inside an `mdat` body (or the `idat`).
    pub(in crate::imaging) fn data(&self, id: u32) -> Result<Cow<'a, [u8]>, HeifError> {
        let location = self
            .item(id)?
            .location
            .as_ref()
            .ok_or(HeifError::MissingData)?;
        // The bytes extents are taken from, and the ranges of them they must lie in.
        let idat_range;
        let (source, containers): (&'a [u8], &[(usize, usize)]) = if location.in_idat {
            let idat = self.idat.ok_or(HeifError::MissingData)?;
            idat_range = [(0, idat.len())];
            (idat, &idat_range)
        } else {
            (self.file, &self.mdats)
        };
        let extent = |&(offset, length): &(u64, u64)| -> Result<&'a [u8], HeifError> {
            let offset = usize::try_from(offset).map_err(|_| HeifError::ExtentOutsideData)?;
            let length = usize::try_from(length).map_err(|_| HeifError::ExtentOutsideData)?;
            for &(start, end) in containers {
                let within = |from: usize| offset >= start && from <= end;
                if length == 0 && location.extents.len() == 1 && within(offset) {
                    return Ok(&source[offset..end]);
                }
                if let Some(stop) = offset.checked_add(length)
                    && length > 0
                    && within(stop)
                {
                    return Ok(&source[offset..stop]);
                }
            }
            Err(HeifError::ExtentOutsideData)
        };
        match location.extents.as_slice() {
            [one] => extent(one).map(Cow::Borrowed),
            many => {
                let mut joined = Vec::new();
                for e in many {
                    joined.extend_from_slice(extent(e)?);
                }
                Ok(Cow::Owned(joined))
            }
        }
    }
}

impl<'a> Property<'a> {
    fn parse(bx: &Bx<'a>) -> Result<Self, HeifError> {
        let mut r = Reader::new(bx.body);
        Ok(match &bx.kind {
            b"ispe" => {
                r.version_and_flags()?;
                Self::Size {
                    width: r.u32()?,
                    height: r.u32()?,
                }
            }
            b"pixi" => {
                r.version_and_flags()?;
                let n = r.u8()?;
                Self::Depths(r.bytes(usize::from(n))?.to_vec())
            }
            b"hvcC" => Self::HevcConfig(bx.body),
            b"av1C" => Self::Av1Config(bx.body),
            b"colr" => match &r.fourcc()? {
                b"nclx" => {
                    let _primaries = r.u16()?;
                    let _transfer = r.u16()?;
                    let matrix = r.u16()?;
                    let full_range = r.u8()? & 0x80 != 0;
                    Self::Colour(Some(Nclx { matrix, full_range }))
                }
                _ => Self::Colour(None),
            },
            b"irot" => Self::Rotation(r.u8()? & 3),
            b"imir" => Self::Mirror(r.u8()? & 1),
            b"clap" => {
                let mut fraction = || -> Result<(u32, u32), HeifError> { Ok((r.u32()?, r.u32()?)) };
                let width = fraction()?;
                let height = fraction()?;
                let (h, hd) = fraction()?;
                let (v, vd) = fraction()?;
                Self::CleanAperture(Clap {
                    width,
                    height,
                    horizontal_offset: (h as i32, hd),
                    vertical_offset: (v as i32, vd),
                })
            }
            b"auxC" => {
                r.version_and_flags()?;
                Self::Auxiliary(r.c_string())
            }
            other => Self::Other(*other),
        })
    }
}
