//! What the upload processor decides about an uploaded object, and the limits it decides by.

use time::OffsetDateTime;

use super::{ObjectKey, RenditionFormat, RenditionName, Renditions, StoredRendition};

/// Limits for verifying uploads and making thumbnails, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingPolicy {
    /// The largest object accepted, in bytes (the upload policy's `max_bytes`).
    pub max_bytes: u64,
    /// The widest image decoded, in pixels.
    pub max_width: u32,
    /// The tallest image decoded, in pixels.
    pub max_height: u32,
    /// The most pixels (width x height) decoded: the memory bound against decompression bombs.
    pub max_pixels: u64,
    /// The renditions made of every accepted image; decoders reduce to the largest.
    pub renditions: Renditions,
}

impl ProcessingPolicy {
    /// The widest and tallest image decoded by default, in pixels.
    pub const DEFAULT_MAX_SIDE: u32 = 16_384;
    /// The most pixels decoded by default.
    pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;
}

impl Default for ProcessingPolicy {
    fn default() -> Self {
        Self {
            max_bytes: super::UploadPolicy::DEFAULT_MAX_BYTES,
            max_width: Self::DEFAULT_MAX_SIDE,
            max_height: Self::DEFAULT_MAX_SIDE,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            renditions: Renditions::default(),
        }
    }
}

/// The memory one image may need while it is processed: this many bytes per pixel of the image...
pub const BUDGET_BYTES_PER_PIXEL: u64 = 4;
/// ...plus this much, whatever the image (the uploaded bytes, tables, the thumbnail).
pub const BUDGET_FIXED_BYTES: u64 = 64 * 1024 * 1024;

/// The frames of one animated image (GIF, APNG, animated WebP) may have this many times
/// [`ProcessingPolicy::max_pixels`] between them. Every frame is decoded to verify the file, so
/// this bounds the work a file of many large frames can ask for: four images of the largest size.
pub const FRAME_PIXELS_PER_IMAGE_PIXEL: u64 = 4;

impl ProcessingPolicy {
    /// The most live heap memory processing an image of `pixels` pixels may need:
    /// [`BUDGET_BYTES_PER_PIXEL`] a pixel plus [`BUDGET_FIXED_BYTES`], whatever the format.
    pub fn memory_budget(pixels: u64) -> u64 {
        pixels
            .saturating_mul(BUDGET_BYTES_PER_PIXEL)
            .saturating_add(BUDGET_FIXED_BYTES)
    }

    /// The budget of the largest image these limits allow: what one message needs at most.
    pub fn max_memory_per_image(&self) -> u64 {
        Self::memory_budget(self.max_pixels)
    }

    /// The most pixels all frames of one animated image may have together.
    pub fn max_total_frame_pixels(&self) -> u64 {
        self.max_pixels.saturating_mul(FRAME_PIXELS_PER_IMAGE_PIXEL)
    }

    /// Whether an image of `width` x `height` is within the limits.
    pub fn allows_dimensions(&self, width: u32, height: u32) -> bool {
        width <= self.max_width
            && height <= self.max_height
            && u64::from(width) * u64::from(height) <= self.max_pixels
    }
}

/// Why an uploaded object was refused. Stored as its code on the REJECTED row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RejectionReason {
    #[error("the object is larger than the maximum size")]
    TooLarge,
    #[error("the object's size is not the size declared when the upload was requested")]
    SizeMismatch,
    #[error("the object's bytes are not an image of the declared type")]
    TypeMismatch,
    #[error("the object could not be decoded as an image")]
    Undecodable,
    #[error("the image's dimensions are over the limits")]
    TooManyPixels,
}

impl RejectionReason {
    const ALL: [Self; 5] = [
        Self::TooLarge,
        Self::SizeMismatch,
        Self::TypeMismatch,
        Self::Undecodable,
        Self::TooManyPixels,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "TOO_LARGE",
            Self::SizeMismatch => "SIZE_MISMATCH",
            Self::TypeMismatch => "TYPE_MISMATCH",
            Self::Undecodable => "UNDECODABLE",
            Self::TooManyPixels => "TOO_MANY_PIXELS",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What the processor learned about an accepted image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyImage {
    /// Upright width and height (after EXIF orientation).
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    /// The verified copy of the upload (`originals/`), the only original ever served.
    pub original_key: ObjectKey,
    /// The ETag of the uploaded version that was verified. That object stays in the inbox, so S3
    /// refuses any second PUT to its key (`If-None-Match`), until the bucket's lifecycle rule or a
    /// DELETE removes it; an inbox object with another ETag got past a store that ignores the
    /// header, and is deleted unverified.
    pub upload_etag: String,
    /// The thumbnail: the `thumbnail` rendition's key (`thumbnails/{imageId}.jpg` on rows
    /// written before renditions were recorded).
    pub thumbnail_key: ObjectKey,
    /// Every rendition written, the thumbnail included (empty on rows written before renditions
    /// were recorded).
    pub renditions: Vec<StoredRendition>,
    /// Renditions that reprocessing replaced, kept until their time so that the URLs already
    /// handed out for them keep working; deleted by a later reprocessing request.
    pub superseded: Vec<Superseded>,
    pub processed_at: OffsetDateTime,
}

/// A rendition (or a thumbnail from before renditions) the row no longer serves, kept until
/// `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub key: ObjectKey,
    pub until: OffsetDateTime,
}

impl ReadyImage {
    /// Whether a superseded rendition's time is up at `now`: one to delete.
    pub fn has_expired_superseded(&self, now: OffsetDateTime) -> bool {
        self.superseded.iter().any(|s| s.until <= now)
    }

    /// Whether the image has exactly the `wanted` renditions (each name at its side, as JPEG),
    /// its thumbnail among them: what reprocessing leaves alone.
    pub fn has_renditions(&self, wanted: &Renditions) -> bool {
        let mut have: Vec<(&str, u32, RenditionFormat)> = self
            .renditions
            .iter()
            .map(|r| (r.name.as_str(), r.max_side, r.format))
            .collect();
        let mut want: Vec<(&str, u32, RenditionFormat)> = wanted
            .iter()
            .map(|spec| (spec.name.as_str(), spec.max_side, RenditionFormat::Jpeg))
            .collect();
        have.sort_unstable();
        want.sort_unstable();
        have == want
            && self
                .renditions
                .iter()
                .any(|r| r.name.as_str() == RenditionName::THUMBNAIL && r.key == self.thumbnail_key)
    }
}

/// A refused upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectionReason,
    pub processed_at: OffsetDateTime,
}

/// Where an image is in its life, with what each state knows. A row only ever moves from
/// `Pending` to one of the others; a `Ready` row's renditions may be made again (reprocessing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    /// The upload URL was handed out; no verified object yet.
    Pending,
    Ready(ReadyImage),
    Rejected(Rejection),
}

impl ImageState {
    /// The state's name, as stored in `status`.
    pub fn status(&self) -> StateName {
        use StateName as S;
        match self {
            Self::Pending => S::Pending,
            Self::Ready(_) => S::Ready,
            Self::Rejected(_) => S::Rejected,
        }
    }
}

/// The name of an [`ImageState`], as a row's `status` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateName {
    Pending,
    Ready,
    Rejected,
}

impl StateName {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Ready => "READY",
            Self::Rejected => "REJECTED",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Ready, Self::Rejected]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip() {
        for reason in RejectionReason::ALL {
            assert_eq!(RejectionReason::parse(reason.code()), Some(reason));
        }
        assert_eq!(RejectionReason::parse("too_large"), None);
    }

    #[test]
    fn dimensions_are_bounded_on_each_side_and_in_total() {
        let policy = ProcessingPolicy {
            max_width: 100,
            max_height: 50,
            max_pixels: 4000,
            ..ProcessingPolicy::default()
        };
        assert!(policy.allows_dimensions(80, 50));
        assert!(!policy.allows_dimensions(101, 1));
        assert!(!policy.allows_dimensions(1, 51));
        assert!(!policy.allows_dimensions(100, 41), "4100 pixels");
        assert!(
            !ProcessingPolicy::default().allows_dimensions(u32::MAX, u32::MAX),
            "no overflow"
        );
    }

    fn ready_with(renditions: &[(&str, u32)]) -> ReadyImage {
        let id = crate::domain::ImageId::new_random();
        let stored: Vec<StoredRendition> = renditions
            .iter()
            .map(|(name, side)| {
                let name = RenditionName::parse(name).unwrap();
                StoredRendition {
                    name,
                    max_side: *side,
                    format: RenditionFormat::Jpeg,
                    width: *side,
                    height: *side,
                    bytes: 100,
                    key: ObjectKey::for_rendition(
                        id,
                        name,
                        RenditionFormat::Jpeg,
                        name.as_str().as_bytes(),
                    ),
                }
            })
            .collect();
        ReadyImage {
            width: 4000,
            height: 3000,
            size_bytes: 1,
            original_key: ObjectKey::for_legacy_thumbnail(id),
            upload_etag: String::new(),
            thumbnail_key: stored
                .iter()
                .find(|r| r.name.as_str() == RenditionName::THUMBNAIL)
                .map_or_else(|| ObjectKey::for_legacy_thumbnail(id), |r| r.key.clone()),
            renditions: stored,
            superseded: Vec::new(),
            processed_at: time::macros::datetime!(2026-12-07 10:00 UTC),
        }
    }

    #[test]
    fn an_image_has_its_renditions_when_names_and_sides_are_the_set_in_any_order() {
        let set = Renditions::parse("thumbnail:256,display:1600").unwrap();
        assert!(ready_with(&[("thumbnail", 256), ("display", 1600)]).has_renditions(&set));
        assert!(ready_with(&[("display", 1600), ("thumbnail", 256)]).has_renditions(&set));
        for other in [
            &[("thumbnail", 256)][..],
            &[("thumbnail", 200), ("display", 1600)],
            &[("thumbnail", 256), ("large", 1600)],
            &[("thumbnail", 256), ("display", 1600), ("small", 64)],
            &[],
        ] {
            assert!(!ready_with(other).has_renditions(&set), "{other:?}");
        }
        let mut legacy = ready_with(&[("thumbnail", 256), ("display", 1600)]);
        legacy.thumbnail_key =
            ObjectKey::for_legacy_thumbnail(crate::domain::ImageId::new_random());
        assert!(
            !legacy.has_renditions(&set),
            "a thumbnail under thumbnails/ is made again under renditions/"
        );
    }
}
