//! One decoded coded image (a whole image, a tile of a grid, or an alpha plane) as its codec left
//! it: planes of samples, borrowed from the decoder for as long as the caller looks at them.
//!
//! Both codecs (`hevc`, `av1`) hand a [`PictureRef`] to a closure rather than returning owned
//! pixels, so no copy of a full-size picture is ever made: the caller converts it to RGB rows
//! while the decoder still holds it, and the decoder's buffers are freed when the closure returns.

/// Whether a codec runs its in-loop filters (HEVC's deblocking and SAO; AV1's deblocking, CDEF and
/// loop restoration), which smooth block edges and correct sample values by a few levels. Every syntax element is parsed and checked either
/// way, so skipping them changes pixels slightly and never whether a stream decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum LoopFilters {
    Apply,
    /// For a picture reduced by a box of [`LoopFilters::SKIPPED_FROM_BOX`] or more a side, where
    /// what the filters change is averaged away.
    Skip,
}

impl LoopFilters {
    /// The smallest box side (image pixels per thumbnail grid cell) that skips the filters.
    pub(in crate::imaging) const SKIPPED_FROM_BOX: u32 = 4;

    /// The filters for a picture reduced by a box of `factor` pixels a side.
    pub(in crate::imaging) fn for_box(factor: u32) -> Self {
        if factor >= Self::SKIPPED_FROM_BOX {
            Self::Skip
        } else {
            Self::Apply
        }
    }
}

/// How the two chroma planes are sampled against the luma plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Chroma {
    /// Luma only: planes 1 and 2 are absent.
    Monochrome,
    /// Chroma at half width and half height (sides rounded up).
    Yuv420,
    /// Chroma at half width (rounded up), full height.
    Yuv422,
    /// Chroma at full resolution.
    Yuv444,
}

impl Chroma {
    /// The (horizontal, vertical) subsampling shifts of planes 1 and 2.
    pub(in crate::imaging) fn shifts(self) -> (u32, u32) {
        match self {
            Self::Monochrome | Self::Yuv444 => (0, 0),
            Self::Yuv420 => (1, 1),
            Self::Yuv422 => (1, 0),
        }
    }
}

/// The samples of one plane, row after row, `stride` samples apart.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) enum Samples<'a> {
    /// 8-bit samples.
    Eight(&'a [u8]),
    /// Samples of more than 8 bits (the picture's `bit_depth`), one per `u16`.
    Deep(&'a [u16]),
}

/// One plane: `width` x `height` samples, row `y` starting at sample `y * stride`.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct Plane<'a> {
    pub samples: Samples<'a>,
    pub stride: usize,
    pub width: u32,
    pub height: u32,
}

/// What the coded stream itself says about its colours (HEVC VUI, AV1 colour config), used when
/// the container has no `colr` box of type `nclx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct StreamColour {
    /// `matrix_coefficients` as in ITU-T H.273 (1 = BT.709, 2 = unspecified, 5/6 = BT.601,
    /// 9 = BT.2020 non-constant luminance, 0 = identity/GBR).
    pub matrix: u8,
    /// Full-range samples (`video_full_range_flag`, AV1 `color_range`).
    pub full_range: bool,
}

/// A decoded picture, cropped to its conformance window / frame size.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct PictureRef<'a> {
    pub width: u32,
    pub height: u32,
    /// Bits per sample, 8 to 12 (luma and chroma alike; a picture whose depths differ is refused
    /// by its codec module).
    pub bit_depth: u8,
    pub chroma: Chroma,
    /// Luma, then Cb and Cr (`None` for [`Chroma::Monochrome`]).
    pub luma: Plane<'a>,
    pub chroma_planes: Option<[Plane<'a>; 2]>,
    pub colour: StreamColour,
}
