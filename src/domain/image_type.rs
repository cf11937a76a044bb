use std::collections::BTreeSet;

/// An image format this service can accept. The set is closed on purpose: every type here is one the
/// upload processor can verify by its magic bytes and decode. SVG is not and never will be here
/// (it is a document that can carry scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageType {
    Jpeg,
    Png,
    Gif,
    Webp,
    /// HEIF with HEVC-coded images: what iPhones save.
    Heic,
    /// HEIF, the container's own type; accepted for HEVC-coded images, like `image/heic`.
    Heif,
    /// HEIF with AV1-coded images.
    Avif,
}

impl ImageType {
    /// Every type the service knows, in a fixed order.
    pub const ALL: [ImageType; 7] = [
        Self::Jpeg,
        Self::Png,
        Self::Gif,
        Self::Webp,
        Self::Heic,
        Self::Heif,
        Self::Avif,
    ];

    /// The MIME type, exactly as signed into upload URLs.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
            Self::Heif => "image/heif",
            Self::Avif => "image/avif",
        }
    }

    /// The extension used in object keys.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Heic => "heic",
            Self::Heif => "heif",
            Self::Avif => "avif",
        }
    }

    /// Whether a (lower-case) file-name extension agrees with this type.
    pub fn accepts_extension(self, ext: &str) -> bool {
        match self {
            Self::Jpeg => matches!(ext, "jpg" | "jpeg"),
            Self::Heif => matches!(ext, "heif" | "hif"),
            other => ext == other.extension(),
        }
    }

    /// Whether files of this type are HEIF (ISO BMFF) files, told apart by the coding of their
    /// primary image rather than by their first bytes.
    pub fn is_heif(self) -> bool {
        matches!(self, Self::Heic | Self::Heif | Self::Avif)
    }

    /// Parses a MIME type. Case-insensitive (as MIME types are); parameters such as `; charset=x`
    /// are refused rather than ignored, because the exact string is signed into the upload URL.
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.mime().eq_ignore_ascii_case(mime))
    }
}

impl std::fmt::Display for ImageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// The image types a deployment accepts: a non-empty subset of [`ImageType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTypes(BTreeSet<ImageType>);

impl AllowedTypes {
    /// Parses a comma-separated list of MIME types, e.g. `image/jpeg,image/png`.
    ///
    /// # Errors
    /// The offending entry, when one is not a type the service can verify, or when the list is empty.
    pub fn parse_list(list: &str) -> Result<Self, String> {
        let types = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| ImageType::from_mime(s).ok_or_else(|| format!("unsupported image type `{s}`")))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if types.is_empty() {
            return Err("the list of allowed types is empty".into());
        }
        Ok(Self(types))
    }

    /// The type named by `mime`, if it is allowed here.
    pub fn get(&self, mime: &str) -> Option<ImageType> {
        ImageType::from_mime(mime).filter(|t| self.0.contains(t))
    }

    /// The allowed types, for error messages.
    pub fn iter(&self) -> impl Iterator<Item = ImageType> + '_ {
        self.0.iter().copied()
    }
}

impl Default for AllowedTypes {
    fn default() -> Self {
        Self(ImageType::ALL.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_types_outside_the_allow_list() {
        let allowed = AllowedTypes::default();
        for (mime, case) in [
            ("image/svg+xml", "svg can carry scripts"),
            ("image/jpeg; x=y", "parameters are not signed"),
            ("image/jpeg ", "trailing space"),
            ("text/html", "not an image"),
            ("image/bmp", "not supported"),
            ("", "empty"),
        ] {
            assert_eq!(allowed.get(mime), None, "case: {case}");
        }
        assert_eq!(
            allowed.get("IMAGE/PNG"),
            Some(ImageType::Png),
            "MIME types are case-insensitive"
        );
    }

    #[test]
    fn a_configured_list_narrows_what_is_allowed() {
        let allowed = AllowedTypes::parse_list("image/png, image/webp").unwrap();
        assert_eq!(allowed.get("image/png"), Some(ImageType::Png));
        assert_eq!(allowed.get("image/jpeg"), None);
        assert!(AllowedTypes::parse_list("image/png,image/svg+xml").is_err());
        assert!(AllowedTypes::parse_list(" , ").is_err());
    }

    #[test]
    fn extensions_agree_with_their_type_only() {
        assert!(ImageType::Jpeg.accepts_extension("jpg"));
        assert!(ImageType::Jpeg.accepts_extension("jpeg"));
        assert!(!ImageType::Jpeg.accepts_extension("png"));
        assert!(ImageType::Webp.accepts_extension("webp"));
        assert!(!ImageType::Gif.accepts_extension("jpg"));
        assert!(ImageType::Heic.accepts_extension("heic"));
        assert!(ImageType::Heif.accepts_extension("heif"));
        assert!(ImageType::Heif.accepts_extension("hif"));
        assert!(ImageType::Avif.accepts_extension("avif"));
        assert!(!ImageType::Avif.accepts_extension("heic"));
    }
}
