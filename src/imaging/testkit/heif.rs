//! A HEIF writer for crafted files: items, their data in one `mdat`, properties, associations
//! and references, laid out as ISO/IEC 23008-12 says, so that each hostile file differs from a
//! valid one by exactly what its test names.

/// A box of `kind` around `body`.
pub fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len() + 8)
        .expect("test boxes are small")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box: version and flags, then `body`.
pub fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = (u32::from(version) << 24 | flags).to_be_bytes().to_vec();
    b.extend_from_slice(body);
    bx(kind, &b)
}

pub fn ispe(width: u32, height: u32) -> Vec<u8> {
    full(
        b"ispe",
        0,
        0,
        &[width.to_be_bytes(), height.to_be_bytes()].concat(),
    )
}

pub fn irot(quarters: u8) -> Vec<u8> {
    bx(b"irot", &[quarters])
}

pub fn imir(mode: u8) -> Vec<u8> {
    bx(b"imir", &[mode])
}

/// A `clap` of whole pixels: `width` x `height` centred `dx`, `dy` from the image's centre.
pub fn clap(width: u32, height: u32, dx: i32, dy: i32) -> Vec<u8> {
    let mut body = Vec::new();
    for (n, d) in [(width, 1), (height, 1), (dx as u32, 1), (dy as u32, 1)] {
        body.extend_from_slice(&n.to_be_bytes());
        body.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bx(b"clap", &body)
}

pub fn auxc_alpha() -> Vec<u8> {
    full(b"auxC", 0, 0, b"urn:mpeg:hevc:2015:auxid:1\0")
}

/// A `grid` item's data: `rows` x `columns` tiles making `width` x `height`.
pub fn grid_data(rows: u32, columns: u32, width: u32, height: u32) -> Vec<u8> {
    let mut d = vec![0, 1, (rows - 1) as u8, (columns - 1) as u8];
    d.extend_from_slice(&width.to_be_bytes());
    d.extend_from_slice(&height.to_be_bytes());
    d
}

/// One item: its ID, type, data and properties (indices into [`Heif::properties`] from 1, the
/// essential ones negative).
#[derive(Debug, Clone)]
pub struct Item {
    pub id: u32,
    pub kind: [u8; 4],
    pub data: Vec<u8>,
    pub properties: Vec<i32>,
    pub hidden: bool,
}

impl Item {
    pub fn new(id: u32, kind: &[u8; 4], data: Vec<u8>, properties: Vec<i32>) -> Self {
        Self {
            id,
            kind: *kind,
            data,
            properties,
            hidden: false,
        }
    }
}

/// A whole file.
#[derive(Debug, Clone)]
pub struct Heif {
    pub brands: Vec<[u8; 4]>,
    pub primary: u32,
    pub items: Vec<Item>,
    /// Property boxes, whole.
    pub properties: Vec<Vec<u8>>,
    /// (type, from, to).
    pub references: Vec<([u8; 4], u32, Vec<u32>)>,
    /// Boxes put in `meta` after the others.
    pub extra_meta: Vec<Vec<u8>>,
}

impl Heif {
    pub fn new(brand: &[u8; 4], primary: u32) -> Self {
        Self {
            brands: vec![*brand, *b"mif1"],
            primary,
            items: Vec::new(),
            properties: Vec::new(),
            references: Vec::new(),
            extra_meta: Vec::new(),
        }
    }

    /// Adds a property box; its index (from 1).
    pub fn property(&mut self, property: Vec<u8>) -> i32 {
        self.properties.push(property);
        self.properties.len() as i32
    }

    pub fn build(&self) -> Vec<u8> {
        let mut ftyp_body = self.brands[0].to_vec();
        ftyp_body.extend_from_slice(&[0; 4]);
        for brand in &self.brands {
            ftyp_body.extend_from_slice(brand);
        }
        let ftyp = bx(b"ftyp", &ftyp_body);
        // The meta box's size does not depend on the offsets, so build it once to learn where the
        // mdat starts, then again with the offsets.
        let meta = self.meta(0);
        let mdat_start = ftyp.len() + meta.len() + 8;
        let meta = self.meta(mdat_start as u32);
        let data: Vec<u8> = self.items.iter().flat_map(|i| i.data.clone()).collect();
        [ftyp, meta, bx(b"mdat", &data)].concat()
    }

    fn meta(&self, mdat_start: u32) -> Vec<u8> {
        let hdlr = full(
            b"hdlr",
            0,
            0,
            &[&[0u8; 4][..], b"pict", &[0; 12], b"\0"].concat(),
        );
        let pitm = full(b"pitm", 0, 0, &(self.primary as u16).to_be_bytes());
        let mut iinf = (self.items.len() as u16).to_be_bytes().to_vec();
        for item in &self.items {
            let mut infe = (item.id as u16).to_be_bytes().to_vec();
            infe.extend_from_slice(&[0, 0]);
            infe.extend_from_slice(&item.kind);
            infe.push(0);
            iinf.extend(full(b"infe", 2, u32::from(item.hidden), &infe));
        }
        let iinf = full(b"iinf", 0, 0, &iinf);
        // iloc version 1: 4-byte offsets and lengths, no base offset, construction method 0.
        let mut iloc = vec![0x44, 0x00];
        iloc.extend_from_slice(&(self.items.len() as u16).to_be_bytes());
        let mut offset = mdat_start;
        for item in &self.items {
            iloc.extend_from_slice(&(item.id as u16).to_be_bytes());
            iloc.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
            iloc.extend_from_slice(&offset.to_be_bytes());
            iloc.extend_from_slice(&(item.data.len() as u32).to_be_bytes());
            offset += item.data.len() as u32;
        }
        let iloc = full(b"iloc", 1, 0, &iloc);
        let mut iref = Vec::new();
        for (kind, from, to) in &self.references {
            let mut r = (*from as u16).to_be_bytes().to_vec();
            r.extend_from_slice(&(to.len() as u16).to_be_bytes());
            for t in to {
                r.extend_from_slice(&(*t as u16).to_be_bytes());
            }
            iref.extend(bx(kind, &r));
        }
        let iref = full(b"iref", 0, 0, &iref);
        let ipco = bx(b"ipco", &self.properties.concat());
        let mut ipma = (self.items.len() as u32).to_be_bytes().to_vec();
        for item in &self.items {
            ipma.extend_from_slice(&(item.id as u16).to_be_bytes());
            ipma.push(item.properties.len() as u8);
            for &p in &item.properties {
                let index = p.unsigned_abs() as u16;
                ipma.extend_from_slice(&(index | if p < 0 { 0x8000 } else { 0 }).to_be_bytes());
            }
        }
        let ipma = full(b"ipma", 0, 1, &ipma);
        let iprp = bx(b"iprp", &[ipco, ipma].concat());
        let body = [
            vec![hdlr, pitm, iinf, iloc, iref, iprp],
            self.extra_meta.clone(),
        ]
        .concat()
        .concat();
        full(b"meta", 0, 0, &body)
    }
}
